package bench_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/forwarder"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/bus"
	"github.com/omninode/omnibase-infra/platform/consumer"
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// drainBatch is how many rows the raw SQL drain reads per transaction.
const drainBatch = 1000

// BenchmarkRelay measures outbox.Relay delivering a filled outbox to Kafka — whatever the relay
// is on the branch measured — against Watermill's stock forwarder and the two raw halves of its
// work on the same servers: draining the rows with plain SQL, and producing the same records with
// franz-go, batched. It also measures the relay over an outbox holding many rows it delivered
// before, which must not slow it down.
//
// Every contender gets a copy of the same outbox (a database made from one template), and the
// order they run in turns by one each round, so none always has the warm cache.
func BenchmarkRelay(b *testing.B) {
	n := *relayEvents
	k := newBroker(b)
	topic := "bench.relay." + watermill.NewShortUUID()
	msgs := handlerMessages(b, n/2, 2) // handler-shaped: two events per transaction, 16 keys
	var flat []*message.Message
	for _, tx := range msgs {
		flat = append(flat, tx...)
	}
	n = len(flat)
	empty := outboxTemplate(b, topic, msgs, 0)
	large := outboxTemplate(b, topic, msgs, *largeDelivered)

	contenders := []struct {
		figure string
		run    func() float64
	}{
		{"relay_events_per_s", func() float64 { return deliverWith(b, k, empty, topic, n, runRelay) }},
		{"stock_forwarder_events_per_s", func() float64 { return deliverWith(b, k, empty, topic, n, runStockForwarder) }},
		{"raw_sql_drain_events_per_s", func() float64 { return rawDrain(b, empty, n) }},
		{"raw_batched_produce_events_per_s", func() float64 { return rawBatchedProduce(b, k, topic, flat) }},
		{"raw_sync_produce_events_per_s", func() float64 { return rawSyncProduce(b, k, topic, flat) }},
		{"relay_large_outbox_events_per_s", func() float64 { return deliverWith(b, k, large, topic, n, runRelay) }},
	}
	sums := make([]float64, len(contenders))
	rounds := 0
	for b.Loop() {
		for i := range contenders {
			j := (i + rounds) % len(contenders)
			sums[j] += contenders[j].run()
		}
		rounds++
	}
	mean := func(figure string) float64 {
		for i, c := range contenders {
			if c.figure == figure {
				return sums[i] / float64(rounds)
			}
		}
		panic("no contender " + figure)
	}
	for _, c := range contenders {
		results.Record(b, c.figure, mean(c.figure), "events/s")
	}
	minRaw := "raw_sql_drain_events_per_s"
	if mean("raw_batched_produce_events_per_s") < mean(minRaw) {
		minRaw = "raw_batched_produce_events_per_s"
	}
	overStock := results.Ratio(b, "relay_over_stock_forwarder_x", "relay_events_per_s", "stock_forwarder_events_per_s")
	overMin := results.Ratio(b, "relay_over_min_raw_x", "relay_events_per_s", minRaw)
	overSync := results.Ratio(b, "relay_over_raw_sync_produce_x", "relay_events_per_s", "raw_sync_produce_events_per_s")
	overBatched := results.Ratio(b, "relay_over_raw_batched_produce_x", "relay_events_per_s", "raw_batched_produce_events_per_s")
	largeOverEmpty := results.Ratio(b, "relay_large_outbox_over_empty_x", "relay_large_outbox_events_per_s", "relay_events_per_s")
	fmt.Printf("relay: %.0f events/s; stock forwarder %.0f events/s, ratio %.2f; raw SQL drain %.0f events/s; raw batched produce (franz-go) %.0f events/s; ratio to the smaller %.3f; raw sync produce (Sarama) %.0f events/s, ratio %.2f; ratio to batched produce %.3f (%d events of 16 keys, mean of %d rounds)\n",
		mean("relay_events_per_s"), mean("stock_forwarder_events_per_s"), overStock, mean("raw_sql_drain_events_per_s"),
		mean("raw_batched_produce_events_per_s"), overMin, mean("raw_sync_produce_events_per_s"), overSync, overBatched, n, rounds)
	fmt.Printf("relay over an outbox holding %d delivered rows: %.0f events/s, %.2f × the empty one\n",
		*largeDelivered, mean("relay_large_outbox_events_per_s"), largeOverEmpty)
}

