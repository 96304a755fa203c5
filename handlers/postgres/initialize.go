package postgres

import (
	"context"
	"fmt"
	"strconv"
)

// Initialize connects to target and asks what it is. Its result:
//
//   - "server_version": the server's version, e.g. "15.8 (Debian 15.8-0+deb12u1)";
//   - "in_recovery": "true" on a standby, "false" on a primary.
func (d *Driver) Initialize(ctx context.Context, target string) (map[string]string, error) {
	pool, done, err := d.use(target)
	if err != nil {
		return nil, err
	}
	defer done()
	var version string
	var inRecovery bool
	err = pool.QueryRow(ctx, `SELECT current_setting('server_version'), pg_is_in_recovery()`).Scan(&version, &inRecovery)
	if err != nil {
		return nil, fmt.Errorf("could not ask postgres target %q what it is: %w", target, withContextErr(ctx, err))
	}
	return map[string]string{"server_version": version, "in_recovery": strconv.FormatBool(inRecovery)}, nil
}
