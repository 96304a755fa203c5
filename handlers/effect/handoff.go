package effect

import (
	"context"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/telemetry"
)

// Handing on: a command's record lands on one partition of the command topic, whose consumer may
// be a process that does not own the command's target. That process keeps the command in
// handed_commands and acknowledges it; the owner takes the commands handed on for its targets, in
// the order they were handed, and deletes each in the transaction that records its outcome. A
// command is executed by the owner only, and at most once per id (processed_commands).

// handOn keeps msg, a command for target, for target's owner.
func (a *Adapter) handOn(ctx context.Context, c command, msg *message.Message) error {
	_, err := a.db.Exec(ctx, `INSERT INTO handed_commands (command_id, adapter_id, uuid, metadata, payload, handed_by)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (command_id) DO NOTHING`,
		c.id, c.adapterID(a.d.Adapter()), msg.UUID, map[string]string(msg.Metadata), []byte(msg.Payload), a.cfg.Member)
	if err != nil {
		return fmt.Errorf("could not hand command %s on to the owner of %s: %w", c.id, c.target, err)
	}
	c.log.DebugContext(ctx, "command handed on to the owner of its target", "target", c.target)
	return nil
}

// wakeHanded makes takeHanded look for handed commands at once.
func (a *Adapter) wakeHanded() {
	select {
	case a.handed <- struct{}{}:
	default:
	}
}

// takeHanded executes the commands handed on for the targets this process owns until ctx ends,
// looking every HandOnPoll.
func (a *Adapter) takeHanded(ctx context.Context) error {
	ticker := time.NewTicker(a.cfg.HandOnPoll)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-a.handed:
		}
		for ctx.Err() == nil {
			n, err := a.takeHandedOnce(ctx)
			if err != nil && ctx.Err() == nil {
				a.logger.WarnContext(ctx, "could not take the commands handed on", "error", err)
			}
			if err != nil || n == 0 {
				break
			}
		}
	}
}

// takeHandedOnce executes up to 32 handed commands and returns how many it took.
func (a *Adapter) takeHandedOnce(ctx context.Context) (int, error) {
	owned := a.leases.owned()
	if len(owned) == 0 {
		return 0, nil
	}
	ids := make([]string, len(owned))
	for i, t := range owned {
		ids[i] = a.adapterID(t)
	}
	rows, err := a.db.Query(ctx, `SELECT command_id, uuid, metadata, payload FROM handed_commands
		WHERE adapter_id = ANY($1) ORDER BY handed_at LIMIT 32`, ids)
	if err != nil {
		return 0, fmt.Errorf("could not read the commands handed on: %w", err)
	}
	type handed struct {
		id, uuid string
		metadata map[string]string
		payload  []byte
	}
	var all []handed
	for rows.Next() {
		var h handed
		if err := rows.Scan(&h.id, &h.uuid, &h.metadata, &h.payload); err != nil {
			rows.Close()
			return 0, fmt.Errorf("could not read a command handed on: %w", err)
		}
		all = append(all, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("could not read the commands handed on: %w", err)
	}
	for _, h := range all {
		msg := message.NewMessage(h.uuid, h.payload)
		for k, v := range h.metadata {
			msg.Metadata.Set(k, v)
		}
		msg.SetContext(telemetry.Extract(ctx, msg.Metadata)) // the trace the command came with
		if err := a.handle(msg, true); err != nil && !events.Permanent(err) {
			return 0, fmt.Errorf("command %s handed on: %w", h.id, err)
		}
	}
	return len(all), nil
}

// forgetHanded deletes command id from handed_commands in tx: it was executed or rejected.
func forgetHanded(ctx context.Context, tx pgx.Tx, id string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM handed_commands WHERE command_id = $1`, id); err != nil {
		return fmt.Errorf("could not forget handed command %s: %w", id, err)
	}
	return nil
}
