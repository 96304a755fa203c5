package sagas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/events"
)

// Querier is what reading sagas needs: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ErrNotFound is returned by Show for a saga id no saga has.
var ErrNotFound = errors.New("no such saga")

// Instance is one saga as `omni sagas list` prints it.
type Instance struct {
	ID        string     `json:"id"`
	Workflow  string     `json:"workflow"`
	Subject   string     `json:"subject"`
	Step      string     `json:"step"`
	Status    Status     `json:"status"`
	Version   int64      `json:"version"`
	Deadline  *time.Time `json:"deadline,omitempty"`
	Failure   string     `json:"failure,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// Filter narrows List; empty fields match everything.
type Filter struct {
	Workflow string
	Status   Status
	Subject  string
}

// List returns the sagas that match f, newest first.
func List(ctx context.Context, db Querier, f Filter) ([]Instance, error) {
	rows, err := db.Query(ctx, `
		SELECT id, workflow, correlation_key, step, status, version, deadline, coalesce(data->>'failure', ''),
			created_at, updated_at
		FROM saga_instances
		WHERE ($1 = '' OR workflow = $1) AND ($2 = '' OR status = $2) AND ($3 = '' OR correlation_key = $3)
		ORDER BY created_at DESC, id`, f.Workflow, string(f.Status), f.Subject)
	if err != nil {
		return nil, fmt.Errorf("could not list sagas: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Instance])
	if err != nil {
		return nil, fmt.Errorf("could not list sagas: %w", err)
	}
	return out, nil
}

// Moment is one line of a saga's timeline.
type Moment struct {
	Seq        int       `json:"seq"`
	Step       string    `json:"step"`
	Event      string    `json:"event"`
	Note       Note      `json:"note"`
	RecordedAt time.Time `json:"recorded_at"`
}

// SentCommand is a command a saga sent and the reply it got.
type SentCommand struct {
	ID        string       `json:"command_id"`
	Step      string       `json:"step"`
	AdapterID string       `json:"adapter_id"`
	Kind      string       `json:"kind"`
	SentAt    time.Time    `json:"sent_at"`
	Outcome   ReplyOutcome `json:"outcome,omitempty"`
	Reply     *Reply       `json:"reply,omitempty"`
	RepliedAt *time.Time   `json:"replied_at,omitempty"`
}

// Story is everything `omni sagas show` prints of one saga. Data is saga_instances.data as stored:
// the engine's progress, and under "state" the state of the saga's workflow in its own shape.
type Story struct {
	Instance
	Data     Record        `json:"data"`
	Timeline []Moment      `json:"timeline"`
	Commands []SentCommand `json:"commands"`
}

// Show returns saga id with its timeline and its commands.
func Show(ctx context.Context, db Querier, id string) (Story, error) {
	var st Story
	var data []byte
	err := db.QueryRow(ctx, `
		SELECT id, workflow, correlation_key, step, status, version, deadline, coalesce(data->>'failure', ''),
			created_at, updated_at, data
		FROM saga_instances WHERE id = $1`, id).Scan(&st.ID, &st.Workflow, &st.Subject, &st.Step, &st.Status,
		&st.Version, &st.Deadline, &st.Failure, &st.CreatedAt, &st.UpdatedAt, &data)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return st, fmt.Errorf("could not read saga %s: %w", id, err)
	}
	if err := json.Unmarshal(data, &st.Data); err != nil {
		return st, fmt.Errorf("saga %s has unreadable data: %w", id, err)
	}
	rows, err := db.Query(ctx, `SELECT seq, step, event, detail, recorded_at FROM saga_steps WHERE saga_id = $1 ORDER BY seq`, id)
	if err != nil {
		return st, fmt.Errorf("could not read the timeline of saga %s: %w", id, err)
	}
	if st.Timeline, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Moment]); err != nil {
		return st, fmt.Errorf("could not read the timeline of saga %s: %w", id, err)
	}
	rows, err = db.Query(ctx, `SELECT command_id, step, adapter_id, kind, sent_at, coalesce(outcome, ''), reply, replied_at
		FROM saga_commands WHERE saga_id = $1 ORDER BY sent_at, command_id`, id)
	if err != nil {
		return st, fmt.Errorf("could not read the commands of saga %s: %w", id, err)
	}
	if st.Commands, err = pgx.CollectRows(rows, pgx.RowToStructByPos[SentCommand]); err != nil {
		return st, fmt.Errorf("could not read the commands of saga %s: %w", id, err)
	}
	return st, nil
}

// StateOf reads the state of a story's workflow as S, its workflow's state type
// (HealthCheckState for a health_check saga, FailoverState, InitializationState), strictly: a
// field S does not have is an error.
func StateOf[S any](st Story) (S, error) {
	var state S
	if len(st.Data.State) == 0 {
		return state, nil
	}
	if err := events.DecodeStrict(st.Data.State, &state); err != nil {
		return state, fmt.Errorf("could not read the state of %s saga %s as %T: %w", st.Workflow, st.ID, state, err)
	}
	return state, nil
}

// ErrAmbiguous is returned by Resolve for a start of an id more than one saga's id has.
var ErrAmbiguous = errors.New("more than one saga's id starts with it")

// Resolve returns the id of the one saga whose id is prefix or starts with it, so a saga can be
// named by the first characters `omni sagas list` shows.
func Resolve(ctx context.Context, db Querier, prefix string) (string, error) {
	rows, err := db.Query(ctx, `SELECT id::text FROM saga_instances WHERE starts_with(id::text, $1) ORDER BY created_at DESC LIMIT 2`, prefix)
	if err != nil {
		return "", fmt.Errorf("could not look saga %s up: %w", prefix, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("could not look saga %s up: %w", prefix, err)
	}
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("%w: %s", ErrNotFound, prefix)
	case 1:
		return ids[0], nil
	}
	return "", fmt.Errorf("%w: %s (give more of it)", ErrAmbiguous, prefix)
}
