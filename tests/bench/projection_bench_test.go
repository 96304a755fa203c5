package bench_test

import (
	"context"
	"encoding/json"
	"fmt"
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
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/projections/infrastate"
)

// BenchmarkProjection measures the live projection (Kafka in; per partition, the waiting events
// applied in one PostgreSQL transaction: inbox rows, state rows, intents, outbox) against the raw
// ceiling of the same transaction shape written with plain pgx, and the replay of the same events
// from the event log against the live rate.
func BenchmarkProjection(b *testing.B) {
	const n, workers = 20000, 4 // workers: the broker's partitions per topic, the live projection's concurrency
	ctx := context.Background()
	var liveSum, rawSum, replaySum float64
	rounds := 0
	for b.Loop() {
		rounds++
		db := freshDB(b)
		url := db.Config().ConnString()
		topics := events.DefaultTopics()
		topics.Events = "bench.events." + watermill.NewShortUUID()
		msgs := make([]*message.Message, n+1)
		for i := range msgs {
			msgs[i] = probe(b, i)
		}
		// The events as adapters would have written them: in the outbox's log, for the replay.
		require.NoError(b, pgtx.Run(ctx, db, func(tx pgx.Tx) error { return outbox.Publish(ctx, tx, topics.Events, msgs...) }))

		// Live: the projection joins its group on a warm-up event, then takes the rest.
		actx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- app.Run(actx, app.Config{DatabaseURL: url, KafkaBrokers: kafka.Brokers(), Roles: []app.Role{app.RoleProjection},
				Topics: topics, HTTPAddr: "127.0.0.1:0", SkipMigrate: true,
				Seal: app.SealConfig{Disabled: true}}, quiet) // the fixture is plain; sealing's cost is outbox_encrypted_vs_plain's
		}()
		produce(b, topics.Events, msgs[:1])
		waitProcessed(b, db, 1)
		start := time.Now()
		produce(b, topics.Events, msgs[1:])
		waitProcessed(b, db, n+1)
		liveSum += n / time.Since(start).Seconds()
		cancel()
		require.NoError(b, <-done)

		// Replay of the same events from the log.
		start = time.Now()
		res, err := infrastate.Replay(ctx, infrastate.ReplayConfig{DB: db, Registry: events.Catalog(),
			Reducer: infrastate.Reducer{Thresholds: infrastate.DefaultThresholds()}})
		require.NoError(b, err)
		require.EqualValues(b, n+1, res.Folded)
		replaySum += float64(res.Folded) / time.Since(start).Seconds()

		// The raw ceiling: the live handler's transaction shape with plain pgx, same concurrency.
		rawSum += rawProjection(b, freshDB(b), msgs[1:], workers)
	}
	liveRate, rawRate, replayRate := liveSum/float64(rounds), rawSum/float64(rounds), replaySum/float64(rounds)
	results.Record(b, "projection_events_per_s", liveRate, "events/s")
	results.Record(b, "raw_projection_tx_events_per_s", rawRate, "events/s")
	results.Record(b, "replay_events_per_s", replayRate, "events/s")
	results.Ratio(b, "projection_over_raw_projection_tx_x", "projection_events_per_s", "raw_projection_tx_events_per_s")
	results.Ratio(b, "replay_over_projection_x", "replay_events_per_s", "projection_events_per_s")
	fmt.Printf("projection: live %.0f events/s; raw pgx of the same transaction shape %.0f events/s, ratio %.2f; replay %.0f events/s, %.1f× live (%d events, %d partitions, mean of %d rounds)\n",
		liveRate, rawRate, liveRate/rawRate, replayRate, replayRate/liveRate, n, workers, rounds)
}

func probe(b *testing.B, i int) *message.Message {
	// 16 targets probed in turn, each every 4.8s: close to the default 5s schedule, so each
	// target's 5-minute latency window holds about 60 samples, as it would in production.
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 300 * time.Millisecond)
	target := fmt.Sprintf("t%d", i%16)
	h := events.AdapterHealthReported{AdapterID: "postgres/" + target, Adapter: events.AdapterPostgres, Target: target,
		Healthy: i%7 != 0, LatencyMicros: int64(100 + i%900), ProbedAt: at}
	if !h.Healthy {
		h.Error = "connection refused"
	}
	msg, err := events.Encode(h, events.NewOrigin(), at)
	require.NoError(b, err)
	return msg
}

