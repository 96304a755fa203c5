package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/effect"
)

// Driver talks to the configured PostgreSQL targets, one pgxpool each. The control database
// (outbox, records) is not one of them, so a target being down never blocks recording that it is.
type Driver struct {
	cfg    Config
	names  []string
	pools  map[string]*pgxpool.Pool
	logger *slog.Logger
}

var _ effect.Driver = (*Driver)(nil)

// New builds the driver. Pools connect lazily, so a target that is down at start-up is reported
// unhealthy rather than failing the start.
func New(cfg Config, logger *slog.Logger) (*Driver, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	d := &Driver{cfg: cfg, pools: map[string]*pgxpool.Pool{}, logger: logger}
	for _, t := range cfg.Targets {
		pc, err := pgxpool.ParseConfig(t.URL)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("invalid url of postgres target %q: %w", t.Name, err)
		}
		pc.MaxConns = cfg.MaxConns
		pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
		pool, err := pgxpool.NewWithConfig(context.Background(), pc)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("could not create pool for postgres target %q: %w", t.Name, err)
		}
		d.pools[t.Name] = pool
		d.names = append(d.names, t.Name)
	}
	return d, nil
}

func (d *Driver) Adapter() string   { return events.AdapterPostgres }
func (d *Driver) Targets() []string { return d.names }

// Commands are the PostgreSQL adapter's commands.
func (d *Driver) Commands() []events.Command { return nil }

// Close closes the target pools.
func (d *Driver) Close() {
	for _, p := range d.pools {
		p.Close()
	}
}

// Execute runs one command against target.
func (d *Driver) Execute(ctx context.Context, target string, cmd events.Command) (any, error) {
	return nil, fmt.Errorf("postgres adapter cannot execute %s yet", cmd.Kind())
}

// Probe pings target and reports its pool's statistics.
func (d *Driver) Probe(ctx context.Context, target string) (effect.Health, error) {
	pool := d.pools[target]
	err := pool.Ping(ctx)
	st := pool.Stat()
	stats := events.ConnectionPoolStatsReported{
		AdapterID: events.AdapterID(events.AdapterPostgres, target), Acquired: int64(st.AcquiredConns()),
		Idle: int64(st.IdleConns()), Total: int64(st.TotalConns()), Max: int64(st.MaxConns()),
		WaitCount: st.EmptyAcquireCount(), ReportedAt: time.Now(),
	}
	return effect.Health{Events: []events.Message{stats}}, err
}

// Transient reports whether err is about reaching the server rather than about the statement.
func (d *Driver) Transient(err error) bool {
	return err != nil && !errors.Is(err, context.Canceled)
}
