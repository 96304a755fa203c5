package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/omninode/omnibase-infra/platform/bus"
	"github.com/omninode/omnibase-infra/platform/telemetry"
)

// BatchHandler applies a batch of one partition's messages, in order. It returns the messages it
// can never apply, each with the reason (they go to the poison topic once the rest is applied),
// or an error when nothing of the batch was applied: a transient one hands the same batch again
// after the backoff; a permanent one poisons every message of the batch with it.
type BatchHandler func(ctx context.Context, msgs []*message.Message) ([]Rejected, error)

// Rejected is a message a BatchHandler can never apply, and why.
type Rejected struct {
	Msg    *message.Message
	Reason error
}

// BatchConfig configures a Batch consumer.
type BatchConfig struct {
	// Brokers of the Kafka cluster. Required.
	Brokers []string
	// Security of the connections to Brokers (TLS, SASL). Default: plaintext, no authentication.
	Security bus.Security
	// Group is the consumer group, and the name its poison topic is made from. Required.
	Group string
	// Topic to consume. Required.
	Topic string
	// MaxBatch is the most messages in one batch. Default 100.
	MaxBatch int
	// CloseTimeout is how long the batch in flight when the consumer stops may take to finish.
	// Default 30s.
	CloseTimeout time.Duration
	// Handle applies a batch. Required.
	Handle BatchHandler
	// Policy is the error policy. Required.
	Policy *Policy
	// Metrics, when set, count batches and their sizes.
	Metrics *BatchMetrics
	// Membership is how the consumer takes part in its group (static membership, session
	// timeout). Default bus.DefaultMembership().
	Membership bus.Membership
}

func (c *BatchConfig) setDefaults() {
	if c.MaxBatch == 0 {
		c.MaxBatch = 100
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = 30 * time.Second
	}
}

// DefaultBatchConfig is the batch consumer's configuration with its defaults: flags show these.
func DefaultBatchConfig() BatchConfig {
	var c BatchConfig
	c.setDefaults()
	return c
}

// Validate reports every problem of the configuration.
func (c BatchConfig) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("batch consumer: missing Brokers"))
	}
	if c.Group == "" {
		errs = append(errs, errors.New("batch consumer: missing Group"))
	}
	if c.Topic == "" {
		errs = append(errs, errors.New("batch consumer: missing Topic"))
	}
	if c.MaxBatch < 0 {
		errs = append(errs, fmt.Errorf("batch consumer: MaxBatch %d is negative", c.MaxBatch))
	}
	if c.CloseTimeout < 0 {
		errs = append(errs, fmt.Errorf("batch consumer: CloseTimeout %s is negative", c.CloseTimeout))
	}
	if c.Handle == nil {
		errs = append(errs, errors.New("batch consumer: missing Handle"))
	}
	if c.Policy == nil {
		errs = append(errs, errors.New("batch consumer: missing Policy"))
	}
	return errors.Join(errs...)
}

// Batch consumes a topic in a consumer group and hands each partition's messages to Handle in
// batches, in order: whatever has arrived, up to MaxBatch. A batch's offsets are marked only
// after Handle applied it; when Handle fails, the same batch is handed again after the policy's
// backoff, so nothing is skipped and nothing overtakes. Handle must make redelivery harmless (the
// projection's inbox does): a batch can come again after a crash or a rebalance.
//
// Watermill's router hands a handler one message at a time per partition; Batch exists because
// applying a batch in one transaction is what makes the projection fast.
type Batch struct {
	cfg    BatchConfig
	logger *slog.Logger

	running   chan struct{}
	closing   chan struct{}
	closeOnce sync.Once
	started   atomic.Bool
	done      chan struct{}

	mu       sync.Mutex
	sessions int       // live consumer-group sessions: 1 while consuming, 0 between sessions
	lostAt   time.Time // when the last session ended; zero before the first one
	lastErr  error     // why the last attempt at a session failed, if it did
}

