package poison

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/audit"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// Result is what became of one message an action was asked for.
type Result struct {
	ID      int64  `json:"id"`
	Group   string `json:"group,omitempty"`
	Topic   string `json:"topic,omitempty"`
	Outcome Status `json:"outcome,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Requeue sends poisoned message id back to the topic it was consumed from, through the outbox:
// its original id, key, payload and metadata (its MAC included: the requeue signs nothing, so a
// message refused as unauthenticated stays refused), with requeued_from and requeue_count added.
// In the same transaction the row is marked requeued by actor and the audit log records it. A
// requeued message that fails again is poisoned as a new record linked to this one.
func Requeue(ctx context.Context, db DB, actor string, id int64) (Result, error) {
	return act(ctx, db, id, StatusRequeued, func(tx pgx.Tx, m Message) error {
		if m.Truncated {
			return fmt.Errorf("%w: %d: its payload was cut to what the store keeps (%d bytes of %d)", ErrNotRequeueable,
				id, len(m.Payload), m.PayloadBytes)
		}
		if m.Topic == "outbox" || m.Partition == nil {
			return fmt.Errorf("%w: %d: the relay could not deliver it to any broker; it was never consumed from a topic", ErrNotRequeueable, id)
		}
		msg := message.NewMessage(OriginalID(m.MessageID), m.Payload)
		msg.Metadata = maps.Clone(m.Metadata)
		if msg.Metadata == nil {
			msg.Metadata = message.Metadata{}
		}
		msg.Metadata.Set(outbox.MetaRequeuedFrom, strconv.FormatInt(m.ID, 10))
		msg.Metadata.Set(outbox.MetaRequeueCount, strconv.Itoa(m.RequeueCount+1))
		if err := outbox.Publish(ctx, tx, m.Topic, msg); err != nil {
			return err
		}
		return audit.RecordRequeue(ctx, tx, actor, m.Group, m.MessageID, m.Topic)
	}, actor)
}

// Discard marks poisoned message id discarded by actor, with its audit entry: it stays in
// poison_messages for the record and is never sent again.
func Discard(ctx context.Context, db DB, actor string, id int64) (Result, error) {
	return act(ctx, db, id, StatusDiscarded, func(tx pgx.Tx, m Message) error {
		return audit.RecordDiscard(ctx, tx, actor, m.Group, m.MessageID, m.Topic)
	}, actor)
}

// OriginalID is the id of the message a poison record's message_id names: a message requeued and
// poisoned again is stored as "<id>/requeue-N".
func OriginalID(messageID string) string {
	id, _, _ := strings.Cut(messageID, "/requeue-")
	return id
}

func act(ctx context.Context, db DB, id int64, to Status, do func(tx pgx.Tx, m Message) error, actor string) (Result, error) {
	if actor == "" {
		return Result{ID: id}, errors.New("poison: an action needs an actor for the audit log")
	}
	res := Result{ID: id}
	err := pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		// Locked, so two operators cannot requeue the same message twice.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM poison_messages WHERE id = $1 FOR UPDATE`, id); err != nil {
			return fmt.Errorf("could not lock poisoned message %d: %w", id, err)
		}
		m, err := Show(ctx, tx, id)
		if err != nil {
			return err
		}
		res.Group, res.Topic = m.Group, m.Topic
		if m.Status != StatusPoisoned {
			return fmt.Errorf("%w: %d is %s (by %s)", ErrResolved, id, m.Status, m.ResolvedBy)
		}
		if err := do(tx, m); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE poison_messages SET status = $2, resolved_by = $3, resolved_at = now() WHERE id = $1`,
			id, string(to), actor); err != nil {
			return fmt.Errorf("could not mark poisoned message %d %s: %w", id, to, err)
		}
		return nil
	})
	if err != nil {
		res.Error = err.Error()
		return res, err
	}
	res.Outcome = to
	return res, nil
}

// Each applies action (Requeue or Discard) to every message in ids, each in its own transaction,
// and returns what became of each; the error joins every failure.
func Each(ctx context.Context, db DB, actor string, ids []int64,
	action func(ctx context.Context, db DB, actor string, id int64) (Result, error)) ([]Result, error) {
	out := make([]Result, 0, len(ids))
	var errs []error
	for _, id := range ids {
		r, err := action(ctx, db, actor, id)
		out = append(out, r)
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// Matching returns the ids of every message f selects that is still poisoned (f.Status and
// f.Limit are ignored), newest first.
func Matching(ctx context.Context, db Querier, f Filter) ([]int64, error) {
	f.Status, f.Limit, f.Before = StatusPoisoned, 1000, 0
	var ids []int64
	for {
		page, err := List(ctx, db, f)
		if err != nil {
			return nil, err
		}
		for _, m := range page {
			ids = append(ids, m.ID)
		}
		if len(page) < f.Limit {
			return ids, nil
		}
		f.Before = page[len(page)-1].ID
	}
}
