package bench_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/projections/infrastate"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// e2eThresholds are the default hysteresis with a latency window as long as holds about the 60
// samples a target's window holds on the default schedule (a probe every 5s, a window of 5m):
// at 1,000 reports/s over 64 targets each target is probed 16 times a second, and a 5m window
// would hold the cap (512 samples), which a deployment never sees and which each fold reads and
// writes whole.
func e2eThresholds() infrastate.Thresholds {
	t := infrastate.DefaultThresholds()
	t.LatencyWindow = 4 * time.Second
	return t
}

// BenchmarkEndToEnd measures the loop's latency from an adapter's transaction committing a health
// report into the outbox to the saga command it causes being committed: the relay carries the
// report to Kafka, the projection folds it and commits the intent, the relay carries the intent,
// the saga intake starts a health check and commits its probe_target commands. The roles run in
// this process as `omni run --roles=relay,projection,sagas` would run them (app.Run) against the
// benchmarks' servers, under a steady load of reports (healthLoad).
//
// Both ends are PostgreSQL's commit timestamps (pg_xact_commit_timestamp, with
// track_commit_timestamp on): when each transaction committed, on one clock, with no polling
// delay. A report and the commands it caused share the report's correlation id, which the intent
// and the saga carry on. Only failures that started a health check are samples; one that found a
// check still running joins it and sends nothing.
func BenchmarkEndToEnd(b *testing.B) {
	const rate, targets, warmUp = 1000, 64, 5 * time.Second
	once(b, func() {
		db := freshDB(b)
		id := lowerID()
		topics := events.Topics{Events: "bench.e2e." + id + ".events", Intents: "bench.e2e." + id + ".intents",
			CommandsPrefix: "bench.e2e." + id + ".commands.", PoisonSuffix: ".poison"}
		k := newBroker(b)
		made := []string{topics.Events, topics.Intents, topics.Commands(events.AdapterConsul)}
		k.create(b, made...)
		defer k.drop(b, made...)
		port, err := containers.FreePort()
		require.NoError(b, err)
		addr := fmt.Sprintf("127.0.0.1:%d", port)

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stopped := make(chan error, 1)
		go func() {
			stopped <- app.Run(ctx, app.Config{DatabaseURL: db.Config().ConnString(), KafkaBrokers: kafka.Brokers(),
				Roles: []app.Role{app.RoleRelay, app.RoleProjection, app.RoleSagas}, Topics: topics, HTTPAddr: addr,
				SkipMigrate: true, Thresholds: e2eThresholds(),
				// The load publishes plain: this measures the loop itself; what sealing costs is
				// outbox_encrypted_vs_plain's.
				Seal: app.SealConfig{Disabled: true}}, quiet)
		}()
		waitReady(b, addr, stopped)

		// Consul targets: no adapter of this process answers their probes, so each health check
		// lasts its timeout (see healthLoad).
		load := healthLoad{DB: db, Topic: topics.Events, Adapter: events.AdapterConsul, Targets: targets, Rate: rate,
			Period: 13 * time.Second, Workers: 8}
		committed, started, took, err := load.run(ctx, warmUp+*loadFor)
		require.NoError(b, err)
		// How long the loop takes to finish what the load left: near nothing when it keeps up.
		loadEnd := time.Now()
		caughtUp(b, db, topics.Events, stopped)
		catchUp := time.Since(loadEnd)
		cancel()
		require.NoError(b, <-stopped)

		// The warm-up's reports are left out: the consumers were joining their groups.
		from, to := started.Add(warmUp), started.Add(warmUp+*loadFor)
		samples, intents := commitToCommit(b, db, topics.Events, from, to)
		require.NotEmpty(b, samples, "no report started a health check")
		var toCommand, toIntent []float64
		for _, s := range samples {
			toCommand, toIntent = append(toCommand, s.command), append(toIntent, s.intent)
		}
		p50, p99 := nearestRank(toCommand, 0.50), nearestRank(toCommand, 0.99)
		intentP50, intentP99 := nearestRank(toIntent, 0.50), nearestRank(toIntent, 0.99)
		eventsPerS := float64(committed) / took.Seconds()
		results.Record(b, "e2e_p50_ms", p50, "ms")
		results.Record(b, "e2e_p99_ms", p99, "ms")
		results.Record(b, "e2e_max_ms", slices.Max(toCommand), "ms")
		results.Record(b, "e2e_to_intent_p50_ms", intentP50, "ms")
		results.Record(b, "e2e_to_intent_p99_ms", intentP99, "ms")
		results.Record(b, "e2e_samples", float64(len(samples)), "samples")
		results.Record(b, "e2e_intents", float64(intents), "intents")
		results.Record(b, "e2e_events_per_s", eventsPerS, "events/s")
		results.Record(b, "e2e_catch_up_ms", float64(catchUp.Milliseconds()), "ms")
		fmt.Printf("end to end, report committed → saga command committed: p50 %.1f ms, p99 %.1f ms, max %.1f ms; of which report → intent committed p50 %.1f ms, p99 %.1f ms (%d samples: the health checks started by the %d intents raised in %s at %.0f events/s of %d targets); the loop caught up %s after the load\n",
			p50, p99, slices.Max(toCommand), intentP50, intentP99, len(samples), intents, *loadFor, eventsPerS, targets, catchUp.Round(time.Millisecond))
	})
}

// sample is one report that started a health check: milliseconds from its commit to the commit
// of the intent it raised (the projection's transaction) and to the first commit of the saga
// commands it caused (all of a step's commands commit together).
type sample struct{ intent, command float64 }

// commitToCommit returns a sample for each report of topic that occurred in [from, to) and caused
// saga commands, and how many intents those reports raised.
func commitToCommit(b *testing.B, db *pgxpool.Pool, topic string, from, to time.Time) ([]sample, int) {
	ctx := context.Background()
	// xmin is the transaction that wrote the row: the report's, the projection's that raised the
	// intent, the saga decision's that sent the commands.
	rows, err := db.Query(ctx, `
		WITH report AS (
			SELECT event_id, metadata->>'correlation_id' AS correlation, pg_xact_commit_timestamp(xmin) AS committed
			FROM event_log WHERE topic = $1 AND kind = 'adapter_health_reported' AND occurred_at >= $2 AND occurred_at < $3
		), command AS (
			SELECT metadata->>'correlation_id' AS correlation, min(pg_xact_commit_timestamp(xmin)) AS committed
			FROM event_log WHERE kind = 'probe_target' GROUP BY 1
		)
		SELECT (extract(epoch FROM pg_xact_commit_timestamp(i.xmin) - report.committed) * 1000)::float8,
			(extract(epoch FROM command.committed - report.committed) * 1000)::float8
		FROM report JOIN command USING (correlation) JOIN infrastructure_intents i ON i.caused_by = report.event_id`,
		topic, from, to)
	require.NoError(b, err)
	samples, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sample, error) {
		var s sample
		err := r.Scan(&s.intent, &s.command)
		return s, err
	})
	require.NoError(b, err, "are commit timestamps tracked?")
	var intents int
	require.NoError(b, db.QueryRow(ctx, `SELECT count(*) FROM infrastructure_intents i JOIN event_log e ON e.event_id = i.caused_by
		WHERE e.topic = $1 AND e.occurred_at >= $2 AND e.occurred_at < $3`, topic, from, to).Scan(&intents))
	return samples, intents
}

// nearestRank is the q-quantile of xs by the nearest-rank method: the smallest value with at
// least q of the values at or below it.
func nearestRank(xs []float64, q float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	return s[max(0, int(math.Ceil(q*float64(len(s))))-1)]
}
