package effect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/platform/ratelimit"
)

// Config configures an Adapter.
type Config struct {
	// EventsTopic receives the adapter's events. Required.
	EventsTopic string
	// CommandTopics names each adapter's command topic: what the MAC of a command handed on
	// through handed_commands binds (one read from its topic knows it). Default
	// events.DefaultTopics().
	CommandTopics events.Topics
	// Sealer seals the sensitive fields of what it publishes and signs it. Nil publishes plain
	// and unsigned, which consumers holding keys poison: only tests without keys leave it nil.
	Sealer outbox.Sealer
	// ProbeInterval between scheduled probes of each target. Default 5s.
	ProbeInterval time.Duration
	// ProbeTimeout bounds one probe. Default 2s.
	ProbeTimeout time.Duration
	// CommandTimeout bounds one command, its retries included. Default 10s.
	CommandTimeout time.Duration
	// MaxCommandBytes is the largest command payload accepted. Default 1 MiB.
	MaxCommandBytes int
	// Breaker of every target. Default: 5 failures in a row open it for 10s.
	Breaker Breaker
	// Retry of commands' transient errors. Default: 3 attempts, 100ms doubling up to 2s, ±50%.
	Retry Retry
	// LeaseTTL is how long a target's lease lasts unless its owner renews it (every LeaseTTL/3):
	// a dead owner's targets are taken over within LeaseTTL and a renewal. Default 10s.
	LeaseTTL time.Duration
	// Member names this process among its adapter's processes. Default host/pid/random.
	Member string
	// HandOnPoll is how often the owner looks for commands handed on to it. Default 200ms.
	HandOnPoll time.Duration
	// Audit appends each command's outcome to the audit log, in the transaction that records
	// it (audit.RecordCommandOutcome). Optional: without it outcomes are not audited.
	Audit OutcomeRecorder
	// Limits checks every command against the rate limits once its target's owner takes it,
	// before it runs: a command refused is rejected (reason "rate limited …", with
	// RetryAfterMillis) and poisoned as other rejections are. Optional: nil limits nothing.
	Limits *ratelimit.Limiter
	// SenderOf names who sent a command, the client of the per-client limits
	// (audit.SenderOf). Optional: without it, or when it finds none, the client is "unknown".
	SenderOf func(ctx context.Context, commandID string) (string, error)
	// Metrics counts the commands' outcomes. Optional: nil counts nothing.
	Metrics *CommandMetrics
}

// OutcomeRecorder records a command's outcome (events.CommandSucceeded, CommandFailed or
// CommandRejected) in tx, the transaction that records it. cmd is nil when the command did not
// decode. WARNING: cmd may carry secrets (SQL arguments, values, payloads): never store it in
// clear.
type OutcomeRecorder func(ctx context.Context, tx pgx.Tx, cmd events.Command, outcome events.Message) error

func (c *Config) setDefaults() {
	if c.ProbeInterval == 0 {
		c.ProbeInterval = 5 * time.Second
	}
	if c.ProbeTimeout == 0 {
		c.ProbeTimeout = 2 * time.Second
	}
	if c.CommandTimeout == 0 {
		c.CommandTimeout = 10 * time.Second
	}
	if c.MaxCommandBytes == 0 {
		c.MaxCommandBytes = events.DefaultMaxPayload
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = 10 * time.Second
	}
	if c.HandOnPoll == 0 {
		c.HandOnPoll = 200 * time.Millisecond
	}
	if c.CommandTopics == (events.Topics{}) {
		c.CommandTopics = events.DefaultTopics()
	}
	c.Breaker.setDefaults()
	c.Retry.setDefaults()
}

// DefaultConfig is the configuration with every default filled in: the flags of omni show these.
func DefaultConfig() Config {
	var c Config
	c.setDefaults()
	return c
}

// Validate reports every problem of the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.EventsTopic == "" {
		errs = append(errs, errors.New("missing EventsTopic"))
	}
	if c.ProbeInterval < 0 || c.ProbeTimeout < 0 || c.CommandTimeout < 0 {
		errs = append(errs, errors.New("negative probe interval, probe timeout or command timeout"))
	}
	if c.LeaseTTL < 0 || c.LeaseTTL > 0 && c.LeaseTTL < 300*time.Millisecond {
		errs = append(errs, fmt.Errorf("LeaseTTL %s: must be at least 300ms", c.LeaseTTL))
	}
	if c.HandOnPoll < 0 {
		errs = append(errs, errors.New("negative HandOnPoll"))
	}
	if c.MaxCommandBytes < 0 {
		errs = append(errs, errors.New("negative MaxCommandBytes"))
	}
	if c.Retry.Attempts < 0 {
		errs = append(errs, errors.New("negative retry attempts"))
	}
	if err := c.Retry.Backoff.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("command retries: %w", err))
	}
	return errors.Join(errs...)
}

