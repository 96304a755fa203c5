package sagas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/omninode/omnibase-infra/audit"
	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/platform/telemetry"
)

// Consumer names: each is a consumer group (or, for timers, a subscriber) and its name in the inbox.
const (
	// IntakeConsumerName takes intents from the intents topic.
	IntakeConsumerName = "saga-intake"
	// RepliesConsumerName takes the adapters' outcome events from the events topic.
	RepliesConsumerName = "saga-replies"
	// TimersConsumerName takes the sagas' timers from PostgreSQL (saga_timers; a timer's row is its
	// own inbox entry).
	TimersConsumerName = "saga-timers"
)

// ErrUnroutable is returned for an intent the contract has no route for. It is permanent: the
// router's poison middleware sends the intent to the poison topic with this reason.
var ErrUnroutable = fmt.Errorf("%w: no route for intent", events.ErrRejected)

// DB is the control database: *pgxpool.Pool is one.
type DB interface {
	pgtx.Beginner
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Config configures an Engine.
type Config struct {
	// DB is the control database. Required.
	DB DB
	// Registry decodes intents and replies. Required.
	Registry *events.Registry
	// Targets reads the projection's targets for the decisions. Required.
	Targets TargetReader
	// Contract declares the workflows and routes. Required.
	Contract Contract
	// Topics name where commands and events go. Default events.DefaultTopics().
	Topics events.Topics
	// Sealer seals the sensitive fields of what it publishes and signs it. Nil publishes plain
	// and unsigned, which consumers holding keys poison: only tests without keys leave it nil.
	Sealer outbox.Sealer
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// AuditHasher keys the HMACs of the secret values of the commands the sagas send, as their
	// audit entries keep them. Optional: without it those values are withheld from the entries.
	AuditHasher *audit.Hasher
	// Metrics times the steps the engine finishes. Optional: nil times nothing.
	Metrics *StepMetrics
}

func (c *Config) setDefaults() {
	if c.Topics == (events.Topics{}) {
		c.Topics = events.DefaultTopics()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports every problem of the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("missing DB"))
	}
	if c.Registry == nil {
		errs = append(errs, errors.New("missing Registry"))
	}
	if c.Targets == nil {
		errs = append(errs, errors.New("missing Targets"))
	}
	if len(c.Contract.Routes) == 0 || len(c.Contract.Workflows) == 0 {
		errs = append(errs, errors.New("contract has no routes or no workflows"))
	}
	errs = append(errs, c.Topics.Validate())
	return errors.Join(errs...)
}

// Engine runs the sagas. It takes intents (starting or joining sagas), the adapters' replies and
// its own timers; for each it reads the saga, decides with Decide, and stores the decision — the
// saga (optimistically locked), its timeline, the commands through the outbox and the timers in
// saga_timers — in one transaction with the message's inbox row (for a timer, its row's deletion).
type Engine struct {
	cfg    Config
	defs   map[string]Workflow
	logger *slog.Logger
}

// New builds an Engine.
func New(cfg Config, logger *slog.Logger) (*Engine, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("saga engine: invalid config: %w", err)
	}
	return &Engine{cfg: cfg, defs: Workflows(), logger: logger}, nil
}

// TimersTopic is the table the engine's timers go through (TimersTopic).
func (e *Engine) TimersTopic() string { return TimersTopic }

