package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Row reads one row: *pgxpool.Pool, *pgx.Conn and pgx.Tx are Rows.
type Row interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// SenderOf is who sent command id: the actor of its command.sent entry (an operator's omni cmd,
// a saga), or "" when the log has none (a command that came around the outbox). The per-client
// rate limits count by it (migration 00016 indexes the lookup).
func SenderOf(ctx context.Context, q Row, id string) (string, error) {
	var actor string
	err := q.QueryRow(ctx, `SELECT actor FROM audit_entries WHERE action = $1 AND detail->>'command_id' = $2
		ORDER BY seq DESC LIMIT 1`, ActionCommandSent, id).Scan(&actor)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("could not look up who sent %s: %w", id, err)
	}
	return actor, nil
}
