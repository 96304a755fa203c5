package effect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/omninode/omnibase-infra/events"
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
// at most once per id: a redelivered command finds its outcome in processed_commands and is
// acknowledged without running again. A command that can never run is recorded as
// CommandRejected and returned as a permanent error, for the poison topic.
func (a *Adapter) HandleCommand(msg *message.Message) error {
	ctx := msg.Context()
	env, m, err := a.registry.Decode(msg)
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
	if prev, found, lerr := lookup(ctx, a.db, c.id); lerr != nil {
		return lerr
	} else if found {
		c.log.InfoContext(ctx, "command delivered again; answered from its record", "outcome", prev.Status)
		if prev.Status == statusRejected {
			return fmt.Errorf("%w: %s", events.ErrRejected, prev.Detail)
		}
		return nil
	}
	if err != nil {
		return a.reject(ctx, c, err)
	}
	caused, err := a.run(ctx, c)
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("command %s interrupted: %w", c.id, ctx.Err())
	}
	rec := &commandRecord{id: c.id, adapter: a.d.Adapter(), kind: c.kind, Status: statusSucceeded}
	if f, ok := caused[len(caused)-1].(events.CommandFailed); ok {
		rec.Status, rec.Detail = statusFailed, f.Error
	}
	return a.record(ctx, c.origin, rec, caused...)
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
// event. A breaker forced open refuses every command but the control commands at once.
func (a *Adapter) execute(ctx context.Context, c command) events.Message {
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
		if !control {
			if err := a.breakers.refuse(c.target); err != nil {
				return err
			}
		}
		return a.breakers.call(c.target, a.countsAgainst, func() error {
			var err error
			result, err = do(ctx, c.target, c.cmd)
			return err
		})
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
func (a *Adapter) reject(ctx context.Context, c command, reason error) error {
	why := strings.TrimPrefix(reason.Error(), events.ErrRejected.Error()+": ")
	rejected := events.CommandRejected{CommandID: c.id, Command: c.kind, Adapter: a.d.Adapter(), Reason: why,
		RejectedAt: a.now()}
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
	rec := &commandRecord{id: c.id, adapter: a.d.Adapter(), kind: c.kind, Status: statusRejected, Detail: why}
	if c.id == "" {
		// Nothing to deduplicate on: record the rejection under a name of its own.
		rec, rejected.CommandID = nil, "(missing message id)"
		origin = events.NewOrigin()
	}
	if err := a.record(ctx, origin, rec, rejected); err != nil {
		return fmt.Errorf("could not record the rejection of command %s (%v): %w", c.id, reason, err)
	}
	c.log.WarnContext(ctx, "command rejected", "reason", reason)
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
