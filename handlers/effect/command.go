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
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/telemetry"
)

// command is one command as the runner handles it: what it asks, of which target, and what
// everything it causes inherits.
type command struct {
	// id is the command message's id: its outcome's command_id and its record's key.
	id string
	// kind is the command's kind as the message claimed it ("postgres_query/v1"), even when the
	// message could not be decoded.
	kind   string
	target string
	// cmd is the decoded command; nil for a command that could not be decoded.
	cmd events.Command
	// origin is what every event the command causes carries: its correlation id, and the command
	// as the cause.
	origin events.Origin
	log    *slog.Logger
}

func (c command) adapterID(adapter string) string { return events.AdapterID(adapter, c.target) }

// HandleCommand is the Watermill handler of the adapter's command topic. A command is executed
// at most once per id, and only by the process that owns its target: a redelivered command finds
// its outcome in processed_commands and is acknowledged without running again; a command for a
// target another process owns is handed on to it (see handOn). A command that can never run is
// recorded as CommandRejected and returned as a permanent error, for the poison topic.
func (a *Adapter) HandleCommand(msg *message.Message) error { return a.handle(msg, false) }

// handle handles one command, which came through handed_commands when handed.
func (a *Adapter) handle(msg *message.Message, handed bool) (err error) {
	ctx := msg.Context()
	topic := message.SubscribeTopicFromCtx(ctx)
	if topic == "" { // handed on: it came from the command topic, by way of handed_commands
		topic = a.cfg.CommandTopics.Commands(a.d.Adapter())
	}
	env, m, err := a.registry.DecodeFrom(topic, msg)
	c := command{id: msg.UUID, kind: kindOf(env, msg), origin: env.Caused()}
	if err == nil {
		err = a.accepts(m)
	}
	if cmd, ok := m.(events.Command); ok {
		c.cmd = cmd
		_, c.target = cmd.Addressee()
	}
	c.log = a.logger.With("command_id", c.id, "command", c.kind, "correlation_id", env.CorrelationID,
		"causation_id", env.CausationID)
	ctx, span := telemetry.Tracer().Start(ctx, a.d.Adapter()+" "+env.Kind.Name, trace.WithAttributes(
		attribute.String("omni.adapter", a.d.Adapter()), attribute.String("omni.target", c.target),
		attribute.String("omni.command.id", c.id), attribute.String("omni.command", c.kind), attribute.Bool("omni.handed", handed)))
	defer func() {
		telemetry.End(span, err)
		span.End()
	}()
	if prev, found, lerr := lookup(ctx, a.db, c.id); lerr != nil {
		return lerr
	} else if found {
		c.log.InfoContext(ctx, "command delivered again; answered from its record", "outcome", prev.Status)
		if handed {
			if _, err := a.db.Exec(ctx, `DELETE FROM handed_commands WHERE command_id = $1`, c.id); err != nil {
				return fmt.Errorf("could not forget handed command %s: %w", c.id, err)
			}
			return nil
		}
		if prev.Status == statusRejected {
			if rest, ok := strings.CutPrefix(prev.Detail, "rate limited"); ok {
				return fmt.Errorf("%w%s", events.ErrRateLimited, rest)
			}
			return fmt.Errorf("%w: %s", events.ErrRejected, prev.Detail)
		}
		return nil
	}
	if err != nil {
		return a.reject(ctx, c, err, handed)
	}
	if !a.Owns(c.target) {
		if handed {
			return nil // the target changed hands since: its new owner takes the command
		}
		return a.handOn(ctx, c, msg)
	}
	if err := a.limit(ctx, c); err != nil {
		var limited *rateLimitedError
		if errors.As(err, &limited) {
			return a.reject(ctx, c, err, handed)
		}
		return err
	}
	caused, rec, err := a.run(ctx, c)
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("command %s interrupted: %w", c.id, ctx.Err())
	}
	rec.target = c.target
	rec.claim = &commandRecord{id: c.id, adapter: a.d.Adapter(), kind: c.kind, handed: handed, Status: statusSucceeded}
	if f, ok := caused[len(caused)-1].(events.CommandFailed); ok {
		rec.claim.Status, rec.claim.Detail = statusFailed, f.Error
	}
	rec.command, rec.outcome = c.cmd, caused[len(caused)-1]
	span.SetAttributes(attribute.String("omni.command.outcome", rec.claim.Status))
	if err := a.recordOutcome(ctx, c, rec, caused); err != nil {
		return err
	}
	a.cfg.Metrics.outcome(a.d.Adapter(), commandName(c.kind), rec.claim.Status)
	return nil
}

// commandName is a command's kind without its version ("postgres_query/v1": "postgres_query").
func commandName(kind string) string {
	name, _, _ := strings.Cut(kind, "/")
	return name
}

