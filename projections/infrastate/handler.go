package infrastate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/consumer"
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/platform/telemetry"
)

// ConsumerName is the projection's Kafka consumer group and its name in the inbox table.
// WARNING: renaming it starts a new consumer group from the oldest offset and a new inbox.
const ConsumerName = "infrastate-projection"

// HandlerConfig configures a Handler.
type HandlerConfig struct {
	// DB holds the projection's tables and the outbox. Required.
	DB pgtx.Beginner
	// Registry decodes incoming messages. Required.
	Registry *events.Registry
	// IntentsTopic is where raised intents are published. Required.
	IntentsTopic string
	// EventsTopic is the topic the batches come from (what their MACs bind). Default
	// events.DefaultTopics().Events.
	EventsTopic string
	// Sealer seals the sensitive fields of what it publishes and signs it. Nil publishes plain
	// and unsigned, which consumers holding keys poison: only tests without keys leave it nil.
	Sealer outbox.Sealer
	// Thresholds of the fold. Default DefaultThresholds().
	Thresholds Thresholds
}

func (c *HandlerConfig) setDefaults() {
	if c.Thresholds == (Thresholds{}) {
		c.Thresholds = DefaultThresholds()
	}
	if c.EventsTopic == "" {
		c.EventsTopic = events.DefaultTopics().Events
	}
}

// Validate reports every problem of the configuration.
func (c HandlerConfig) Validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("projection: missing DB"))
	}
	if c.Registry == nil {
		errs = append(errs, errors.New("projection: missing Registry"))
	}
	if c.IntentsTopic == "" {
		errs = append(errs, errors.New("projection: missing IntentsTopic"))
	}
	if err := c.Thresholds.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("projection thresholds: %w", err))
	}
	return errors.Join(errs...)
}

// Handler applies events in batches, one transaction per batch: for each event the inbox row (a
// duplicate ends there), the state row, the intent rows and the outbox publish of the intents all
// commit together, so a redelivered batch changes nothing and an intent is published exactly when
// it is stored. It keeps nothing in memory between batches.
type Handler struct {
	cfg     HandlerConfig
	reducer Reducer
	logger  *slog.Logger
}

// NewHandler builds the projection handler.
func NewHandler(cfg HandlerConfig, logger *slog.Logger) (*Handler, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	return &Handler{cfg: cfg, reducer: Reducer{Thresholds: cfg.Thresholds}, logger: logger}, nil
}

// HandleBatch applies msgs, in order, in one transaction; it is the projection's
// consumer.BatchHandler. A message that cannot be decoded is returned with the reason, for the
// poison topic, and the others are applied. An error means nothing of the batch was applied; the
// consumer hands the same batch again.
func (h *Handler) HandleBatch(ctx context.Context, msgs []*message.Message) ([]consumer.Rejected, error) {
	type decoded struct {
		env events.Envelope
		m   events.Message
		md  message.Metadata
	}
	batch := make([]decoded, 0, len(msgs))
	var rejected []consumer.Rejected
	for _, msg := range msgs {
		env, m, err := h.cfg.Registry.DecodeFrom(h.cfg.EventsTopic, msg)
		if err != nil {
			rejected = append(rejected, consumer.Rejected{Msg: msg, Reason: err})
			continue
		}
		batch = append(batch, decoded{env, m, msg.Metadata})
	}
	var raised []raisedIntent
	err := pgtx.Run(ctx, h.cfg.DB, func(tx pgx.Tx) error {
		raised = raised[:0]
		ids := make([]string, len(batch))
		for i, d := range batch {
			ids[i] = d.env.ID
		}
		fresh, err := claimAll(ctx, tx, ConsumerName, ids)
		if err != nil {
			return err
		}
		var keys []string
		for _, d := range batch {
			if fresh[d.env.ID] {
				keys = append(keys, d.m.Key())
			}
		}
		states, err := loadAll(ctx, tx, keys)
		if err != nil {
			return err
		}
		dirty := map[string]string{}
		for _, d := range batch {
			if !fresh[d.env.ID] {
				continue // applied before: a redelivery, or a second copy in this batch
			}
			delete(fresh, d.env.ID)
			key := d.m.Key()
			before, ok := states[key]
			if !ok {
				before = NewState(key)
			}
			_, span := telemetry.StartInBatch(ctx, d.md, "reduce "+d.env.Kind.Name,
				attribute.String("omni.event.id", d.env.ID), attribute.String("omni.state.key", key))
			after, intents := h.reducer.Reduce(before, d.env, d.m)
			if !statesEqual(after, before) {
				states[key], dirty[key] = after, d.env.ID
			}
			span.SetAttributes(attribute.Int("omni.intents", len(intents)))
			tc := message.Metadata{}
			telemetry.Inject(trace.ContextWithSpan(ctx, span), tc)
			span.End()
			for _, in := range intents {
				raised = append(raised, raisedIntent{env: d.env, intent: in, trace: tc})
			}
		}
		if err := storeAll(ctx, tx, states, dirty); err != nil {
			return err
		}
		var err2 error
		raised, err2 = h.raise(ctx, tx, raised)
		return err2
	})
	if err != nil {
		return nil, fmt.Errorf("could not apply a batch of %d events: %w", len(batch), err)
	}
	for _, r := range raised {
		f := r.intent.Fields()
		h.logger.InfoContext(ctx, "intent raised", "intent", r.intent.Kind().Name, "subject", f.Subject,
			"intent_id", f.ID, "reason", f.Reason, "correlation_id", r.env.CorrelationID, "causation_id", r.env.ID)
	}
	return rejected, nil
}

// raisedIntent is an intent a batch's fold raised, with the envelope of the event that raised it.
type raisedIntent struct {
	env    events.Envelope
	intent events.IntentMessage
	// trace is the trace context of the event's reduction, which the intent continues.
	trace message.Metadata
}

// raise stores the batch's intents and publishes the ones not stored before through the outbox,
// in one statement and one publish however many there are; it returns those it published.
func (h *Handler) raise(ctx context.Context, tx pgx.Tx, raised []raisedIntent) ([]raisedIntent, error) {
	if len(raised) == 0 {
		return nil, nil
	}
	intents := make([]events.IntentMessage, len(raised))
	for i, r := range raised {
		intents[i] = r.intent
	}
	fresh, err := recordIntents(ctx, tx, intents)
	if err != nil {
		return nil, err
	}
	var msgs []*message.Message
	var published []raisedIntent
	for _, r := range raised {
		f := r.intent.Fields()
		if !fresh[f.ID] {
			continue
		}
		delete(fresh, f.ID) // the same intent twice in a batch is published once
		msg, err := events.EncodeWithID(f.ID, r.intent, r.env.Caused(), f.RaisedAt)
		if err != nil {
			return nil, err
		}
		telemetry.CopyContext(msg.Metadata, r.trace)
		msgs = append(msgs, msg)
		published = append(published, r)
	}
	return published, outbox.PublishSealed(ctx, tx, h.cfg.Sealer, h.cfg.IntentsTopic, msgs...)
}
