package bench_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/console"
	"github.com/omninode/omnibase-infra/projections/infrastate"
)

var consoleSagas = flag.Int("console-sagas", 100000, "sagas in the table the console's pages are timed against")

// seedConsole fills db with n sagas (three workflows, five statuses, fifty targets, a step and a
// command each, the newest 150 running), a fleet of fifty targets whose history is mostly probes,
// and returns a saga deep in the table.
func seedConsole(b *testing.B, db *pgxpool.Pool, n int) (deep string) {
	ctx := context.Background()
	batch := `
		INSERT INTO saga_instances (id, workflow, correlation_key, step, status, data, created_at, updated_at)
		SELECT 'saga-' || lpad(i::text, 7, '0'),
			(ARRAY['health_check', 'failover', 'initialization'])[1 + i % 3],
			'postgres/t' || (i % 50),
			'probe_targets',
			-- one running saga per workflow and target (an index says so): the newest 150
			CASE WHEN i > $1 - 150 THEN 'running' ELSE (ARRAY['completed', 'completed', 'failed', 'compensated'])[1 + i % 4] END,
			'{}', now() - make_interval(secs => $1 - i), now() - make_interval(secs => $1 - i)
		FROM generate_series(1, $1) i;
		INSERT INTO saga_steps (saga_id, seq, step, event, detail, recorded_at)
		SELECT id, s, step, (ARRAY['entered', 'command_sent', 'step_done'])[s], '{}', created_at + make_interval(secs => s)
		FROM saga_instances, generate_series(1, 3) s;
		INSERT INTO saga_commands (command_id, saga_id, step, adapter_id, kind, outcome, reply, replied_at)
		SELECT 'cmd-' || id, id, step, correlation_key, 'probe_target/v1', 'succeeded', '{}', created_at + interval '1 second'
		FROM saga_instances;
		-- each target's history: 4,000 probes and pool reports, and every 40th event one that matters
		INSERT INTO event_log (event_id, topic, kind, version, key, occurred_at, metadata, payload)
		SELECT 'ev-' || t || '-' || k, 'infra.events',
			CASE WHEN k % 40 = 0 THEN (ARRAY['circuit_breaker_opened', 'infrastructure_health_degraded', 'target_ownership_changed'])[1 + k / 40 % 3]
				ELSE (ARRAY['adapter_health_reported', 'connection_pool_stats_reported'])[1 + k % 2] END,
			1, 'postgres/t' || t, now() - make_interval(secs => 4100 - k), '{}', '{"reason":"bench"}'
		FROM generate_series(0, 49) t, generate_series(1, 4100) k;
		ANALYZE`
	_, err := db.Exec(ctx, strings.ReplaceAll(batch, "$1", fmt.Sprint(n)))
	require.NoError(b, err)
	for i := range 50 {
		st := infrastate.TargetState{AdapterID: fmt.Sprintf("postgres/t%d", i), Adapter: events.AdapterPostgres,
			Target: fmt.Sprintf("t%d", i), Status: infrastate.StatusHealthy, Breaker: events.BreakerClosed, Owner: "bench/1",
			LastProbedAt: time.Now()}
		data, err := json.Marshal(st)
		require.NoError(b, err)
		_, err = db.Exec(ctx, `INSERT INTO infrastructure_state (adapter_id, adapter, target, status, data, last_event)
			VALUES ($1, $2, $3, $4, $5, 'bench')`, st.AdapterID, st.Adapter, st.Target, string(st.Status), data)
		require.NoError(b, err)
	}
	return fmt.Sprintf("saga-%07d", n/3)
}

// p95 of samples, in milliseconds.
func p95(samples []time.Duration) float64 {
	s := slices.Clone(samples)
	slices.Sort(s)
	return float64(s[(len(s)*95+99)/100-1]) / float64(time.Millisecond)
}

// BenchmarkConsolePages times the console's pages — the sagas list, a filtered list, a page deep
// in the list (keyset), a saga's timeline and the fleet — against 100,000 sagas, each request from
// the HTTP client to the rendered HTML, and a bare `SELECT 1` round trip on the same database as
// the baseline, alternating. The target is p95 < 200 ms.
func BenchmarkConsolePages(b *testing.B) {
	db := freshDB(b)
	deep := seedConsole(b, db, *consoleSagas)
	// A target's history is read through the partial index, whatever the probes it made.
	plan := ""
	rows, err := db.Query(context.Background(), `EXPLAIN SELECT seq FROM event_log WHERE key = 'postgres/t7' AND `+console.HistoryOnly+`
		ORDER BY seq DESC LIMIT 8`)
	require.NoError(b, err)
	for rows.Next() {
		var line string
		require.NoError(b, rows.Scan(&line))
		plan += line + "\n"
	}
	require.NoError(b, rows.Err())
	require.Contains(b, plan, "event_log_history", plan)
	c, err := console.New(console.Config{}, console.Deps{DB: db}, quiet)
	require.NoError(b, err)
	srv := httptest.NewServer(c)
	b.Cleanup(srv.Close)
	ctx := context.Background()

	pages := []struct{ name, path, want string }{
		{"sagas", "/sagas", "saga-"},
		{"sagas_filtered", "/sagas?workflow=failover&status=failed&target=postgres/t7", "failover"},
		{"sagas_deep_page", "/sagas?after=" + deepCursor(b, db, deep), "saga-"},
		{"saga_timeline", "/sagas/" + deep, "probe_target/v1"},
		{"fleet", "/", "postgres/t49"},
	}
	samples := map[string][]time.Duration{}
	var baseline []time.Duration
	get := func(path, want string) time.Duration {
		start := time.Now()
		resp, err := http.Get(srv.URL + path)
		require.NoError(b, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		require.NoError(b, err)
		require.Equal(b, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
		require.Contains(b, string(body), want, path)
		return took
	}
	const perRound = 40
	measured := func() float64 {
		for range perRound {
			for _, p := range pages {
				samples[p.name] = append(samples[p.name], get(p.path, p.want))
			}
		}
		return 0
	}
	bare := func() float64 {
		for range perRound {
			start := time.Now()
			var one int
			require.NoError(b, db.QueryRow(ctx, `SELECT 1`).Scan(&one))
			baseline = append(baseline, time.Since(start))
		}
		return 0
	}
	_, _, rounds := alternate(b, measured, bare)
	results.Record(b, "console_select1_p95_ms", p95(baseline), "ms")
	line := []string{}
	for _, p := range pages {
		name := "console_" + p.name + "_p95_ms"
		results.Record(b, name, p95(samples[p.name]), "ms")
		ratio := results.Ratio(b, "console_"+p.name+"_p95_over_select1_x", name, "console_select1_p95_ms")
		line = append(line, fmt.Sprintf("%s %.1f ms (%.0fx SELECT 1)", p.name, p95(samples[p.name]), ratio))
	}
	fmt.Printf("console pages, p95 over %d requests each with %d sagas (target < 200 ms): %s; SELECT 1 p95 %.2f ms (%d rounds)\n",
		rounds*perRound, *consoleSagas, strings.Join(line, ", "), p95(baseline), rounds)
}

// deepCursor is the page cursor just after saga id, two thirds down the unfiltered list: keyset
// pages cost the same at any depth.
func deepCursor(b *testing.B, db *pgxpool.Pool, id string) string {
	var at time.Time
	require.NoError(b, db.QueryRow(context.Background(), `SELECT created_at FROM saga_instances WHERE id = $1`, id).Scan(&at))
	return console.CursorAt(at, id)
}
