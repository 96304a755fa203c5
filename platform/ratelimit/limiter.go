// Package ratelimit limits how fast clients may send commands and HTTP requests: GCRA buckets
// with a burst, one per rule and key (a client, an endpoint, a target, a client address).
//
// The buckets of commands live in PostgreSQL (rate_limit_state), not with the owner of each
// target: a per-client or per-endpoint limit spans every target and so every adapter process,
// and only the control database sees all of them. A check locks its buckets' rows and writes
// them back in one transaction, on the database's clock, so several processes share one limit
// exactly; a command is charged once whatever happens to it after (rate_limit_charges). The
// HTTP server's buckets live in the process: each process's server is its own, and its health
// endpoints must answer without the database.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// Config configures a Limiter.
type Config struct {
	// Rules are the limits. Default none: nothing is limited. A request is refused when any
	// enforced rule that applies to it has no room; rules that apply to none of its keys, and
	// rules whose rate is negative, do nothing.
	Rules []Rule
	// Shadow puts every rule in shadow mode: what they would refuse is logged and counted
	// (omni_rate_limited_total{shadow="true"}), nothing is refused. Default false.
	Shadow bool
	// Retention is how long a command's charge is remembered (a redelivery within it is not
	// charged again) and an idle bucket is kept. Default 1h.
	Retention time.Duration
	// Now is the clock of the buckets kept in memory (the HTTP server's). Default time.Now;
	// the PostgreSQL buckets use the database's clock.
	Now func() time.Time
}

// DefaultConfig is the configuration with its defaults: no rules, a retention of an hour.
func DefaultConfig() Config { return Config{Retention: time.Hour} }

func (c *Config) setDefaults() {
	if c.Retention == 0 {
		c.Retention = DefaultConfig().Retention
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	for i := range c.Rules {
		c.Rules[i].setDefaults()
		c.Rules[i].Shadow = c.Rules[i].Shadow || c.Shadow
	}
}

// Validate reports every problem of the configuration, each naming its rule.
func (c Config) Validate() error {
	var errs []error
	for _, r := range c.Rules {
		if err := r.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Retention < 0 {
		errs = append(errs, fmt.Errorf("rate limit retention %s: must not be negative", c.Retention))
	}
	return errors.Join(errs...)
}

// Request is what is counted: one command or one HTTP request, by the keys of each scope.
type Request struct {
	// ID identifies a command, so that it is charged once however often it is checked (a
	// redelivery, a try again after a transient error). Empty: every check counts.
	ID string
	// Client is who sent the command (ScopeClient).
	Client string
	// Endpoint is the adapter and the command's type, "postgres/postgres_query" (ScopeEndpoint).
	Endpoint string
	// Target is the adapter id, "postgres/orders" (ScopeTarget).
	Target string
	// Address is an HTTP request's client address (ScopeHTTP). A request with an address is
	// counted in the process's memory, one without in the database.
	Address string
}

func (r Request) key(s Scope) string {
	switch s {
	case ScopeClient:
		return r.Client
	case ScopeEndpoint:
		return r.Endpoint
	case ScopeTarget:
		return r.Target
	case ScopeHTTP:
		return r.Address
	}
	return ""
}

// Decision is what the rules say of a request.
type Decision struct {
	// Allowed is false when an enforced rule refused the request.
	Allowed bool
	// RetryAfter is how long until every rule that refused has room: when to try again.
	// Zero when refused by a rate of zero (Never).
	RetryAfter time.Duration
	// Never: refused by a rule whose rate is zero; trying again does not help.
	Never bool
	// Refused is the first enforced rule that refused, when one did.
	Refused *Verdict
	// Verdicts are every applied rule's, shadow rules included.
	Verdicts []Verdict
	// Again: the request (its ID) was admitted before and is not counted again.
	Again bool
}

// Limiter checks requests against the rules.
type Limiter struct {
	cfg       Config
	commands  store
	http      store
	total     *prometheus.CounterVec
	logger    *slog.Logger
	lastPurge atomic.Int64
}

// New builds a Limiter whose command buckets are in db (nil: in memory, for tests), and
// registers omni_rate_limited_total on reg (nil: not registered).
func New(cfg Config, db pgtx.Beginner, reg prometheus.Registerer, logger *slog.Logger) (*Limiter, error) {
	cfg.Rules = append([]Rule(nil), cfg.Rules...)
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	l := &Limiter{cfg: cfg, http: newMemoryStore(cfg.Now), logger: logger}
	l.commands = l.http
	if db != nil {
		l.commands = pgStore{db: db}
	}
	l.total = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "omni_rate_limited_total",
		Help: "Requests a rate limit refused (shadow=\"false\") or would have refused (shadow=\"true\"), by scope and rule.",
	}, []string{"scope", "rule", "shadow"})
	if reg != nil {
		if err := reg.Register(l.total); err != nil {
			return nil, fmt.Errorf("could not register the rate limit metric: %w", err)
		}
	}
	for _, r := range cfg.Rules {
		l.total.WithLabelValues(string(r.Scope), r.String(), strconv.FormatBool(r.Shadow))
	}
	l.lastPurge.Store(cfg.Now().UnixNano())
	return l, nil
}

