package integration_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/projections/infrastate"
)

// SIGTERM while the projection applies a batch: the batch is finished and committed, with its
// offsets, before the process exits; nothing of it is rolled back to be applied again later.
func TestShutdown_SIGTERM_during_a_projection_batch_commits_that_batch(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	startApp(t, app.Config{DatabaseURL: url, KafkaBrokers: kafka.Brokers(), Roles: []app.Role{app.RoleRelay}})
	ctx := context.Background()
	const subject = "postgres/held"
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	publish := func(n int) {
		t.Helper()
		var msgs []*message.Message
		for range n {
			at = at.Add(time.Second)
			msg, err := events.Encode(events.AdapterHealthReported{AdapterID: subject, Adapter: events.AdapterPostgres,
				Target: "held", Healthy: true, LatencyMicros: 100, ProbedAt: at}, events.NewOrigin(), at)
			require.NoError(t, err)
			msgs = append(msgs, msg)
		}
		require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error {
			return outbox.PublishSealed(ctx, tx, sealerOf(t, db), events.DefaultTopics().Events, msgs...)
		}))
	}
	applied := func() (n int) {
		require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM processed_messages WHERE consumer = $1`,
			infrastate.ConsumerName).Scan(&n))
		return n
	}

	projector := startOmniProcess(t, url, kafka.Brokers(), "projection")
	projector.ready(t)
	publish(1)
	waitApplied(t, db, 1)

	// Hold the state table, so that the next batch blocks half way, inside its transaction. A table
	// lock takes no transaction id: a row lock would, and would hold back the relay, which only
	// reads outbox rows of transactions older than every running one.
	lock, err := db.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = lock.Rollback(ctx) }()
	_, err = lock.Exec(ctx, `LOCK TABLE infrastructure_state IN EXCLUSIVE MODE`)
	require.NoError(t, err)
	publish(20)
	eventually(t, 30*time.Second, "the projection's batch waiting on the held table", func() (bool, string, error) {
		var waiting int
		var activity string
		err := db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'),
			coalesce(string_agg(state || ' ' || coalesce(wait_event_type, '-') || ' ' || left(query, 60), '; '), '')
			FROM pg_stat_activity WHERE datname = current_database()`).Scan(&waiting, &activity)
		return waiting > 0, fmt.Sprintf("%d waiting, %d applied; %s; projector: %s", waiting, applied(), activity,
			projector.stderr), err
	})
	require.Equal(t, 1, applied(), "nothing of the held batch is committed yet")

	require.NoError(t, projector.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-projector.exited:
		t.Fatalf("the projector exited with its batch in flight:\n%s", projector.stderr)
	case <-time.After(time.Second):
	}
	require.NoError(t, lock.Rollback(ctx), "release the table")
	select {
	case <-projector.exited:
	case <-time.After(40 * time.Second):
		t.Fatalf("the projector did not exit after SIGTERM:\n%s", projector.stderr)
	}
	require.Equal(t, 0, projector.cmd.ProcessState.ExitCode(), "a clean stop:\n%s", projector.stderr)
	require.NotContains(t, projector.stderr.String(), "could not apply a batch")

	committed := applied()
	require.Greater(t, committed, 1, "the batch in flight at SIGTERM was committed")
	require.Equal(t, int64(committed), committedOffset(t, kafka.Brokers(), infrastate.ConsumerName, events.DefaultTopics().Events),
		"its offsets were committed with it")
	require.Equal(t, int64(committed), currentState(t, db, subject).Probes, "each event of it folded once")

	// A new projector takes the rest: every event applied once.
	startOmniProcess(t, url, kafka.Brokers(), "projection")
	waitApplied(t, db, 21)
	require.Equal(t, 21, applied())
	require.Equal(t, int64(21), currentState(t, db, subject).Probes)
	t.Logf("%d of 21 events committed by the batch in flight at SIGTERM", committed-1)
}
