package kafka

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/effect"
)

// CommandIDHeader is the record header Publish sets to the id of the command that produced the
// record, so consumers can drop a record produced twice (see the README's idempotence notes).
const CommandIDHeader = "omni_command_id"

// Driver talks to the configured Kafka clusters: one client, cluster admin and producer pool per
// target, each made on first use, so a cluster that is down at start-up is reported unhealthy
// rather than failing the start.
type Driver struct {
	cfg      Config
	names    []string
	clusters map[string]*cluster
	logger   *slog.Logger
}

var _ effect.Driver = (*Driver)(nil)

// cluster is one target's connections and its producer counters since the last probe.
type cluster struct {
	name    string
	brokers []string
	cfg     Config

	mu        sync.Mutex
	client    sarama.Client
	admin     sarama.ClusterAdmin
	producers chan sarama.SyncProducer

	publishes, failures atomic.Int64
}

// New builds the driver. It connects lazily.
func New(cfg Config, logger *slog.Logger) (*Driver, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	d := &Driver{cfg: cfg, clusters: map[string]*cluster{}, logger: logger}
	for _, t := range cfg.Targets {
		d.names = append(d.names, t.Name)
		d.clusters[t.Name] = &cluster{name: t.Name, brokers: t.Brokers, cfg: cfg}
	}
	return d, nil
}

func (d *Driver) Adapter() string   { return events.AdapterKafka }
func (d *Driver) Targets() []string { return d.names }

// Commands are the Kafka adapter's commands.
func (d *Driver) Commands() []events.Command {
	return []events.Command{events.KafkaPublish{}, events.KafkaEnsureTopic{}, events.KafkaDescribeCluster{}}
}

// Close closes every target's producers, admin and client.
func (d *Driver) Close() {
	for _, c := range d.clusters {
		c.close()
	}
}

// Transient reports whether err may go away by itself.
func (d *Driver) Transient(err error) bool { return transient(err) }

// Execute runs one command against target.
func (d *Driver) Execute(ctx context.Context, target string, cmd events.Command) (any, error) {
	c := d.clusters[target]
	switch cmd := cmd.(type) {
	case events.KafkaPublish:
		return c.publish(ctx, cmd)
	case events.KafkaEnsureTopic:
		return c.ensureTopic(ctx, cmd)
	case events.KafkaDescribeCluster:
		return c.describe(ctx)
	}
	return nil, fmt.Errorf("kafka adapter cannot execute %s", cmd.Kind())
}

func (c *cluster) saramaConfig() *sarama.Config {
	sc := sarama.NewConfig()
	sc.Version = sarama.V2_8_0_0
	sc.ClientID = "omnibase-infra-adapter"
	sc.Net.DialTimeout = c.cfg.Timeout
	sc.Net.ReadTimeout = c.cfg.Timeout
	sc.Net.WriteTimeout = c.cfg.Timeout
	sc.Metadata.Retry.Max = 1
	sc.Metadata.Retry.Backoff = 100 * time.Millisecond
	sc.Metadata.Timeout = c.cfg.Timeout
	sc.Admin.Timeout = c.cfg.Timeout
	sc.Producer.Return.Successes = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Producer.Timeout = c.cfg.Timeout
	// The runner retries transient errors with backoff; Sarama's own retries only cover a leader
	// moving between a metadata refresh and the produce.
	sc.Producer.Retry.Max = 1
	sc.Producer.Retry.Backoff = 100 * time.Millisecond
	sc.Producer.Partitioner = sarama.NewHashPartitioner
	return sc
}

// connect makes the target's client and admin on first use; a failed attempt is tried again on
// the next call.
func (c *cluster) connect() (sarama.Client, sarama.ClusterAdmin, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil && !c.client.Closed() {
		return c.client, c.admin, nil
	}
	client, err := sarama.NewClient(c.brokers, c.saramaConfig())
	if err != nil {
		return nil, nil, fmt.Errorf("could not reach kafka target %q at %v: %w", c.name, c.brokers, err)
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("could not make a cluster admin for kafka target %q: %w", c.name, err)
	}
	c.client, c.admin = client, admin
	c.producers = make(chan sarama.SyncProducer, c.cfg.Producers)
	for range c.cfg.Producers {
		p, err := sarama.NewSyncProducerFromClient(client)
		if err != nil {
			c.closeLocked()
			return nil, nil, fmt.Errorf("could not make a producer for kafka target %q: %w", c.name, err)
		}
		c.producers <- p
	}
	return client, admin, nil
}

