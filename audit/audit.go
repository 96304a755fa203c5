// Package audit is the tamper-evident audit log: every entry (who did what to what, and how it
// ended) is a leaf of an RFC 6962 Merkle tree over audit_entries, appended in the transaction of
// what it records. Signed checkpoints — the tree's size and head, signed with an Ed25519 key that
// does not live in the control database — are kept in audit_checkpoints and published through
// the outbox to the infra.audit topic, whose copy on Kafka is a witness outside the database.
// Verify recomputes the tree and holds it to every checkpoint it finds, so that a log rewritten
// in the database, every hash recomputed, is still caught by the first checkpoint it contradicts.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/merkle"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// Topic is where checkpoints are published: their witness outside the database.
const Topic = events.AuditTopic

// Entry is one audit record.
type Entry struct {
	// Seq is the entry's place in the log, from 1, without gaps.
	Seq int64
	// At is when it was appended, to the microsecond, UTC.
	At time.Time
	// Actor is who or what acted: "alice@ops-1 (omni cmd)", "omni run sagas", …
	Actor string
	// Action is what was done: "command.sent", "replay.swapped", "process.started", …
	Action string
	// Subject is what it was done to: an adapter id, a saga, "infrastate".
	Subject string
	// Outcome is how it ended: "sent", "succeeded", "failed", "refused", …
	Outcome string
	// Detail is the rest, as strings.
	Detail map[string]string
}

// leafData is the entry as its leaf hashes it: JSON with every field, the map's keys sorted, so
// that any change to any field, its place included, changes the leaf.
func (e Entry) leafData() []byte {
	detail := e.Detail
	if detail == nil {
		detail = map[string]string{}
	}
	raw, err := json.Marshal(struct {
		Seq     int64             `json:"seq"`
		At      string            `json:"at"`
		Actor   string            `json:"actor"`
		Action  string            `json:"action"`
		Subject string            `json:"subject"`
		Outcome string            `json:"outcome"`
		Detail  map[string]string `json:"detail"`
	}{e.Seq, e.At.UTC().Format(time.RFC3339Nano), e.Actor, e.Action, e.Subject, e.Outcome, detail})
	if err != nil {
		panic(fmt.Sprintf("audit: an entry of strings did not encode: %v", err)) // cannot happen
	}
	return raw
}

// Leaf is the entry's leaf hash.
func (e Entry) Leaf() merkle.Hash { return merkle.LeafHash(e.leafData()) }

// appendLock serialises appends, so that seq is gapless and in commit order.
const appendLock = 0x6f6d6e6961756469 // "omniaudi"

// Append appends e to the log in tx, which must commit for the entry to exist; it returns the
// entry's seq. Appends are serialised: the transaction holds the log's lock until it ends.
func Append(ctx context.Context, tx pgx.Tx, e Entry) (int64, error) {
	if e.Actor == "" || e.Action == "" {
		return 0, fmt.Errorf("audit entry without actor or action: %+v", e)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(appendLock)); err != nil {
		return 0, fmt.Errorf("could not lock the audit log: %w", err)
	}
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(seq), 0) + 1 FROM audit_entries`).Scan(&e.Seq); err != nil {
		return 0, fmt.Errorf("could not read the audit log's size: %w", err)
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.At = e.At.UTC().Truncate(time.Microsecond) // what timestamptz keeps
	leaf := e.Leaf()
	detail := e.Detail
	if detail == nil {
		detail = map[string]string{}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO audit_entries (seq, at, actor, action, subject, outcome, detail, leaf)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, e.Seq, e.At, e.Actor, e.Action, e.Subject, e.Outcome, detail, leaf[:]); err != nil {
		return 0, fmt.Errorf("could not append to the audit log: %w", err)
	}
	return e.Seq, nil
}

// stored is an entry as read back, with the leaf stored beside it.
type stored struct {
	Entry
	leaf merkle.Hash
}

// readEntries reads the whole log, in seq order.
func readEntries(ctx context.Context, db pgtx.Querier) ([]stored, error) {
	rows, err := db.Query(ctx, `SELECT seq, at, actor, action, subject, outcome, detail, leaf FROM audit_entries ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("could not read the audit log: %w", err)
	}
	defer rows.Close()
	var out []stored
	for rows.Next() {
		var s stored
		var leaf []byte
		if err := rows.Scan(&s.Seq, &s.At, &s.Actor, &s.Action, &s.Subject, &s.Outcome, &s.Detail, &leaf); err != nil {
			return nil, fmt.Errorf("could not read the audit log: %w", err)
		}
		copy(s.leaf[:], leaf)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("could not read the audit log: %w", err)
	}
	return out, nil
}
