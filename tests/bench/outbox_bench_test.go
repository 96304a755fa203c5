package bench_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// handlerMessages are txs transactions' worth of perTx events each, numbered from 0.
func handlerMessages(b *testing.B, txs, perTx int) [][]*message.Message {
	msgs := make([][]*message.Message, txs)
	for i := range msgs {
		for j := range perTx {
			msgs[i] = append(msgs[i], event(b, i*perTx+j))
		}
	}
	return msgs
}

// handlerShapes runs one transaction per element of msgs over workers goroutines, each doing a
// handler's effect write and publishing its events with publish, and returns events/s.
func handlerShapes(b *testing.B, db *pgxpool.Pool, msgs [][]*message.Message, workers int,
	publish func(ctx context.Context, tx pgx.Tx, msgs []*message.Message) error) float64 {
	ctx := context.Background()
	next := make(chan int, len(msgs))
	total := 0
	for i := range msgs {
		next <- i
		total += len(msgs[i])
	}
	close(next)
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				err := pgtx.Run(ctx, db, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, `INSERT INTO effects (id) VALUES ($1)`, watermill.NewUUID()); err != nil {
						return fmt.Errorf("could not write the effect: %w", err)
					}
					return publish(ctx, tx, msgs[i])
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(total) / time.Since(start).Seconds()
}

// rawInsert writes the same rows the outbox writes — the message in raw_outbox and its event-log
// row in raw_event_log — with plain batched INSERTs: the ceiling of what the outbox could do in
// the same transaction.
func rawInsert(ctx context.Context, tx pgx.Tx, msgs []*message.Message) error {
	batch := &pgx.Batch{}
	for _, m := range msgs {
		batch.Queue(`INSERT INTO raw_outbox (uuid, payload, metadata, transaction_id) VALUES ($1, $2, $3, pg_current_xact_id())`,
			m.UUID, m.Payload, map[string]string(m.Metadata))
		batch.Queue(`INSERT INTO raw_event_log (event_id, topic, kind, version, key, occurred_at, metadata, payload)
			VALUES ($1, 'bench.events', $2, 1, $3, now(), $4, $5)`,
			m.UUID, m.Metadata.Get(events.MetaType), m.Metadata.Get(events.MetaKey), map[string]string(m.Metadata), []byte(m.Payload))
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("could not insert %d raw rows: %w", len(msgs), err)
	}
	return nil
}

// outboxPublish publishes to topic through the outbox, as every handler does.
func outboxPublish(topic string) func(ctx context.Context, tx pgx.Tx, msgs []*message.Message) error {
	return func(ctx context.Context, tx pgx.Tx, msgs []*message.Message) error {
		return outbox.Publish(ctx, tx, topic, msgs...)
	}
}

// BenchmarkOutboxPublishInHandlerTx measures outbox.Publish inside handler-shaped transactions
// (an effect row and two events) against plain pgx inserts of the same rows, at the same
// concurrency.
func BenchmarkOutboxPublishInHandlerTx(b *testing.B) {
	const txs, workers, perTx = 2000, 8, 2
	db := freshDB(b)
	// Fresh messages for every pass: the event log keeps one row per message id.
	outboxPass := func() float64 {
		return handlerShapes(b, db, handlerMessages(b, txs, perTx), workers, outboxPublish("bench.events"))
	}
	rawPass := func() float64 { return handlerShapes(b, db, handlerMessages(b, txs, perTx), workers, rawInsert) }
	outboxRate, rawRate, rounds := alternate(b, outboxPass, rawPass)
	results.Record(b, "outbox_publish_events_per_s", outboxRate, "events/s")
	results.Record(b, "raw_pgx_insert_events_per_s", rawRate, "events/s")
	ratio := results.Ratio(b, "outbox_publish_over_raw_pgx_insert_x", "outbox_publish_events_per_s", "raw_pgx_insert_events_per_s")
	fmt.Printf("outbox publish in handler tx: %.0f events/s; raw pgx insert of the same rows: %.0f events/s; ratio %.2f (%d workers, %d events/tx, mean of %d rounds)\n",
		outboxRate, rawRate, ratio, workers, perTx, rounds)
}

// alternate runs a measured pass and its baseline once per benchmark round, alternating which
// goes first, and returns the mean of each and how many rounds ran: neither side gets the warm
// cache or the emptier table every time.
func alternate(b *testing.B, measured, baseline func() float64) (measuredMean, baselineMean float64, rounds int) {
	var mSum, bSum float64
	for b.Loop() {
		if rounds%2 == 0 {
			bSum += baseline()
			mSum += measured()
		} else {
			mSum += measured()
			bSum += baseline()
		}
		rounds++
	}
	return mSum / float64(rounds), bSum / float64(rounds), rounds
}
