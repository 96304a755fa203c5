package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/consumer"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// notifyChannel is what outbox.Publish notifies at commit and the relay listens on.
const notifyChannel = "omni_outbox"

// ErrLostOutbox is returned when the relay's position moved under it: another relay took over
// the outbox. The relay steps down and stands by.
var ErrLostOutbox = errors.New("another relay moved the outbox's position: it holds the outbox now")

// position is the last row the relay delivered, in the outbox's order (transaction, offset).
type position struct {
	tx     uint64
	offset int64
}

// row is one outbox row as the relay reads it.
type row struct {
	position
	uuid     string
	payload  []byte // the forwarder's envelope, JSON
	metadata []byte
	// waited is how long the row had been in the outbox when the relay read it (created_at is
	// the database's local time, so the database computes it).
	waited time.Duration
}

// envelope is what outbox.Publish writes into a row's payload: Watermill's forwarder envelope.
type envelope struct {
	DestinationTopic string            `json:"destination_topic"`
	UUID             string            `json:"uuid"`
	Payload          []byte            `json:"payload"`
	Metadata         map[string]string `json:"metadata"`
}

// deliver delivers batches until ctx ends or conn (which holds the outbox and listens for
// commits) is lost, waking when a commit notifies or PollInterval passes.
func (r *Relay) deliver(ctx context.Context, conn *pgx.Conn, producer *kgo.Client) error {
	if _, err := conn.Exec(ctx, `LISTEN `+notifyChannel); err != nil {
		return fmt.Errorf("could not listen for outbox commits: %w", err)
	}
	woken := make(chan struct{}, 1)
	lost := make(chan error, 1)
	lctx, stopListening := context.WithCancel(ctx)
	var listener sync.WaitGroup
	listener.Go(func() {
		for {
			if _, err := conn.WaitForNotification(lctx); err != nil {
				lost <- err
				return
			}
			select {
			case woken <- struct{}{}:
			default:
			}
		}
	})
	defer func() { stopListening(); listener.Wait() }()

	pos, err := r.loadPosition(ctx)
	if err != nil {
		return err
	}
	nextTrim := time.Now()
	for {
		if err := r.deliverFrom(ctx, producer, &pos); err != nil {
			return err
		}
		if r.cfg.Retention > 0 && time.Now().After(nextTrim) {
			if n, err := r.trim(ctx, pos); err != nil && ctx.Err() == nil {
				r.logger.WarnContext(ctx, "could not trim delivered rows from the outbox", "error", err)
			} else if n > 0 {
				r.logger.InfoContext(ctx, "delivered rows trimmed from the outbox", "deleted", n, "retention", r.cfg.Retention)
			}
			nextTrim = time.Now().Add(min(r.cfg.Retention/2, time.Minute))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-lost:
			return fmt.Errorf("lost the connection that holds the outbox: %w", err)
		case <-woken:
		case <-time.After(r.cfg.PollInterval):
		}
	}
}

// loadPosition reads the relay's position, starting it at the beginning for a new group.
func (r *Relay) loadPosition(ctx context.Context) (position, error) {
	var p position
	_, err := r.cfg.DB.Exec(ctx, `INSERT INTO watermill_offsets_outbox (consumer_group, offset_acked, last_processed_transaction_id)
		VALUES ($1, 0, '0') ON CONFLICT DO NOTHING`, r.cfg.ConsumerGroup)
	if err == nil {
		err = r.cfg.DB.QueryRow(ctx, `SELECT last_processed_transaction_id, coalesce(offset_acked, 0)
			FROM watermill_offsets_outbox WHERE consumer_group = $1`, r.cfg.ConsumerGroup).Scan(&p.tx, &p.offset)
	}
	if err != nil {
		return p, fmt.Errorf("could not read the position of relay %s: %w", r.cfg.ConsumerGroup, err)
	}
	return p, nil
}

