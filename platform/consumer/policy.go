// Package consumer is how every consumer in omnibase-infra handles a message that fails: one
// Policy, built once, says how long to wait between attempts, which errors are permanent and
// where a message that can never be handled goes, with the reason. Router handlers take it as
// middleware (Middleware), the batch consumer (Batch) runs its batches through it, and the outbox
// relay forwards rows through the same middleware.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/cenkalti/backoff/v5"

	"github.com/omninode/omnibase-infra/events"
)

// Metadata the copy of a poisoned message on its poison topic carries: Watermill's own keys, so
// tools that read Watermill's poison queues read these too, and where the message was.
const (
	// MetaReason says why the message can never be handled.
	MetaReason = middleware.ReasonForPoisonedKey
	// MetaTopic is the topic the message was consumed from.
	MetaTopic = middleware.PoisonedTopicKey
	// MetaGroup is the consumer group (the handler's name) that poisoned it.
	MetaGroup = middleware.PoisonedHandlerKey
	// MetaMessageID is the poisoned message's own id (the copy has an id of its own).
	MetaMessageID = "poisoned_message_id"
	// MetaPartition and MetaOffset say where the message was: its Kafka partition and offset, or
	// (no partition) the outbox row's offset.
	MetaPartition = "poisoned_partition"
	MetaOffset    = "poisoned_offset"
	// MetaPayloadBytes and MetaPayloadSHA256 are the whole payload's size and hash; MetaTruncated
	// is "true" when the copy carries only the first part of it.
	MetaPayloadBytes  = "poisoned_payload_bytes"
	MetaPayloadSHA256 = "poisoned_payload_sha256"
	MetaTruncated     = "poisoned_payload_truncated"
)

// PoisonRecord is a message a consumer gives up on: what it was, where it came from and why.
type PoisonRecord struct {
	// Group is the consumer group (or the relay's) that gives up on it.
	Group string
	// Topic it was consumed from; the relay's rows come from the outbox.
	Topic string
	// Partition is the Kafka partition it was read from, or -1 when it was not read from Kafka.
	Partition int32
	// Offset is its Kafka offset, or the outbox row's offset; -1 when unknown.
	Offset  int64
	Message *message.Message
	Reason  error
}

// PoisonStore keeps the messages that can never be handled. Store must keep r once per group and
// message however often it is called for it (a consumer that crashed after storing poisons the
// message again when it is redelivered), and must not fail for the size or shape of r.Message.
type PoisonStore interface {
	Store(ctx context.Context, r PoisonRecord) error
}

// Backoff is an exponential backoff with jitter: the wait before attempt n+1 is Initial ×
// Multiplier^(n-1), at most Max, spread uniformly over ±Jitter of itself. It has no defaults of
// its own: each component that waits owns the ones it needs.
type Backoff struct {
	// Initial wait before the second attempt.
	Initial time.Duration
	// Max is the longest wait.
	Max time.Duration
	// Multiplier of the wait after each attempt.
	Multiplier float64
	// Jitter, 0 to 1.
	Jitter float64
}

// Or returns b with its zero fields taken from def.
func (b Backoff) Or(def Backoff) Backoff {
	if b.Initial == 0 {
		b.Initial = def.Initial
	}
	if b.Max == 0 {
		b.Max = def.Max
	}
	if b.Multiplier == 0 {
		b.Multiplier = def.Multiplier
	}
	if b.Jitter == 0 {
		b.Jitter = def.Jitter
	}
	return b
}

// Validate reports every problem of the backoff.
func (b Backoff) Validate() error {
	var errs []error
	if b.Initial <= 0 || b.Max < b.Initial {
		errs = append(errs, fmt.Errorf("backoff: want 0 < initial (%s) ≤ max (%s)", b.Initial, b.Max))
	}
	if b.Multiplier < 1 {
		errs = append(errs, fmt.Errorf("backoff: multiplier %g is below 1", b.Multiplier))
	}
	if b.Jitter < 0 || b.Jitter > 1 {
		errs = append(errs, fmt.Errorf("backoff: jitter %g is not between 0 and 1", b.Jitter))
	}
	return errors.Join(errs...)
}

// New returns a fresh backoff.BackOff that never stops by itself (callers bound it by attempts
// or by their context).
func (b Backoff) New() backoff.BackOff {
	e := backoff.NewExponentialBackOff()
	e.InitialInterval, e.MaxInterval, e.Multiplier, e.RandomizationFactor = b.Initial, b.Max, b.Multiplier, b.Jitter
	return e
}

// permanentError marks an error that handling the message again can never cure.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks err as permanent: a consumer's own reason that its message can never be handled
// (a record Kafka refuses for good). Decode errors and rejections (events.Permanent) are
// permanent without it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err means its message can never be handled: it cannot be decoded,
// it was rejected, or it was marked with Permanent. Every other error is transient.
func IsPermanent(err error) bool {
	var p permanentError
	return events.Permanent(err) || errors.As(err, &p)
}

