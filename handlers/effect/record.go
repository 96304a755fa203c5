package effect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// Outcomes of a command, as kept in processed_commands.
const (
	statusSucceeded = "succeeded"
	statusFailed    = "failed"
	statusRejected  = "rejected"
)

// commandRecord is a command's row in processed_commands.
type commandRecord struct {
	id, adapter, kind string
	// handed: the command came through handed_commands, where it is deleted with the record.
	handed bool
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

func (r *commandRecord) insert(ctx context.Context, tx pgx.Tx) (bool, error) {
	if r.handed {
		if err := forgetHanded(ctx, tx, r.id); err != nil {
			return false, err
		}
	}
	outcome, err := json.Marshal(r)
	if err != nil {
		return false, err
	}
	tag, err := tx.Exec(ctx, `INSERT INTO processed_commands (command_id, adapter, kind, outcome)
		VALUES ($1, $2, $3, $4) ON CONFLICT (command_id) DO NOTHING`, r.id, r.adapter, r.kind, outcome)
	if err != nil {
		return false, fmt.Errorf("could not record command %s as processed: %w", r.id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// DB is the control database: *pgxpool.Pool is one.
type DB interface {
	pgtx.Beginner
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

var _ DB = (*pgxpool.Pool)(nil)

// lookup finds a command's record.
func lookup(ctx context.Context, db DB, id string) (commandRecord, bool, error) {
	var rec commandRecord
	if id == "" {
		return rec, false, nil
	}
	err := db.QueryRow(ctx, `SELECT outcome FROM processed_commands WHERE command_id = $1`, id).Scan(&rec)
	if errors.Is(err, pgx.ErrNoRows) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, fmt.Errorf("could not look up command %s: %w", id, err)
	}
	return rec, true, nil
}

// recording is what an outcome's record writes besides its events: the command's claim in
// processed_commands, and the move of its target's breaker.
type recording struct {
	claim *commandRecord
	// target and moves: the breaker of target moves by moves, folded in order.
	target string
	moves  []fold
	// admitted are the breaker's tickets of the calls recorded, given back once recorded.
	admitted []ticket
	// memory is what the driver keeps about the target after a command (see Rememberer).
	memory func(ctx context.Context, tx pgx.Tx) error
	// outcome is the command's outcome, audited (Config.Audit) with command when recorded.
	command events.Command
	outcome events.Message
}

// movesBreaker says whether the recording moves a breaker.
func (r recording) movesBreaker() bool { return r.target != "" && len(r.moves) > 0 }

// folded is the recording's moves as one fold.
func (r recording) folded(c Circuit, now time.Time) (Circuit, []move) {
	var all []move
	for _, f := range r.moves {
		var ms []move
		c, ms = f(c, now)
		all = append(all, ms...)
	}
	return c, all
}

// saveCircuit writes target's breaker c, fenced by token: it reports false, writing nothing, when
// a newer owner has written the breaker since.
func saveCircuit(ctx context.Context, tx pgx.Tx, adapterID string, c Circuit, token int64) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO target_breakers (adapter_id, circuit, owner_token) VALUES ($1, $2, $3)
		ON CONFLICT (adapter_id) DO UPDATE SET circuit = excluded.circuit, updated_at = now()
		WHERE target_breakers.owner_token <= excluded.owner_token`, adapterID, c, token)
	if err != nil {
		return false, fmt.Errorf("could not record the breaker of %s: %w", adapterID, err)
	}
	return tag.RowsAffected() == 1, nil
}
