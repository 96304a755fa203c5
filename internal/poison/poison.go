// Package poison reads the messages the consumers gave up on (poison_messages) and lets an
// operator send them again (requeue, through the outbox) or set them aside (discard), each in one
// transaction with its audit entry. `omni poison` and the operations console use it.
package poison

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// Querier reads poison_messages: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// DB is what the actions need: reading, and transactions. A *pgxpool.Pool is one.
type DB interface {
	Querier
	pgtx.Beginner
}

// Status is what has become of a poisoned message.
type Status string

// The statuses of a poisoned message.
const (
	StatusPoisoned  Status = "poisoned"  // given up on, waiting for an operator
	StatusRequeued  Status = "requeued"  // sent again to its topic through the outbox
	StatusDiscarded Status = "discarded" // set aside: never to be handled
)

// Errors callers branch on.
var (
	// ErrNotFound: no poisoned message has the id.
	ErrNotFound = errors.New("no such poisoned message")
	// ErrResolved: the message was requeued or discarded already.
	ErrResolved = errors.New("poisoned message was requeued or discarded already")
	// ErrNotRequeueable: the message cannot be sent again as it was (cut, or never on a topic).
	ErrNotRequeueable = errors.New("poisoned message cannot be requeued")
)

// Message is one row of poison_messages.
type Message struct {
	ID            int64             `json:"id"`
	Group         string            `json:"group"`
	MessageID     string            `json:"message_id"`
	Topic         string            `json:"topic"`
	Partition     *int32            `json:"partition,omitempty"`
	Offset        *int64            `json:"offset,omitempty"`
	Reason        string            `json:"reason"`
	Kind          string            `json:"kind,omitempty"`
	Status        Status            `json:"status"`
	PoisonedAt    time.Time         `json:"poisoned_at"`
	ResolvedBy    string            `json:"resolved_by,omitempty"`
	ResolvedAt    *time.Time        `json:"resolved_at,omitempty"`
	RequeueCount  int               `json:"requeue_count"`
	RequeuedFrom  *int64            `json:"requeued_from,omitempty"`
	PayloadBytes  int64             `json:"payload_bytes"`
	PayloadSHA256 string            `json:"payload_sha256"`
	Truncated     bool              `json:"truncated"`
	Metadata      map[string]string `json:"metadata,omitempty"`
	// Payload is the stored payload; only Show reads it.
	Payload []byte `json:"payload,omitempty"`
}

// TraceID is the W3C trace id of the message's traceparent metadata, "" when it has none.
func (m Message) TraceID() string {
	parts := strings.Split(m.Metadata["traceparent"], "-")
	if len(parts) != 4 || len(parts[1]) != 32 {
		return ""
	}
	return parts[1]
}

// Filter selects poisoned messages; empty fields match everything.
type Filter struct {
	// Group is the consumer group, exactly.
	Group string
	// Reason is a part of the reason (case-insensitive).
	Reason string
	// Since and Until bound when the message was poisoned (Until excluded).
	Since, Until time.Time
	// Status is the status; "" is every status.
	Status Status
	// Topic is the topic, exactly.
	Topic string
	// Before returns only ids below it (keyset paging, newest first); 0 from the newest.
	Before int64
	// Limit caps how many List returns; 0 is 100.
	Limit int
}

// Validate names what is wrong with f.
func (f Filter) Validate() error {
	var errs []error
	switch f.Status {
	case "", StatusPoisoned, StatusRequeued, StatusDiscarded:
	default:
		errs = append(errs, fmt.Errorf("status %q: want poisoned, requeued or discarded", f.Status))
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		errs = append(errs, fmt.Errorf("until (%s) is not after since (%s)", f.Until.Format(time.RFC3339), f.Since.Format(time.RFC3339)))
	}
	if f.Limit < 0 {
		errs = append(errs, fmt.Errorf("limit %d is negative", f.Limit))
	}
	return errors.Join(errs...)
}

// Empty reports whether f matches every message (bulk actions refuse it without --all).
func (f Filter) Empty() bool {
	return f.Group == "" && f.Reason == "" && f.Since.IsZero() && f.Until.IsZero() && f.Topic == ""
}

const columns = `id, consumer_group, message_id, topic, kafka_partition, "offset", reason, coalesce(metadata->>'type', ''),
	status, poisoned_at, coalesce(resolved_by, ''), resolved_at, requeue_count, requeued_from, payload_bytes, payload_sha256,
	truncated, metadata`

func (f Filter) where() (string, []any) {
	var since, until *time.Time
	if !f.Since.IsZero() {
		since = &f.Since
	}
	if !f.Until.IsZero() {
		until = &f.Until
	}
	return `($1 = '' OR consumer_group = $1) AND ($2 = '' OR strpos(lower(reason), lower($2)) > 0)
		AND ($3::timestamptz IS NULL OR poisoned_at >= $3) AND ($4::timestamptz IS NULL OR poisoned_at < $4)
		AND ($5 = '' OR status = $5) AND ($6 = '' OR topic = $6) AND ($7 = 0 OR id < $7)`,
		[]any{f.Group, f.Reason, since, until, string(f.Status), f.Topic, f.Before}
}

// List returns the poisoned messages f selects, newest first, without their payloads.
func List(ctx context.Context, db Querier, f Filter) ([]Message, error) {
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("invalid filter: %w", err)
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	where, args := f.where()
	rows, err := db.Query(ctx, `SELECT `+columns+` FROM poison_messages WHERE `+where+
		` ORDER BY id DESC LIMIT `+strconv.Itoa(f.Limit), args...)
	if err != nil {
		return nil, fmt.Errorf("could not list poisoned messages: %w", err)
	}
	out, err := pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("could not list poisoned messages: %w", err)
	}
	return out, nil
}

// Count returns how many poisoned messages f selects (Before and Limit ignored).
func Count(ctx context.Context, db Querier, f Filter) (int64, error) {
	f.Before = 0
	where, args := f.where()
	var n int64
	if err := db.QueryRow(ctx, `SELECT count(*) FROM poison_messages WHERE `+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("could not count poisoned messages: %w", err)
	}
	return n, nil
}

// Show returns poisoned message id with its payload.
func Show(ctx context.Context, db Querier, id int64) (Message, error) {
	rows, err := db.Query(ctx, `SELECT `+columns+`, payload FROM poison_messages WHERE id = $1`, id)
	if err != nil {
		return Message{}, fmt.Errorf("could not read poisoned message %d: %w", id, err)
	}
	m, err := pgx.CollectExactlyOneRow(rows, func(row pgx.CollectableRow) (Message, error) {
		var m Message
		var meta []byte
		err := row.Scan(append(fields(&m, &meta), &m.Payload)...)
		if err == nil {
			err = json.Unmarshal(meta, &m.Metadata)
		}
		return m, err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Message{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if err != nil {
		return Message{}, fmt.Errorf("could not read poisoned message %d: %w", id, err)
	}
	return m, nil
}

func fields(m *Message, meta *[]byte) []any {
	return []any{&m.ID, &m.Group, &m.MessageID, &m.Topic, &m.Partition, &m.Offset, &m.Reason, &m.Kind, &m.Status,
		&m.PoisonedAt, &m.ResolvedBy, &m.ResolvedAt, &m.RequeueCount, &m.RequeuedFrom, &m.PayloadBytes,
		&m.PayloadSHA256, &m.Truncated, meta}
}

func scan(row pgx.CollectableRow) (Message, error) {
	var m Message
	var meta []byte
	if err := row.Scan(fields(&m, &meta)...); err != nil {
		return m, err
	}
	return m, json.Unmarshal(meta, &m.Metadata)
}
