package credentials

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Provider reads the secret a reference names, from its source. Providers do not cache: the
// Cache does.
type Provider interface {
	Read(ctx context.Context, ref Ref) (Secret, error)
}

// Renewer is a Provider whose secrets carry leases that can be extended.
type Renewer interface {
	// Renew extends s's lease by increment and returns the lease's time to live now (less than
	// asked when the maximum TTL is near). It returns an error wrapping ErrLeaseGone when the
	// lease no longer exists.
	Renew(ctx context.Context, s Secret, increment time.Duration) (time.Duration, error)
}

// Changer is a Provider that can tell, cheaply, whether its secret differs from s (a file
// rewritten, or its Kubernetes ..data symlink swapped): the cache then reads it again.
type Changer interface {
	Changed(ref Ref, s Secret) bool
}

// Config configures a Cache.
type Config struct {
	// Providers by scheme, added to the defaults: env and file, and vault-kv and vault-db when
	// Vault is given.
	Providers map[string]Provider
	// Vault is the client of the vault-kv and vault-db providers. Optional.
	Vault *Vault
	// CheckInterval is how often Run looks at what is due: renewals, rotations, changed files.
	// Default 250ms.
	CheckInterval time.Duration
	// StaticRefresh is how long a secret without a lease (a KV field, an environment variable)
	// is used before it is read again. Default 5m. Files are re-read when they change.
	StaticRefresh time.Duration
	// OpTimeout bounds one read or renewal. Default 10s.
	OpTimeout time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	providers := map[string]Provider{SchemeEnv: EnvProvider{}, SchemeFile: FileProvider{}}
	if c.Vault != nil {
		providers[SchemeVaultKV], providers[SchemeVaultDB] = c.Vault.KV(), c.Vault.Database()
	}
	for scheme, p := range c.Providers {
		providers[scheme] = p
	}
	c.Providers = providers
	if c.CheckInterval == 0 {
		c.CheckInterval = 250 * time.Millisecond
	}
	if c.StaticRefresh == 0 {
		c.StaticRefresh = 5 * time.Minute
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = 10 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports every problem of the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.CheckInterval < 0 || c.StaticRefresh < 0 || c.OpTimeout < 0 {
		errs = append(errs, errors.New("credentials: CheckInterval, StaticRefresh and OpTimeout must not be negative"))
	}
	return errors.Join(errs...)
}

// DefaultConfig is the configuration with its defaults filled in (no Vault; the default
// providers are added by New).
func DefaultConfig() Config {
	var c Config
	c.setDefaults()
	c.Providers = nil
	return c
}

// Cache holds each referenced secret for as long as it is good: one read per secret per lease,
// concurrent readers of a secret being read wait for that one read. Run keeps leases renewed and
// rotated and files re-read; without Run, secrets are read when asked and again once expired.
type Cache struct {
	cfg    Config
	logger *slog.Logger

	mu      sync.Mutex
	entries map[Ref]*entry
}

// entry is one reference's secret and what the cache knows about it.
type entry struct {
	ref Ref

	mu       sync.Mutex
	secret   Secret
	has      bool
	readAt   time.Time
	fetching chan struct{} // closed when the read in flight ends
	version  uint64
	lease    Lease
	// due is when Run next refreshes the secret; zero when nothing is due.
	due      time.Time
	action   Action
	watchers map[int]func()
	nextID   int
}

// New builds a cache.
func New(cfg Config, logger *slog.Logger) (*Cache, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	return &Cache{cfg: cfg, logger: logger, entries: map[Ref]*entry{}}, nil
}

// Supports reports whether the cache has a provider for ref's scheme.
func (c *Cache) Supports(ref Ref) error {
	if _, ok := c.cfg.Providers[ref.Scheme]; !ok {
		if ref.Scheme == SchemeVaultKV || ref.Scheme == SchemeVaultDB {
			return fmt.Errorf("credentials %s: no Vault is configured (--vault-addr or VAULT_ADDR)", ref)
		}
		return fmt.Errorf("credentials %s: no provider for scheme %q", ref, ref.Scheme)
	}
	return nil
}

func (c *Cache) entry(ref Ref) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[ref]
	if !ok {
		e = &entry{ref: ref, watchers: map[int]func(){}}
		c.entries[ref] = e
	}
	return e
}

