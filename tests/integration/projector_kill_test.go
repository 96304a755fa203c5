package integration_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/projections/infrastate"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// A projector process killed with SIGKILL while events stream in, and started again, loses no
// event and applies none twice: every target's state counts each of its probes exactly once,
// and equals the fold of the event log in the order applied.
func TestProjection_projector_killed_with_SIGKILL_and_restarted_loses_nothing_and_applies_nothing_twice(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	startApp(t, app.Config{DatabaseURL: url, KafkaBrokers: kafka.Brokers(), Roles: []app.Role{app.RoleRelay}})
	projector := func() *containers.Omni {
		return started(t, func(ctx context.Context) (*containers.Omni, error) {
			port, err := containers.FreePort()
			if err != nil {
				return nil, err
			}
			return containers.StartOmni(ctx, containers.OmniConfig{
				Args: []string{"run", "--roles=projection", "--skip-migrate", "--http-addr", "127.0.0.1:" + strconv.Itoa(port)},
				Env:  map[string]string{"DATABASE_URL": url, "KAFKA_BROKERS": kafka.Addr},
			})
		})
	}
	const total = 1500
	s := newStream(t, db, 3)
	writing := make(chan struct{})
	go func() {
		defer close(writing)
		for s.written < total {
			s.write(min(50, total-s.written))
			time.Sleep(20 * time.Millisecond)
		}
	}()

	first := projector()
	applied := func() (n int) {
		require.NoError(t, db.QueryRow(context.Background(), `SELECT count(*) FROM processed_messages WHERE consumer = $1`,
			infrastate.ConsumerName).Scan(&n))
		return n
	}
	eventually(t, 60*time.Second, "the projector applying a few hundred events", func() (bool, string, error) {
		n := applied()
		return n >= 300, fmt.Sprintf("%d applied", n), nil
	})
	require.NoError(t, first.Kill(context.Background()), "SIGKILL")
	killedAt := applied()
	require.Less(t, killedAt, total, "killed while events were still coming")

	projector()
	<-writing
	waitApplied(t, db, total)
	require.Equal(t, total, applied(), "each event applied once")

	// Every health report of a target is counted once in its state.
	rows, err := db.Query(context.Background(), `SELECT key, count(*) FROM event_log
		WHERE kind = 'adapter_health_reported' GROUP BY key`)
	require.NoError(t, err)
	probes := map[string]int64{}
	var key string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&key, &n}, func() error { probes[key] = n; return nil })
	require.NoError(t, err)
	states, err := infrastate.List(context.Background(), db)
	require.NoError(t, err)
	require.Len(t, states, len(probes))
	for _, st := range states {
		require.Equal(t, probes[st.AdapterID], st.Probes, "probes of %s", st.AdapterID)
	}
	out, stderr, code := omni(t, []string{"DATABASE_URL=" + url}, "replay", "--verify")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, stderr)
	require.Contains(t, out, "verified")
	t.Logf("killed after %d of %d events", killedAt, total)
}

// Two projector processes in one consumer group share the partitions: together they apply every
// event once, and the state is the fold of the log.
func TestProjection_two_projectors_share_the_partitions_safely(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	projection := app.Config{DatabaseURL: url, KafkaBrokers: kafka.Brokers(), Roles: []app.Role{app.RoleRelay, app.RoleProjection}}
	startApp(t, projection)
	projection.Roles = []app.Role{app.RoleProjection}
	projection.SkipMigrate = true
	startApp(t, projection)

	s := newStream(t, db, 4)
	s.write(1200)
	waitApplied(t, db, 1200)
	var applied, distinct int
	require.NoError(t, db.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT message_id) FROM processed_messages
		WHERE consumer = $1`, infrastate.ConsumerName).Scan(&applied, &distinct))
	require.Equal(t, 1200, applied)
	require.Equal(t, 1200, distinct)
	out, stderr, code := omni(t, []string{"DATABASE_URL=" + url}, "replay", "--verify")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, stderr)
	require.Contains(t, out, "verified")
}