// Adapter runs one Driver: its command handler, its probe schedule and its watches.
type Adapter struct {
	d        Driver
	cfg      Config
	db       DB
	registry *events.Registry
	commands map[events.Kind]bool
	targets  []string
	breakers *breakers
	leases   leases
	// handed wakes takeHanded.
	handed chan struct{}
	logger *slog.Logger
	now    func() time.Time
}

// New builds the Adapter of d. The registry decodes commands; it must know d's commands.
func New(d Driver, cfg Config, db DB, registry *events.Registry, logger *slog.Logger) (*Adapter, error) {
	cfg.setDefaults()
	if cfg.Member == "" {
		cfg.Member = defaultMember()
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s adapter: invalid config: %w", d.Adapter(), err)
	}
	a := &Adapter{
		d: d, cfg: cfg, db: db, registry: registry.WithMaxPayload(cfg.MaxCommandBytes),
		commands: map[events.Kind]bool{}, targets: d.Targets(), logger: logger.With("adapter", d.Adapter()),
		now: time.Now, leases: leases{held: map[string]lease{}}, handed: make(chan struct{}, 1),
	}
	for _, c := range Accepts(d) {
		a.commands[c.Kind()] = true
	}
	a.breakers = newBreakers(cfg.Breaker, d.Adapter(), a.targets, func() time.Time { return a.now() })
	return a, nil
}

// ConsumerName is the adapter's consumer group on its command topic; its poison topic is named
// after it.
func (a *Adapter) ConsumerName() string { return "adapter-" + a.d.Adapter() }

// Name is the adapter's name.
func (a *Adapter) Name() string { return a.d.Adapter() }

// Close closes the driver.
func (a *Adapter) Close() { a.d.Close() }

// BreakerState is target's circuit-breaker state as this process sees it.
func (a *Adapter) BreakerState(target string) events.BreakerState { return a.breakers.state(target) }

// Run keeps this process's share of the target leases, probes each target it owns every
// ProbeInterval, executes the commands handed on to it, and runs the driver's watches, until ctx
// ends; then it lets go of its targets.
func (a *Adapter) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	leased := make(chan struct{})
	probing := make(chan struct{})
	g.Go(func() error {
		// The leases outlive the probes and the handed commands, so that nothing runs as the
		// owner after the targets are let go.
		lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		defer cancel()
		go func() {
			select {
			case <-probing:
			case <-lctx.Done():
			}
			cancel()
		}()
		return a.keepLeases(lctx, leased)
	})
	if w, ok := a.d.(Watcher); ok {
		g.Go(func() error {
			// After the first round of leases, so that the owner records where its watches start.
			select {
			case <-leased:
			case <-ctx.Done():
				return nil
			}
			return w.Watch(ctx, ownerRecorder{a})
		})
	}
	var work errgroup.Group
	work.Go(func() error { return a.takeHanded(ctx) })
	work.Go(func() error {
		select {
		case <-leased:
		case <-ctx.Done():
			return nil
		}
		ticker := time.NewTicker(a.cfg.ProbeInterval)
		defer ticker.Stop()
		for {
			for _, t := range a.leases.owned() {
				if err := a.Probe(ctx, t, events.NewOrigin()); err != nil && ctx.Err() == nil {
					a.logger.ErrorContext(ctx, "could not record probe", "target", t, "error", err)
				}
			}
			select {
			case <-ctx.Done():
				return nil
			case <-ticker.C:
			}
		}
	})
	g.Go(func() error {
		defer close(probing)
		return work.Wait()
	})
	return g.Wait()
}

// Record publishes msgs through the outbox in one transaction.
func (a *Adapter) Record(ctx context.Context, origin events.Origin, msgs ...events.Message) error {
	return a.record(ctx, origin, recording{}, msgs...)
}

// record publishes msgs through the outbox in one transaction with what r writes besides: the
// command's claim (a command claimed before is left alone, and nothing is written), the driver's
// memory, and the move of the target's breaker with the events that record it. The breaker moves
// only when the transaction commits, and only while this process owns the target: a new owner's
// breaker is not overwritten (the move is dropped, the other events are recorded).
func (a *Adapter) record(ctx context.Context, origin events.Origin, r recording, msgs ...events.Message) error {
	defer func() {
		for _, t := range r.admitted {
			a.breakers.done(r.target, t)
		}
	}()
	write := func(tx pgx.Tx, save func() ([]events.Message, error)) error {
		if r.claim != nil {
			fresh, err := r.claim.insert(ctx, tx)
			if err != nil || !fresh {
				return err
			}
		}
		if r.memory != nil {
			if err := r.memory(ctx, tx); err != nil {
				return err
			}
		}
		var changes []events.Message
		if save != nil {
			var err error
			if changes, err = save(); err != nil {
				return err
			}
		}
		if err := a.publish(ctx, tx, origin, append(changes, msgs...)...); err != nil {
			return err
		}
		// Last, so that the audit log's lock, which serialises appends, is held only until the
		// commit that follows.
		if r.outcome != nil && a.cfg.Audit != nil {
			return a.cfg.Audit(ctx, tx, r.command, r.outcome)
		}
		return nil
	}
	var err error
	if !r.movesBreaker() {
		err = pgtx.Run(ctx, a.db, func(tx pgx.Tx) error { return write(tx, nil) })
	} else {
		id := a.adapterID(r.target)
		err = a.breakers.settle(r.target, r.folded, func(next Circuit, changed bool, changes []events.Message) (bool, error) {
			kept := false
			err := pgtx.Run(ctx, a.db, func(tx pgx.Tx) error {
				kept = false
				return write(tx, func() ([]events.Message, error) {
					if !changed {
						return nil, nil
					}
					token, owns := a.leases.token(r.target)
					if !owns {
						return nil, nil
					}
					saved, err := saveCircuit(ctx, tx, id, next, token)
					if err != nil || !saved {
						return nil, err
					}
					kept = true
					return changes, nil
				})
			})
			return kept, err
		})
	}
	if err != nil {
		return fmt.Errorf("could not record %d events: %w", len(msgs), err)
	}
	return nil
}

