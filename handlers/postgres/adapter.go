package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/effect"
	"github.com/omninode/omnibase-infra/platform/credentials"
)

// Driver talks to the configured PostgreSQL targets, one pgxpool each. The control database
// (outbox, records) is not one of them, so a target being down never blocks recording that it is.
type Driver struct {
	cfg     Config
	names   []string
	targets map[string]Target
	logger  *slog.Logger

	mu     sync.RWMutex
	pools  map[string]*pool // each replaced by Recover
	closed bool
	// retired are the replaced pools being closed once their last user is done.
	retired sync.WaitGroup
	// stopWatch ends the watches of the targets' credentials.
	stopWatch func()
}

var (
	_ effect.Driver      = (*Driver)(nil)
	_ effect.Recoverer   = (*Driver)(nil)
	_ effect.Initializer = (*Driver)(nil)
)

// New builds the driver. Pools connect lazily, so a target that is down at start-up is reported
// unhealthy rather than failing the start.
func New(cfg Config, logger *slog.Logger) (*Driver, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	d := &Driver{cfg: cfg, targets: map[string]Target{}, pools: map[string]*pool{}, logger: logger, stopWatch: func() {}}
	for _, t := range cfg.Targets {
		// The context only lends its values to the pool's first connections: pgxpool ignores its
		// cancellation, and New has none to give.
		p, err := d.newPool(context.Background(), t)
		if err != nil {
			d.Close()
			return nil, err
		}
		d.pools[t.Name] = p
		d.targets[t.Name] = t
		d.names = append(d.names, t.Name)
	}
	d.stopWatch = d.watchCredentials()
	return d, nil
}

// Adapter is the adapter's name, the middle of its command topic (infra.commands.<adapter>) and
// the first half of every adapter id.
func (d *Driver) Adapter() string { return events.AdapterPostgres }

// Targets are the names of the PostgreSQL targets configured, in the order given.
func (d *Driver) Targets() []string { return d.names }

// Commands are the PostgreSQL adapter's commands.
func (d *Driver) Commands() []events.Command {
	return []events.Command{events.PostgresExecute{}, events.PostgresQuery{}, events.PostgresTransaction{}}
}

// Close waits for the commands and probes in flight, then closes the target pools, and waits
// for the replaced ones to close. Calls after Close fail with errClosed.
func (d *Driver) Close() {
	d.stopWatch()
	d.mu.Lock()
	d.closed = true
	pools := maps.Clone(d.pools)
	d.mu.Unlock()
	for _, p := range pools {
		// WARNING: pgxpool's Close waits only for the connections already acquired: a call that
		// took the pool but has not acquired a connection yet would fail with "closed pool".
		// users counts every call that took the pool, and no new one can take it now.
		p.users.Wait()
		p.pool.Close()
	}
	d.retired.Wait()
}

// Execute runs one command against target. Its results are ExecResult, QueryResult and
// TransactionResult.
func (d *Driver) Execute(ctx context.Context, target string, cmd events.Command) (events.Result, error) {
	pool, done, err := d.use(target)
	if err != nil {
		return nil, err
	}
	defer done()
	var result events.Result
	switch c := cmd.(type) {
	case events.PostgresExecute:
		result, err = execute(ctx, pool, c.Statement)
	case events.PostgresQuery:
		result, err = query(ctx, pool, c.Statement, effectiveMaxRows(c.MaxRows, d.cfg.MaxRows), d.cfg.MaxResultBytes)
	case events.PostgresTransaction:
		result, err = transaction(ctx, pool, c.Statements)
	default:
		return nil, fmt.Errorf("the postgres adapter cannot execute %s", cmd.Kind())
	}
	if err != nil {
		return nil, withContextErr(ctx, d.refused(err))
	}
	return result, nil
}

// withContextErr makes the error of a statement that ctx stopped say so: the server answers a
// cancelled statement with its own error (57014 query_canceled), which the runner would not
// recognise as a timeout.
func withContextErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}

// Transient reports whether err may go away by itself: see transient. Credentials refused by the
// server are, for a target whose credentials come from a source: the call that failed dropped
// them (refused), and the retry connects with credentials read anew. Transient has no effect.
func (d *Driver) Transient(err error) bool {
	if d.cfg.Credentials != nil && credentials.Refused(err) {
		return true
	}
	return transient(err)
}

// refused drops the credentials a connection the server refused used, so the next connection
// reads them anew (pgx reports some refusals only from Connect, never to the connection's
// hook), and returns err. Every call that connects to a target passes its error through it.
func (d *Driver) refused(err error) error {
	if err != nil && d.cfg.Credentials != nil && credentials.Refused(err) {
		d.cfg.Credentials.InvalidateRefused(err)
	}
	return err
}