// runRelay runs the product's relay over db until ctx ends.
// WARNING: the one place the benchmarks build outbox.Relay; when RelayConfig changes, change it here.
func runRelay(ctx context.Context, db *pgxpool.Pool) error {
	poison, err := outbox.NewPoisonStore(outbox.PoisonStoreConfig{DB: db})
	if err != nil {
		return err
	}
	policy, err := consumer.NewPolicy(consumer.PolicyConfig{Store: poison}, quiet)
	if err != nil {
		return err
	}
	relay, err := outbox.NewRelay(outbox.RelayConfig{DB: db, Brokers: kafka.Brokers(), Poison: poison, Policy: policy}, quiet)
	if err != nil {
		return err
	}
	return relay.Run(ctx)
}

// runStockForwarder runs Watermill's forwarder over a watermill-sql subscriber of the outbox, as
// the relay was before it was the product's own: the baseline a relay has to beat. It polls as
// often as that relay did (every 20ms), so that only how it delivers differs.
func runStockForwarder(ctx context.Context, db *pgxpool.Pool) error {
	wlog := watermill.NewSlogLogger(quiet)
	sub, err := wsql.NewSubscriber(wsql.BeginnerFromPgx(db), wsql.SubscriberConfig{
		ConsumerGroup:  "stock-forwarder",
		PollInterval:   20 * time.Millisecond,
		ResendInterval: time.Second,
		RetryInterval:  time.Second,
		SchemaAdapter:  wsql.DefaultPostgreSQLSchema{},
		OffsetsAdapter: wsql.DefaultPostgreSQLOffsetsAdapter{},
	}, wlog)
	if err != nil {
		return fmt.Errorf("could not create the outbox subscriber: %w", err)
	}
	pub, err := bus.NewPublisher(kafka.Brokers(), bus.Security{}, wlog)
	if err != nil {
		return err
	}
	defer pub.Close()
	fwd, err := forwarder.NewForwarder(sub, pub, wlog, forwarder.Config{ForwarderTopic: outbox.ForwarderTopic})
	if err != nil {
		return fmt.Errorf("could not create the forwarder: %w", err)
	}
	return fwd.Run(ctx)
}

// deliverWith runs run over a copy of template until topic holds its n rows, and returns
// events/s from the start of run (its connecting and first poll included) to the last record
// acknowledged.
func deliverWith(b *testing.B, k broker, template, topic string, n int, run func(ctx context.Context, db *pgxpool.Pool) error) float64 {
	db, drop := cloneDB(b, template)
	defer drop()
	k.create(b, topic)
	defer k.drop(b, topic)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan error, 1)
	start := time.Now()
	go func() { stopped <- run(ctx, db) }()
	k.waitRecords(b, topic, n, stopped)
	rate := float64(n) / time.Since(start).Seconds()
	cancel()
	require.NoError(b, <-stopped)
	// More records than rows means rows were delivered twice or from before the position (the
	// large outbox's delivered rows): the rate above would be of the wrong work.
	got, err := k.records(context.Background(), topic)
	require.NoError(b, err)
	require.EqualValues(b, n, got, "the topic holds more records than the outbox had undelivered rows")
	return rate
}

