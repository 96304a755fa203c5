package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/postgres"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/internal/command"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// pgQueryResult is the result of postgres_query, rows kept as JSON.
type pgQueryResult struct {
	Columns  []string          `json:"columns"`
	Rows     []json.RawMessage `json:"rows"`
	RowCount int               `json:"row_count"`
}

// pgAdapter runs the adapters and the relay with the PostgreSQL targets given, and commands them.
type pgAdapter struct {
	t *testing.T
	c *commander
}

func startPostgresAdapter(t *testing.T, targets []postgres.Target, configure func(*app.Config)) *pgAdapter {
	t.Helper()
	kafka := newKafka(t)
	url, db := newControlDB(t)
	cfg := adapterConfig(url, kafka.Brokers())
	cfg.Postgres.Targets = targets
	if configure != nil {
		configure(&cfg)
	}
	startApp(t, cfg)
	return &pgAdapter{t: t, c: newCommander(t, db, kafka.Brokers())}
}

// sqlArgs encodes Go values as a statement's JSON arguments.
func sqlArgs(t *testing.T, values ...any) []json.RawMessage {
	t.Helper()
	out := make([]json.RawMessage, len(values))
	for i, v := range values {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		out[i] = b
	}
	return out
}

func (a *pgAdapter) exec(target, sql string, argv ...json.RawMessage) []command.Caused {
	a.t.Helper()
	return a.c.run(events.PostgresExecute{On: events.On{Target: target}, Statement: events.Statement{SQL: sql, Args: argv}})
}

func (a *pgAdapter) query(target, sql string, maxRows int64, argv ...json.RawMessage) []command.Caused {
	a.t.Helper()
	return a.c.run(events.PostgresQuery{On: events.On{Target: target}, Statement: events.Statement{SQL: sql, Args: argv},
		MaxRows: maxRows})
}

// rows runs a query that must succeed and returns its result.
func (a *pgAdapter) rows(target, sql string, argv ...json.RawMessage) pgQueryResult {
	a.t.Helper()
	var res pgQueryResult
	succeeded(a.t, a.query(target, sql, 0, argv...), &res)
	return res
}

// probe probes target through a probe_target command and returns its health report.
func (a *pgAdapter) probe(target string) events.AdapterHealthReported {
	a.t.Helper()
	caused := a.c.run(events.ProbeTarget{Adapter: events.AdapterPostgres, Target: target})
	succeeded(a.t, caused, nil)
	for _, c := range caused {
		if h, ok := c.Event.(events.AdapterHealthReported); ok {
			return h
		}
	}
	a.t.Fatalf("probe of %s reported no health: %v", target, caused)
	return events.AdapterHealthReported{}
}

// pgDetail is a health detail that must be a decimal integer.
func pgDetail(t *testing.T, h events.AdapterHealthReported, key string) int64 {
	t.Helper()
	v, ok := h.Details[key]
	require.True(t, ok, "detail %q missing from %v", key, h.Details)
	n, err := strconv.ParseInt(v, 10, 64)
	require.NoError(t, err, "detail %q", key)
	return n
}

// pgFailedWith requires a command to have failed once, not transiently, with an error
// holding every want.
func pgFailedWith(t *testing.T, caused []command.Caused, want ...string) events.CommandFailed {
	t.Helper()
	f := failed(t, caused)
	for _, w := range want {
		require.Contains(t, f.Error, w)
	}
	require.False(t, f.Transient, f.Error)
	require.Equal(t, 1, f.Attempts, "a statement error is not retried: %s", f.Error)
	return f
}

