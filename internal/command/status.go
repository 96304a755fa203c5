package command

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// ErrUnknownCommand is Lookup's error for an id no command in the event log has.
var ErrUnknownCommand = errors.New("no command with this id in the event log")

// Sent is a command as the event log holds it, and what it caused so far.
type Sent struct {
	ID      string
	Kind    events.Kind
	Key     string
	Topic   string
	SentAt  time.Time
	Command events.Message
	// Caused are the events on the events topic the command caused, in log order; its outcome,
	// when it has one, is last.
	Caused []Caused
}

// Outcome is "succeeded", "failed" or "rejected" after the command's outcome, else "pending".
func (s Sent) Outcome() string {
	if len(s.Caused) > 0 {
		switch s.Caused[len(s.Caused)-1].Event.(type) {
		case events.CommandSucceeded:
			return "succeeded"
		case events.CommandFailed:
			return "failed"
		case events.CommandRejected:
			return "rejected"
		}
	}
	return "pending"
}

// Lookup finds the command id (or the one command whose id starts with it) on topics' command
// topics in the event log, and the events it caused on the events topic: what became of a
// command sent without waiting. The events are found by their causation id, so it reads the
// events topic's log (no index on it: an operator's tool, not a hot path).
func Lookup(ctx context.Context, db pgtx.Querier, topics events.Topics, id string) (Sent, error) {
	var s Sent
	rows, err := db.Query(ctx, `SELECT event_id, topic, key, metadata, payload, occurred_at FROM event_log
		WHERE starts_with(topic, $1) AND starts_with(event_id, $2) ORDER BY seq LIMIT 2`, topics.CommandsPrefix, id)
	if err != nil {
		return s, fmt.Errorf("could not read the event log: %w", err)
	}
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*message.Message, error) {
		var (
			eid, payload []byte
			meta         message.Metadata
		)
		if err := r.Scan(&eid, &s.Topic, &s.Key, &meta, &payload, &s.SentAt); err != nil {
			return nil, err
		}
		m := message.NewMessage(string(eid), payload)
		m.Metadata = meta
		return m, nil
	})
	if err != nil {
		return s, fmt.Errorf("could not read the event log: %w", err)
	}
	switch len(found) {
	case 0:
		return s, fmt.Errorf("%w: %s", ErrUnknownCommand, id)
	case 2:
		return s, fmt.Errorf("%q is the start of more than one command's id: give more of it", id)
	}
	env, cmd, err := events.Catalog().Decode(found[0])
	if err != nil {
		return s, fmt.Errorf("command %s in the event log cannot be read: %w", found[0].UUID, err)
	}
	s.ID, s.Kind, s.Command = env.ID, env.Kind, cmd
	rows, err = db.Query(ctx, `SELECT event_id, metadata, payload FROM event_log
		WHERE topic = $1 AND metadata->>$2 = $3 ORDER BY seq`, topics.Events, events.MetaCausationID, s.ID)
	if err != nil {
		return s, fmt.Errorf("could not read the events of command %s: %w", s.ID, err)
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*message.Message, error) {
		var (
			eid     string
			meta    message.Metadata
			payload []byte
		)
		if err := r.Scan(&eid, &meta, &payload); err != nil {
			return nil, err
		}
		m := message.NewMessage(eid, payload)
		m.Metadata = meta
		return m, nil
	})
	if err != nil {
		return s, fmt.Errorf("could not read the events of command %s: %w", s.ID, err)
	}
	for _, m := range msgs {
		env, e, err := events.Catalog().Decode(m)
		if err != nil {
			return s, fmt.Errorf("could not decode event %s of command %s: %w", m.UUID, s.ID, err)
		}
		s.Caused = append(s.Caused, Caused{Envelope: env, Event: e})
	}
	return s, nil
}