// HandleIntent is the Watermill handler of the intents topic: it routes the intent by the
// contract and starts its workflow's saga for the intent's subject, or joins the running one.
func (e *Engine) HandleIntent(msg *message.Message) error {
	env, m, err := e.cfg.Registry.Decode(msg)
	if err != nil {
		return err
	}
	intent, ok := m.(events.IntentMessage)
	if !ok {
		return &events.DecodeError{Reason: events.ErrUnknownType, Kind: env.Kind, MessageID: env.ID,
			Err: fmt.Errorf("%T is not an intent", m)}
	}
	ctx := msg.Context()
	name, fields := intent.Kind().Name, intent.Fields()
	workflow, ok := e.cfg.Contract.Route(name)
	if !ok {
		why := fmt.Errorf("%w %q (%s)", ErrUnroutable, name, env.ID)
		if err := pgtx.Run(ctx, e.cfg.DB, func(tx pgx.Tx) error {
			return recordUnroutable(ctx, tx, env.ID, name, fields.Subject, why.Error())
		}); err != nil {
			return err
		}
		e.logger.WarnContext(ctx, "intent has no route", "intent", name, "subject", fields.Subject,
			"correlation_id", env.CorrelationID, "causation_id", env.ID)
		return why
	}
	trigger := Trigger{Intent: name, IntentID: env.ID, Reason: fields.Reason, RaisedAt: fields.RaisedAt}
	spec, def := e.cfg.Contract.Workflows[workflow], e.defs[workflow]
	return e.run(ctx, e.cfg.DB, inboxClaim(IntakeConsumerName, env.ID), IntakeConsumerName, env.ID, func(tx pgx.Tx, v View, now time.Time) (int64, Decision[json.RawMessage], error) {
		s := Saga[json.RawMessage]{ID: watermill.NewUUID(), Workflow: workflow, Subject: fields.Subject,
			Status: StatusRunning, Step: spec.Steps[0].Name, Version: 1}
		started, err := insertSaga(ctx, tx, s)
		if err != nil {
			return 0, Decision[json.RawMessage]{}, err
		}
		var in Input = Started{Trigger: trigger, CorrelationID: env.CorrelationID}
		if !started {
			if s, err = runningSaga(ctx, tx, workflow, fields.Subject); err != nil {
				return 0, Decision[json.RawMessage]{}, err
			}
			in = Joined{Trigger: trigger}
		}
		d, err := def.Decide(spec, s, in, v, now)
		return s.Version, d, err
	})
}

// HandleEvent is the Watermill handler of the events topic: an outcome of a command a saga sent
// is that saga's reply. Every other event is passed over; a message that cannot be decoded is
// refused with its *events.DecodeError, which the consumer's policy sends to its poison topic.
func (e *Engine) HandleEvent(msg *message.Message) error {
	env, m, err := e.cfg.Registry.Decode(msg)
	if err != nil {
		return err
	}
	id, reply, ok := replyIn(m)
	if !ok {
		return nil
	}
	ctx := msg.Context()
	// Most outcomes answer commands no saga sent (omni cmd, other tools): they leave no trace here.
	sagaID, ok, err := commandSaga(ctx, e.cfg.DB, id)
	if err != nil || !ok {
		return err
	}
	return e.run(ctx, e.cfg.DB, inboxClaim(RepliesConsumerName, env.ID), RepliesConsumerName, env.ID, func(tx pgx.Tx, v View, now time.Time) (int64, Decision[json.RawMessage], error) {
		if err := recordReply(ctx, tx, id, reply); err != nil {
			return 0, Decision[json.RawMessage]{}, err
		}
		return e.decide(ctx, tx, sagaID, Replied{CommandID: id, Reply: reply}, v, now)
	})
}

// replyIn reads an adapter's outcome event, by its decoded type, as the reply to the command it
// names. Other events answer no command.
func replyIn(m events.Message) (commandID string, r Reply, ok bool) {
	switch o := m.(type) {
	case events.CommandSucceeded:
		return o.CommandID, Reply{Outcome: ReplySucceeded, Result: o.Result}, true
	case events.CommandFailed:
		return o.CommandID, Reply{Outcome: ReplyFailed, Error: o.Error}, true
	case events.CommandRejected:
		return o.CommandID, Reply{Outcome: ReplyRejected, Error: o.Reason}, true
	}
	return "", Reply{}, false
}

// HandleTimer is the Watermill handler of the timers (TimersSubscriber). The timer's row is its
// inbox entry: the decision deletes it, so a timer has its effect once, and one already gone (handled,
// or dropped when its saga moved on) does nothing. From a TimersSubscriber the decision runs inside
// the transaction that holds the row (a savepoint per attempt), so nobody else takes the timer
// while it is decided; otherwise in a transaction of its own.
func (e *Engine) HandleTimer(msg *message.Message) error {
	var t Timer
	if err := json.Unmarshal(msg.Payload, &t); err != nil || t.SagaID == "" {
		return fmt.Errorf("%w: unreadable saga timer %s: %v", events.ErrRejected, msg.UUID, err)
	}
	ctx := msg.Context()
	var db pgtx.Beginner = e.cfg.DB
	if held, ok := heldTimer(ctx); ok {
		db = held
	}
	claim := func(ctx context.Context, tx pgx.Tx) (bool, error) { return takeTimer(ctx, tx, msg.UUID) }
	return e.run(ctx, db, claim, TimersConsumerName, msg.UUID, func(tx pgx.Tx, v View, now time.Time) (int64, Decision[json.RawMessage], error) {
		return e.decide(ctx, tx, t.SagaID, Fired{Token: t.Token, Kind: t.Kind}, v, now)
	})
}