// Execute, Query and Transaction against a real server: arguments of every JSON kind, result
// shapes and types, the caps, rollback, statement errors that neither retry nor trip the breaker,
// and the probe's details.
func TestPostgresAdapter_executes_queries_and_transactions_on_a_real_server(t *testing.T) {
	targetURL := control.NewDatabase(t)
	a := startPostgresAdapter(t, []postgres.Target{{Name: "orders", URL: targetURL},
		{Name: "down", URL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/none?sslmode=disable", pgClosedPort(t))}},
		func(cfg *app.Config) { cfg.Adapters.Breaker.Failures = 1 }) // one failure that counted would open it

	t.Run("execute_ddl_and_inserts_with_arguments", func(t *testing.T) {
		var res struct {
			RowsAffected int64  `json:"rows_affected"`
			CommandTag   string `json:"command_tag"`
		}
		succeeded(t, a.exec("orders", `CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, price numeric,
			doc jsonb, seen timestamptz, day date, uid uuid, data bytea, ok boolean, ratio float8, tags text[])`), &res)
		require.Equal(t, "CREATE TABLE", res.CommandTag)
		require.Zero(t, res.RowsAffected)

		succeeded(t, a.exec("orders", `INSERT INTO items (id, name, price, doc, seen, day, uid, data, ok, ratio, tags)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, ARRAY['a', 'b'])`,
			json.RawMessage(`1`), json.RawMessage(`"apple"`), json.RawMessage(`1.25`),
			json.RawMessage(`{"color": "red", "n": 12345678901234567890}`), json.RawMessage(`"2024-05-01T14:00:00+02:00"`),
			json.RawMessage(`"2024-05-01"`), json.RawMessage(`"550e8400-e29b-41d4-a716-446655440000"`),
			json.RawMessage(`"\\x01ab"`), json.RawMessage(`true`), json.RawMessage(`0.5`)), &res)
		require.Equal(t, int64(1), res.RowsAffected)
		require.Equal(t, "INSERT 0 1", res.CommandTag)

		succeeded(t, a.exec("orders", `INSERT INTO items (id, name, price) SELECT g, 'n' || g, $1 FROM generate_series(2, 4) g`,
			json.RawMessage(`null`)), &res)
		require.Equal(t, int64(3), res.RowsAffected)
		succeeded(t, a.exec("orders", `UPDATE items SET ratio = $1 WHERE id > $2`, sqlArgs(t, 2, 2)...), &res)
		require.Equal(t, int64(2), res.RowsAffected, "the integer 2 goes to a float8 parameter too")
		require.Equal(t, "UPDATE 2", res.CommandTag)
	})

	t.Run("query_returns_columns_and_readable_values", func(t *testing.T) {
		res := a.rows("orders", `SELECT id, name, price, doc, seen, day, uid, data, ok, ratio, tags, NULL::text AS nothing
			FROM items WHERE id = $1`, json.RawMessage(`1`))
		require.Equal(t, []string{"id", "name", "price", "doc", "seen", "day", "uid", "data", "ok", "ratio", "tags", "nothing"},
			res.Columns)
		require.Equal(t, 1, res.RowCount)
		require.JSONEq(t, `[1, "apple", 1.25, {"color": "red", "n": 12345678901234567890}, "2024-05-01T12:00:00Z",
			"2024-05-01", "550e8400-e29b-41d4-a716-446655440000", "\\x01ab", true, 0.5, ["a", "b"], null]`, string(res.Rows[0]))
		require.Contains(t, string(res.Rows[0]), "12345678901234567890", "a jsonb number keeps every digit")

		res = a.rows("orders", `SELECT id, ratio FROM items WHERE ratio > $1 AND name <> $2 ORDER BY id`,
			sqlArgs(t, 1.5, "apple")...)
		require.Equal(t, 2, res.RowCount)
		require.JSONEq(t, `[3, 2]`, string(res.Rows[0]))
		require.JSONEq(t, `[4, 2]`, string(res.Rows[1]))

		res = a.rows("orders", `SELECT 1 WHERE false`)
		require.Equal(t, 0, res.RowCount)
		require.Empty(t, res.Rows)
	})

	t.Run("query_past_max_rows_fails_naming_the_cap", func(t *testing.T) {
		pgFailedWith(t, a.query("orders", `SELECT g FROM generate_series(1, 5) g`, 3),
			"query returned more than 3 rows (max_rows)")
		var res pgQueryResult
		succeeded(t, a.query("orders", `SELECT g FROM generate_series(1, 3) g`, 3), &res)
		require.Equal(t, 3, res.RowCount, "exactly max_rows is fine")

		// the adapter's ceiling, 1000 by default, holds whatever the command asks for
		pgFailedWith(t, a.query("orders", `SELECT g FROM generate_series(1, 1001) g`, 5000),
			"query returned more than 1000 rows (max_rows)")
		succeeded(t, a.query("orders", `SELECT g FROM generate_series(1, 1000) g`, 0), &res)
		require.Equal(t, 1000, res.RowCount)
		// and a huge result stops on the server rather than being read to its end
		// (a set-returning function in the select list streams its rows; in FROM it would not)
		start := time.Now()
		pgFailedWith(t, a.query("orders", `SELECT generate_series(1, 50000000)`, 10),
			"query returned more than 10 rows (max_rows)")
		require.Less(t, time.Since(start), 4*time.Second)
	})

	t.Run("query_past_max_result_bytes_fails_naming_the_cap", func(t *testing.T) {
		pgFailedWith(t, a.query("orders", `SELECT repeat('x', 300000)`, 0),
			"query result is larger than 262144 bytes (max_result_bytes)")
		pgFailedWith(t, a.query("orders", `SELECT repeat('x', 1000) FROM generate_series(1, 300)`, 0),
			"query result is larger than 262144 bytes (max_result_bytes)")
	})

	t.Run("transaction_commits_every_statement", func(t *testing.T) {
		var res struct {
			RowsAffected []int64 `json:"rows_affected"`
		}
		succeeded(t, a.c.run(events.PostgresTransaction{On: events.On{Target: "orders"}, Statements: []events.Statement{
			{SQL: `INSERT INTO items (id, name) VALUES ($1, $2)`, Args: sqlArgs(t, 10, "kiwi")},
			{SQL: `INSERT INTO items (id, name) VALUES ($1, $2)`, Args: sqlArgs(t, 11, "lime")},
			{SQL: `UPDATE items SET ok = $1 WHERE id >= $2`, Args: sqlArgs(t, false, 10)},
		}}), &res)
		require.Equal(t, []int64{1, 1, 2}, res.RowsAffected)
		got := a.rows("orders", `SELECT id, ok FROM items WHERE id >= 10 ORDER BY id`)
		require.Equal(t, 2, got.RowCount)
		require.JSONEq(t, `[10, false]`, string(got.Rows[0]))
	})

	t.Run("transaction_rolls_back_everything_when_a_statement_fails", func(t *testing.T) {
		f := pgFailedWith(t, a.c.run(events.PostgresTransaction{On: events.On{Target: "orders"}, Statements: []events.Statement{
			{SQL: `INSERT INTO items (id, name) VALUES ($1, $2)`, Args: sqlArgs(t, 20, "plum")},
			{SQL: `INSERT INTO items (id, name) VALUES ($1, $2)`, Args: sqlArgs(t, 1, "duplicate")},
			{SQL: `INSERT INTO items (id, name) VALUES ($1, $2)`, Args: sqlArgs(t, 21, "fig")},
		}}), "statements[1] (2 of 3) failed, so the transaction is rolled back", "SQLSTATE 23505")
		require.Equal(t, "postgres/orders", f.AdapterID)
		got := a.rows("orders", `SELECT count(*) FROM items WHERE id IN (20, 21)`)
		require.JSONEq(t, `[0]`, string(got.Rows[0]), "the first statement was rolled back")
	})

	t.Run("statement_errors_fail_once_and_leave_the_breaker_closed", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			caused []command.Caused
			want   string
		}{
			{"syntax", a.exec("orders", `SELEC 1`), "SQLSTATE 42601"},
			{"undefined_table", a.query("orders", `SELECT * FROM nowhere`, 0), "SQLSTATE 42P01"},
			{"bad_data", a.exec("orders", `INSERT INTO items (id, name) VALUES ($1, $2)`, sqlArgs(t, "not a number", "x")...),
				"SQLSTATE 22P02"},
			{"missing_argument", a.query("orders", `SELECT $1::int`, 0), "expected 1 arguments, got 0"},
			{"two_statements_in_one", a.exec("orders", `CREATE TABLE sneaky (x int); DROP TABLE items`),
				"cannot insert multiple commands into a prepared statement"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				pgFailedWith(t, tc.caused, tc.want)
				for _, c := range tc.caused {
					require.NotEqual(t, "circuit_breaker_state_changed", c.Event.Kind().Name,
						"a statement error says nothing about the server")
				}
			})
		}
		got := a.rows("orders", `SELECT count(*) FROM items`)
		require.JSONEq(t, `[6]`, string(got.Rows[0]), "items survived the two-statement command")
		got = a.rows("orders", `SELECT to_regclass('sneaky') IS NULL`)
		require.JSONEq(t, `[true]`, string(got.Rows[0]))
	})

	t.Run("probe_reports_round_trip_recovery_and_pool", func(t *testing.T) {
		h := a.probe("orders")
		require.True(t, h.Healthy, h.Error)
		require.GreaterOrEqual(t, pgDetail(t, h, "round_trip_us"), int64(0))
		require.Equal(t, "false", h.Details["in_recovery"])
		require.NotContains(t, h.Details, "replica_lag_ms")
		require.NotContains(t, h.Details, "replay_lag_bytes")
		require.Equal(t, int64(4), pgDetail(t, h, "pool_max"))
		require.GreaterOrEqual(t, pgDetail(t, h, "pool_total"), int64(1))
		for _, key := range []string{"pool_acquired", "pool_idle", "pool_wait_count"} {
			pgDetail(t, h, key)
		}

		caused := a.c.run(events.ProbeTarget{Adapter: events.AdapterPostgres, Target: "orders"})
		var stats *events.ConnectionPoolStatsReported
		for _, c := range caused {
			if s, ok := c.Event.(events.ConnectionPoolStatsReported); ok {
				stats = &s
			}
		}
		require.NotNil(t, stats, "the probe reports the pool: %v", caused)
		require.Equal(t, "postgres/orders", stats.AdapterID)
		require.Equal(t, int64(4), stats.Max)
		require.GreaterOrEqual(t, stats.Total, int64(1))

		// sessions name themselves
		got := a.rows("orders", `SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'omnibase-infra'`)
		require.JSONEq(t, `[true]`, string(got.Rows[0]))

		down := a.probe("down")
		require.False(t, down.Healthy)
		require.Contains(t, down.Error, "could not connect")
		require.Equal(t, "4", down.Details["pool_max"], "a failed probe still reports the pool")
	})
}

