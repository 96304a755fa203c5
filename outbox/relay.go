package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/omninode/omnibase-infra/platform/bus"
	"github.com/omninode/omnibase-infra/platform/consumer"
)

// RelayConfig configures a Relay.
type RelayConfig struct {
	// DB holds the outbox table. Required.
	DB *pgxpool.Pool
	// Brokers of the Kafka cluster the rows go to. Required. Each session of the relay makes a
	// producer of its own (bus.NewProducer: idempotent, murmur2 keys), so one that went wrong —
	// a broker that came back with other topic ids — is not kept.
	Brokers []string
	// Security of the connections to Brokers (TLS, SASL). Default: plaintext, no authentication.
	Security bus.Security
	// ProducerOptions are added to the producer's. Optional.
	ProducerOptions []kgo.Opt
	// Poison keeps the rows that can never be delivered (an envelope no relay can read, a record
	// Kafka refuses for good), in the transaction that moves the relay past them. Required.
	Poison *PoisonStore
	// Policy gives the backoff between attempts after the database or Kafka failed. Required.
	Policy *consumer.Policy
	// ConsumerGroup is the relay's position in the outbox (watermill_offsets_outbox). Every relay
	// process of one deployment shares it; one of them delivers at a time. Default "outbox-relay".
	ConsumerGroup string
	// BatchSize is the most rows read, produced and acknowledged at once. Default 1000.
	BatchSize int
	// PollInterval is how long an idle relay waits for rows when no notification wakes it
	// (outbox.Publish notifies at commit). Default 1s.
	PollInterval time.Duration
	// StandbyInterval is how often a relay that does not hold the outbox tries to take it. Default 1s.
	StandbyInterval time.Duration
	// MaxRecordBytes is the largest record produced; a larger row is poisoned rather than sent to
	// a broker that would refuse it. Default 1000000 bytes, Kafka's default message.max.bytes
	// less room for the batch's framing.
	MaxRecordBytes int
	// Retention is how long delivered rows stay in the outbox. Default 1h; negative keeps them.
	Retention time.Duration
	// Metrics, when set, are updated as the relay works.
	Metrics *RelayMetrics
}

func (c *RelayConfig) setDefaults() {
	if c.ConsumerGroup == "" {
		c.ConsumerGroup = "outbox-relay"
	}
	if c.BatchSize == 0 {
		c.BatchSize = 1000
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.StandbyInterval == 0 {
		c.StandbyInterval = time.Second
	}
	if c.MaxRecordBytes == 0 {
		c.MaxRecordBytes = 1_000_000 - 2048
	}
	if c.Retention == 0 {
		c.Retention = time.Hour
	}
}

// DefaultRelayConfig is the relay's configuration with its defaults: flags show these.
func DefaultRelayConfig() RelayConfig {
	var c RelayConfig
	c.setDefaults()
	return c
}

// Validate reports every problem of the configuration.
func (c RelayConfig) Validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("outbox relay: missing DB"))
	}
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("outbox relay: missing Brokers"))
	}
	if c.Poison == nil {
		errs = append(errs, errors.New("outbox relay: missing Poison store"))
	}
	if c.Policy == nil {
		errs = append(errs, errors.New("outbox relay: missing Policy"))
	}
	if c.BatchSize < 0 || c.MaxRecordBytes < 0 {
		errs = append(errs, errors.New("outbox relay: negative BatchSize or MaxRecordBytes"))
	}
	if c.PollInterval < 0 || c.StandbyInterval < 0 {
		errs = append(errs, errors.New("outbox relay: negative PollInterval or StandbyInterval"))
	}
	return errors.Join(errs...)
}

// Relay moves committed outbox rows to Kafka, at least once and in commit order: it reads a batch
// of rows past its position (never past a transaction still in flight), produces it in one
// batched, idempotent produce, waits for every acknowledgement, then moves its position past the
// batch in one transaction. outbox.Publish notifies at commit, so an idle relay wakes at once.
//
// Any number of relays may run against one outbox: one holds it (a session advisory lock on a
// connection of its own) and delivers; the others stand by and take over within StandbyInterval
// of the holder's connection going away. A relay that lost the outbox without knowing it (its
// connection cut) finds its position moved when it tries to advance it, and steps down. Between
// the two, the batch in flight may be delivered twice: see the README's "Relay".
type Relay struct {
	cfg    RelayConfig
	logger *slog.Logger
	lockID int64

	running     chan struct{}
	runningOnce sync.Once
	closing     chan struct{}
	closeOnce   sync.Once
	done        chan struct{}

	mu     sync.Mutex
	active bool
	err    error // why the last session ended, while none is running
}

