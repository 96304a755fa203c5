package effect

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/events"
)

// controlCommands are the commands the Adapter of d takes besides its driver's:
// initialize_target only when the driver is an Initializer.
func controlCommands(d Driver) []events.Command {
	cmds := []events.Command{events.ProbeTarget{}, events.OpenBreaker{}, events.CloseBreaker{}, events.RecoverTarget{}}
	if _, ok := d.(Initializer); ok {
		cmds = append(cmds, events.InitializeTarget{})
	}
	return cmds
}

// Accepts are prototypes of every command the Adapter of d takes: probe_target and the control
// commands, then the driver's own. A node's contract lists exactly these (tests/nodes).
func Accepts(d Driver) []events.Command { return append(controlCommands(d), d.Commands()...) }

// run runs c and returns what it caused, its outcome last, and what recording it writes besides
// (the breaker's moves, the driver's memory). Its error is never about the target: only that ctx
// ended before the outcome was known.
func (a *Adapter) run(ctx context.Context, c command) ([]events.Message, recording, error) {
	switch cmd := c.cmd.(type) {
	case events.ProbeTarget:
		return a.probeTarget(ctx, c)
	case events.OpenBreaker:
		was := a.breakers.state(c.target) // open while forced: Effective never reads a forced breaker as half-open
		c.log.InfoContext(ctx, "breaker forced open", "adapter_id", a.adapterID(c.target), "was", was, "reason", cmd.Reason)
		force := func(cur Circuit, now time.Time) (Circuit, []move) {
			return cur.ForceOpen(a.cfg.Breaker, cmd.Reason, now)
		}
		return []events.Message{a.done(c, events.BreakerResult{State: events.BreakerOpen, Was: was})},
			recording{moves: []fold{force}}, nil
	case events.CloseBreaker:
		was := a.breakers.state(c.target)
		c.log.InfoContext(ctx, "breaker closed", "adapter_id", a.adapterID(c.target), "was", was, "reason", cmd.Reason)
		reset := func(cur Circuit, now time.Time) (Circuit, []move) { return cur.Reset(now) }
		return []events.Message{a.done(c, events.BreakerResult{State: events.BreakerClosed, Was: was})},
			recording{moves: []fold{reset}}, nil
	case events.RecoverTarget:
		msgs, err := a.recoverTarget(ctx, c)
		return msgs, recording{}, err
	}
	var rec recording
	outcome := a.execute(ctx, c, &rec)
	if m, ok := a.d.(Rememberer); ok {
		if _, succeeded := outcome.(events.CommandSucceeded); succeeded {
			rec.memory = func(ctx context.Context, tx pgx.Tx) error {
				return m.Remember(ctx, Memory{tx: tx, adapterID: a.adapterID(c.target)}, c.cmd)
			}
		}
	}
	return []events.Message{outcome}, rec, nil
}

// executor is what execute calls for cmd: the driver's Execute, or its Initialize.
func (a *Adapter) executor(cmd events.Command) func(ctx context.Context, target string, cmd events.Command) (events.Result, error) {
	init, ok := a.d.(Initializer)
	if _, initialize := cmd.(events.InitializeTarget); !initialize || !ok {
		return a.d.Execute
	}
	return func(ctx context.Context, target string, _ events.Command) (events.Result, error) {
		return init.Initialize(ctx, target)
	}
}

// probeTarget probes target through its breaker; the probe's outcome, healthy or not, is the
// command's result {"healthy": bool, "error": "..."}.
func (a *Adapter) probeTarget(ctx context.Context, c command) ([]events.Message, recording, error) {
	health, msgs, rec, err := a.probe(ctx, c.target, requested)
	if err != nil {
		return nil, recording{}, err
	}
	result, err := json.Marshal(events.ProbeResult{Healthy: health.Healthy, Error: health.Error})
	if err != nil {
		return nil, recording{}, fmt.Errorf("could not encode the probe result: %w", err)
	}
	done := events.CommandSucceeded{CommandID: c.id, Command: c.kind, AdapterID: health.AdapterID,
		Result: result, Attempts: 1, DurationMicros: health.LatencyMicros, CompletedAt: a.now()}
	return append(append([]events.Message{health}, msgs...), done), rec, nil
}

// recoverTarget runs the driver's recovery, then probes target directly: neither the breaker nor
// a forced open holds it back, and neither counts it. It succeeds only when the probe is healthy;
// otherwise it fails, transient, naming what failed. The health report is recorded either way.
func (a *Adapter) recoverTarget(ctx context.Context, c command) ([]events.Message, error) {
	start := a.now()
	actions := []string{}
	var problems []string
	if r, ok := a.d.(Recoverer); ok {
		rctx, cancel := context.WithTimeout(ctx, a.cfg.CommandTimeout)
		did, err := r.Recover(rctx, c.target)
		cancel()
		actions = append(actions, did...)
		if err != nil {
			problems = append(problems, "recovery failed: "+err.Error())
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	health, msgs, _, err := a.probe(ctx, c.target, direct)
	if err != nil {
		return nil, err
	}
	if !health.Healthy {
		problems = append(problems, "still unhealthy: "+health.Error)
	}
	caused := append([]events.Message{health}, msgs...)
	if len(problems) == 0 {
		c.log.InfoContext(ctx, "target recovered", "adapter_id", health.AdapterID, "actions", actions)
		return append(caused, a.done(c, events.RecoverResult{Recovered: true, Actions: actions})), nil
	}
	took := a.now().Sub(start)
	why := strings.Join(problems, "; ")
	c.log.WarnContext(ctx, "target not recovered", "adapter_id", health.AdapterID, "actions", actions, "took", took,
		"error", why)
	return append(caused, events.CommandFailed{CommandID: c.id, Command: c.kind, AdapterID: health.AdapterID,
		Error: why, Transient: true, Attempts: 1, DurationMicros: took.Microseconds(), FailedAt: a.now()}), nil
}

// done is the outcome of a command the runner answered itself with result.
func (a *Adapter) done(c command, result events.Result) events.Message {
	raw, err := json.Marshal(result)
	if err != nil {
		return events.CommandFailed{CommandID: c.id, Command: c.kind, AdapterID: a.adapterID(c.target),
			Error: fmt.Sprintf("could not encode the result: %v", err), Attempts: 1, FailedAt: a.now()}
	}
	return events.CommandSucceeded{CommandID: c.id, Command: c.kind, AdapterID: a.adapterID(c.target), Result: raw,
		Attempts: 1, CompletedAt: a.now()}
}

func (a *Adapter) adapterID(target string) string { return events.AdapterID(a.d.Adapter(), target) }