// Probe probes target through its breaker and records the outcome. The returned error is about
// recording, never about the target: a failed probe is an event, not an error.
func (a *Adapter) Probe(ctx context.Context, target string, origin events.Origin) error {
	if !slices.Contains(a.targets, target) {
		return fmt.Errorf("%w: %s target %q is not configured", events.ErrRejected, a.d.Adapter(), target)
	}
	health, msgs, rec, err := a.probe(ctx, target, scheduled)
	if err != nil {
		return err
	}
	a.logger.DebugContext(ctx, "probed", "adapter_id", health.AdapterID, "healthy", health.Healthy,
		"latency_us", health.LatencyMicros, "error", health.Error, "correlation_id", origin.CorrelationID)
	return a.record(ctx, origin, rec, append([]events.Message{health}, msgs...)...)
}

// probeKind is why a probe runs.
type probeKind int

const (
	// scheduled: the owner's probe schedule; through the breaker, counted by the hysteresis.
	scheduled probeKind = iota
	// requested: probe_target; through the breaker, reported as requested.
	requested
	// direct: recover_target's probe; neither the breaker nor a forced open holds it back, and
	// it moves neither.
	direct
)

// probe probes target and returns the health report, the driver's events and the recording of
// the outcome (the breaker's move). Its error is ctx's when ctx ended: the target was not at
// fault.
func (a *Adapter) probe(ctx context.Context, target string, how probeKind) (events.AdapterHealthReported, []events.Message, recording, error) {
	var h Health
	rec := recording{target: target}
	start := a.now()
	run := func() error {
		pctx, cancel := context.WithTimeout(ctx, a.cfg.ProbeTimeout)
		defer cancel()
		var err error
		h, err = a.d.Probe(pctx, target)
		return err
	}
	var err error
	if how == direct {
		err = run()
	} else if t, refused := a.breakers.admit(target, true); refused != nil {
		err = refused
	} else {
		rec.admitted = append(rec.admitted, t)
		err = run()
		o := succeeded
		if err != nil {
			o = failed
		}
		rec.moves = append(rec.moves, a.breakers.outcomeOf(t, o))
	}
	end := a.now()
	if err != nil && ctx.Err() != nil {
		for _, t := range rec.admitted {
			a.breakers.done(target, t)
		}
		return events.AdapterHealthReported{}, nil, recording{}, ctx.Err() // shutting down: not the target's fault
	}
	report := events.AdapterHealthReported{
		AdapterID: events.AdapterID(a.d.Adapter(), target), Adapter: a.d.Adapter(), Target: target,
		Healthy: err == nil, LatencyMicros: end.Sub(start).Microseconds(), ProbedAt: end, Details: h.Details,
		Requested: how != scheduled,
	}
	if err != nil {
		report.Error = err.Error()
	}
	return report, h.Events, rec, nil
}

// countsAgainst says whether err is the target's fault: transient errors and timeouts are; a
// statement the server refused is not.
func (a *Adapter) countsAgainst(err error) bool {
	return err != nil && !errors.Is(err, ErrBreakerOpen) &&
		(a.d.Transient(err) || errors.Is(err, context.DeadlineExceeded))
}

// ownerRecorder records what a driver's watches see about the targets this process owns only:
// every process of an adapter watches every target, so that a new owner's watch is already up to
// date, and the owner's alone is recorded. A change seen during a handover, between one owner
// letting go and the next taking over, may go unrecorded.
type ownerRecorder struct{ a *Adapter }

func (r ownerRecorder) Record(ctx context.Context, origin events.Origin, msgs ...events.Message) error {
	kept := msgs[:0:0]
	for _, m := range msgs {
		if adapter, target, _ := strings.Cut(m.Key(), "/"); adapter != r.a.d.Adapter() || r.a.Owns(target) {
			kept = append(kept, m)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return r.a.Record(ctx, origin, kept...)
}