func (c *cluster) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked()
}

func (c *cluster) closeLocked() {
	if c.producers != nil {
		close(c.producers)
		for p := range c.producers {
			_ = p.Close()
		}
		c.producers = nil
	}
	if c.admin != nil {
		_ = c.admin.Close() // closes the client it was made from
	} else if c.client != nil {
		_ = c.client.Close()
	}
	c.client, c.admin = nil, nil
}

// PublishResult is where a published record went.
type PublishResult struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

func (c *cluster) publish(ctx context.Context, cmd events.KafkaPublish) (PublishResult, error) {
	value := []byte(cmd.Payload)
	if cmd.Base64 {
		var err error
		if value, err = base64.StdEncoding.DecodeString(cmd.Payload); err != nil {
			return PublishResult{}, fmt.Errorf("%w: payload is not base64: %v", errBadCommand, err)
		}
	}
	c.publishes.Add(1)
	if _, _, err := c.connect(); err != nil {
		c.failures.Add(1)
		return PublishResult{}, err
	}
	c.mu.Lock()
	pool := c.producers
	c.mu.Unlock()
	var producer sarama.SyncProducer
	select {
	case producer = <-pool:
	case <-ctx.Done():
		return PublishResult{}, ctx.Err()
	}
	defer func() { pool <- producer }()
	msg := &sarama.ProducerMessage{Topic: cmd.Topic, Value: sarama.ByteEncoder(value)}
	if cmd.RecordKey != "" {
		msg.Key = sarama.StringEncoder(cmd.RecordKey)
	}
	for k, v := range cmd.Headers {
		msg.Headers = append(msg.Headers, sarama.RecordHeader{Key: []byte(k), Value: []byte(v)})
	}
	if id := effect.CommandID(ctx); id != "" {
		msg.Headers = append(msg.Headers, sarama.RecordHeader{Key: []byte(CommandIDHeader), Value: []byte(id)})
	}
	partition, offset, err := producer.SendMessage(msg)
	if err != nil {
		c.failures.Add(1)
		return PublishResult{}, fmt.Errorf("could not publish to %s: %w", cmd.Topic, err)
	}
	return PublishResult{Topic: cmd.Topic, Partition: partition, Offset: offset}, nil
}

// EnsureTopicResult says whether the topic had to be created.
type EnsureTopicResult struct {
	Topic   string `json:"topic"`
	Created bool   `json:"created"`
}

func (c *cluster) ensureTopic(ctx context.Context, cmd events.KafkaEnsureTopic) (EnsureTopicResult, error) {
	_, admin, err := c.connect()
	if err != nil {
		return EnsureTopicResult{}, err
	}
	res := EnsureTopicResult{Topic: cmd.Topic}
	err = admin.CreateTopic(cmd.Topic, &sarama.TopicDetail{
		NumPartitions: cmd.Partitions, ReplicationFactor: cmd.ReplicationFactor, ConfigEntries: configEntries(cmd.Configs),
	}, false)
	switch {
	case err == nil:
		res.Created = true
		return res, nil
	case !errors.Is(err, sarama.ErrTopicAlreadyExists):
		return res, fmt.Errorf("could not create topic %s: %w", cmd.Topic, err)
	}
	have, err := c.topic(admin, cmd.Topic, cmd.Configs)
	if err != nil {
		return res, err
	}
	if diffs := topicDiff(have, cmd); len(diffs) > 0 {
		return res, fmt.Errorf("%w: topic %s exists and differs: %s", errConflict, cmd.Topic, joinDiffs(diffs))
	}
	return res, nil
}

// topicShape is what EnsureTopic compares.
type topicShape struct {
	Partitions        int32
	ReplicationFactor int16
	Configs           map[string]string
}