// Get returns ref's secret: the cached one while it is good, else one read from its source —
// a single read however many callers ask at once.
func (c *Cache) Get(ctx context.Context, ref Ref) (Secret, error) {
	e := c.entry(ref)
	for {
		e.mu.Lock()
		if e.has && c.good(e) {
			s := e.secret
			e.mu.Unlock()
			return s, nil
		}
		if ch := e.fetching; ch != nil {
			e.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return Secret{}, fmt.Errorf("credentials %s: %w", ref, ctx.Err())
			}
		}
		ch := make(chan struct{})
		e.fetching = ch
		stale, hadStale := e.secret, e.has && e.secret.ExpiresAt.IsZero()
		e.mu.Unlock()

		s, err := c.read(ctx, ref)
		if err != nil {
			e.mu.Lock()
			e.fetching = nil
			close(ch)
			e.mu.Unlock()
			if hadStale {
				// A secret without a lease does not stop working when its refresh is due.
				c.logger.WarnContext(ctx, "could not read credentials again; using the ones read before", "ref", ref.String(), "error", err)
				return stale, nil
			}
			return Secret{}, err
		}
		return c.store(e, s, ch), nil
	}
}

// good reports whether e's secret may be handed out now. Called with e.mu held.
func (c *Cache) good(e *entry) bool {
	now := c.cfg.Now()
	if !e.secret.ExpiresAt.IsZero() {
		return now.Before(e.secret.ExpiresAt)
	}
	if e.ref.Scheme == SchemeFile {
		return true // Run re-reads it when it changes
	}
	return now.Sub(e.readAt) < c.cfg.StaticRefresh
}

func (c *Cache) read(ctx context.Context, ref Ref) (Secret, error) {
	p, ok := c.cfg.Providers[ref.Scheme]
	if !ok {
		return Secret{}, c.Supports(ref)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.OpTimeout)
	defer cancel()
	s, err := p.Read(ctx, ref)
	if err != nil {
		return Secret{}, fmt.Errorf("could not read credentials %s: %w", ref, err)
	}
	return s, nil
}

// store makes s e's secret (a new version when its values changed), plans its refresh, ends the
// read in flight (ch, when not nil) and tells the watchers of a change.
func (c *Cache) store(e *entry, s Secret, ch chan struct{}) Secret {
	now := c.cfg.Now()
	e.mu.Lock()
	// e.secret is kept when invalidated: a read after a refusal that brings new values is a change.
	changed := e.version > 0 && !s.same(e.secret)
	if e.version == 0 || changed {
		e.version++
	}
	s.Version = e.version
	e.secret, e.has, e.readAt = s, true, now
	e.due = time.Time{}
	if s.LeaseID != "" && s.LeaseDuration > 0 {
		e.lease = Lease{Duration: s.LeaseDuration, Renewable: s.Renewable, Refreshed: now, ExpiresAt: s.ExpiresAt}
		e.action, e.due = Next(e.lease)
	}
	if ch != nil {
		e.fetching = nil
		close(ch)
	}
	watchers := c.watchersOf(e, changed)
	e.mu.Unlock()
	for _, fn := range watchers {
		fn()
	}
	return s
}

func (c *Cache) watchersOf(e *entry, changed bool) []func() {
	if !changed {
		return nil
	}
	out := make([]func(), 0, len(e.watchers))
	for _, fn := range e.watchers {
		out = append(out, fn)
	}
	return out
}

// Invalidate drops ref's secret if it is still version (a credential the server refused: revoked
// or expired early), so that the next Get reads it anew. Several callers that saw the same
// refusal cause one read.
func (c *Cache) Invalidate(ref Ref, version uint64) {
	e := c.entry(ref)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.has && e.secret.Version == version && e.fetching == nil {
		e.has = false
		e.due = time.Time{}
		c.logger.Warn("credentials refused by their server; reading them anew", "ref", ref.String(), "version", version)
	}
}

// InvalidateRefused drops the credentials err says their server refused (Refused), found by the
// user the refused connection logged in as. It is the fallback for refusals pgx reports only from
// Connect, without calling the connection's OnPgError (which BeforeConnect's Invalidate rides on).
func (c *Cache) InvalidateRefused(err error) {
	user, ok := RefusedUser(err)
	if !ok {
		return
	}
	c.mu.Lock()
	all := make([]*entry, 0, len(c.entries))
	for _, e := range c.entries {
		all = append(all, e)
	}
	c.mu.Unlock()
	for _, e := range all {
		e.mu.Lock()
		matched := e.has && e.secret.Username == user
		version := e.secret.Version
		e.mu.Unlock()
		if matched {
			c.Invalidate(e.ref, version)
		}
	}
}

// Watch calls fn (from Run, or from the Get that read them) each time ref's secret changes:
// rotated, a file re-read with new content, read anew after a refusal. fn must not block. The
// returned function stops the watch.
func (c *Cache) Watch(ref Ref, fn func()) (stop func()) {
	e := c.entry(ref)
	e.mu.Lock()
	defer e.mu.Unlock()
	id := e.nextID
	e.nextID++
	e.watchers[id] = fn
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		delete(e.watchers, id)
	}
}
