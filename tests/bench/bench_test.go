// Package bench measures the outbox and its relay against raw baselines on the same servers, in
// the same run, and reports rates and ratios. Run with `make bench`; nothing here asserts a time.
package bench_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/bus"
	"github.com/omninode/omnibase-infra/platform/consumer"
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/tests/containers"
)

var (
	pg    *containers.Postgres
	kafka *containers.Kafka
)

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		// `make test` compiles this package but runs no benchmark: start no servers for nothing.
		os.Exit(m.Run())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var err error
	if pg, err = containers.StartPostgres(ctx); err == nil {
		kafka, err = containers.StartKafka(ctx)
	}
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, "could not start the servers:", err)
	} else {
		code = m.Run()
	}
	if pg != nil {
		_ = pg.Terminate(context.Background())
	}
	if kafka != nil {
		_ = kafka.Terminate(context.Background())
	}
	os.Exit(code)
}

var quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

func freshDB(b *testing.B) *pgxpool.Pool {
	url := pg.NewDatabase(b)
	ctx := context.Background()
	require.NoError(b, app.Migrate(ctx, url, quiet))
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(b, err)
	cfg.MaxConns = 32
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(b, err)
	b.Cleanup(db.Close)
	_, err = db.Exec(ctx, `CREATE TABLE effects (id TEXT PRIMARY KEY, at TIMESTAMPTZ NOT NULL DEFAULT now());
		CREATE TABLE raw_outbox (LIKE watermill_outbox INCLUDING ALL);
		CREATE TABLE raw_event_log (LIKE event_log INCLUDING ALL)`)
	require.NoError(b, err)
	return db
}

func event(b *testing.B, i int) *message.Message {
	msg, err := events.Encode(events.AdapterHealthReported{
		AdapterID: fmt.Sprintf("postgres/t%d", i%16), Adapter: events.AdapterPostgres, Target: fmt.Sprintf("t%d", i%16),
		Healthy: true, LatencyMicros: int64(i), ProbedAt: time.Now(),
	}, events.NewOrigin(), time.Now())
	require.NoError(b, err)
	return msg
}

