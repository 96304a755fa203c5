package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/effect"
	"github.com/omninode/omnibase-infra/platform/bus"
)

// errClosed is returned for a command, probe, initialization or recovery that arrives after
// Close.
var errClosed = fmt.Errorf("kafka %w: %w", effect.ErrDriverClosed, sarama.ErrClosedClient)

// cluster is one target: its connection, made on first use, and its producer counters since the
// last probe.
type cluster struct {
	name     string
	brokers  []string
	security bus.Security
	cfg      Config
	logger   *slog.Logger

	mu     sync.Mutex
	conn   *conn // nil until a connect succeeds; replaced by recover
	closed bool
	// dialing is closed when the dial in progress ends, with dialErr its error; nil when none is.
	dialing chan struct{}
	dialErr error
	// retired are the replaced connections being closed once their last user is done.
	retired sync.WaitGroup

	publishes, failures atomic.Int64
}

// conn is a connected target. Sarama reconnects to brokers by itself, so a conn, once made, lives
// until Close or until recover replaces it.
type conn struct {
	// users are the commands and probes that took the conn from connect; a replaced conn closes
	// when they are done. Add under the cluster's lock, while the conn is current.
	users  sync.WaitGroup
	client sarama.Client
	admin  sarama.ClusterAdmin
	// pool hands out the producers, one publish at a time each. WARNING: it is never closed: a
	// publish that waits for a producer while the driver closes gives up with its context
	// instead of panicking on a closed channel.
	pool      chan sarama.SyncProducer
	producers []sarama.SyncProducer
}

func saramaConfig(cfg Config) *sarama.Config {
	sc := sarama.NewConfig()
	sc.Version = sarama.V2_8_0_0
	sc.ClientID = "omnibase-infra-adapter"
	sc.Net.DialTimeout = cfg.Timeout
	sc.Net.ReadTimeout = cfg.Timeout
	sc.Net.WriteTimeout = cfg.Timeout
	// The runner retries transient errors with backoff and counts them against the breaker;
	// Sarama's own retries only cover a leader or controller moving between a metadata refresh
	// and the request.
	sc.Metadata.Retry.Max = 1
	sc.Metadata.Retry.Backoff = 100 * time.Millisecond
	sc.Metadata.Timeout = cfg.Timeout
	sc.Admin.Retry.Max = 1
	sc.Admin.Timeout = cfg.Timeout
	sc.Producer.Return.Successes = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Producer.Timeout = cfg.Timeout
	sc.Producer.Retry.Max = 1
	sc.Producer.Retry.Backoff = 100 * time.Millisecond
	// A record's key lands where the Java client and franz-go put it, not on Sarama's own choice.
	sc.Producer.Partitioner = bus.NewPartitioner
	return sc
}

// connect returns the target's connection, making it on first use; a failed attempt is tried
// again on the next call. Calls that come while a dial is in progress share its outcome rather
// than queue for dials of their own: on a broker that hangs, each dial lasts Sarama's timeouts,
// and calls that gave up at their deadline would otherwise pile up behind one another. Call done
// when finished with the connection.
func (c *cluster) connect() (_ *conn, done func(), _ error) {
	c.mu.Lock()
	if wait := c.dialing; wait != nil {
		c.mu.Unlock()
		<-wait
		c.mu.Lock()
		if c.conn == nil && !c.closed {
			err := c.dialErr
			c.mu.Unlock()
			return nil, nil, err
		}
	}
	if c.closed {
		c.mu.Unlock()
		return nil, nil, errClosed
	}
	if cn := c.conn; cn != nil {
		cn.users.Add(1)
		c.mu.Unlock()
		return cn, cn.users.Done, nil
	}
	wait := make(chan struct{})
	c.dialing = wait
	c.mu.Unlock()

	cn, err := dial(c.name, c.brokers, c.security, c.cfg)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dialing, c.dialErr = nil, err
	close(wait)
	switch {
	case err != nil:
		return nil, nil, err
	case c.closed: // not while Driver.Close waits for every call; kept so no client can leak
		cn.close()
		return nil, nil, errClosed
	}
	c.logger.Debug("connected to kafka target", "brokers", c.brokers, "producers", len(cn.producers))
	c.conn = cn
	cn.users.Add(1)
	return cn, cn.users.Done, nil
}

