package sagas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/jackc/pgx/v5"
)

// Saga statuses.
const (
	StatusRunning     = "running"
	StatusCompleted   = "completed"
	StatusFailed      = "failed"
	StatusCompensated = "compensated"
	StatusEscalated   = "escalated"
)

// Instance is one saga, as stored in saga_instances.
type Instance struct {
	ID             string          `json:"id"`
	Workflow       string          `json:"workflow"`
	CorrelationKey string          `json:"correlation_key"`
	Step           string          `json:"step"`
	Status         string          `json:"status"`
	Data           json.RawMessage `json:"data"`
	Version        int64           `json:"version"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

// StartOrJoin starts a running instance of workflow for key at firstStep, or, when one is already
// running, joins it: the trigger is appended to the running instance's timeline. It reports the
// instance's id and whether it joined.
func StartOrJoin(ctx context.Context, tx pgx.Tx, workflow, key, firstStep string, trigger any) (string, bool, error) {
	detail, err := json.Marshal(trigger)
	if err != nil {
		return "", false, fmt.Errorf("could not encode saga trigger: %w", err)
	}
	id := watermill.NewUUID()
	var got string
	err = tx.QueryRow(ctx, `
		INSERT INTO saga_instances (id, workflow, correlation_key, step, status, data)
		VALUES ($1, $2, $3, $4, 'running', jsonb_build_object('trigger', $5::jsonb))
		ON CONFLICT (workflow, correlation_key) WHERE status = 'running' DO NOTHING
		RETURNING id`, id, workflow, key, firstStep, detail).Scan(&got)
	joined := false
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		joined = true
		if err := tx.QueryRow(ctx, `
			SELECT id FROM saga_instances WHERE workflow = $1 AND correlation_key = $2 AND status = 'running'
			FOR UPDATE`, workflow, key).Scan(&got); err != nil {
			return "", false, fmt.Errorf("could not find running %s saga for %s: %w", workflow, key, err)
		}
	case err != nil:
		return "", false, fmt.Errorf("could not start %s saga for %s: %w", workflow, key, err)
	}
	event := "started"
	if joined {
		event = "joined"
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO saga_steps (saga_id, seq, step, event, detail)
		SELECT $1, coalesce(max(seq), 0) + 1, (SELECT step FROM saga_instances WHERE id = $1), $2, $3
		FROM saga_steps WHERE saga_id = $1`, got, event, detail)
	if err != nil {
		return "", false, fmt.Errorf("could not record %s of saga %s: %w", event, got, err)
	}
	return got, joined, nil
}

// Querier is what reading sagas needs: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// List returns saga instances, newest first.
func List(ctx context.Context, db Querier) ([]Instance, error) {
	rows, err := db.Query(ctx, `
		SELECT id, workflow, correlation_key, step, status, data, version, created_at, updated_at
		FROM saga_instances ORDER BY created_at DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("could not list sagas: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Instance])
	if err != nil {
		return nil, fmt.Errorf("could not list sagas: %w", err)
	}
	return out, nil
}
