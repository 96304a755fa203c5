package postgres

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omninode/omnibase-infra/handlers/effect"
)

// errClosed is returned for a command, probe or recovery that arrives after Close.
var errClosed = fmt.Errorf("postgres %w", effect.ErrDriverClosed)

// pool is a target's connection pool and its users: Recover replaces it, and closes the old one
// once the commands and probes that took it are done with it.
type pool struct {
	pool  *pgxpool.Pool
	users sync.WaitGroup // Add under the driver's read lock, while the pool is current
}

func (d *Driver) newPool(ctx context.Context, t Target) (*pool, error) {
	pc, err := d.cfg.poolConfig(t)
	if err != nil {
		return nil, err
	}
	p, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("could not create the pool of postgres target %q: %w", t.Name, err)
	}
	return &pool{pool: p}, nil
}

// use returns target's current pool; call done when finished with it.
func (d *Driver) use(target string) (_ *pgxpool.Pool, done func(), _ error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	p, ok := d.pools[target]
	switch {
	case !ok:
		return nil, nil, fmt.Errorf("postgres target %q is not configured", target)
	case d.closed:
		return nil, nil, errClosed
	}
	p.users.Add(1)
	return p.pool, p.users.Done, nil
}

// Recover replaces target's pool with a fresh one, whose connections are made anew: after a
// failover or a restart of the server, or its sessions terminated, the old connections are dead
// ends. Commands and probes in flight finish on the old pool, which closes after them. Recover
// does not connect: the probe that follows it does.
func (d *Driver) Recover(ctx context.Context, target string) ([]string, error) {
	t, ok := d.targets[target]
	if !ok {
		return nil, fmt.Errorf("postgres target %q is not configured", target)
	}
	fresh, err := d.newPool(ctx, t)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		fresh.pool.Close()
		return nil, errClosed
	}
	old := d.pools[target]
	d.pools[target] = fresh
	// WARNING: pgxpool's Close waits for the connections in use: a statement in flight on the old
	// pool would hold the recovery up to its timeout. Close waits for these instead; they start
	// under the lock, so never while Close waits.
	d.retired.Go(func() {
		old.users.Wait()
		old.pool.Close()
	})
	d.mu.Unlock()
	conns := old.pool.Stat().TotalConns()
	return []string{fmt.Sprintf("replaced the connection pool (closing the old one and its %d connections)", conns)}, nil
}