func dial(name string, brokers []string, sec bus.Security, cfg Config) (cn *conn, err error) {
	sc := saramaConfig(cfg)
	if err := sec.Sarama(sc); err != nil {
		return nil, fmt.Errorf("kafka target %q: %w", name, err)
	}
	client, err := sarama.NewClient(brokers, sc)
	if err != nil {
		return nil, fmt.Errorf("could not reach kafka target %q at %v: %w", name, brokers, err)
	}
	cn = &conn{client: client, pool: make(chan sarama.SyncProducer, cfg.Producers)}
	defer func() {
		if err != nil {
			cn.close()
		}
	}()
	if cn.admin, err = sarama.NewClusterAdminFromClient(client); err != nil {
		return nil, fmt.Errorf("could not make a cluster admin for kafka target %q: %w", name, err)
	}
	for range cfg.Producers {
		p, err := sarama.NewSyncProducerFromClient(client)
		if err != nil {
			return nil, fmt.Errorf("could not make a producer for kafka target %q: %w", name, err)
		}
		cn.producers = append(cn.producers, p)
		cn.pool <- p
	}
	return cn, nil
}

// acquire takes a producer from the pool; give it back with release.
func (cn *conn) acquire(ctx context.Context) (sarama.SyncProducer, error) {
	select {
	case p := <-cn.pool:
		return p, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("no producer free: %w", ctx.Err())
	}
}

func (cn *conn) release(p sarama.SyncProducer) { cn.pool <- p }

// close closes the connection, and waits for the replaced ones to close.
func (c *cluster) close() {
	c.mu.Lock()
	cn := c.conn
	c.conn, c.closed = nil, true
	c.mu.Unlock()
	if cn != nil {
		cn.close()
	}
	c.retired.Wait()
}

// close closes the producers once every one is back in the pool (a publish in flight ends within
// the producer's timeouts), then the admin and the client.
func (cn *conn) close() {
	for range cn.producers {
		<-cn.pool
	}
	for _, p := range cn.producers {
		_ = p.Close()
	}
	if cn.admin != nil {
		_ = cn.admin.Close() // closes the client it was made from
	} else {
		_ = cn.client.Close()
	}
}

// takeProducerStats returns the counts since the last call and starts them again from zero.
func (c *cluster) takeProducerStats() producerStats {
	return producerStats{publishes: c.publishes.Swap(0), errors: c.failures.Swap(0)}
}

// clusterMetadata is what one metadata round trip says about a cluster.
type clusterMetadata struct {
	brokers      []events.KafkaBroker
	controllerID int32
	topics       int
	latency      time.Duration
}

// metadata refreshes the client's metadata of the whole cluster. Sarama asks the least loaded
// broker it can reach, so a broker or controller gone away is noticed here.
func (cn *conn) metadata() (clusterMetadata, error) {
	start := time.Now()
	if err := cn.client.RefreshMetadata(); err != nil {
		return clusterMetadata{}, fmt.Errorf("could not refresh the cluster's metadata: %w", err)
	}
	meta := clusterMetadata{latency: time.Since(start), brokers: []events.KafkaBroker{}}
	controller, err := cn.client.Controller()
	if err != nil {
		return clusterMetadata{}, fmt.Errorf("the cluster's metadata names no controller: %w", err)
	}
	meta.controllerID = controller.ID()
	topics, err := cn.client.Topics()
	if err != nil {
		return clusterMetadata{}, fmt.Errorf("could not list the cluster's topics: %w", err)
	}
	meta.topics = len(topics)
	for _, b := range cn.client.Brokers() {
		meta.brokers = append(meta.brokers, events.KafkaBroker{ID: b.ID(), Addr: b.Addr()})
	}
	slices.SortFunc(meta.brokers, func(a, b events.KafkaBroker) int { return int(a.ID) - int(b.ID) })
	return meta, nil
}

// metadata connects to the cluster and refreshes its metadata.
func (c *cluster) metadata() (clusterMetadata, error) {
	cn, done, err := c.connect()
	if err != nil {
		return clusterMetadata{}, err
	}
	defer done()
	return cn.metadata()
}

// describe is DescribeCluster.
func (c *cluster) describe() (events.KafkaClusterResult, error) {
	meta, err := c.metadata()
	if err != nil {
		return events.KafkaClusterResult{}, err
	}
	return events.KafkaClusterResult{Brokers: meta.brokers, ControllerID: meta.controllerID, Topics: meta.topics}, nil
}