// Rules are the limiter's rules, with their defaults.
func (l *Limiter) Rules() []Rule { return append([]Rule(nil), l.cfg.Rules...) }

// Limits reports whether any rule applies to the scope.
func (l *Limiter) Limits(s Scope) bool {
	for _, r := range l.cfg.Rules {
		if r.Scope == s && r.Rate.Count >= 0 {
			return true
		}
	}
	return false
}

// Admit checks r against every rule that applies to it and counts it in their buckets, unless
// it is refused. Shadow rules are counted and logged, and never refuse. Its error is the
// store's (the database away): the request is neither admitted nor refused.
func (l *Limiter) Admit(ctx context.Context, r Request) (Decision, error) {
	var checks []check
	for _, rule := range l.cfg.Rules {
		key := r.key(rule.Scope)
		if key == "" || rule.Rate.Count < 0 || !rule.matches(key) {
			continue
		}
		checks = append(checks, check{rule: rule, key: key, bucket: rule.String() + " " + key})
	}
	if len(checks) == 0 {
		return Decision{Allowed: true}, nil
	}
	s := l.commands
	if r.Address != "" {
		s = l.http
	}
	verdicts, refused, again, err := s.take(ctx, r.ID, checks)
	if err != nil {
		return Decision{}, err
	}
	l.maybePurge(ctx)
	d := Decision{Allowed: !refused, Verdicts: verdicts, Again: again}
	for i, v := range verdicts {
		if v.Allowed {
			continue
		}
		shadow := v.Rule.Shadow
		l.total.WithLabelValues(string(v.Rule.Scope), v.Rule.String(), strconv.FormatBool(shadow)).Inc()
		if shadow {
			l.logger.WarnContext(ctx, "rate limit would refuse (shadow mode: admitted)", "rule", v.Rule.String(),
				"key", v.Key, "request_id", r.ID, "retry_after", v.RetryAfter)
			continue
		}
		if d.Refused == nil {
			d.Refused = &verdicts[i]
		}
		if v.Rule.Rate.Count == 0 {
			d.Never = true
		}
		d.RetryAfter = max(d.RetryAfter, v.RetryAfter)
	}
	if d.Never {
		d.RetryAfter = 0
	}
	return d, nil
}

// maybePurge forgets old charges and idle buckets about every tenth of the retention (at most
// once a minute), in the call that finds it due.
func (l *Limiter) maybePurge(ctx context.Context) {
	now := l.cfg.Now()
	every := max(l.cfg.Retention/10, time.Minute)
	last := l.lastPurge.Load()
	if now.UnixNano()-last < int64(every) || !l.lastPurge.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	for _, s := range []store{l.commands, l.http} {
		if err := s.purge(ctx, now.Add(-l.cfg.Retention)); err != nil {
			l.logger.WarnContext(ctx, "could not purge old rate limit state; trying again later", "error", err)
		}
		if l.commands == l.http {
			break
		}
	}
}