// NewRelay builds a relay. It connects when Run is called.
func NewRelay(cfg RelayConfig, logger *slog.Logger) (*Relay, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	return &Relay{cfg: cfg, logger: logger.With("consumer_group", cfg.ConsumerGroup), lockID: lockKey(cfg.ConsumerGroup),
		running: make(chan struct{}), closing: make(chan struct{}), done: make(chan struct{})}, nil
}

// ConsumerGroup is the relay's position's name.
func (r *Relay) ConsumerGroup() string { return r.cfg.ConsumerGroup }

// Running is closed once the relay holds the outbox or stands by.
func (r *Relay) Running() chan struct{} { return r.running }

// Active reports whether this relay holds the outbox now.
func (r *Relay) Active() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active
}

// Ready reports nil while the relay delivers or stands by with a working connection, and why not
// otherwise.
func (r *Relay) Ready() error {
	select {
	case <-r.done:
		return fmt.Errorf("relay %s: stopped", r.cfg.ConsumerGroup)
	default:
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return fmt.Errorf("relay %s: %w", r.cfg.ConsumerGroup, r.err)
	}
	select {
	case <-r.running:
		return nil
	default:
		return fmt.Errorf("relay %s: not connected yet", r.cfg.ConsumerGroup)
	}
}

// Close stops the relay: the batch in flight is delivered and acknowledged first. It waits for
// Run to return when Run was called.
func (r *Relay) Close() error {
	r.closeOnce.Do(func() { close(r.closing) })
	select {
	case <-r.running:
		<-r.done
	default:
	}
	return nil
}

// Run relays until ctx ends or Close is called. A database or broker that goes away is waited
// for with the policy's backoff; Run returns only when it is told to stop.
func (r *Relay) Run(ctx context.Context) error {
	defer close(r.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // ends with Run: cancel above ends ctx
		select {
		case <-r.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	return r.cfg.Policy.Retry(ctx, func(ctx context.Context) error {
		err := r.session(ctx)
		r.setState(false, err)
		if ctx.Err() != nil {
			return nil
		}
		return err
	}, func(err error, wait time.Duration) {
		r.logger.WarnContext(ctx, "relay session ended; connecting again", "error", err, "retry_in", wait)
	})
}

func (r *Relay) setState(active bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.active, r.err = active, err
}

// session connects, stands by until it holds the outbox, then delivers until its connection or
// ctx ends. Its error says why it ended.
func (r *Relay) session(ctx context.Context) error {
	pc := r.cfg.DB.Config()
	cfg := pc.ConnConfig.Copy()
	host, _ := os.Hostname()
	cfg.RuntimeParams["application_name"] = fmt.Sprintf("omni relay %s %s/%d", r.cfg.ConsumerGroup, host, os.Getpid())
	// The pool's BeforeConnect gives the session the pool's current credentials (from Vault, a
	// file, …) as it gives every connection of the pool.
	if pc.BeforeConnect != nil {
		if err := pc.BeforeConnect(ctx, cfg); err != nil {
			return fmt.Errorf("could not connect to the outbox: %w", err)
		}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("could not connect to the outbox: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	r.setState(false, nil)
	r.runningOnce.Do(func() { close(r.running) })
	if err := r.standBy(ctx, conn); err != nil {
		return err
	}
	producer, err := bus.NewProducer(r.cfg.Brokers, r.cfg.Security, "omni-relay", r.cfg.ProducerOptions...)
	if err != nil {
		return err
	}
	defer producer.Close()
	r.setState(true, nil)
	r.cfg.Metrics.setActive(r.cfg.ConsumerGroup, true)
	defer r.cfg.Metrics.setActive(r.cfg.ConsumerGroup, false)
	r.logger.InfoContext(ctx, "relay holds the outbox")
	return r.deliver(ctx, conn, producer)
}

// standBy returns once conn holds the outbox's lock, trying every StandbyInterval.
func (r *Relay) standBy(ctx context.Context, conn *pgx.Conn) error {
	for logged := false; ; logged = true {
		var held bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, r.lockID).Scan(&held); err != nil {
			return fmt.Errorf("could not ask for the outbox: %w", err)
		}
		if held {
			return nil
		}
		if !logged {
			r.logger.InfoContext(ctx, "another relay holds the outbox; standing by")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(r.cfg.StandbyInterval):
		}
	}
}

// lockKey is the advisory lock of group's relay: one per consumer group, apart from every other
// lock of the database (omni's replay takes its own).
func lockKey(group string) int64 {
	var h int64 = 1125899906842597 // FNV-style over the name: any stable 64-bit number does
	for _, c := range "omni outbox relay " + group {
		h = 31*h + int64(c)
	}
	return h
}
