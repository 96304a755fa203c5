package integration_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/handlers/postgres"
)

// The fleet's metrics after a real fault, read from /metrics as Prometheus would: the probed
// database is stopped, so its target goes critical, its breaker opens, the projection raises
// intents, a health check completes and a failover runs (its recovery attempts failing); and one
// command for a target nobody has is rejected and poisoned. Every new metric says so, beside a
// healthy target that says nothing of the kind; the fleet's gauges agree with the tables they are
// read from.
func TestMetrics_fleet_after_a_fault_say_what_the_fault_did(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	target := newTarget(t)
	cfg := appConfig(url, kafka.Brokers())
	cfg.Postgres.Targets = []postgres.Target{{Name: "control", URL: url}, {Name: "target", URL: target.URL}}
	addr := startApp(t, cfg)
	waitHealthy(t, db, targetID)
	waitHealthy(t, db, "postgres/control")

	env := []string{"DATABASE_URL=" + url, "KAFKA_BROKERS=" + strings.Join(kafka.Brokers(), ",")}
	_, _, code := omni(t, env, "cmd", "postgres", "probe", "--target", "nowhere", "--any-target", "--wait")
	require.Equal(t, 1, code, "a command for a target that is not configured is rejected")

	ctx := context.Background()
	require.NoError(t, target.Stop(ctx))

	var owner string
	require.NoError(t, db.QueryRow(ctx, `SELECT data->>'owner' FROM infrastructure_state WHERE adapter_id = $1`, targetID).Scan(&owner))
	require.NotEmpty(t, owner)
	pg := func(tgt string, kv ...string) map[string]string {
		l := map[string]string{"adapter": "postgres", "target": tgt}
		for i := 0; i+1 < len(kv); i += 2 {
			l[kv[i]] = kv[i+1]
		}
		return l
	}
	type expect struct {
		ok   func(float64) bool
		want string
	}
	is := func(want float64) expect { return expect{func(v float64) bool { return v == want }, fmt.Sprint(want)} }
	atLeast := func(want float64) expect {
		return expect{func(v float64) bool { return v >= want }, fmt.Sprintf(">= %g", want)}
	}
	type check struct {
		metric string
		labels map[string]string
		expect
	}
	c := func(metric string, labels map[string]string, e expect) check { return check{metric, labels, e} }
	checks := []check{
		c("omni_target_status", pg("target", "status", "critical"), is(1)),
		c("omni_target_status", pg("target", "status", "healthy"), is(0)),
		c("omni_target_status", pg("control", "status", "healthy"), is(1)),
		c("omni_target_breaker_state", pg("target", "state", "open"), is(1)),
		c("omni_target_breaker_state", pg("target", "state", "closed"), is(0)),
		c("omni_target_breaker_state", pg("control", "state", "closed"), is(1)),
		c("omni_target_owner", pg("target", "member", owner), is(1)),
		c("omni_intents_raised_total", map[string]string{"kind": "infrastructure_health_degraded"}, atLeast(1)),
		c("omni_intents_raised_total", map[string]string{"kind": "infrastructure_health_critical"}, atLeast(1)),
		c("omni_intents_raised_total", map[string]string{"kind": "circuit_breaker_opened"}, atLeast(1)),
		c("omni_sagas", map[string]string{"workflow": "health_check", "status": "completed"}, atLeast(1)),
		c("omni_sagas", map[string]string{"workflow": "failover", "status": "running"}, is(1)),
		c("omni_sagas", map[string]string{"workflow": "failover", "status": "escalated"}, is(0)),
		c("omni_saga_step_duration_seconds_count", map[string]string{"workflow": "health_check", "step": "probe_adapters", "outcome": "done"}, atLeast(1)),
		c("omni_saga_step_duration_seconds_count", map[string]string{"workflow": "failover", "step": "open_breaker", "outcome": "done"}, atLeast(1)),
		c("omni_command_outcomes_total", map[string]string{"adapter": "postgres", "command": "open_breaker", "outcome": "succeeded"}, atLeast(1)),
		c("omni_command_outcomes_total", map[string]string{"adapter": "postgres", "command": "recover_target", "outcome": "failed"}, atLeast(1)),
		c("omni_command_outcomes_total", map[string]string{"adapter": "postgres", "command": "probe_target", "outcome": "rejected"}, is(1)),
		c("omni_poison_messages", map[string]string{"consumer_group": "adapter-postgres"}, is(1)),
		c("omni_consumer_group_lag", map[string]string{"consumer_group": "infrastate-projection", "topic": "infra.events"}, atLeast(0)),
		c("omni_consumer_group_lag", map[string]string{"consumer_group": "adapter-postgres", "topic": "infra.commands.postgres"}, atLeast(0)),
		c("omni_outbox_pending_rows", map[string]string{"consumer_group": "outbox-relay"}, atLeast(0)),
	}
	for _, part := range []string{"targets", "intents", "sagas", "poison", "kafka_lag"} {
		checks = append(checks, c("omni_fleet_query_failed", map[string]string{"query": part}, is(0)))
	}

	var last scraped
	eventually(t, 120*time.Second, "every fleet metric to say what the fault did", func() (bool, string, error) {
		s, err := scrape(addr)
		if err != nil {
			return false, "", err
		}
		last = s
		var wrong []string
		for _, ch := range checks {
			v, ok := s.value(ch.metric, ch.labels)
			if !ok || !ch.ok(v) {
				wrong = append(wrong, fmt.Sprintf("%s%v = %v (present %v), want %s", ch.metric, ch.labels, v, ok, ch.want))
			}
		}
		return len(wrong) == 0, strings.Join(wrong, "; "), nil
	})

	// The gauges read the tables: the same counts, in any process.
	counts := func(query string) map[string]float64 {
		rows, err := db.Query(ctx, query)
		require.NoError(t, err)
		defer rows.Close()
		out := map[string]float64{}
		for rows.Next() {
			var k string
			var n int64
			require.NoError(t, rows.Scan(&k, &n))
			out[k] = float64(n)
		}
		require.NoError(t, rows.Err())
		return out
	}
	s := mustScrape(t, addr)
	for kind, n := range counts(`SELECT kind, count(*) FROM infrastructure_intents GROUP BY kind`) {
		v, ok := s.value("omni_intents_raised_total", map[string]string{"kind": kind})
		require.True(t, ok, "intents of kind %s", kind)
		require.GreaterOrEqual(t, v, n, "omni_intents_raised_total{kind=%q} counts the intents stored", kind)
	}
	var poison float64
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM poison_messages WHERE consumer_group = 'adapter-postgres'`).Scan(&poison))
	v, _ := s.value("omni_poison_messages", map[string]string{"consumer_group": "adapter-postgres"})
	require.Equal(t, poison, v)
	t.Logf("%s\n%s\n%s\n%s", last.series("omni_sagas"), last.series("omni_intents_raised_total"),
		last.series("omni_command_outcomes_total"), last.series("omni_consumer_group_lag"))

	t.Run("dashboard_queries_name_exported_metrics", func(t *testing.T) {
		checkDashboard(t, s)
	})

	// A broker that hangs: the scrape still answers, within its timeout, with the lag reported
	// unreadable and the fleet's state read from the database as before.
	t.Run("a_hung_broker_is_reported_not_waited_for", func(t *testing.T) {
		require.NoError(t, kafka.Pause(ctx))
		defer func() { require.NoError(t, kafka.Unpause(ctx)) }()
		start := time.Now()
		s := mustScrape(t, addr)
		took := time.Since(start)
		require.Less(t, took, 10*time.Second, "the scrape is bounded by the fleet metrics' timeout")
		failed, ok := s.value("omni_fleet_query_failed", map[string]string{"query": "kafka_lag"})
		require.True(t, ok)
		require.Equal(t, 1.0, failed, "the lag could not be read")
		failed, _ = s.value("omni_fleet_query_failed", map[string]string{"query": "targets"})
		require.Equal(t, 0.0, failed)
		v, ok := s.value("omni_target_status", pg("target", "status", "critical"))
		require.True(t, ok)
		require.Equal(t, 1.0, v)
		_, ok = s.value("omni_consumer_group_lag", nil)
		require.False(t, ok, "no lag is made up while the brokers do not answer")
	})
}
