package infrastate

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// Targets reads each target's adapter, name, status and breaker, and nothing else of its state:
// the orchestrator's narrow view of the projection (it is a sagas.TargetReader).
type Targets struct{}

// ReadTargets calls each with every target of the live table, ordered by adapter id. It reads
// through q, so a caller's transaction sees the state as of its own snapshot.
func (Targets) ReadTargets(ctx context.Context, q pgtx.Querier,
	each func(adapter, target string, status Status, breaker events.BreakerState)) error {
	rows, err := q.Query(ctx, `SELECT adapter, target, status, coalesce(data->>'breaker', '') FROM `+LiveTable+`
		ORDER BY adapter_id`)
	if err != nil {
		return fmt.Errorf("could not read the targets: %w", err)
	}
	var adapter, target, status, breaker string
	_, err = pgx.ForEachRow(rows, []any{&adapter, &target, &status, &breaker}, func() error {
		each(adapter, target, Status(status), events.BreakerState(breaker))
		return nil
	})
	if err != nil {
		return fmt.Errorf("could not read the targets: %w", err)
	}
	return nil
}
