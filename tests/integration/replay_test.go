package integration_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/audit"
	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/projections/infrastate"
)

// stream writes a varied stream of adapter facts through the outbox, as adapters do: probes
// that fail and recover, breaker changes and pool statistics over several targets.
type stream struct {
	t       *testing.T
	db      *pgxpool.Pool
	rng     *rand.Rand
	at      time.Time
	written int
}

func newStream(t *testing.T, db *pgxpool.Pool, seed uint64) *stream {
	return &stream{t: t, db: db, rng: rand.New(rand.NewPCG(seed, seed)), at: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
}

func (s *stream) next(target string) events.Message {
	s.at = s.at.Add(time.Duration(1+s.rng.IntN(500)) * time.Millisecond)
	id := events.AdapterID(events.AdapterPostgres, target)
	switch n := s.rng.IntN(10); {
	case n < 6:
		h := events.AdapterHealthReported{AdapterID: id, Adapter: events.AdapterPostgres, Target: target,
			Healthy: s.rng.IntN(3) > 0, LatencyMicros: int64(100 + s.rng.IntN(5000)), ProbedAt: s.at}
		if !h.Healthy {
			h.Error = "connection refused"
		}
		return h
	case n < 8:
		states := []events.BreakerState{events.BreakerClosed, events.BreakerOpen, events.BreakerHalfOpen}
		return events.CircuitBreakerStateChanged{AdapterID: id, From: states[s.rng.IntN(3)], To: states[s.rng.IntN(3)],
			ConsecutiveFailures: int64(s.rng.IntN(6)), ChangedAt: s.at}
	default:
		return events.ConnectionPoolStatsReported{AdapterID: id, Acquired: int64(s.rng.IntN(5)), Idle: 1, Total: 5, Max: 4,
			WaitCount: int64(s.written), ReportedAt: s.at}
	}
}

// write commits n events, a few per transaction, spread over targets.
func (s *stream) write(n int) {
	s.t.Helper()
	ctx := context.Background()
	for n > 0 {
		var msgs []*message.Message
		for range min(n, 1+s.rng.IntN(4)) {
			m := s.next(fmt.Sprintf("db%d", s.rng.IntN(5)))
			msg, err := events.Encode(m, events.NewOrigin(), s.at)
			require.NoError(s.t, err)
			msgs = append(msgs, msg)
		}
		require.NoError(s.t, pgtx.Run(ctx, s.db, func(tx pgx.Tx) error {
			return outbox.PublishSealed(ctx, tx, sealerOf(s.t, s.db), events.DefaultTopics().Events, msgs...)
		}))
		n -= len(msgs)
		s.written += len(msgs)
	}
}

// waitApplied waits until the live projection has applied every event written.
func waitApplied(t *testing.T, db *pgxpool.Pool, want int) {
	t.Helper()
	eventually(t, 90*time.Second, fmt.Sprintf("the projection applying %d events", want), func() (bool, string, error) {
		var n int
		err := db.QueryRow(context.Background(), `SELECT count(*) FROM processed_messages WHERE consumer = $1`,
			infrastate.ConsumerName).Scan(&n)
		return n >= want, fmt.Sprintf("%d applied", n), err
	})
}

func liveRows(t *testing.T, db *pgxpool.Pool) map[string]string {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT adapter_id, data::text FROM infrastructure_state`)
	require.NoError(t, err)
	out := map[string]string{}
	var id, data string
	_, err = pgx.ForEachRow(rows, []any{&id, &data}, func() error { out[id] = data; return nil })
	require.NoError(t, err)
	return out
}

// The projection rebuilt from the event log equals the live one, verified and then swapped in,
// while the live projection keeps applying new events.
func TestReplay_rebuilds_the_live_state_verifies_and_swaps_while_live_runs(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	startApp(t, app.Config{DatabaseURL: url, KafkaBrokers: kafka.Brokers(), Roles: []app.Role{app.RoleRelay, app.RoleProjection}})
	s := newStream(t, db, 1)
	s.write(600)
	waitApplied(t, db, s.written)
	env := []string{"DATABASE_URL=" + url}

	out, stderr, code := omni(t, env, "replay", "--verify", "--batch-size", "100")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, stderr)
	require.Contains(t, out, "replayed 600 events from the event log")
	require.Contains(t, out, "verified: the replayed state equals the live state")
	require.Contains(t, stderr, "600/600 events 100%", "a progress bar")

	// A live state that went wrong is caught, field by field.
	_, err := db.Exec(context.Background(), `UPDATE infrastructure_state SET data = jsonb_set(data, '{probes}', '99999')
		WHERE adapter_id = 'postgres/db3'`)
	require.NoError(t, err)
	out, _, code = omni(t, env, "replay", "--verify")
	require.Equal(t, 1, code, out)
	require.Regexp(t, `postgres/db3\s+probes\s+99999\s+\d+`, out)

	// Swap it in while events keep coming; then the live projection goes on on the new table.
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.write(300)
	}()
	out, stderr, code = omni(t, env, "replay")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, stderr)
	require.Contains(t, out, "swapped in")
	<-done
	waitApplied(t, db, s.written)
	out, _, code = omni(t, env, "replay", "--verify")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "verified")
	require.NotContains(t, liveRows(t, db)["postgres/db3"], "99999", "the wrong state was replaced")

	// The same from the Kafka topic's earliest offset instead of the log.
	kenv := append(env, "KAFKA_BROKERS="+strings.Join(kafka.Brokers(), ","))
	out, stderr, code = omni(t, kenv, "replay", "--from", "kafka", "--verify")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, stderr)
	require.Contains(t, out, "replayed 900 events from Kafka topic infra.events")
	require.Contains(t, out, "verified")
}

// An interrupted replay resumes from its last batch; a second replay while one runs is refused.
func TestReplay_resumes_after_an_interruption_and_never_runs_twice_at_once(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	startApp(t, app.Config{DatabaseURL: url, KafkaBrokers: kafka.Brokers(), Roles: []app.Role{app.RoleRelay, app.RoleProjection}})
	s := newStream(t, db, 2)
	s.write(400)
	waitApplied(t, db, s.written)
	before := liveRows(t, db)
	cfg := infrastate.ReplayConfig{DB: db, Registry: events.Catalog(), Reducer: infrastate.Reducer{Thresholds: infrastate.DefaultThresholds()},
		BatchSize: 50}

	ctx, cancel := context.WithCancel(context.Background())
	interrupted := cfg
	interrupted.Progress = func(p infrastate.Progress) {
		if p.Folded >= 150 {
			cancel()
		}
	}
	_, err := infrastate.Replay(ctx, interrupted)
	require.Error(t, err, "interrupted")

	// Someone else replaying: refused, whoever it is.
	conn, err := db.Acquire(context.Background())
	require.NoError(t, err)
	_, err = conn.Exec(context.Background(), `SELECT pg_advisory_lock(x'696e667261737461'::bigint)`)
	require.NoError(t, err)
	_, err = infrastate.Replay(context.Background(), cfg)
	require.ErrorIs(t, err, infrastate.ErrReplayRunning)
	_, err = conn.Exec(context.Background(), `SELECT pg_advisory_unlock(x'696e667261737461'::bigint)`)
	require.NoError(t, err)
	conn.Release()

	res, err := infrastate.Replay(context.Background(), cfg)
	require.NoError(t, err)
	require.True(t, res.Resumed)
	require.EqualValues(t, 400, res.Folded, "each event folded once across the two runs")
	require.True(t, res.Swapped)
	require.Equal(t, normalised(t, before), normalised(t, liveRows(t, db)))

	// Safe to run again: a fresh replay of the same log gives the same state.
	res, err = infrastate.Replay(context.Background(), cfg)
	require.NoError(t, err)
	require.False(t, res.Resumed)
	require.Equal(t, normalised(t, before), normalised(t, liveRows(t, db)))
}

// normalised makes stored JSON comparable regardless of key order.
func normalised(t *testing.T, rows map[string]string) map[string]string {
	out := map[string]string{}
	for id, data := range rows {
		out[id] = strings.Join(strings.Fields(data), " ")
	}
	return out
}

// Events the live projection applied that the log no longer holds (trimmed by retention) are
// counted and left out, by a replay that runs through and by one that resumes.
func TestReplay_counts_the_events_the_log_lacks(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	startApp(t, app.Config{DatabaseURL: url, KafkaBrokers: kafka.Brokers(), Roles: []app.Role{app.RoleRelay, app.RoleProjection}})
	ctx := context.Background()
	s := newStream(t, db, 3)
	s.write(120)
	var cutoff time.Time
	require.NoError(t, db.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&cutoff))
	s.write(180)
	waitApplied(t, db, s.written)
	trimmed, err := outbox.TrimEventLog(ctx, db, cutoff, audit.RecordTrim("retention test"))
	require.NoError(t, err)
	require.EqualValues(t, 120, trimmed)

	cfg := infrastate.ReplayConfig{DB: db, Registry: events.Catalog(), Reducer: infrastate.Reducer{Thresholds: infrastate.DefaultThresholds()},
		BatchSize: 40, Verify: true}
	res, err := infrastate.Replay(ctx, cfg)
	require.NoError(t, err)
	require.EqualValues(t, 180, res.Folded)
	require.EqualValues(t, 120, res.Missing)
	require.False(t, res.Resumed)
	require.NotEmpty(t, res.Differences, "the state without the first 120 events differs from the live one")

	// A verified replay stays, and the next replay goes on from it and swaps it in.
	cfg.Verify = false
	res, err = infrastate.Replay(ctx, cfg)
	require.NoError(t, err)
	require.True(t, res.Resumed)
	require.True(t, res.AfterVerify, "it went on from a verify that ended: nothing was interrupted")
	require.True(t, res.Swapped)
	require.EqualValues(t, 120, res.Missing)

	stop, cancel := context.WithCancel(ctx)
	interrupted := cfg
	interrupted.Progress = func(p infrastate.Progress) {
		if p.Folded >= 80 {
			cancel()
		}
	}
	_, err = infrastate.Replay(stop, interrupted)
	require.Error(t, err, "interrupted")
	var last infrastate.Progress
	resumed := cfg
	resumed.Progress = func(p infrastate.Progress) { last = p }
	res, err = infrastate.Replay(ctx, resumed)
	require.NoError(t, err)
	require.True(t, res.Resumed)
	require.False(t, res.AfterVerify, "this one was interrupted")
	require.Equal(t, infrastate.Progress{Folded: 180, Total: 180}, last, "the progress ends at what could be folded")
	require.EqualValues(t, 180, res.Folded)
	require.EqualValues(t, 120, res.Missing, "the resumed replay counts the ones met before the interruption too")
}