// recordOutcome records the outcome of a command that ran, trying again while the control
// database cannot take it: the effect happened, so its record must say what it was — a
// redelivery would run the command again, and a failure recorded instead would contradict it.
// It gives up only when ctx ends (the process stops): the command is then delivered again.
func (a *Adapter) recordOutcome(ctx context.Context, c command, rec recording, caused []events.Message) error {
	wait := a.cfg.Retry.Backoff.New()
	for attempt := 1; ; attempt++ {
		err := a.record(ctx, c.origin, rec, caused...)
		if err == nil {
			if attempt > 1 {
				c.log.InfoContext(ctx, "recorded the outcome of the command after the control database came back", "attempts", attempt)
			}
			return nil
		}
		// Each attempt gives back the breaker's tickets; they are counted once.
		rec.admitted = nil
		d := wait.NextBackOff()
		c.log.WarnContext(ctx, "could not record the outcome of a command that ran; keeping it and trying again",
			"attempt", attempt, "retry_in", d, "error", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("command %s ran but its outcome could not be recorded before the stop: %w", c.id, err)
		case <-time.After(d):
		}
	}
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

// execute runs c with the command timeout, retries and the breaker, and returns its outcome
// event; rec gathers the breaker's moves. A breaker forced open refuses every command but the
// control commands at once.
func (a *Adapter) execute(ctx context.Context, c command, rec *recording) events.Message {
	cctx, cancel := context.WithTimeout(context.WithValue(ctx, commandIDKey{}, c.id), a.cfg.CommandTimeout)
	defer cancel()
	adapterID := c.adapterID(a.d.Adapter())
	start := a.now()
	var result events.Result
	retry := a.d.Transient
	if r, ok := a.d.(Retrier); ok {
		retry = func(err error) bool { return a.d.Transient(err) && r.Retryable(c.cmd, err) }
	}
	do := a.executor(c.cmd)
	control := events.IsControl(c.cmd)
	attempts, err := a.cfg.Retry.Do(cctx, retry, func(ctx context.Context) error {
		t, err := a.breakers.admit(c.target, control)
		if err != nil {
			return err
		}
		rec.admitted = append(rec.admitted, t)
		result, err = do(ctx, c.target, c.cmd)
		o := succeeded
		if a.countsAgainst(err) {
			o = failed
		}
		rec.moves = append(rec.moves, a.breakers.outcomeOf(t, o))
		return err
	})
	took := a.now().Sub(start)
	if err == nil {
		raw, merr := json.Marshal(result)
		if merr == nil {
			c.log.InfoContext(ctx, "command succeeded", "adapter_id", adapterID, "attempts", attempts, "took", took)
			return events.CommandSucceeded{CommandID: c.id, Command: c.kind, AdapterID: adapterID, Result: raw,
				Attempts: attempts, DurationMicros: took.Microseconds(), CompletedAt: a.now()}
		}
		err = fmt.Errorf("could not encode the result: %w", merr)
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("timed out after %s: %w", a.cfg.CommandTimeout, err)
	}
	transient := a.countsAgainst(err) || errors.Is(err, ErrBreakerOpen)
	c.log.WarnContext(ctx, "command failed", "adapter_id", adapterID, "attempts", attempts, "took", took,
		"transient", transient, "error", err)
	return events.CommandFailed{CommandID: c.id, Command: c.kind, AdapterID: adapterID, Error: err.Error(),
		Transient: transient, Attempts: attempts, DurationMicros: took.Microseconds(), FailedAt: a.now()}
}

// reject records why c can never run and returns a permanent error for the poison topic. When
// recording fails the error is not permanent, so the command is delivered again.
func (a *Adapter) reject(ctx context.Context, c command, reason error, handed bool) error {
	why := strings.TrimPrefix(reason.Error(), events.ErrRejected.Error()+": ")
	rejected := events.CommandRejected{CommandID: c.id, Command: c.kind, Adapter: a.d.Adapter(), Reason: why,
		RejectedAt: a.now()}
	var limited *rateLimitedError
	if errors.As(reason, &limited) {
		rejected.RetryAfterMillis = limited.retryAfterMillis()
	}
	if c.cmd != nil {
		if adapter, _ := c.cmd.Addressee(); adapter == a.d.Adapter() && slices.Contains(a.targets, c.target) {
			rejected.Target = c.target
		}
	}
	origin := c.origin
	if origin.CorrelationID == "" {
		origin = events.Origin{CorrelationID: c.id, CausationID: c.id}
	}
	if origin.CausationID == "" {
		origin.CausationID = c.id
	}
	rec := &commandRecord{id: c.id, adapter: a.d.Adapter(), kind: c.kind, handed: handed, Status: statusRejected, Detail: why}
	if c.id == "" {
		// Nothing to deduplicate on: record the rejection under a name of its own.
		rec, rejected.CommandID = nil, "(missing message id)"
		origin = events.NewOrigin()
	}
	if err := a.record(ctx, origin, recording{claim: rec, command: c.cmd, outcome: rejected}, rejected); err != nil {
		return fmt.Errorf("could not record the rejection of command %s (%v): %w", c.id, reason, err)
	}
	c.log.WarnContext(ctx, "command rejected", "reason", reason)
	a.cfg.Metrics.outcome(a.d.Adapter(), commandName(c.kind), statusRejected)
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