// NewBatch builds a batch consumer. It joins its group when Run is called.
func NewBatch(cfg BatchConfig, logger *slog.Logger) (*Batch, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	return &Batch{cfg: cfg, logger: logger.With("consumer_group", cfg.Group), running: make(chan struct{}),
		closing: make(chan struct{}), done: make(chan struct{})}, nil
}

// Running is closed once the consumer has joined its group and holds a session.
func (c *Batch) Running() chan struct{} { return c.running }

// Ready reports nil while the consumer holds a consumer-group session, and otherwise why not:
// it has not joined yet, it is between sessions (a rebalance, the brokers gone) or it stopped.
func (c *Batch) Ready() error {
	select {
	case <-c.done:
		return fmt.Errorf("consumer group %s: stopped", c.cfg.Group)
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var why string
	switch {
	case c.sessions > 0:
		return nil
	case c.lostAt.IsZero():
		why = "not joined yet"
	default:
		why = "no session since " + c.lostAt.UTC().Format(time.RFC3339)
	}
	if c.lastErr != nil {
		return fmt.Errorf("consumer group %s: %s: %w", c.cfg.Group, why, c.lastErr)
	}
	return fmt.Errorf("consumer group %s: %s", c.cfg.Group, why)
}

// Close stops the consumer: the batch in flight is finished (within CloseTimeout) and its
// offsets committed; then Run returns. Close waits for that when Run was called.
func (c *Batch) Close() error {
	c.closeOnce.Do(func() { close(c.closing) })
	if c.started.Load() {
		<-c.done
	}
	return nil
}

// Run consumes until ctx ends or Close is called, then finishes the batch in flight.
func (c *Batch) Run(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return fmt.Errorf("consumer group %s: Run called twice", c.cfg.Group)
	}
	defer close(c.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // ends with Run: cancel above ends ctx
		select {
		case <-c.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	group, err := bus.NewConsumerGroup(c.cfg.Brokers, c.cfg.Security, c.cfg.Group, c.cfg.Membership)
	if err != nil {
		return err
	}
	defer group.Close()
	for {
		// Consume returns at every rebalance and when ctx ends; a failed session is tried again.
		err := group.Consume(ctx, []string{c.cfg.Topic}, c)
		if err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) && ctx.Err() == nil {
			c.mu.Lock()
			c.lastErr = err
			c.mu.Unlock()
			c.logger.WarnContext(ctx, "consumer group session ended", "error", err)
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// Setup is called by Sarama when a session starts.
func (c *Batch) Setup(sarama.ConsumerGroupSession) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sessions++
	c.lastErr = nil
	select {
	case <-c.running:
	default:
		close(c.running)
	}
	return nil
}

// Cleanup is called by Sarama when a session ends, after every ConsumeClaim returned.
func (c *Batch) Cleanup(sarama.ConsumerGroupSession) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sessions--
	c.lostAt = time.Now()
	return nil
}

// ConsumeClaim hands one partition's messages to Handle, batch after batch. When the session
// ends (the consumer stops, or a rebalance) it takes no new batch, but finishes the one it has.
func (c *Batch) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	ctx := sess.Context()
	for {
		var first *sarama.ConsumerMessage
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			first = m
		}
		records := []*sarama.ConsumerMessage{first}
	drain:
		for len(records) < c.cfg.MaxBatch {
			select {
			case m, ok := <-claim.Messages():
				if !ok {
					break drain
				}
				records = append(records, m)
			default:
				break drain
			}
		}
		if !c.apply(ctx, records, claim.Partition()) {
			return nil
		}
		// Marked offsets are committed by Sarama in the background and when the session ends.
		sess.MarkMessage(records[len(records)-1], "")
	}
}

