package postgres

import (
	"context"
	"fmt"

	"github.com/omninode/omnibase-infra/events"
)

// Initialize connects to target and asks what it is: its version and whether it is a standby.
func (d *Driver) Initialize(ctx context.Context, target string) (events.Result, error) {
	pool, done, err := d.use(target)
	if err != nil {
		return nil, err
	}
	defer done()
	var version string
	var inRecovery bool
	err = pool.QueryRow(ctx, `SELECT current_setting('server_version'), pg_is_in_recovery()`).Scan(&version, &inRecovery)
	if err != nil {
		return nil, fmt.Errorf("could not ask postgres target %q what it is: %w", target, withContextErr(ctx, d.refused(err)))
	}
	return events.PostgresInitialized{ServerVersion: version, InRecovery: inRecovery}, nil
}
