package effect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
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
	Breaker         Breaker
	Retry           Retry
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
	if c.Retry.Attempts < 0 || c.Retry.Jitter < 0 || c.Retry.Jitter > 1 {
		errs = append(errs, errors.New("retry attempts must not be negative and jitter must be 0 to 1"))
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

// HandleCommand is the Watermill handler of the adapter's command topic. A command is executed
// at most once per id: a redelivered command finds its outcome in processed_commands and is
// acknowledged without running again. A command that can never run is recorded as
// CommandRejected and returned as a permanent error, for the poison queue.
func (a *Adapter) HandleCommand(msg *message.Message) error {
	ctx := msg.Context()
	env, m, err := a.registry.Decode(msg)
	kind := kindOf(env, msg)
	if err == nil {
		err = a.accepts(m)
	}
	log := a.logger.With("command_id", msg.UUID, "command", kind, "correlation_id", env.CorrelationID,
		"causation_id", env.CausationID)
	if prev, found, lerr := lookup(ctx, a.db, msg.UUID); lerr != nil {
		return lerr
	} else if found {
		log.InfoContext(ctx, "command delivered again; answered from its record", "outcome", prev.Status)
		if prev.Status == statusRejected {
			return fmt.Errorf("%w: %s", events.ErrRejected, prev.Detail)
		}
		return nil
	}
	if err != nil {
		return a.reject(ctx, log, env, msg.UUID, kind, m, err)
	}
	cmd := m.(events.Command)
	_, target := cmd.Addressee()
	origin := env.Caused() // a decoded envelope always has a correlation id
	caused, err := a.run(ctx, log, msg.UUID, kind, target, cmd)
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("command %s interrupted: %w", msg.UUID, ctx.Err())
	}
	rec := &commandRecord{id: msg.UUID, adapter: a.d.Adapter(), kind: kind, Status: statusSucceeded}
	if f, ok := caused[len(caused)-1].(events.CommandFailed); ok {
		rec.Status, rec.Detail = statusFailed, f.Error
	}
	return a.record(ctx, origin, rec, caused...)
}

// accepts checks that m is a command of this adapter for one of its targets.
func (a *Adapter) accepts(m events.Message) error {
	cmd, ok := m.(events.Command)
	if !ok || !a.commands[m.Kind()] {
		return fmt.Errorf("%w: %s is not a command of the %s adapter", events.ErrRejected, m.Kind(), a.d.Adapter())
	}
	adapter, target := cmd.Addressee()
	if adapter != a.d.Adapter() {
		return fmt.Errorf("%w: command for the %s adapter sent to the %s adapter", events.ErrRejected, adapter, a.d.Adapter())
	}
	if !slices.Contains(a.targets, target) {
		return fmt.Errorf("%w: %s target %q is not configured (configured: %v)", events.ErrRejected, adapter, target, a.targets)
	}
	return nil
}

// execute runs cmd with the command timeout, retries and the breaker, and returns its outcome
// event. A breaker forced open refuses every command but the control commands at once.
func (a *Adapter) execute(ctx context.Context, log *slog.Logger, id, kind, target string, cmd events.Command) events.Message {
	cctx, cancel := context.WithTimeout(context.WithValue(ctx, commandIDKey{}, id), a.cfg.CommandTimeout)
	defer cancel()
	adapterID := events.AdapterID(a.d.Adapter(), target)
	start := a.now()
	var result events.Result
	retry := a.d.Transient
	if r, ok := a.d.(Retrier); ok {
		retry = func(err error) bool { return a.d.Transient(err) && r.Retryable(cmd, err) }
	}
	do := a.executor(cmd)
	control := events.IsControl(cmd)
	attempts, err := a.cfg.Retry.Do(cctx, retry, func(ctx context.Context) error {
		if !control {
			if err := a.breakers.refuse(target); err != nil {
				return err
			}
		}
		return a.breakers.call(target, a.countsAgainst, func() error {
			var err error
			result, err = do(ctx, target, cmd)
			return err
		})
	})
	took := a.now().Sub(start)
	if err == nil {
		raw, merr := json.Marshal(result)
		if merr == nil {
			log.InfoContext(ctx, "command succeeded", "adapter_id", adapterID, "attempts", attempts, "took", took)
			return events.CommandSucceeded{CommandID: id, Command: kind, AdapterID: adapterID, Result: raw,
				Attempts: attempts, DurationMicros: took.Microseconds(), CompletedAt: a.now()}
		}
		err = fmt.Errorf("could not encode the result: %w", merr)
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("timed out after %s: %w", a.cfg.CommandTimeout, err)
	}
	transient := a.countsAgainst(err) || errors.Is(err, ErrBreakerOpen)
	log.WarnContext(ctx, "command failed", "adapter_id", adapterID, "attempts", attempts, "took", took,
		"transient", transient, "error", err)
	return events.CommandFailed{CommandID: id, Command: kind, AdapterID: adapterID, Error: err.Error(),
		Transient: transient, Attempts: attempts, DurationMicros: took.Microseconds(), FailedAt: a.now()}
}

// countsAgainst says whether err is the target's fault: transient errors and timeouts are; a
// statement the server refused is not.
func (a *Adapter) countsAgainst(err error) bool {
	return err != nil && !errors.Is(err, ErrBreakerOpen) &&
		(a.d.Transient(err) || errors.Is(err, context.DeadlineExceeded))
}

// reject records why a command can never run and returns a permanent error for the poison queue.
// When recording fails the error is not permanent, so the command is delivered again.
func (a *Adapter) reject(ctx context.Context, log *slog.Logger, env events.Envelope, id, kind string, m events.Message, reason error) error {
	why := strings.TrimPrefix(reason.Error(), events.ErrRejected.Error()+": ")
	rejected := events.CommandRejected{CommandID: id, Command: kind, Adapter: a.d.Adapter(), Reason: why,
		RejectedAt: a.now()}
	if cmd, ok := m.(events.Command); ok {
		if adapter, target := cmd.Addressee(); adapter == a.d.Adapter() && slices.Contains(a.targets, target) {
			rejected.Target = target
		}
	}
	origin := env.Caused()
	if origin.CorrelationID == "" {
		origin = events.Origin{CorrelationID: id, CausationID: id}
	}
	if origin.CausationID == "" {
		origin.CausationID = id
	}
	rec := &commandRecord{id: id, adapter: a.d.Adapter(), kind: kind, Status: statusRejected, Detail: why}
	if id == "" {
		// Nothing to deduplicate on: record the rejection under a name of its own.
		rec, rejected.CommandID = nil, "(missing message id)"
		origin = events.NewOrigin()
	}
	if err := a.record(ctx, origin, rec, rejected); err != nil {
		return fmt.Errorf("could not record the rejection of command %s (%v): %w", id, reason, err)
	}
	log.WarnContext(ctx, "command rejected", "reason", reason)
	if !events.Permanent(reason) {
		reason = fmt.Errorf("%w: %w", events.ErrRejected, reason)
	}
	return reason
}

func kindOf(env events.Envelope, msg *message.Message) string {
	if env.Kind.Version > 0 {
		return env.Kind.String()
	}
	if t := msg.Metadata.Get(events.MetaType); t != "" {
		return t + "/v" + msg.Metadata.Get(events.MetaVersion)
	}
	return ""
}