// apply runs one batch through the policy and reports whether it was applied (or poisoned).
//
// WARNING: the batch runs on a context that the session's end does not cancel: a batch begun is
// finished, within CloseTimeout, rather than rolled back half way. Only the waits between attempts
// stop when the session ends, and the batch is then handed again to whoever consumes the
// partition next.
func (c *Batch) apply(sessCtx context.Context, records []*sarama.ConsumerMessage, partition int32) bool {
	ctx, cancel := DrainContext(sessCtx, c.cfg.CloseTimeout)
	defer cancel()
	msgs := make([]*message.Message, 0, len(records))
	poisoned := func(m *message.Message, reason error) PoisonRecord {
		r := records[slices.Index(msgs, m)] // Handle hands back the messages it was given
		return PoisonRecord{Group: c.cfg.Group, Topic: c.cfg.Topic, Partition: r.Partition, Offset: r.Offset,
			Message: m, Reason: reason}
	}
	for _, r := range records {
		msg, err := bus.Message(r)
		if err != nil {
			// Not even a Watermill message: an empty one carrying the record, which Handle's
			// decoding refuses, so it goes to the poison topic.
			msg = message.NewMessage("", r.Value)
		}
		msg.SetContext(ctx)
		msgs = append(msgs, msg)
	}
	ctx, span := telemetry.StartBatch(ctx, c.cfg.Group, c.cfg.Topic, msgs)
	defer span.End()
	var rejected []Rejected
	attempt := 0
	err := c.cfg.Policy.Retry(sessCtx, func(context.Context) error {
		attempt++
		var err error
		rejected, err = c.cfg.Handle(ctx, msgs)
		c.cfg.Metrics.observe(c.cfg.Group, len(msgs), err)
		if err != nil {
			return err
		}
		for _, r := range rejected {
			if !slices.Contains(msgs, r.Msg) {
				// A bug in the handler; retrying would not cure it, and the batch is applied.
				c.logger.ErrorContext(ctx, "the batch handler rejected a message it was not given", "message_id", r.Msg.UUID)
				continue
			}
			if err := c.cfg.Policy.Poison(ctx, poisoned(r.Msg, r.Reason)); err != nil {
				// The batch is applied; handing it again makes its events no-ops and poisons again.
				return err
			}
		}
		return nil
	}, func(err error, wait time.Duration) {
		c.logger.WarnContext(sessCtx, "could not apply a batch; trying again", "partition", partition,
			"messages", len(msgs), "attempt", attempt, "retry_in", wait, "error", err)
	})
	telemetry.End(span, err)
	switch {
	case err == nil:
		return true
	case IsPermanent(err):
		for _, m := range msgs {
			if perr := c.cfg.Policy.Poison(ctx, poisoned(m, err)); perr != nil {
				c.logger.ErrorContext(ctx, "could not poison a batch that can never be applied", "partition", partition,
					"error", errors.Join(err, perr))
				return false
			}
		}
		return true
	}
	return false
}

// DrainContext is a context for work that must finish once begun: it ends timeout after parent
// ends, not when parent does. Its cancel func releases it. The batch consumer applies its batch
// in flight on it, the relay delivers its batch on it.
func DrainContext(parent context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	stop := context.AfterFunc(parent, func() {
		t := time.AfterFunc(timeout, cancel)
		context.AfterFunc(ctx, func() { t.Stop() })
	})
	return ctx, func() { stop(); cancel() }
}

// BatchMetrics are a Batch consumer's Prometheus metrics, labelled by consumer group.
type BatchMetrics struct {
	batches  *prometheus.CounterVec
	messages *prometheus.HistogramVec
}

// NewBatchMetrics registers the metrics with reg.
func NewBatchMetrics(reg prometheus.Registerer) *BatchMetrics {
	m := &BatchMetrics{
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "omni_consumer_batches_total",
			Help: "Batches handed to a batch consumer's handler, by outcome."}, []string{"consumer_group", "success"}),
		messages: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "omni_consumer_batch_messages",
			Help:    "Messages per batch applied.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200}}, []string{"consumer_group"}),
	}
	reg.MustRegister(m.batches, m.messages)
	return m
}

func (m *BatchMetrics) observe(group string, n int, err error) {
	if m == nil {
		return
	}
	m.batches.WithLabelValues(group, strconv.FormatBool(err == nil)).Inc()
	if err == nil {
		m.messages.WithLabelValues(group).Observe(float64(n))
	}
}
