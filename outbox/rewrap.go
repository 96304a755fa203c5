package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// Resealer seals a stored message again under the primary keys, reporting whether it changed
// (platform/seal's Sealer is one).
type Resealer interface {
	Reseal(ctx context.Context, topic string, msg *message.Message) (bool, error)
}

// RewrapReport says what Rewrap did, per table.
type RewrapReport struct {
	Outbox, EventLog, Poison int64
	// Skipped are rows kept as they are: poison rows that do not authenticate (forgeries, which
	// no key can vouch for) and rows written unsigned (with sealing disabled, or by a writer that
	// publishes plain, such as the audit checkpoints), which have nothing sealed either.
	Skipped int64
}

// rewrapPage is how many rows one transaction of Rewrap re-seals.
const rewrapPage = 500

// Rewrap re-seals every stored message (the outbox's rows, the event log, poison records) whose
// fields or MAC are under a key that is no longer primary, page by page, so the older keys can be
// retired. Rows of the outbox and the log that do not open are an error: they are this system's
// own writes. The copies on poison topics (topics ending in poisonSuffix) are not rewrapped: their
// sealed fields stay bound to the message they copy, whose row in poison_messages is rewrapped.
//
// record appends each page's rewrap of the event log to the audit log in the page's transaction
// (audit.RecordRewrap); the event log's trigger refuses a change without it.
func Rewrap(ctx context.Context, db pgtx.Beginner, r Resealer, poisonSuffix string, record RewrapRecorder) (RewrapReport, error) {
	if record == nil {
		return RewrapReport{}, fmt.Errorf("could not rewrap: no audit recorder (each rewrap of the event log is an audit entry)")
	}
	var rep RewrapReport
	var err error
	var skipped int64
	if rep.EventLog, skipped, err = rewrapTable(ctx, db, r, `SELECT seq, event_id, topic, metadata, payload FROM event_log
		WHERE seq > $1 AND NOT topic LIKE '%' || `+quoteLiteral(poisonSuffix)+` ORDER BY seq LIMIT $2`,
		`UPDATE event_log SET metadata = $2, payload = $3 WHERE seq = $1`, record, false); err != nil {
		return rep, fmt.Errorf("could not rewrap the event log: %w", err)
	}
	rep.Skipped += skipped
	if rep.Poison, skipped, err = rewrapTable(ctx, db, r, `SELECT id, message_id, topic, metadata, payload FROM poison_messages
		WHERE id > $1 AND NOT truncated ORDER BY id LIMIT $2`,
		`UPDATE poison_messages SET metadata = $2, payload = $3 WHERE id = $1`, nil, true); err != nil {
		return rep, fmt.Errorf("could not rewrap the poison records: %w", err)
	}
	rep.Skipped += skipped
	if rep.Outbox, err = rewrapOutbox(ctx, db, r, poisonSuffix); err != nil {
		return rep, fmt.Errorf("could not rewrap the outbox: %w", err)
	}
	return rep, nil
}

// RewrapRecorder appends a rewrap of event-log rows (the seqs after after, at most limit of them)
// to the audit log in tx, before they change. audit.RecordRewrap is the one.
type RewrapRecorder func(ctx context.Context, tx pgx.Tx, after int64, limit int) error

func rewrapTable(ctx context.Context, db pgtx.Beginner, r Resealer, read, write string, record RewrapRecorder, skipBad bool) (changed, skipped int64, err error) {
	var after int64
	for {
		n := 0
		err := pgtx.Run(ctx, db, func(tx pgx.Tx) error {
			// The page's audit entry is appended before its first changed row (the event log's
			// trigger asks for it first) and only when a row changes: a page with nothing to
			// re-seal, the last one often, leaves no entry.
			from, recorded := after, record == nil
			rows, err := tx.Query(ctx, read, after, rewrapPage)
			if err != nil {
				return err
			}
			type row struct {
				seq       int64
				id, topic string
				meta      message.Metadata
				payload   []byte
			}
			got, err := pgx.CollectRows(rows, func(cr pgx.CollectableRow) (row, error) {
				var x row
				err := cr.Scan(&x.seq, &x.id, &x.topic, &x.meta, &x.payload)
				return x, err
			})
			if err != nil {
				return err
			}
			n = len(got)
			for _, x := range got {
				after = x.seq
				msg := message.NewMessage(x.id, x.payload)
				msg.Metadata = x.meta
				if msg.Metadata.Get(events.MetaMAC) == "" {
					skipped++
					continue
				}
				c, err := r.Reseal(ctx, x.topic, msg)
				if err != nil {
					if skipBad && events.IsSecurity(err) {
						skipped++
						continue
					}
					return fmt.Errorf("row %d (message %s): %w", x.seq, x.id, err)
				}
				if !c {
					continue
				}
				meta, err := json.Marshal(msg.Metadata)
				if err != nil {
					return err
				}
				if !recorded {
					if err := record(ctx, tx, from, rewrapPage); err != nil {
						return err
					}
					recorded = true
				}
				if _, err := tx.Exec(ctx, write, x.seq, meta, msg.Payload); err != nil {
					return err
				}
				changed++
			}
			return nil
		})
		if err != nil || n < rewrapPage {
			return changed, skipped, err
		}
	}
}