// readBatch reads up to BatchSize rows after p in the outbox's order. A row of a transaction
// still in flight is not skipped over: only rows of transactions older than every running one are
// read (watermill-sql's rule), so a long transaction holding an early id is waited for.
func (r *Relay) readBatch(ctx context.Context, p position) ([]row, error) {
	rows, err := r.cfg.DB.Query(ctx, `SELECT transaction_id, "offset", uuid, payload::text, coalesce(metadata::text, '{}'),
		extract(epoch FROM localtimestamp - created_at)::float8
		FROM watermill_outbox
		WHERE (transaction_id, "offset") > ($1::xid8, $2) AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY transaction_id, "offset" LIMIT $3`, p.tx, p.offset, r.cfg.BatchSize)
	if err != nil {
		return nil, fmt.Errorf("could not read the outbox after %d/%d: %w", p.tx, p.offset, err)
	}
	out, err := pgx.CollectRows(rows, func(cr pgx.CollectableRow) (row, error) {
		var w row
		var waited float64
		err := cr.Scan(&w.tx, &w.offset, &w.uuid, &w.payload, &w.metadata, &waited)
		w.waited = time.Duration(waited * float64(time.Second))
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("could not read the outbox after %d/%d: %w", p.tx, p.offset, err)
	}
	return out, nil
}

// batch is a batch read and made into records, ready to produce: the records of the rows that
// can be, and for the others why not.
type batch struct {
	rows    []row
	records []*kgo.Record
	failed  []error
	err     error // reading failed
}

// prepare reads the rows after p and makes their records.
func (r *Relay) prepare(ctx context.Context, p position) batch {
	rows, err := r.readBatch(ctx, p)
	b := batch{rows: rows, err: err, records: make([]*kgo.Record, len(rows)), failed: make([]error, len(rows))}
	for i, w := range rows {
		b.records[i], b.failed[i] = r.record(w)
	}
	return b
}

// deliverFrom delivers the rows after *p, batch after batch, while full batches come, and moves
// *p past what it delivered or poisoned. While one batch is produced the next is read and made
// into records, so the database and the broker work at the same time.
func (r *Relay) deliverFrom(ctx context.Context, producer *kgo.Client, p *position) error {
	b := r.prepare(ctx, *p)
	for {
		if b.err != nil || len(b.rows) == 0 {
			return b.err
		}
		var ahead chan batch
		if len(b.rows) == r.cfg.BatchSize {
			ahead = make(chan batch, 1)
			next := b.rows[len(b.rows)-1].position
			go func() { ahead <- r.prepare(ctx, next) }() // received below, whatever send returns
		}
		err := r.send(ctx, producer, p, b)
		if ahead == nil {
			return err
		}
		if b = <-ahead; err != nil {
			return err
		}
	}
}

// send produces b, waits for every acknowledgement, then moves *p past what it delivered or
// poisoned in one transaction. A produce that fails for a reason that may pass (a timeout at
// shutdown) is an error: the rows from the first such one on are left for the next session.
func (r *Relay) send(ctx context.Context, producer *kgo.Client, p *position, b batch) error {
	rows, records, failed := b.rows, b.records, b.failed
	// The batch is delivered and acknowledged even when the relay is told to stop meanwhile.
	dctx, cancel := consumer.DrainContext(ctx, 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for i := range rows {
		if failed[i] == nil {
			out = append(out, records[i])
		}
	}
	spans := startDelivery(ctx, r.cfg.ConsumerGroup, rows, records, failed)
	start := time.Now()
	results := producer.ProduceSync(dctx, out...)
	r.cfg.Metrics.observeBatch(r.cfg.ConsumerGroup, len(rows), time.Since(start))
	byRecord := make(map[*kgo.Record]error, len(results))
	for _, res := range results {
		byRecord[res.Record] = res.Err
	}
	endDelivery(spans, records, byRecord)
	upTo := len(rows) // rows[:upTo] are delivered or poisoned
	var poison []int
	for i := range rows {
		if failed[i] == nil {
			failed[i] = byRecord[records[i]]
		}
		if failed[i] == nil {
			continue
		}
		if !undeliverable(failed[i]) {
			upTo = i
			break
		}
		poison = append(poison, i)
	}
	if upTo == 0 {
		return fmt.Errorf("could not deliver outbox row %d/%d: %w", rows[0].tx, rows[0].offset, failed[0])
	}
	next := rows[upTo-1].position
	err := pgtx.Run(ctx, r.cfg.DB, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE watermill_offsets_outbox SET last_processed_transaction_id = $2::xid8, offset_acked = $3
			WHERE consumer_group = $1 AND last_processed_transaction_id = $4::xid8 AND coalesce(offset_acked, 0) = $5`,
			r.cfg.ConsumerGroup, next.tx, next.offset, p.tx, p.offset)
		if err != nil {
			return fmt.Errorf("could not move the relay's position: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return ErrLostOutbox
		}
		for _, i := range poison {
			if err := r.cfg.Poison.StoreTx(ctx, tx, r.poisonRecord(rows[i], failed[i])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	*p = next
	r.cfg.Metrics.delivered(r.cfg.ConsumerGroup, upTo-len(poison), len(poison))
	for _, i := range poison {
		r.logger.WarnContext(ctx, "outbox row poisoned", "row", rows[i].offset, "message_id", rows[i].uuid, "reason", failed[i])
	}
	if upTo < len(rows) {
		return fmt.Errorf("could not deliver outbox row %d/%d: %w", rows[upTo].tx, rows[upTo].offset, failed[upTo])
	}
	return nil
}

// record is the Kafka record of row w, as Watermill's Kafka marshaler writes a message (the id in
// the _watermill_message_uuid header, the metadata as headers, keyed by events.MetaKey), or why
// it can never be one.
func (r *Relay) record(w row) (*kgo.Record, error) {
	var env envelope
	if err := events.DecodeJSON(w.payload, &env); err != nil {
		return nil, consumer.Permanent(fmt.Errorf("the message envelope is invalid: %w", err))
	}
	if env.DestinationTopic == "" {
		return nil, consumer.Permanent(errors.New("the message envelope is invalid: no destination topic"))
	}
	rec := &kgo.Record{Topic: env.DestinationTopic, Value: env.Payload}
	if key := env.Metadata[events.MetaKey]; key != "" {
		rec.Key = []byte(key)
	}
	rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: kafka.UUIDHeaderKey, Value: []byte(env.UUID)})
	for _, k := range slices.Sorted(maps.Keys(env.Metadata)) {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(env.Metadata[k])})
	}
	if size := recordSize(rec); size > r.cfg.MaxRecordBytes {
		return nil, consumer.Permanent(fmt.Errorf("a record of %d bytes is larger than the %d a broker takes (MaxRecordBytes)",
			size, r.cfg.MaxRecordBytes))
	}
	return rec, nil
}

func recordSize(rec *kgo.Record) int {
	n := len(rec.Key) + len(rec.Value)
	for _, h := range rec.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// undeliverable reports whether err means a row can never be delivered: its envelope cannot be
// read, it is too large, or Kafka refuses it for a reason retrying does not cure.
func undeliverable(err error) bool {
	if consumer.IsPermanent(err) {
		return true
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return !ke.Retriable
	}
	return false
}

// poisonRecord is what the poison store keeps of a row that can never be delivered: the message
// it carries, or the row itself when its envelope cannot be read.
func (r *Relay) poisonRecord(w row, reason error) consumer.PoisonRecord {
	var msg *message.Message
	var env envelope
	if err := json.Unmarshal(w.payload, &env); err == nil && env.UUID != "" && env.DestinationTopic != "" {
		msg = message.NewMessage(env.UUID, env.Payload)
		msg.Metadata = env.Metadata
	} else {
		msg = message.NewMessage(w.uuid, w.payload)
		_ = json.Unmarshal(w.metadata, &msg.Metadata) // the row's own metadata, when it has any
	}
	return consumer.PoisonRecord{Group: r.cfg.ConsumerGroup, Topic: ForwarderTopic, Partition: -1, Offset: w.offset,
		Message: msg, Reason: reason}
}

// trim deletes the rows delivered before pos that are older than the retention, a chunk at a time
// so that no statement holds many locks. It returns how many it deleted.
func (r *Relay) trim(ctx context.Context, pos position) (int64, error) {
	var total int64
	for {
		tag, err := r.cfg.DB.Exec(ctx, `DELETE FROM watermill_outbox WHERE ctid IN (
			SELECT ctid FROM watermill_outbox
			WHERE created_at < localtimestamp - make_interval(secs => $1) AND (transaction_id, "offset") <= ($2::xid8, $3)
			LIMIT 10000)`, r.cfg.Retention.Seconds(), pos.tx, pos.offset)
		if err != nil {
			return total, fmt.Errorf("could not trim the outbox: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 10000 {
			return total, nil
		}
	}
}
