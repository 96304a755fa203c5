package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/effect"
)

// recoverySQL asks whether the server is a standby and, if so, how far behind it is. Lag in time
// is 0 when everything received has been replayed: the age of the last replayed transaction
// alone would grow while the primary is idle.
const recoverySQL = `SELECT pg_is_in_recovery(),
	CASE WHEN pg_is_in_recovery() THEN
		CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
		ELSE (extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::bigint END
	END,
	CASE WHEN pg_is_in_recovery() THEN
		pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint
	END,
	(SELECT status FROM pg_stat_wal_receiver)`

// Probe connects to target, times a round trip, asks whether it is a standby and how far
// behind, and reports its pool's statistics (also as a ConnectionPoolStatsReported event). Its
// details, every value a decimal integer unless said otherwise:
//
//   - "round_trip_us": one round trip to the server (an empty statement), in microseconds;
//   - "in_recovery": "true" on a standby, "false" on a primary;
//   - on a standby, "replica_lag_ms": now minus the commit time of the last transaction it
//     replayed, or 0 when it has replayed everything it received (absent before it replayed any);
//   - on a standby, "replay_lag_bytes": WAL received but not yet replayed (absent when it does
//     not stream WAL);
//   - "wal_receiver_status": the standby's WAL receiver, e.g. "streaming" (absent on a primary
//     and for a user without pg_read_all_stats);
//   - "pool_acquired", "pool_idle", "pool_total", "pool_max": the pool's connections in use,
//     idle, open and allowed, after the probe;
//   - "pool_wait_count": acquires so far that had to wait for a connection (cumulative).
//
// A failed probe still reports the pool's details and what it measured before failing.
func (d *Driver) Probe(ctx context.Context, target string) (effect.Health, error) {
	pool, done, err := d.use(target)
	if err != nil {
		return effect.Health{}, err
	}
	defer done()
	details := map[string]string{}
	err = d.refused(probe(ctx, pool, details))
	st := pool.Stat()
	stats := events.ConnectionPoolStatsReported{
		AdapterID: events.AdapterID(events.AdapterPostgres, target), Acquired: int64(st.AcquiredConns()),
		Idle: int64(st.IdleConns()), Total: int64(st.TotalConns()), Max: int64(st.MaxConns()),
		WaitCount: st.EmptyAcquireCount(), ReportedAt: time.Now(),
	}
	for key, n := range map[string]int64{"pool_acquired": stats.Acquired, "pool_idle": stats.Idle,
		"pool_total": stats.Total, "pool_max": stats.Max, "pool_wait_count": stats.WaitCount} {
		details[key] = strconv.FormatInt(n, 10)
	}
	return effect.Health{Details: details, Events: []events.Message{stats}}, err
}

func probe(ctx context.Context, pool *pgxpool.Pool, details map[string]string) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("could not connect: %w", err)
	}
	defer conn.Release()
	start := time.Now()
	if err := conn.Ping(ctx); err != nil {
		return fmt.Errorf("could not ping: %w", err)
	}
	details["round_trip_us"] = strconv.FormatInt(time.Since(start).Microseconds(), 10)
	var inRecovery bool
	var lagMillis, lagBytes *int64
	var receiver *string
	if err := conn.QueryRow(ctx, recoverySQL).Scan(&inRecovery, &lagMillis, &lagBytes, &receiver); err != nil {
		return fmt.Errorf("could not ask whether the server is in recovery: %w", err)
	}
	details["in_recovery"] = strconv.FormatBool(inRecovery)
	if lagMillis != nil {
		details["replica_lag_ms"] = strconv.FormatInt(*lagMillis, 10)
	}
	if lagBytes != nil {
		details["replay_lag_bytes"] = strconv.FormatInt(*lagBytes, 10)
	}
	if receiver != nil {
		details["wal_receiver_status"] = *receiver
	}
	return nil
}
