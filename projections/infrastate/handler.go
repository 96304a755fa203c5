package infrastate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/pgtx"
	"github.com/omninode/omnibase-infra/outbox"
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

// Handler applies one event per transaction: inbox row, state row, intent rows and the outbox
// publish of the intents commit together, so a redelivered event changes nothing and an intent is
// published exactly when it is stored. It keeps nothing in memory between messages.
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

// Handle is the Watermill handler function. A message that cannot be decoded returns an
// *events.DecodeError, which the router's poison middleware sends to the poison topic.
func (h *Handler) Handle(msg *message.Message) error {
	env, m, err := h.cfg.Registry.Decode(msg)
	if err != nil {
		return err
	}
	ctx := msg.Context()
	var raised []events.IntentMessage
	err = pgtx.Run(ctx, h.cfg.DB, func(tx pgx.Tx) error {
		raised = nil
		return h.apply(ctx, tx, env, m, &raised)
	})
	if err != nil {
		return fmt.Errorf("could not apply %s %s to %s: %w", env.Kind, env.ID, m.Key(), err)
	}
	for _, in := range raised {
		h.logger.InfoContext(ctx, "intent raised", "intent", in.Kind().Name, "subject", in.Fields().Subject,
			"intent_id", in.Fields().ID, "reason", in.Fields().Reason,
			"correlation_id", env.CorrelationID, "causation_id", env.ID)
	}
	return nil
}

// apply applies one event inside tx: inbox row (a duplicate ends here), state, intents.
func (h *Handler) apply(ctx context.Context, tx pgx.Tx, env events.Envelope, m events.Message, raised *[]events.IntentMessage) error {
	fresh, err := pgtx.Claim(ctx, tx, ConsumerName, env.ID)
	if err != nil || !fresh {
		return err
	}
	before, err := load(ctx, tx, m.Key())
	if err != nil {
		return err
	}
	after, intents := h.reducer.Reduce(before, env, m)
	if !statesEqual(after, before) {
		if err := store(ctx, tx, after, env.ID); err != nil {
			return err
		}
	}
	return h.raise(ctx, tx, env, intents, raised)
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
