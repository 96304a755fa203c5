package infrastate

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/events"
)

// maxPage caps how many events the replay hands from reading to decoding to folding at a time.
// Pages smaller than a batch keep the reading, the decoding and the fold busy at once (see
// replay.bulk); much smaller ones would cost more in hand-overs than they gain.
const maxPage = 500

// logged is one event the live projection applied, as read from the source.
type logged struct {
	pos position
	id  string
	// meta are the envelope's metadata, in the order of envelopeKeys ("" for a key it lacks).
	meta [len(envelopeKeys)]string
	// payload is nil when the source lacks the event.
	payload []byte
}

// envelopeKeys are the metadata an envelope is read from (events.ParseEnvelope): the replay
// reads just these out of the source's JSONB rather than the whole object, which saves both the
// database printing it and the replay parsing it.
var envelopeKeys = [...]string{events.MetaType, events.MetaVersion, events.MetaCorrelationID,
	events.MetaCausationID, events.MetaOccurredAt, events.MetaKey, events.MetaMAC}

// get returns the metadata under key, as message.Metadata.Get would.
func (l *logged) get(key string) string {
	for i, k := range envelopeKeys {
		if k == key {
			return l.meta[i]
		}
	}
	return ""
}

// decoded is a logged event ready to fold; m is nil when the source lacks the event.
type decoded struct {
	pos position
	env events.Envelope
	m   events.Message
}

func (r *replay) pageSize() int { return min(r.cfg.BatchSize, maxPage) }

// readQuery reads the source for readAll.
func readQuery(source string) string {
	var meta strings.Builder
	for _, k := range envelopeKeys {
		fmt.Fprintf(&meta, "coalesce(l.metadata->>'%s', ''), ", k)
	}
	return `
		SELECT pm.transaction_id::text, pm.seq, pm.message_id, ` + meta.String() + `l.payload
		FROM (SELECT transaction_id, seq, message_id FROM processed_messages
			WHERE consumer = $1 AND (transaction_id, seq) > ($2::text::xid8, $3)
			  AND (NOT $4 OR transaction_id < pg_snapshot_xmin(pg_current_snapshot()))
			ORDER BY consumer, transaction_id, seq) pm
		LEFT JOIN LATERAL (SELECT metadata, payload FROM ` + source + ` WHERE event_id = pm.message_id LIMIT 1) l ON true
		ORDER BY pm.transaction_id, pm.seq`
}

// readAll reads the events the live projection applied after `after`, in the order it applied
// them, in one query, and hands them to page a page at a time; it returns how many it read.
// settledOnly keeps to transactions older than every running one, whose rows can no longer
// change. page must not use tx: the query holds it until the last page.
//
// One query rather than one per page: a page of the form "after this position, in order, the
// first N" is cheap only when the planner knows how many rows processed_messages holds, and right
// after a burst of live traffic it may not (nothing has analyzed the table yet). It then sorts
// every remaining row for each page. One query walks the order index once.
// The positions are put in order first, and only then are the events looked up in the source, one
// at a time (LATERAL ... LIMIT 1 keeps that join a nested loop, which keeps the order): the rows
// come as they are found, rather than after a sort of whole events. A row with a NULL payload is
// an event the source lacks; its position still counts.
func (r *replay) readAll(ctx context.Context, tx pgx.Tx, after position, settledOnly bool, page func([]logged) error) (int, error) {
	// Walking the order index streams the rows from the first on; sorting them reads them all
	// first. The planner takes the sort when it believes the table small, as it does until the
	// table is first analyzed: in this transaction it is told not to.
	if _, err := tx.Exec(ctx, `SET LOCAL enable_sort = off`); err != nil {
		return 0, fmt.Errorf("could not read the event log: %w", err)
	}
	rows, err := tx.Query(ctx, r.query, ConsumerName, after.xid, after.seq, settledOnly)
	if err != nil {
		return 0, fmt.Errorf("could not read the event log: %w", err)
	}
	defer rows.Close()
	size, n := r.pageSize(), 0
	batch := make([]logged, 0, size)
	var l logged
	dest := []any{&l.pos.xid, &l.pos.seq, &l.id}
	for i := range l.meta {
		dest = append(dest, &l.meta[i])
	}
	dest = append(dest, &l.payload)
	for rows.Next() {
		l.payload = nil
		if err := rows.Scan(dest...); err != nil {
			return n, fmt.Errorf("could not read the event log: %w", err)
		}
		batch = append(batch, l)
		if n++; len(batch) == size {
			if err := page(batch); err != nil {
				return n, err
			}
			batch = make([]logged, 0, size)
		}
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("could not read the event log: %w", err)
	}
	if len(batch) > 0 {
		return n, page(batch)
	}
	return n, nil
}

// decodePage decodes page in its order. It runs in a stage of its own (see replay.bulk): the
// decoding of one page overlaps the reading of the next and the fold of the one before.
func (r *replay) decodePage(ctx context.Context, page []logged) ([]decoded, error) {
	out := make([]decoded, len(page))
	for i := range page {
		l := &page[i]
		out[i].pos = l.pos
		if l.payload == nil {
			continue
		}
		env, err := events.ParseEnvelope(l.id, l.get)
		if err == nil {
			env, out[i].m, err = r.cfg.Registry.OpenPayload(ctx, r.cfg.EventsTopic, env, l.get, l.payload)
		}
		if err != nil {
			return nil, fmt.Errorf("could not decode logged event %s that the live projection applied: %w", l.id, err)
		}
		out[i].env = env
	}
	return out, nil
}
