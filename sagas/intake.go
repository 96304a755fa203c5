package sagas

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/pgtx"
)

// IntakeConsumerName is the intake's Kafka consumer group and its name in the inbox table.
const IntakeConsumerName = "saga-intake"

// ErrUnroutable is returned for an intent the contract has no route for. It is permanent: the
// router's poison middleware sends the intent to the poison topic with this reason.
var ErrUnroutable = fmt.Errorf("%w: no route for intent", events.ErrRejected)

// Intake consumes intents, routes each by the contract and starts (or joins) its workflow's saga.
type Intake struct {
	db       pgtx.Beginner
	registry *events.Registry
	contract Contract
	logger   *slog.Logger
}

// NewIntake builds the intake handler.
func NewIntake(db pgtx.Beginner, registry *events.Registry, contract Contract, logger *slog.Logger) (*Intake, error) {
	var errs []error
	if db == nil {
		errs = append(errs, errors.New("saga intake: missing DB"))
	}
	if registry == nil {
		errs = append(errs, errors.New("saga intake: missing Registry"))
	}
	if len(contract.Routes) == 0 {
		errs = append(errs, errors.New("saga intake: contract has no routes"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	return &Intake{db: db, registry: registry, contract: contract, logger: logger}, nil
}

// Handle is the Watermill handler function for the intents topic.
func (in *Intake) Handle(msg *message.Message) error {
	env, m, err := in.registry.Decode(msg)
	if err != nil {
		return err
	}
	intent, ok := m.(events.IntentMessage)
	if !ok {
		return &events.DecodeError{Reason: events.ErrUnknownType, Kind: env.Kind, MessageID: env.ID,
			Err: errors.New("not an intent")}
	}
	workflow, ok := in.contract.Route(env.Kind.Name)
	if !ok {
		return fmt.Errorf("%w %q (%s)", ErrUnroutable, env.Kind.Name, env.ID)
	}
	first := in.contract.Workflows[workflow].Steps[0]
	ctx := msg.Context()
	var id string
	var joined bool
	err = pgtx.Run(ctx, in.db, func(tx pgx.Tx) error {
		fresh, err := pgtx.Claim(ctx, tx, IntakeConsumerName, env.ID)
		if err != nil || !fresh {
			id = ""
			return err
		}
		trigger := struct {
			Intent string        `json:"intent"`
			Fields events.Intent `json:"fields"`
		}{env.Kind.Name, intent.Fields()}
		id, joined, err = StartOrJoin(ctx, tx, workflow, intent.Key(), first, trigger)
		return err
	})
	if err != nil {
		return fmt.Errorf("could not take intent %s %s: %w", env.Kind.Name, env.ID, err)
	}
	if id != "" {
		in.logger.InfoContext(ctx, "saga triggered", "saga_id", id, "workflow", workflow, "joined", joined,
			"subject", intent.Key(), "intent", env.Kind.Name, "correlation_id", env.CorrelationID, "causation_id", env.ID)
	}
	return nil
}