// pgClosedPort is a port on 127.0.0.1 that nothing listens on.
func pgClosedPort(t *testing.T) int {
	t.Helper()
	port, err := containers.FreePort()
	require.NoError(t, err)
	return port
}

// A statement still running at the command timeout fails the command as a timeout, and it stops
// on the server too: the adapter sends a cancel request instead of only dropping its connection.
func TestPostgresAdapter_a_statement_past_the_command_timeout_is_cancelled_on_the_server(t *testing.T) {
	targetURL := control.NewDatabase(t)
	a := startPostgresAdapter(t, []postgres.Target{{Name: "orders", URL: targetURL}},
		func(cfg *app.Config) { cfg.Adapters.CommandTimeout = time.Second })
	target, err := pgxpool.New(context.Background(), targetURL)
	require.NoError(t, err)
	t.Cleanup(target.Close)
	sleeping := func() (int, error) {
		var n int
		err := target.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE query = 'SELECT pg_sleep(10)' AND state = 'active'`).Scan(&n)
		return n, err
	}

	start := time.Now()
	f := failed(t, a.query("orders", `SELECT pg_sleep(10)`, 0))
	require.Contains(t, f.Error, "timed out after 1s")
	require.Equal(t, 1, f.Attempts, "a timeout is not retried")
	require.Less(t, f.DurationMicros, (3 * time.Second).Microseconds())
	require.Less(t, time.Since(start), 8*time.Second)
	// pg_sleep(10) would run on for about 9 more seconds if only the connection had been dropped
	eventually(t, 3*time.Second, "the statement to stop on the server", func() (bool, string, error) {
		n, err := sleeping()
		return n == 0, fmt.Sprintf("%d still running", n), err
	})

	var res pgQueryResult
	succeeded(t, a.query("orders", `SELECT 1`, 0), &res)
	require.Equal(t, 1, res.RowCount, "the adapter goes on with the next command")
}

// A hot standby reports that it is in recovery and how far behind it is, in time and in WAL
// bytes; the lag grows while replay is paused and goes back to zero when it resumes.
func TestPostgresAdapter_reports_the_replica_lag_of_a_standby(t *testing.T) {
	primary := started(t, containers.StartPostgres)
	standby := started(t, func(ctx context.Context) (*containers.Postgres, error) {
		return containers.StartPostgresStandby(ctx, primary)
	})
	a := startPostgresAdapter(t, []postgres.Target{{Name: "primary", URL: primary.URL}, {Name: "replica", URL: standby.URL}}, nil)
	ctx := context.Background()
	pdb, err := pgxpool.New(ctx, primary.URL)
	require.NoError(t, err)
	t.Cleanup(pdb.Close)
	sdb, err := pgxpool.New(ctx, standby.URL)
	require.NoError(t, err)
	t.Cleanup(sdb.Close)

	succeeded(t, a.exec("primary", `CREATE TABLE lag_check (n int)`), nil)
	succeeded(t, a.exec("primary", `INSERT INTO lag_check VALUES ($1)`, json.RawMessage(`1`)), nil)
	eventually(t, 30*time.Second, "the standby to replay the insert", func() (bool, string, error) {
		var res pgQueryResult
		caused := a.query("replica", `SELECT count(*) FROM lag_check`, 0)
		if f, ok := outcome(t, caused).(events.CommandFailed); ok {
			return false, f.Error, nil
		}
		succeeded(t, caused, &res)
		return string(res.Rows[0]) == "[1]", string(res.Rows[0]), nil
	})

	h := a.probe("primary")
	require.Equal(t, "false", h.Details["in_recovery"])
	require.NotContains(t, h.Details, "replica_lag_ms")

	h = a.probe("replica")
	require.True(t, h.Healthy, h.Error)
	require.Equal(t, "true", h.Details["in_recovery"])
	require.Equal(t, "streaming", h.Details["wal_receiver_status"])
	pgDetail(t, h, "replica_lag_ms")
	pgDetail(t, h, "replay_lag_bytes")
	eventually(t, 30*time.Second, "the standby to report it has caught up", func() (bool, string, error) {
		h := a.probe("replica")
		return h.Details["replay_lag_bytes"] == "0" && h.Details["replica_lag_ms"] == "0", fmt.Sprint(h.Details), nil
	})

	// a standby refuses writes: a statement error, not a connection problem
	pgFailedWith(t, a.exec("replica", `INSERT INTO lag_check VALUES (2)`), "SQLSTATE 25006")

	_, err = sdb.Exec(ctx, `SELECT pg_wal_replay_pause()`)
	require.NoError(t, err)
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			_, _ = sdb.Exec(context.Background(), `SELECT pg_wal_replay_resume()`)
		}
	})
	time.Sleep(1100 * time.Millisecond) // so the last replayed commit is over a second old
	_, err = pdb.Exec(ctx, `INSERT INTO lag_check SELECT g FROM generate_series(1, 1000) g`)
	require.NoError(t, err)
	eventually(t, 30*time.Second, "the paused standby to report lag", func() (bool, string, error) {
		h := a.probe("replica")
		bytes, _ := strconv.ParseInt(h.Details["replay_lag_bytes"], 10, 64)
		millis, _ := strconv.ParseInt(h.Details["replica_lag_ms"], 10, 64)
		return bytes > 0 && millis >= 1000, fmt.Sprint(h.Details), nil
	})

	_, err = sdb.Exec(ctx, `SELECT pg_wal_replay_resume()`)
	require.NoError(t, err)
	resumed = true
	eventually(t, 30*time.Second, "the standby to catch up", func() (bool, string, error) {
		h := a.probe("replica")
		return h.Details["replay_lag_bytes"] == "0" && h.Details["replica_lag_ms"] == "0", fmt.Sprint(h.Details), nil
	})
}