// rawDrain reads n committed rows of a copy of template in watermill-sql's order — by
// (transaction_id, offset) past a position, only transactions older than every running one
// (the xid8 visibility rule that never skips a row of a transaction still in flight) — a batch
// per transaction that locks the position, reads the rows and moves the position past them. It is
// the SQL half of a relay's work with nothing sent anywhere.
func rawDrain(b *testing.B, template string, n int) float64 {
	const group = "raw-drain"
	db, drop := cloneDB(b, template)
	defer drop()
	ctx := context.Background()
	// The zero position, as watermill-sql's subscriber writes it before it first reads.
	_, err := db.Exec(ctx, `INSERT INTO watermill_offsets_outbox (consumer_group, offset_acked, last_processed_transaction_id)
		VALUES ($1, 0, '0') ON CONFLICT DO NOTHING`, group)
	require.NoError(b, err)
	type row struct {
		offset            int64
		txid, uuid        string
		payload, metadata []byte
	}
	start := time.Now()
	drained := 0
	for drained < n {
		err := pgtx.Run(ctx, db, func(tx pgx.Tx) error {
			var offset int64
			var txid string
			if err := tx.QueryRow(ctx, `SELECT offset_acked, last_processed_transaction_id::text FROM watermill_offsets_outbox
				WHERE consumer_group = $1 FOR UPDATE`, group).Scan(&offset, &txid); err != nil {
				return fmt.Errorf("could not lock the position: %w", err)
			}
			// WARNING: the text of transaction_id is selected under another name: ORDER BY would
			// otherwise sort by that output column, as text.
			rows, err := tx.Query(ctx, `SELECT "offset", transaction_id::text AS txid, uuid, payload, metadata FROM watermill_outbox
				WHERE (transaction_id, "offset") > ($1::xid8, $2) AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
				ORDER BY transaction_id, "offset" LIMIT $3`, txid, offset, drainBatch)
			if err != nil {
				return fmt.Errorf("could not read a batch: %w", err)
			}
			batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
				var x row
				err := r.Scan(&x.offset, &x.txid, &x.uuid, &x.payload, &x.metadata)
				return x, err
			})
			if err != nil {
				return fmt.Errorf("could not read a batch: %w", err)
			}
			if len(batch) == 0 {
				return fmt.Errorf("the outbox ran out after %d of %d rows", drained, n)
			}
			last := batch[len(batch)-1]
			if _, err := tx.Exec(ctx, `UPDATE watermill_offsets_outbox SET offset_acked = $2, last_processed_transaction_id = $3::xid8
				WHERE consumer_group = $1`, group, last.offset, last.txid); err != nil {
				return fmt.Errorf("could not move the position: %w", err)
			}
			drained += len(batch)
			return nil
		})
		require.NoError(b, err)
	}
	return float64(drained) / time.Since(start).Seconds()
}

// rawBatchedProduce produces msgs' records with franz-go — batched per partition, idempotent,
// every record acknowledged by the broker — the Kafka half of a relay's work at its best.
func rawBatchedProduce(b *testing.B, k broker, topic string, msgs []*message.Message) float64 {
	k.create(b, topic)
	defer k.drop(b, topic)
	recs := make([]*kgo.Record, 0, len(msgs))
	for _, m := range msgs {
		recs = append(recs, kafkaRecord(topic, m))
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka.Brokers()...), kgo.RequiredAcks(kgo.AllISRAcks()))
	require.NoError(b, err)
	defer cl.Close()
	start := time.Now()
	require.NoError(b, cl.ProduceSync(context.Background(), recs...).FirstErr())
	return float64(len(recs)) / time.Since(start).Seconds()
}

// rawSyncProduce publishes msgs one at a time with the project's own Kafka publisher
// (watermill-kafka over Sarama, synchronous): what the stock forwarder does per row, without the
// outbox.
func rawSyncProduce(b *testing.B, k broker, topic string, msgs []*message.Message) float64 {
	k.create(b, topic)
	defer k.drop(b, topic)
	pub, err := bus.NewPublisher(kafka.Brokers(), bus.Security{}, watermill.NopLogger{})
	require.NoError(b, err)
	defer pub.Close()
	start := time.Now()
	for _, m := range msgs {
		require.NoError(b, pub.Publish(topic, m))
	}
	return float64(len(msgs)) / time.Since(start).Seconds()
}

