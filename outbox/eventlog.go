package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// appendToLog appends msgs to the event log inside tx, in order. A message already logged (the
// same id) is left as it is.
func appendToLog(ctx context.Context, tx pgx.Tx, topic string, msgs []*message.Message) error {
	batch := &pgx.Batch{}
	for _, m := range msgs {
		meta, err := json.Marshal(m.Metadata)
		if err != nil {
			return fmt.Errorf("could not encode metadata of %s: %w", m.UUID, err)
		}
		version, _ := strconv.Atoi(m.Metadata.Get(events.MetaVersion))
		occurred, err := time.Parse(time.RFC3339Nano, m.Metadata.Get(events.MetaOccurredAt))
		if err != nil {
			return fmt.Errorf("message %s has no valid %q: %w", m.UUID, events.MetaOccurredAt, err)
		}
		batch.Queue(`INSERT INTO event_log (event_id, topic, kind, version, key, occurred_at, metadata, payload)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (event_id) DO NOTHING`,
			m.UUID, topic, m.Metadata.Get(events.MetaType), version, m.Metadata.Get(events.MetaKey), occurred, meta,
			append([]byte{}, m.Payload...)) // never NULL: an empty payload is logged empty
	}
	// The relay listens: it wakes when this transaction commits (PostgreSQL sends one notification
	// per channel and transaction, however many rows the transaction wrote).
	batch.Queue(`SELECT pg_notify($1, '')`, notifyChannel)
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("could not append %d message(s) for %s to the event log: %w", len(msgs), topic, err)
	}
	return nil
}

// LoggedEvent is one row of the event log.
type LoggedEvent struct {
	Seq   int64
	Topic string
	// Message is the message as it was published: id, metadata and payload.
	Message  *message.Message
	LoggedAt time.Time
}

// ReadLog returns up to limit events of topic logged after seq, in log order.
func ReadLog(ctx context.Context, db pgtx.Querier, topic string, after int64, limit int) ([]LoggedEvent, error) {
	rows, err := db.Query(ctx, `SELECT seq, event_id, metadata, payload, logged_at FROM event_log
		WHERE topic = $1 AND seq > $2 ORDER BY seq LIMIT $3`, topic, after, limit)
	if err != nil {
		return nil, fmt.Errorf("could not read the event log of %s after %d: %w", topic, after, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LoggedEvent, error) {
		var (
			e       LoggedEvent
			id      string
			meta    message.Metadata
			payload []byte
		)
		if err := r.Scan(&e.Seq, &id, &meta, &payload, &e.LoggedAt); err != nil {
			return e, err
		}
		e.Topic = topic
		e.Message = message.NewMessage(id, payload)
		e.Message.Metadata = meta
		return e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("could not read the event log of %s: %w", topic, err)
	}
	return out, nil
}

// EventLogTrim is what one trim of the event log removes: the audit entry of the trim says it.
type EventLogTrim struct {
	// Cutoff is the time before which logged events are removed.
	Cutoff time.Time
	// Rows is how many are removed; FirstSeq and LastSeq the first and last of them.
	Rows, FirstSeq, LastSeq int64
}

// TrimRecorder appends the audit entry of a trim in tx, before its rows are deleted: the event
// log's trigger refuses a DELETE in a transaction that has not appended an event_log.trimmed
// entry. audit.RecordTrim is the one; the outbox sits below the audit log, so the composition
// root passes it in.
type TrimRecorder func(ctx context.Context, tx pgx.Tx, trim EventLogTrim) error

// ErrTrimRaced is returned when the rows to trim changed between counting them and deleting them
// (a transaction older than the cutoff committed in between): the trim, entry included, is rolled
// back, and the next one counts again.
var ErrTrimRaced = errors.New("the event log changed while it was trimmed")

// TrimEventLog deletes the events logged before cutoff and returns how many, in one transaction
// with the audit entry record appends for it (cutoff, rows removed, their seqs). It is the only
// way rows leave the log; with no retention configured it is never called. Nothing is deleted,
// and nothing recorded, when no event is older than cutoff.
func TrimEventLog(ctx context.Context, db pgtx.Beginner, cutoff time.Time, record TrimRecorder) (int64, error) {
	if record == nil {
		return 0, errors.New("could not trim the event log: no TrimRecorder to audit the trim")
	}
	trim := EventLogTrim{Cutoff: cutoff}
	err := pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*), coalesce(min(seq), 0), coalesce(max(seq), 0) FROM event_log WHERE logged_at < $1`,
			cutoff).Scan(&trim.Rows, &trim.FirstSeq, &trim.LastSeq); err != nil {
			return fmt.Errorf("could not count the events to trim: %w", err)
		}
		if trim.Rows == 0 {
			return nil
		}
		if err := record(ctx, tx, trim); err != nil {
			return fmt.Errorf("could not record the trim in the audit log: %w", err)
		}
		tag, err := tx.Exec(ctx, `DELETE FROM event_log WHERE logged_at < $1 AND seq <= $2`, cutoff, trim.LastSeq)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != trim.Rows {
			return fmt.Errorf("%w: %d counted, %d deleted; rolled back", ErrTrimRaced, trim.Rows, tag.RowsAffected())
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("could not trim the event log before %s: %w", cutoff.Format(time.RFC3339), err)
	}
	return trim.Rows, nil
}

// LogFilter narrows TailLog; empty fields match everything.
type LogFilter struct {
	// Topic is the topic the events were published to.
	Topic string
	// Kind is the message type's name (adapter_health_reported).
	Kind string
	// Key is the message's key, or its adapter (postgres) or target name (orders) when the key
	// is an adapter id.
	Key string
	// CorrelationID is the correlation id in the envelope.
	CorrelationID string
}

// TailLog returns, in log order, up to limit events f selects logged after seq; with after < 0,
// the newest limit of them.
func TailLog(ctx context.Context, db pgtx.Querier, f LogFilter, after int64, limit int) ([]LoggedEvent, error) {
	query := `SELECT seq, topic, event_id, metadata, payload, logged_at FROM event_log
		WHERE ($1 = '' OR topic = $1) AND ($2 = '' OR kind = $2)
			AND ($3 = '' OR key = $3 OR split_part(key, '/', 1) = $3 OR split_part(key, '/', 2) = $3)
			AND ($4 = '' OR metadata->>'correlation_id' = $4) AND seq > $5`
	if after < 0 {
		query = `SELECT * FROM (` + query + ` ORDER BY seq DESC LIMIT $6) newest ORDER BY seq`
	} else {
		query += ` ORDER BY seq LIMIT $6`
	}
	rows, err := db.Query(ctx, query, f.Topic, f.Kind, f.Key, f.CorrelationID, max(after, 0), limit)
	if err != nil {
		return nil, fmt.Errorf("could not read the event log: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LoggedEvent, error) {
		var (
			e       LoggedEvent
			id      string
			meta    message.Metadata
			payload []byte
		)
		if err := r.Scan(&e.Seq, &e.Topic, &id, &meta, &payload, &e.LoggedAt); err != nil {
			return e, err
		}
		e.Message = message.NewMessage(id, payload)
		e.Message.Metadata = meta
		return e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("could not read the event log: %w", err)
	}
	return out, nil
}