func (c *cluster) topic(admin sarama.ClusterAdmin, topic string, wanted map[string]string) (topicShape, error) {
	meta, err := admin.DescribeTopics([]string{topic})
	if err != nil {
		return topicShape{}, fmt.Errorf("could not describe topic %s: %w", topic, err)
	}
	if len(meta) != 1 || meta[0].Err != sarama.ErrNoError {
		if len(meta) == 1 {
			err = meta[0].Err
		}
		return topicShape{}, fmt.Errorf("could not describe topic %s: %w", topic, err)
	}
	shape := topicShape{Partitions: int32(len(meta[0].Partitions)), Configs: map[string]string{}}
	if len(meta[0].Partitions) > 0 {
		shape.ReplicationFactor = int16(len(meta[0].Partitions[0].Replicas))
	}
	if len(wanted) == 0 {
		return shape, nil
	}
	results, err := admin.DescribeConfigs([]*sarama.ConfigResource{{Type: sarama.TopicResource, Name: topic}},
		sarama.DescribeConfigsOptions{})
	if err == nil && len(results) == 1 && results[0].ErrorCode != sarama.ErrNoError {
		err = fmt.Errorf("%w: %s", results[0].ErrorCode, results[0].ErrorMsg)
	}
	if err != nil {
		return topicShape{}, fmt.Errorf("could not describe the configs of topic %s: %w", topic, err)
	}
	for _, r := range results {
		for _, e := range r.Configs {
			shape.Configs[e.Name] = e.Value
		}
	}
	return shape, nil
}

func configEntries(configs map[string]string) map[string]*string {
	if len(configs) == 0 {
		return nil
	}
	out := make(map[string]*string, len(configs))
	for k, v := range configs {
		out[k] = &v
	}
	return out
}

// ClusterResult describes a cluster.
type ClusterResult struct {
	Brokers      []BrokerInfo `json:"brokers"`
	ControllerID int32        `json:"controller_id"`
}

// BrokerInfo is one broker of a cluster.
type BrokerInfo struct {
	ID   int32  `json:"id"`
	Addr string `json:"addr"`
}

func (c *cluster) describe(context.Context) (ClusterResult, error) {
	_, admin, err := c.connect()
	if err != nil {
		return ClusterResult{}, err
	}
	brokers, controller, err := admin.DescribeCluster()
	if err != nil {
		return ClusterResult{}, fmt.Errorf("could not describe the cluster: %w", err)
	}
	res := ClusterResult{ControllerID: controller, Brokers: []BrokerInfo{}}
	for _, b := range brokers {
		res.Brokers = append(res.Brokers, BrokerInfo{ID: b.ID(), Addr: b.Addr()})
	}
	return res, nil
}

// Probe asks the cluster for fresh metadata and reports its brokers, its controller and the
// producer error rate since the last probe.
func (d *Driver) Probe(ctx context.Context, target string) (effect.Health, error) {
	c := d.clusters[target]
	publishes, failures := c.publishes.Swap(0), c.failures.Swap(0)
	details := map[string]string{
		"producer_publishes": strconv.FormatInt(publishes, 10),
		"producer_errors":    strconv.FormatInt(failures, 10),
		"producer_error_rate": func() string {
			if publishes == 0 {
				return "0"
			}
			return strconv.FormatFloat(float64(failures)/float64(publishes), 'f', 3, 64)
		}(),
	}
	client, _, err := c.connect()
	if err != nil {
		return effect.Health{Details: details}, err
	}
	start := time.Now()
	if err := client.RefreshMetadata(); err != nil {
		return effect.Health{Details: details}, fmt.Errorf("could not refresh metadata: %w", err)
	}
	details["metadata_latency_us"] = strconv.FormatInt(time.Since(start).Microseconds(), 10)
	details["brokers"] = strconv.Itoa(len(client.Brokers()))
	controller, err := client.Controller()
	if err != nil {
		return effect.Health{Details: details}, fmt.Errorf("no controller: %w", err)
	}
	details["controller_id"] = strconv.Itoa(int(controller.ID()))
	return effect.Health{Details: details}, ctx.Err()
}