// outboxTemplate makes a database holding msgs undelivered in its outbox, committed transaction
// by transaction as handlers commit them, and returns its name for cloneDB. With delivered > 0,
// that many rows come before them that the relay has delivered already: inserted with plain SQL
// (copies of a real row) and its position (its watermill_offsets_outbox row) set past them, as
// an outbox looks after a long life with no row ever deleted.
func outboxTemplate(b *testing.B, topic string, msgs [][]*message.Message, delivered int) string {
	url := migratedDB(b)
	db := connect(b, url)
	defer db.Close()
	ctx := context.Background()
	if delivered > 0 {
		// A real row first, as outbox.Publish writes it; the rest are copies of it in transactions
		// of up to 100,000 rows.
		require.NoError(b, pgtx.Run(ctx, db, func(tx pgx.Tx) error {
			return outbox.Publish(ctx, tx, topic, event(b, 0))
		}))
		for left := delivered - 1; left > 0; left -= 100000 {
			_, err := db.Exec(ctx, `INSERT INTO watermill_outbox (uuid, payload, metadata, transaction_id)
				SELECT gen_random_uuid()::text, r.payload, r.metadata, pg_current_xact_id()
				FROM (SELECT payload, metadata FROM watermill_outbox LIMIT 1) r, generate_series(1, $1)`, min(left, 100000))
			require.NoError(b, err)
		}
		_, err := db.Exec(ctx, `INSERT INTO watermill_offsets_outbox (consumer_group, offset_acked, last_processed_transaction_id)
			SELECT $1, "offset", transaction_id FROM watermill_outbox ORDER BY transaction_id DESC, "offset" DESC LIMIT 1`,
			outbox.DefaultRelayConfig().ConsumerGroup)
		require.NoError(b, err)
	}
	handlerShapes(b, db, msgs, 8, outboxPublish(topic))
	// As autovacuum would have left a table that old: its visibility map set, its statistics read.
	_, err := db.Exec(ctx, `VACUUM ANALYZE`)
	require.NoError(b, err)
	cfg, err := pgx.ParseConfig(url)
	require.NoError(b, err)
	return cfg.Database
}

// cloneDB makes a database from template (which nothing may be connected to) and returns a pool
// on it and the function that drops it.
func cloneDB(b *testing.B, template string) (*pgxpool.Pool, func()) {
	name := "c_" + lowerID()
	// FILE_COPY copies the template's files instead of writing every page to the WAL: seconds, not
	// a minute, for the large outbox.
	adminExec(b, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s STRATEGY FILE_COPY`, name, template))
	db := connect(b, dbURL(name))
	return db, func() {
		db.Close()
		adminExec(b, fmt.Sprintf(`DROP DATABASE %s WITH (FORCE)`, name))
	}
}

// adminExec runs sql on the server's postgres database: what no database can do on itself.
func adminExec(b *testing.B, sql string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.URL)
	require.NoError(b, err)
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	require.NoError(b, err, sql)
}

// dbURL is the URL of database name on the benchmarks' server.
func dbURL(name string) string { return strings.Replace(pg.URL, "/postgres?", "/"+name+"?", 1) }

// lowerID is a unique name part that PostgreSQL keeps as it is unquoted.
func lowerID() string { return strings.ToLower(watermill.NewShortUUID()) }

// BenchmarkRelayDurable is the relay's rate on a PostgreSQL that syncs every commit to disk (the
// other benchmarks' server does not): the rate a deployment gets, its position's commits durable.
func BenchmarkRelayDurable(b *testing.B) {
	ctx := context.Background()
	durable, err := containers.StartDurablePostgres(ctx)
	if durable != nil {
		defer func() { _ = durable.Terminate(context.Background()) }()
	}
	require.NoError(b, err)
	k := newBroker(b)
	var sum float64
	rounds := 0
	for b.Loop() {
		url := durable.NewDatabase(b)
		require.NoError(b, app.Migrate(ctx, url, quiet))
		db := connect(b, url)
		topic := "bench.relay-durable." + watermill.NewShortUUID()
		msgs := handlerMessages(b, *relayEvents/100, 100) // fewer, larger transactions: filling is not what is measured
		for _, tx := range msgs {
			require.NoError(b, pgtx.Run(ctx, db, func(tx2 pgx.Tx) error { return outbox.Publish(ctx, tx2, topic, tx...) }))
		}
		n := len(msgs) * 100
		k.create(b, topic)
		rctx, cancel := context.WithCancel(ctx)
		stopped := make(chan error, 1)
		start := time.Now()
		go func() { stopped <- runRelay(rctx, db) }()
		k.waitRecords(b, topic, n, stopped)
		sum += float64(n) / time.Since(start).Seconds()
		cancel()
		require.NoError(b, <-stopped)
		k.drop(b, topic)
		db.Close()
		rounds++
	}
	rate := sum / float64(rounds)
	results.Record(b, "relay_durable_events_per_s", rate, "events/s")
	fmt.Printf("relay on a PostgreSQL that syncs every commit: %.0f events/s (%d events, mean of %d rounds)\n", rate, *relayEvents, rounds)
}