// produce writes msgs to topic as watermill-kafka would (UUID and metadata in headers), batched.
func produce(b *testing.B, topic string, msgs []*message.Message) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka.Brokers()...), kgo.AllowAutoTopicCreation())
	require.NoError(b, err)
	defer cl.Close()
	recs := make([]*kgo.Record, 0, len(msgs))
	for _, m := range msgs {
		recs = append(recs, kafkaRecord(topic, m))
	}
	require.NoError(b, cl.ProduceSync(context.Background(), recs...).FirstErr())
}

func waitProcessed(b *testing.B, db *pgxpool.Pool, n int) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var got int
		require.NoError(b, db.QueryRow(context.Background(), `SELECT count(*) FROM processed_messages WHERE consumer = $1`,
			infrastate.ConsumerName).Scan(&got))
		if got >= n {
			return
		}
		require.True(b, time.Now().Before(deadline), "projection applied %d of %d", got, n)
		time.Sleep(5 * time.Millisecond)
	}
}

// rawProjection applies msgs with the live handler's transaction shape, with plain pgx: up to 100
// events of one worker per transaction (the live projection takes a partition's waiting events),
// one multi-row inbox insert, the touched targets' rows read for update in one query, folded in
// memory, and each changed row written back; workers connections, keyed so that one target's
// events stay in order on one worker, as they do on one partition.
func rawProjection(b *testing.B, db *pgxpool.Pool, msgs []*message.Message, workers int) float64 {
	const perTx = 100
	ctx := context.Background()
	reducer := infrastate.Reducer{Thresholds: infrastate.DefaultThresholds()}
	queues := make([][]*message.Message, workers)
	for i, m := range msgs {
		queues[(i%16)%workers] = append(queues[(i%16)%workers], m)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, q := range queues {
		wg.Go(func() {
			for len(q) > 0 {
				chunk := q[:min(perTx, len(q))]
				q = q[len(chunk):]
				if err := pgtx.Run(ctx, db, func(tx pgx.Tx) error { return rawApply(ctx, tx, reducer, chunk) }); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(len(msgs)) / time.Since(start).Seconds()
}

func rawApply(ctx context.Context, tx pgx.Tx, reducer infrastate.Reducer, chunk []*message.Message) error {
	type decoded struct {
		env events.Envelope
		m   events.Message
	}
	var batch []decoded
	var ids, keys []string
	for _, msg := range chunk {
		env, m, err := events.Catalog().Decode(msg)
		if err != nil {
			return err
		}
		batch = append(batch, decoded{env, m})
		ids, keys = append(ids, env.ID), append(keys, m.Key())
	}
	if _, err := tx.Exec(ctx, `INSERT INTO processed_messages (consumer, message_id) SELECT 'raw', unnest($1::text[])`, ids); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `SELECT adapter_id, data FROM infrastructure_state WHERE adapter_id = ANY($1) ORDER BY adapter_id FOR UPDATE`, keys)
	if err != nil {
		return err
	}
	states := map[string]infrastate.TargetState{}
	var id string
	var data []byte
	if _, err := pgx.ForEachRow(rows, []any{&id, &data}, func() error {
		var s infrastate.TargetState
		err := json.Unmarshal(data, &s)
		states[id] = s
		return err
	}); err != nil {
		return err
	}
	last := map[string]string{}
	for _, d := range batch {
		s, ok := states[d.m.Key()]
		if !ok {
			s = infrastate.NewState(d.m.Key())
		}
		states[d.m.Key()], _ = reducer.Reduce(s, d.env, d.m)
		last[d.m.Key()] = d.env.ID
	}
	for key, eventID := range last {
		s := states[key]
		if data, err = json.Marshal(s); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO infrastructure_state (adapter_id, adapter, target, status, data, last_event)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (adapter_id) DO UPDATE SET status = excluded.status,
			data = excluded.data, last_event = excluded.last_event, updated_at = now()`,
			s.AdapterID, s.Adapter, s.Target, string(s.Status), data, eventID); err != nil {
			return err
		}
	}
	return nil
}
