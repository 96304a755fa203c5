package audit

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/events"
)

// The actions of commands and operator actions on them.
const (
	// ActionCommandSent: a command sent by an operator (omni cmd) or a saga.
	ActionCommandSent = "command.sent"
	// ActionCommandCompleted: an adapter command's outcome (succeeded, failed, rejected).
	ActionCommandCompleted = "command.completed"
	// ActionBreakerForcedOpen and ActionBreakerForcedClosed: a breaker moved by open_breaker or
	// close_breaker.
	ActionBreakerForcedOpen   = "breaker.forced_open"
	ActionBreakerForcedClosed = "breaker.forced_closed"
	// ActionPoisonRequeued: a poisoned message sent back to its topic by an operator.
	ActionPoisonRequeued = "poison.requeued"
	// ActionPoisonDiscarded: a poisoned message an operator decided never to handle.
	ActionPoisonDiscarded = "poison.discarded"
)

// RecordCommandSent appends that actor sent cmd, as message id, in tx: what, to whom, its id,
// and its secret values as HMACs keyed by h (Secrets; withheld when h is nil) — never in clear.
func RecordCommandSent(ctx context.Context, tx pgx.Tx, h *Hasher, actor, id string, cmd events.Command, detail map[string]string) error {
	adapter, target := cmd.Addressee()
	d := Secrets(h, cmd)
	d["command_id"], d["kind"] = id, cmd.Kind().String()
	for k, v := range detail {
		d[k] = v
	}
	_, err := Append(ctx, tx, Entry{Actor: actor, Action: ActionCommandSent, Subject: events.AdapterID(adapter, target), Outcome: "sent", Detail: d})
	return err
}

// RecordCommandOutcome returns what records, by actor (the adapter's process), each adapter
// command's outcome in the transaction that records it (effect.Config.Audit): a
// command.completed entry whose outcome is succeeded, failed or rejected, and for open_breaker
// and close_breaker that succeeded, the breaker's forced move too. It records no payload and no
// result: the command id finds them.
func RecordCommandOutcome(actor string) func(ctx context.Context, tx pgx.Tx, cmd events.Command, outcome events.Message) error {
	return func(ctx context.Context, tx pgx.Tx, cmd events.Command, outcome events.Message) error {
		var e Entry
		switch o := outcome.(type) {
		case events.CommandSucceeded:
			e = Entry{Subject: o.AdapterID, Outcome: "succeeded", At: o.CompletedAt,
				Detail: map[string]string{"command_id": o.CommandID, "kind": o.Command, "attempts": strconv.Itoa(o.Attempts)}}
		case events.CommandFailed:
			e = Entry{Subject: o.AdapterID, Outcome: "failed", At: o.FailedAt,
				Detail: map[string]string{"command_id": o.CommandID, "kind": o.Command, "attempts": strconv.Itoa(o.Attempts),
					"error": o.Error, "transient": strconv.FormatBool(o.Transient)}}
		case events.CommandRejected:
			e = Entry{Subject: o.Key(), Outcome: "rejected", At: o.RejectedAt,
				Detail: map[string]string{"command_id": o.CommandID, "kind": o.Command, "reason": o.Reason}}
		default:
			return fmt.Errorf("audit: %T is not a command's outcome", outcome)
		}
		e.Actor, e.Action = actor, ActionCommandCompleted
		if _, err := Append(ctx, tx, e); err != nil {
			return err
		}
		if e.Outcome != "succeeded" {
			return nil
		}
		forced := Entry{Actor: actor, Subject: e.Subject, At: e.At, Detail: map[string]string{"command_id": e.Detail["command_id"]}}
		switch c := cmd.(type) {
		case events.OpenBreaker:
			forced.Action, forced.Outcome, forced.Detail["reason"] = ActionBreakerForcedOpen, string(events.BreakerOpen), c.Reason
		case events.CloseBreaker:
			forced.Action, forced.Outcome, forced.Detail["reason"] = ActionBreakerForcedClosed, string(events.BreakerClosed), c.Reason
		default:
			return nil
		}
		_, err := Append(ctx, tx, forced)
		return err
	}
}

// RecordRequeue appends that actor sent poisoned message id of group back to topic, in the
// transaction that requeues it.
func RecordRequeue(ctx context.Context, tx pgx.Tx, actor, group, id, topic string) error {
	_, err := Append(ctx, tx, Entry{Actor: actor, Action: ActionPoisonRequeued, Subject: topic, Outcome: "requeued",
		Detail: map[string]string{"group": group, "message_id": id}})
	return err
}

// RecordDiscard appends that actor discarded poisoned message id of group (from topic), in the
// transaction that marks it discarded.
func RecordDiscard(ctx context.Context, tx pgx.Tx, actor, group, id, topic string) error {
	_, err := Append(ctx, tx, Entry{Actor: actor, Action: ActionPoisonDiscarded, Subject: topic, Outcome: "discarded",
		Detail: map[string]string{"group": group, "message_id": id}})
	return err
}
