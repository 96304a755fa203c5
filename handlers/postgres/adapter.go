package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/pgtx"
	"github.com/omninode/omnibase-infra/outbox"
)

// ConsumerName is the adapter's consumer group on its command topic and its inbox name.
const ConsumerName = "adapter-postgres"

// Adapter probes PostgreSQL targets. Its own database (db) holds the outbox; the targets are
// separate pools, so a target being down never blocks recording that it is down.
type Adapter struct {
	cfg      Config
	db       pgtx.Beginner
	registry *events.Registry
	pools    map[string]*pgxpool.Pool
	logger   *slog.Logger
	now      func() time.Time
}

// New builds the adapter. Target pools connect lazily, so a target that is down at start-up is
// reported as unhealthy rather than failing the start.
func New(cfg Config, db pgtx.Beginner, registry *events.Registry, logger *slog.Logger) (*Adapter, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	a := &Adapter{cfg: cfg, db: db, registry: registry, pools: map[string]*pgxpool.Pool{}, logger: logger, now: time.Now}
	for _, t := range cfg.Targets {
		pc, err := pgxpool.ParseConfig(t.URL)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("invalid url of target %q: %w", t.Name, err)
		}
		pc.MaxConns = cfg.MaxConns
		pc.ConnConfig.ConnectTimeout = cfg.Timeout
		pool, err := pgxpool.NewWithConfig(context.Background(), pc)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("could not create pool for target %q: %w", t.Name, err)
		}
		a.pools[t.Name] = pool
	}
	return a, nil
}

// Close closes the target pools.
func (a *Adapter) Close() {
	for _, p := range a.pools {
		p.Close()
	}
}

// Run probes every target each Interval until ctx ends.
func (a *Adapter) Run(ctx context.Context) error {
	ticker := time.NewTicker(a.cfg.Interval)
	defer ticker.Stop()
	for {
		for _, t := range a.cfg.Targets {
			if err := a.Probe(ctx, t.Name, events.NewOrigin()); err != nil && ctx.Err() == nil {
				a.logger.ErrorContext(ctx, "could not record probe", "target", t.Name, "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// Probe probes one target and records the outcome. The returned error is about recording, never
// about the target: a target that fails its probe is an event, not an error.
func (a *Adapter) Probe(ctx context.Context, target string, origin events.Origin) error {
	msgs, err := a.probe(ctx, target, origin)
	if err != nil {
		return err
	}
	return pgtx.Run(ctx, a.db, func(tx pgx.Tx) error {
		return outbox.Publish(ctx, tx, a.cfg.EventsTopic, msgs...)
	})
}

func (a *Adapter) probe(ctx context.Context, target string, origin events.Origin) ([]*message.Message, error) {
	pool, ok := a.pools[target]
	if !ok {
		return nil, fmt.Errorf("%w: postgres target %q is not configured", events.ErrRejected, target)
	}
	id := events.AdapterID(events.AdapterPostgres, target)
	pctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	start := a.now()
	err := pool.Ping(pctx)
	end := a.now()
	health := events.AdapterHealthReported{
		AdapterID: id, Adapter: events.AdapterPostgres, Target: target,
		Healthy: err == nil, LatencyMicros: end.Sub(start).Microseconds(), ProbedAt: end,
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err() // shutting down: not the target's fault
		}
		health.Error = err.Error()
	}
	st := pool.Stat()
	stats := events.ConnectionPoolStatsReported{
		AdapterID: id, Acquired: int64(st.AcquiredConns()), Idle: int64(st.IdleConns()),
		Total: int64(st.TotalConns()), Max: int64(st.MaxConns()), WaitCount: st.EmptyAcquireCount(), ReportedAt: end,
	}
	a.logger.DebugContext(ctx, "probed", "adapter_id", id, "healthy", health.Healthy, "latency_us", health.LatencyMicros,
		"error", health.Error, "correlation_id", origin.CorrelationID)
	var msgs []*message.Message
	for _, m := range []events.Message{health, stats} {
		msg, err := events.Encode(m, origin, end)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, msg)
	}
	return msgs, nil
}

// HandleCommand is the Watermill handler for the adapter's command topic. A command is executed
// once: its id is claimed in the same transaction that records the outcome.
func (a *Adapter) HandleCommand(msg *message.Message) error {
	env, m, err := a.registry.Decode(msg)
	if err != nil {
		return err
	}
	cmd, ok := m.(events.ProbeTarget)
	if !ok || cmd.Adapter != events.AdapterPostgres {
		return &events.DecodeError{Reason: events.ErrUnknownType, Kind: env.Kind, MessageID: env.ID,
			Err: errors.New("not a command of the postgres adapter")}
	}
	ctx := msg.Context()
	msgs, err := a.probe(ctx, cmd.Target, env.Caused())
	if err != nil {
		return fmt.Errorf("could not probe %s for command %s: %w", cmd.Target, env.ID, err)
	}
	return pgtx.Run(ctx, a.db, func(tx pgx.Tx) error {
		fresh, err := pgtx.Claim(ctx, tx, ConsumerName, env.ID)
		if err != nil || !fresh {
			return err
		}
		return outbox.Publish(ctx, tx, a.cfg.EventsTopic, msgs...)
	})
}
