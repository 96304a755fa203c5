package infrastate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/consumer"
	"github.com/omninode/omnibase-infra/platform/pgtx"
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
	// Thresholds of the fold. Default DefaultThresholds().
	Thresholds Thresholds
}

func (c *HandlerConfig) setDefaults() {
	if c.Thresholds == (Thresholds{}) {
		c.Thresholds = DefaultThresholds()
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
	}
	batch := make([]decoded, 0, len(msgs))
	var rejected []consumer.Rejected
	for _, msg := range msgs {
		env, m, err := h.cfg.Registry.Decode(msg)
		if err != nil {
			rejected = append(rejected, consumer.Rejected{Msg: msg, Reason: err})
			continue
		}
		batch = append(batch, decoded{env, m})
	}
	raised := make([][]events.IntentMessage, len(batch))
	err := pgtx.Run(ctx, h.cfg.DB, func(tx pgx.Tx) error {
		clear(raised)
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
		for i, d := range batch {
			if !fresh[d.env.ID] {
				continue // applied before: a redelivery, or a second copy in this batch
			}
			delete(fresh, d.env.ID)
			key := d.m.Key()
			before, ok := states[key]
			if !ok {
				before = NewState(key)
			}
			after, intents := h.reducer.Reduce(before, d.env, d.m)
			if !statesEqual(after, before) {
				states[key], dirty[key] = after, d.env.ID
			}
			if err := h.raise(ctx, tx, d.env, intents, &raised[i]); err != nil {
				return err
			}
		}
		return storeAll(ctx, tx, states, dirty)
	})
	if err != nil {
		return nil, fmt.Errorf("could not apply a batch of %d events: %w", len(batch), err)
	}
	for i, d := range batch {
		for _, in := range raised[i] {
			h.logger.InfoContext(ctx, "intent raised", "intent", in.Kind().Name, "subject", in.Fields().Subject,
				"intent_id", in.Fields().ID, "reason", in.Fields().Reason,
				"correlation_id", d.env.CorrelationID, "causation_id", d.env.ID)
		}
	}
	return rejected, nil
}

func (h *Handler) raise(ctx context.Context, tx pgx.Tx, env events.Envelope, intents []events.IntentMessage, raised *[]events.IntentMessage) error {
	var msgs []*message.Message
	for _, in := range intents {
		fresh, err := recordIntent(ctx, tx, in)
		if err != nil {
			return err
		}
		if !fresh {
			continue
		}
		msg, err := events.EncodeWithID(in.Fields().ID, in, env.Caused(), in.Fields().RaisedAt)
		if err != nil {
			return err
		}
		msgs = append(msgs, msg)
		*raised = append(*raised, in)
	}
	return outbox.Publish(ctx, tx, h.cfg.IntentsTopic, msgs...)
}
