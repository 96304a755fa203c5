package effect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// Config configures an Adapter.
type Config struct {
	// EventsTopic receives the adapter's events. Required.
	EventsTopic string
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
}

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
	logger   *slog.Logger
	now      func() time.Time
}

// New builds the Adapter of d. The registry decodes commands; it must know d's commands.
func New(d Driver, cfg Config, db DB, registry *events.Registry, logger *slog.Logger) (*Adapter, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s adapter: invalid config: %w", d.Adapter(), err)
	}
	a := &Adapter{
		d: d, cfg: cfg, db: db, registry: registry.WithMaxPayload(cfg.MaxCommandBytes),
		commands: map[events.Kind]bool{}, targets: d.Targets(), logger: logger.With("adapter", d.Adapter()),
		now: time.Now,
	}
	for _, c := range append(a.controlCommands(), d.Commands()...) {
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

// Run probes every target each ProbeInterval, and runs the driver's watches, until ctx ends.
func (a *Adapter) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	if w, ok := a.d.(Watcher); ok {
		g.Go(func() error { return w.Watch(ctx, a) })
	}
	g.Go(func() error {
		ticker := time.NewTicker(a.cfg.ProbeInterval)
		defer ticker.Stop()
		for {
			for _, t := range a.targets {
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
	return g.Wait()
}

// Record publishes msgs through the outbox in one transaction, with the breaker state changes
// not yet recorded.
func (a *Adapter) Record(ctx context.Context, origin events.Origin, msgs ...events.Message) error {
	return a.record(ctx, origin, nil, msgs...)
}

// record is Record that also claims a command in the same transaction when claim is given. It
// reports nothing about the claim: a command claimed before is simply left alone.
func (a *Adapter) record(ctx context.Context, origin events.Origin, claim *commandRecord, msgs ...events.Message) error {
	changes := a.breakers.take()
	all := make([]events.Message, 0, len(changes)+len(msgs))
	for _, c := range changes {
		all = append(all, c)
	}
	all = append(all, msgs...)
	at := a.now()
	encoded := make([]*message.Message, 0, len(all))
	for _, m := range all {
		msg, err := events.Encode(m, origin, at)
		if err != nil {
			a.breakers.putBack(changes)
			return err
		}
		encoded = append(encoded, msg)
	}
	err := pgtx.Run(ctx, a.db, func(tx pgx.Tx) error {
		if claim != nil {
			fresh, err := claim.insert(ctx, tx)
			if err != nil || !fresh {
				return err
			}
		}
		return outbox.Publish(ctx, tx, a.cfg.EventsTopic, encoded...)
	})
	if err != nil {
		a.breakers.putBack(changes)
		return fmt.Errorf("could not record %d events: %w", len(encoded), err)
	}
	return nil
}

// Probe probes target through its breaker and records the outcome. The returned error is about
// recording, never about the target: a failed probe is an event, not an error.
func (a *Adapter) Probe(ctx context.Context, target string, origin events.Origin) error {
	if !slices.Contains(a.targets, target) {
		return fmt.Errorf("%w: %s target %q is not configured", events.ErrRejected, a.d.Adapter(), target)
	}
	health, msgs, err := a.probe(ctx, target, false)
	if err != nil {
		return err
	}
	a.logger.DebugContext(ctx, "probed", "adapter_id", health.AdapterID, "healthy", health.Healthy,
		"latency_us", health.LatencyMicros, "error", health.Error, "correlation_id", origin.CorrelationID)
	return a.record(ctx, origin, nil, append([]events.Message{health}, msgs...)...)
}

// probe probes target, through its breaker unless direct, and returns the health report and the
// driver's events. Its error is ctx's when ctx ended: the target was not at fault.
func (a *Adapter) probe(ctx context.Context, target string, direct bool) (events.AdapterHealthReported, []events.Message, error) {
	var h Health
	start := a.now()
	run := func() error {
		pctx, cancel := context.WithTimeout(ctx, a.cfg.ProbeTimeout)
		defer cancel()
		var err error
		h, err = a.d.Probe(pctx, target)
		return err
	}
	var err error
	if direct {
		err = run()
	} else {
		err = a.breakers.probe(target, run)
	}
	end := a.now()
	if err != nil && ctx.Err() != nil {
		return events.AdapterHealthReported{}, nil, ctx.Err() // shutting down: not the target's fault
	}
	report := events.AdapterHealthReported{
		AdapterID: events.AdapterID(a.d.Adapter(), target), Adapter: a.d.Adapter(), Target: target,
		Healthy: err == nil, LatencyMicros: end.Sub(start).Microseconds(), ProbedAt: end, Details: h.Details,
	}
	if err != nil {
		report.Error = err.Error()
	}
	return report, h.Events, nil
}

// countsAgainst says whether err is the target's fault: transient errors and timeouts are; a
// statement the server refused is not.
func (a *Adapter) countsAgainst(err error) bool {
	return err != nil && !errors.Is(err, ErrBreakerOpen) &&
		(a.d.Transient(err) || errors.Is(err, context.DeadlineExceeded))
}