func (e *Engine) decide(ctx context.Context, tx pgx.Tx, id string, in Input, v View, now time.Time) (int64, Decision[json.RawMessage], error) {
	s, err := loadSaga(ctx, tx, id)
	if err != nil {
		return 0, Decision[json.RawMessage]{}, err
	}
	spec, ok := e.cfg.Contract.Workflows[s.Workflow]
	if !ok {
		return 0, Decision[json.RawMessage]{}, fmt.Errorf("%w: saga %s runs workflow %q, which the contract no longer declares",
			events.ErrRejected, s.ID, s.Workflow)
	}
	d, err := e.defs[s.Workflow].Decide(spec, s, in, v, now)
	return s.Version, d, err
}

// claim records inside tx that a message is handled; false when it was handled before.
type claim func(ctx context.Context, tx pgx.Tx) (bool, error)

// inboxClaim claims messageID for consumer in the inbox (processed_messages).
func inboxClaim(consumer, messageID string) claim {
	return func(ctx context.Context, tx pgx.Tx) (bool, error) { return pgtx.Claim(ctx, tx, consumer, messageID) }
}

// run handles one message in one transaction on db: the claim (a message handled before ends
// here), then fn's decision, stored with everything it sends.
func (e *Engine) run(ctx context.Context, db pgtx.Beginner, claimed claim, consumer, messageID string,
	fn func(tx pgx.Tx, v View, now time.Time) (int64, Decision[json.RawMessage], error)) (err error) {
	// One span per message the engine handles: the saga's step, and the parent of the commands
	// and events it sends.
	ctx, span := telemetry.Tracer().Start(ctx, "saga "+consumer, trace.WithAttributes(attribute.String("omni.message.id", messageID)))
	defer func() {
		telemetry.End(span, err)
		span.End()
	}()
	var d Decision[json.RawMessage]
	var steps []stepTime
	err = pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		fresh, err := claimed(ctx, tx)
		if err != nil || !fresh {
			return err
		}
		v, err := readView(ctx, e.cfg.Targets, tx)
		if err != nil {
			return err
		}
		var version int64
		if version, d, err = fn(tx, v, e.cfg.Now()); err != nil || !d.Changed {
			return err
		}
		if err := storeSaga(ctx, tx, version, d); err != nil {
			return err
		}
		if steps, err = e.cfg.Metrics.finishedSteps(ctx, tx, d); err != nil {
			return err
		}
		if err := e.send(ctx, tx, d, messageID); err != nil {
			return err
		}
		return auditCommands(ctx, tx, d, e.cfg.AuditHasher)
	})
	if err != nil {
		return fmt.Errorf("saga engine: %s message %s: %w", consumer, messageID, err)
	}
	if e.cfg.Metrics != nil {
		e.cfg.Metrics.observe(steps)
	}
	if d.Changed {
		span.SetAttributes(attribute.String("omni.saga.id", d.Saga.ID), attribute.String("omni.saga.workflow", d.Saga.Workflow),
			attribute.String("omni.saga.subject", d.Saga.Subject), attribute.String("omni.saga.step", d.Saga.Step),
			attribute.String("omni.saga.status", string(d.Saga.Status)), attribute.Int("omni.saga.commands", len(d.Commands)))
	}
	if d.Changed {
		s := d.Saga
		happened := make([]string, 0, len(d.Timeline))
		for _, entry := range d.Timeline {
			happened = append(happened, entry.Step+":"+entry.Event)
		}
		e.logger.InfoContext(ctx, "saga moved", "saga_id", s.ID, "workflow", s.Workflow, "subject", s.Subject,
			"step", s.Step, "status", s.Status, "timeline", happened, "commands", len(d.Commands), "events", len(d.Events),
			"correlation_id", s.Progress.CorrelationID, "causation_id", messageID)
	}
	return nil
}