// rewrapOutbox re-seals the messages in the outbox's rows (Watermill's forwarder envelopes).
func rewrapOutbox(ctx context.Context, db pgtx.Beginner, r Resealer, poisonSuffix string) (int64, error) {
	var changed int64
	err := pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT "offset", transaction_id::text, payload::text FROM watermill_outbox FOR UPDATE`)
		if err != nil {
			return err
		}
		type row struct {
			offset  int64
			txid    string
			payload string
		}
		got, err := pgx.CollectRows(rows, func(cr pgx.CollectableRow) (row, error) {
			var x row
			err := cr.Scan(&x.offset, &x.txid, &x.payload)
			return x, err
		})
		if err != nil {
			return err
		}
		for _, x := range got {
			var env envelope
			if err := json.Unmarshal([]byte(x.payload), &env); err != nil {
				continue // the relay poisons what it cannot read
			}
			msg := message.NewMessage(env.UUID, env.Payload)
			msg.Metadata = env.Metadata
			if msg.Metadata.Get(events.MetaMAC) == "" || strings.HasSuffix(env.DestinationTopic, poisonSuffix) {
				continue
			}
			c, err := r.Reseal(ctx, env.DestinationTopic, msg)
			if err != nil {
				return fmt.Errorf("outbox row %d (message %s): %w", x.offset, env.UUID, err)
			}
			if !c {
				continue
			}
			env.Payload, env.Metadata = msg.Payload, msg.Metadata
			b, err := json.Marshal(env)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE watermill_outbox SET payload = $3::json
				WHERE "offset" = $1 AND transaction_id = $2::xid8`, x.offset, x.txid, string(b)); err != nil {
				return err
			}
			changed++
		}
		return nil
	})
	return changed, err
}

// KeyUse counts the stored rows that still need key id (of purpose "data" or "mac"), and says
// where they are: what `omni keys retire` asks before it erases a key. The copies on poison
// topics (see Rewrap) do not count.
func KeyUse(ctx context.Context, tx pgx.Tx, poisonSuffix, purpose, id string) (int64, string, error) {
	var where []string
	var total int64
	sealed := "sealed:1:" + id + ":"
	for _, q := range []struct{ name, sql string }{
		{"event log", `SELECT count(*) FROM event_log WHERE NOT topic LIKE '%' || $4 AND ` + keyUseCond},
		{"poison records", `SELECT count(*) FROM poison_messages WHERE ` + keyUseCond},
	} {
		var n int64
		args := []any{purpose, sealed, id + ":"}
		if strings.Contains(q.sql, "$4") {
			args = append(args, poisonSuffix)
		}
		if err := tx.QueryRow(ctx, q.sql, args...).Scan(&n); err != nil {
			return 0, "", fmt.Errorf("could not count the rows of the %s under key %s: %w", q.name, id, err)
		}
		if n > 0 {
			total += n
			where = append(where, fmt.Sprintf("%d in the %s", n, q.name))
		}
	}
	var n int64
	err := tx.QueryRow(ctx, `SELECT count(*) FROM watermill_outbox
		WHERE NOT coalesce(payload->>'destination_topic', '') LIKE '%' || $4
		AND CASE WHEN $1 = 'mac' THEN payload->'metadata'->>'mac' LIKE $3 || '%'
		ELSE position($2 in convert_from(decode(payload->>'payload', 'base64'), 'UTF8')) > 0 END`, purpose, sealed, id+":", poisonSuffix).Scan(&n)
	if err != nil {
		return 0, "", fmt.Errorf("could not count the outbox rows under key %s: %w", id, err)
	}
	if n > 0 {
		total += n
		where = append(where, fmt.Sprintf("%d in the outbox", n))
	}
	return total, strings.Join(where, ", "), nil
}

const keyUseCond = `CASE WHEN $1 = 'mac' THEN metadata->>'mac' LIKE $3 || '%'
	ELSE position(convert_to($2, 'UTF8') in payload) > 0 END`

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
