package credentials

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Run keeps the secrets read so far good until ctx ends: it renews leases before they expire,
// takes fresh leases before their maximum TTL ends (rotation), re-reads files that changed, and
// tells each secret's watchers when it changed. A refresh that fails (Vault away) is tried again
// while the cached secret keeps being handed out until it expires.
func (c *Cache) Run(ctx context.Context) error {
	t := time.NewTicker(c.cfg.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		c.mu.Lock()
		entries := make([]*entry, 0, len(c.entries))
		for _, e := range c.entries {
			entries = append(entries, e)
		}
		c.mu.Unlock()
		for _, e := range entries {
			c.refresh(ctx, e)
		}
	}
}

// refresh does what is due for e.
func (c *Cache) refresh(ctx context.Context, e *entry) {
	now := c.cfg.Now()
	e.mu.Lock()
	if !e.has || e.fetching != nil {
		e.mu.Unlock()
		return
	}
	s, due, action, lease := e.secret, e.due, e.action, e.lease
	e.mu.Unlock()

	if ch, ok := c.cfg.Providers[e.ref.Scheme].(Changer); ok && ch.Changed(e.ref, s) {
		c.reread(ctx, e, "changed")
		return
	}
	if due.IsZero() || now.Before(due) {
		return
	}
	if action == Rotate {
		c.reread(ctx, e, "rotated")
		return
	}
	r, ok := c.cfg.Providers[e.ref.Scheme].(Renewer)
	if !ok {
		c.reread(ctx, e, "rotated")
		return
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.OpTimeout)
	ttl, err := r.Renew(rctx, s, lease.Duration)
	cancel()
	switch {
	case errors.Is(err, ErrLeaseGone):
		c.logger.WarnContext(ctx, "lease gone before its time (revoked?); taking a fresh one", "ref", e.ref.String())
		c.reread(ctx, e, "replaced")
		return
	case err != nil:
		c.retryLater(e, s.Version, fmt.Errorf("could not renew the lease of %s: %w", e.ref, err))
		return
	}
	now = c.cfg.Now()
	e.mu.Lock()
	if e.secret.Version == s.Version {
		e.lease.Refreshed, e.lease.ExpiresAt = now, now.Add(ttl)
		e.secret.ExpiresAt = e.lease.ExpiresAt
		e.action, e.due = Next(e.lease)
	}
	e.mu.Unlock()
	c.logger.DebugContext(ctx, "lease renewed", "ref", e.ref.String(), "ttl", ttl)
}

// reread reads e's secret again in the background of the readers: they keep getting the current
// one while it is good.
func (c *Cache) reread(ctx context.Context, e *entry, why string) {
	e.mu.Lock()
	if e.fetching != nil {
		e.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	e.fetching = ch
	version := e.secret.Version
	e.mu.Unlock()
	s, err := c.read(ctx, e.ref)
	if err != nil {
		e.mu.Lock()
		e.fetching = nil
		close(ch)
		e.mu.Unlock()
		c.retryLater(e, version, err)
		return
	}
	s = c.store(e, s, ch)
	if s.Version != version {
		c.logger.InfoContext(ctx, "credentials "+why, "ref", e.ref.String(), "version", s.Version)
	}
}

// retryLater plans the next try of a refresh that failed.
func (c *Cache) retryLater(e *entry, version uint64, err error) {
	now := c.cfg.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.secret.Version != version {
		return
	}
	if e.due.IsZero() || !e.secret.ExpiresAt.IsZero() {
		e.due = retryAfter(now, e.secret.ExpiresAt)
	}
	c.logger.Warn("could not refresh credentials; keeping the current ones while they last", "ref", e.ref.String(),
		"expires_at", e.secret.ExpiresAt, "error", err)
}
