package effect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

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
	Status            string `json:"status"`
	Detail            string `json:"detail,omitempty"`
}

func (r *commandRecord) insert(ctx context.Context, tx pgx.Tx) (bool, error) {
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