// PolicyConfig configures the Policy.
type PolicyConfig struct {
	// Backoff between attempts of a message that failed with a transient error. Default 100ms,
	// doubling up to 5s, ±50%.
	Backoff Backoff
	// Retries of a message inside a router handler before it is handed back to its subscriber,
	// which delivers it again (the backoff goes on from the start). Default 5. The batch consumer
	// and the relay do not skip what they cannot apply: they retry until it succeeds.
	Retries int
	// Store keeps the messages that can never be handled. Required.
	Store PoisonStore
}

func (c *PolicyConfig) setDefaults() {
	c.Backoff = c.Backoff.Or(Backoff{Initial: 100 * time.Millisecond, Max: 5 * time.Second, Multiplier: 2, Jitter: 0.5})
	if c.Retries == 0 {
		c.Retries = 5
	}
}

// DefaultPolicyConfig is the policy's configuration with its defaults: flags show these.
func DefaultPolicyConfig() PolicyConfig {
	var c PolicyConfig
	c.setDefaults()
	return c
}

// Validate reports every problem of the configuration.
func (c PolicyConfig) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("consumer policy: missing poison Store"))
	}
	if c.Retries < 0 {
		errs = append(errs, fmt.Errorf("consumer policy: retries %d is negative", c.Retries))
	}
	if err := c.Backoff.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("consumer policy: %w", err))
	}
	return errors.Join(errs...)
}

// Policy is the one error policy: transient errors are retried with the backoff, permanent ones
// (IsPermanent) send the message to its consumer group's poison topic with the reason, and the
// consumer goes on with the next message.
type Policy struct {
	cfg    PolicyConfig
	logger *slog.Logger
}

// NewPolicy builds the policy.
func NewPolicy(cfg PolicyConfig, logger *slog.Logger) (*Policy, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	return &Policy{cfg: cfg, logger: logger}, nil
}

// Poison gives up on r.Message: the store keeps it, with why and where it was, once.
func (p *Policy) Poison(ctx context.Context, r PoisonRecord) error {
	if err := p.cfg.Store.Store(ctx, r); err != nil {
		return fmt.Errorf("could not poison message %s of %s: %w", r.Message.UUID, r.Group, err)
	}
	p.logger.WarnContext(ctx, "message poisoned", "consumer_group", r.Group, "topic", r.Topic,
		"partition", r.Partition, "offset", r.Offset, "message_id", r.Message.UUID, "reason", r.Reason,
		"correlation_id", r.Message.Metadata.Get(events.MetaCorrelationID))
	return nil
}

// Middleware is the policy as Watermill handler middleware for group's handler on topic: a
// transient error is retried Retries times with the backoff, then returned (the subscriber
// delivers the message again); a permanent one poisons the message and acknowledges it. A
// message whose poisoning fails is returned as failed, so it is delivered again rather than lost.
func (p *Policy) Middleware(group, topic string) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			ctx := msg.Context()
			tries := 0
			out, err := backoff.Retry(ctx, func() ([]*message.Message, error) {
				tries++
				out, err := h(msg)
				if IsPermanent(err) {
					return out, backoff.Permanent(err)
				}
				return out, err
			}, backoff.WithBackOff(p.cfg.Backoff.New()), backoff.WithMaxTries(uint(p.cfg.Retries)+1),
				backoff.WithMaxElapsedTime(0), backoff.WithNotify(func(err error, wait time.Duration) {
					p.logger.DebugContext(ctx, "message failed; trying again", "consumer_group", group,
						"message_id", msg.UUID, "attempt", tries, "retry_in", wait, "error", err)
				}))
			if err == nil || !IsPermanent(err) {
				return out, err
			}
			partition, offset := int32(-1), int64(-1)
			if pt, ok := kafka.MessagePartitionFromCtx(ctx); ok {
				partition = pt
				offset, _ = kafka.MessagePartitionOffsetFromCtx(ctx)
			}
			rec := PoisonRecord{Group: group, Topic: topic, Partition: partition, Offset: offset, Message: msg, Reason: err}
			if perr := p.Poison(ctx, rec); perr != nil {
				return nil, errors.Join(err, perr)
			}
			return nil, nil
		}
	}
}

// Retry calls fn until it succeeds, fails with a permanent error or ctx ends, waiting the
// backoff between attempts; onRetry hears each transient failure and the wait that follows it.
// It returns fn's last error (not ctx's) when ctx ends after a failure. The batch consumer and
// the relay retry this way: they must not skip what they cannot apply yet.
func (p *Policy) Retry(ctx context.Context, fn func(ctx context.Context) error, onRetry func(err error, wait time.Duration)) error {
	var last error
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		last = fn(ctx)
		if IsPermanent(last) {
			return struct{}{}, backoff.Permanent(last)
		}
		return struct{}{}, last
	}, backoff.WithBackOff(p.cfg.Backoff.New()), backoff.WithMaxElapsedTime(0), backoff.WithNotify(onRetry))
	if err != nil && last != nil && ctx.Err() != nil {
		return last
	}
	return err
}