// handlerShapes runs txs transactions over workers goroutines, each doing a handler's effect write
// and publishing perTx events with publish.
func handlerShapes(b *testing.B, db *pgxpool.Pool, txs, workers, perTx int,
	publish func(ctx context.Context, tx pgx.Tx, msgs []*message.Message) error) float64 {
	ctx := context.Background()
	msgs := make([][]*message.Message, txs)
	for i := range msgs {
		for j := range perTx {
			msgs[i] = append(msgs[i], event(b, i*perTx+j))
		}
	}
	next := make(chan int, txs)
	for i := range txs {
		next <- i
	}
	close(next)
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				err := pgtx.Run(ctx, db, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, `INSERT INTO effects (id) VALUES ($1)`, watermill.NewUUID()); err != nil {
						return err
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
	return float64(txs*perTx) / time.Since(start).Seconds()
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
	return tx.SendBatch(ctx, batch).Close()
}

func BenchmarkOutboxPublishInHandlerTx(b *testing.B) {
	const txs, workers, perTx = 2000, 8, 2
	db := freshDB(b)
	outboxPublish := func(ctx context.Context, tx pgx.Tx, msgs []*message.Message) error {
		return outbox.Publish(ctx, tx, "bench.events", msgs...)
	}
	// Each round runs both, alternating which goes first, and the rates are the means over rounds:
	// neither side gets the warm cache or the emptier table every time.
	var outboxSum, rawSum float64
	rounds := 0
	for b.Loop() {
		if rounds%2 == 0 {
			rawSum += handlerShapes(b, db, txs, workers, perTx, rawInsert)
			outboxSum += handlerShapes(b, db, txs, workers, perTx, outboxPublish)
		} else {
			outboxSum += handlerShapes(b, db, txs, workers, perTx, outboxPublish)
			rawSum += handlerShapes(b, db, txs, workers, perTx, rawInsert)
		}
		rounds++
	}
	outboxRate, rawRate := outboxSum/float64(rounds), rawSum/float64(rounds)
	b.ReportMetric(outboxRate, "outbox_msgs/s")
	b.ReportMetric(rawRate, "raw_pgx_msgs/s")
	b.ReportMetric(outboxRate/rawRate, "ratio")
	fmt.Printf("outbox publish in handler tx: %.0f msg/s; raw pgx insert of the same rows: %.0f msg/s; ratio %.2f (%d workers, %d msgs/tx, mean of %d rounds)\n",
		outboxRate, rawRate, outboxRate/rawRate, workers, perTx, rounds)
}

func BenchmarkRelayVsRawProduce(b *testing.B) {
	const n = 3000
	ctx := context.Background()
	var relayRate, saramaRate, franzRate float64
	for b.Loop() {
		db := freshDB(b)
		topic := "bench.relay." + watermill.NewShortUUID()
		var msgs []*message.Message
		for i := range n {
			msgs = append(msgs, event(b, i))
		}
		require.NoError(b, pgtx.Run(ctx, db, func(tx pgx.Tx) error { return outbox.Publish(ctx, tx, topic, msgs...) }))

		// Relay: committed outbox rows to Kafka, until the last one is acknowledged.
		poison, err := outbox.NewPoisonStore(outbox.PoisonStoreConfig{DB: db})
		require.NoError(b, err)
		policy, err := consumer.NewPolicy(consumer.PolicyConfig{Store: poison}, quiet)
		require.NoError(b, err)
		relay, err := outbox.NewRelay(outbox.RelayConfig{DB: db, Brokers: kafka.Brokers(), Poison: poison, Policy: policy}, quiet)
		require.NoError(b, err)
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- relay.Run(rctx) }()
		waitRecords(b, topic, n)
		relayRate = n / time.Since(start).Seconds()
		cancel()
		require.NoError(b, <-done)

		// The same messages with watermill-kafka over Sarama, synchronous (the stock forwarder's client).
		pub, err := bus.NewPublisher(kafka.Brokers(), watermill.NopLogger{})
		require.NoError(b, err)
		rawTopic := topic + ".sarama"
		start = time.Now()
		for _, m := range msgs {
			require.NoError(b, pub.Publish(rawTopic, m))
		}
		saramaRate = n / time.Since(start).Seconds()
		require.NoError(b, pub.Close())

		// The broker's ceiling: franz-go producing the same payloads, batched.
		cl, err := kgo.NewClient(kgo.SeedBrokers(kafka.Brokers()...), kgo.AllowAutoTopicCreation())
		require.NoError(b, err)
		start = time.Now()
		var recs []*kgo.Record
		for _, m := range msgs {
			recs = append(recs, &kgo.Record{Topic: topic + ".franz", Key: []byte(m.Metadata.Get(events.MetaKey)), Value: m.Payload})
		}
		require.NoError(b, cl.ProduceSync(ctx, recs...).FirstErr())
		franzRate = n / time.Since(start).Seconds()
		cl.Close()
	}
	b.ReportMetric(relayRate, "relay_msgs/s")
	b.ReportMetric(saramaRate, "sarama_sync_msgs/s")
	b.ReportMetric(franzRate, "franz_batched_msgs/s")
	fmt.Printf("relay: %.0f msg/s; raw sync produce (same client): %.0f msg/s, ratio %.2f; raw batched produce (franz-go): %.0f msg/s, ratio %.3f (%d msgs)\n",
		relayRate, saramaRate, relayRate/saramaRate, franzRate, relayRate/franzRate, n)
}

func waitRecords(b *testing.B, topic string, n int) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka.Brokers()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(b, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	got := 0
	for got < n {
		f := cl.PollFetches(ctx)
		require.NoError(b, ctx.Err(), "relay delivered %d of %d", got, n)
		got += f.NumRecords()
	}
}
