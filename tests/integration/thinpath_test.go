package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/effect"
	"github.com/omninode/omnibase-infra/handlers/postgres"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/projections/infrastate"
	"github.com/omninode/omnibase-infra/sagas"
	"github.com/omninode/omnibase-infra/tests/containers"
)

const targetID = "postgres/target"

// probeArgs are the probe settings of the thin-path tests: fast probes, so a fault shows in seconds.
var probeArgs = []string{"--probe-interval", "200ms", "--probe-timeout", "1s"}

// newTarget starts the PostgreSQL server the adapters probe: a container of its own, so the test
// can stop it without touching the control database.
func newTarget(t *testing.T) *containers.Postgres { return started(t, containers.StartPostgres) }

func TestThinPath_in_process(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	target := newTarget(t)
	startApp(t, app.Config{
		DatabaseURL: url, KafkaBrokers: kafka.Brokers(), Roles: app.AllRoles,
		Postgres: postgres.Config{Targets: []postgres.Target{{Name: "target", URL: target.URL}}},
		Adapters: effect.Config{ProbeInterval: 200 * time.Millisecond, ProbeTimeout: time.Second},
	})
	checkThinPath(t, db, kafka, target)
	checkFilters(t, url)
}

// checkFilters reads what the thin path left behind through omni state and omni intents' filters.
func checkFilters(t *testing.T, url string) {
	env := []string{"DATABASE_URL=" + url}
	jsonOf := func(out any, args ...string) {
		t.Helper()
		stdout, stderr, code := omni(t, env, append(args, "--json")...)
		require.Equal(t, 0, code, stderr)
		require.NoError(t, json.Unmarshal([]byte(stdout), out), stdout)
	}
	var intents []struct {
		Kind    string `json:"kind"`
		Subject string `json:"subject"`
	}
	jsonOf(&intents, "intents", "--target", targetID, "--kind", "recovery_initiated")
	require.Len(t, intents, 1)
	require.Equal(t, targetID, intents[0].Subject)
	jsonOf(&intents, "intents", "--target", "target", "--since", "1h")
	require.GreaterOrEqual(t, len(intents), 3, "a target's name selects its intents")
	jsonOf(&intents, "intents", "--target", "kafka")
	require.Empty(t, intents)
	jsonOf(&intents, "intents", "--since", time.Now().Add(time.Hour).Format(time.RFC3339))
	require.Empty(t, intents, "nothing was raised in the future")

	var state struct {
		Targets []struct {
			AdapterID string `json:"adapter_id"`
		} `json:"targets"`
	}
	jsonOf(&state, "state", "--status", "healthy", "--target", "postgres")
	var ids []string
	for _, s := range state.Targets {
		ids = append(ids, s.AdapterID)
	}
	require.Equal(t, []string{targetID}, ids)
	jsonOf(&state, "state", "--status", "critical")
	require.Empty(t, state.Targets)
}

func TestThinPath_omni_image_in_a_container(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	target := newTarget(t)
	omni := started(t, func(ctx context.Context) (*containers.Omni, error) {
		return containers.StartOmni(ctx, containers.OmniConfig{
			Args: append([]string{"run", "--roles=adapters,relay,projection,sagas", "--probe-target", "target=" + target.URL}, probeArgs...),
			Env:  map[string]string{"DATABASE_URL": url, "KAFKA_BROKERS": kafka.Addr},
		})
	})
	t.Cleanup(func() { // runs before started's: the logs are read before the container goes
		if logs, err := omni.Logs(context.Background()); err == nil && t.Failed() {
			t.Logf("omni container logs:\n%s", logs)
		}
	})
	checkThinPath(t, db, kafka, target)

	// SIGTERM: the router finishes what is in flight and the process exits.
	ctx := context.Background()
	require.NoError(t, omni.Stop(ctx))
	logs, err := omni.Logs(ctx)
	require.NoError(t, err)
	require.Contains(t, logs, `msg="omni stopped"`, "graceful shutdown on SIGTERM: every role returned")
}

// checkThinPath drives the loop from a real fault: stop the probed database, see the state go
// degraded then critical, the intents stored and published once and a health check run; start it
// again and see the state recover.
func checkThinPath(t *testing.T, db *pgxpool.Pool, kafka *containers.Kafka, target *containers.Postgres) {
	ctx := context.Background()
	waitStatus(t, db, infrastate.StatusHealthy, 60*time.Second)

	require.NoError(t, target.Stop(ctx))
	waitStatus(t, db, infrastate.StatusCritical, 60*time.Second)

	kinds := healthKindsOf(t, db, targetID)
	require.Equal(t, []string{"infrastructure_health_degraded", "infrastructure_health_critical"}, kinds,
		"degraded, then critical, each raised once")

	// The intents start health checks of the target: each probes every target, reports the
	// target down and completes.
	var checks []sagas.Instance
	eventually(t, 60*time.Second, "a completed health_check saga for the target", func() (bool, string, error) {
		var err error
		checks, err = sagas.List(ctx, db, sagas.Filter{Workflow: "health_check", Subject: targetID, Status: sagas.StatusCompleted})
		return len(checks) > 0, fmt.Sprintf("%d completed", len(checks)), err
	})
	story, err := sagas.Show(ctx, db, checks[len(checks)-1].ID)
	require.NoError(t, err)
	require.Equal(t, sagas.StatusCompleted, story.Status)
	check, err := sagas.StateOf[sagas.HealthCheckState](story)
	require.NoError(t, err)
	for _, h := range check.Health {
		if h.AdapterID == targetID {
			require.Equal(t, events.ProbeUnhealthy, h.Probe, "the check's own probe found the target down")
		}
	}

	require.NoError(t, target.Start(ctx))
	waitStatus(t, db, infrastate.StatusHealthy, 60*time.Second)
	kinds = healthKindsOf(t, db, targetID)
	require.Equal(t, []string{"infrastructure_health_degraded", "infrastructure_health_critical", "recovery_initiated"}, kinds)

	// Every stored intent was published to infra.intents exactly once.
	var stored []string
	rows, err := db.Query(ctx, `SELECT intent_id FROM infrastructure_intents WHERE subject = $1`, targetID)
	require.NoError(t, err)
	stored, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	published := map[string]int{}
	for _, r := range consumeAll(t, kafka.Brokers(), events.DefaultTopics().Intents, 3*time.Second, 1000) {
		if string(r.Key) == targetID {
			published[header(r, "_watermill_message_uuid")]++
		}
	}
	require.Len(t, published, len(stored))
	for _, id := range stored {
		require.Equal(t, 1, published[id], "intent %s published once", id)
	}
}

// healthKindsOf is kindsOf without the circuit-breaker intents: whether the target's breaker
// opens before the database is back depends on timing here (the Consul adapter's test drives the
// breaker deterministically).
func healthKindsOf(t *testing.T, db *pgxpool.Pool, subject string) []string {
	t.Helper()
	var out []string
	for _, k := range kindsOf(t, db, subject) {
		if k != "circuit_breaker_opened" && k != "failover_required" {
			out = append(out, k)
		}
	}
	return out
}

func waitStatus(t *testing.T, db *pgxpool.Pool, want infrastate.Status, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("%s to be %s", targetID, want), func() (bool, string, error) {
		states, err := infrastate.List(context.Background(), db)
		if err != nil {
			return false, "", err
		}
		for _, s := range states {
			if s.AdapterID == targetID {
				return s.Status == want, fmt.Sprintf("%s after %d probes (%d failing)", s.Status, s.Probes, s.ConsecutiveFailures), nil
			}
		}
		return false, "no state yet", nil
	})
}
