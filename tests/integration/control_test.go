package integration_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/hashicorp/consul/api"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/postgres"
	"github.com/omninode/omnibase-infra/internal/command"
)

// breakerMoves are the circuit-breaker state changes among what a command caused, as "from→to".
func breakerMoves(caused []command.Caused) []string {
	out := []string{}
	for _, c := range caused {
		if m, ok := c.Event.(events.CircuitBreakerStateChanged); ok {
			out = append(out, m.AdapterID+" "+string(m.From)+"→"+string(m.To))
		}
	}
	return out
}

// healthOf is the health report among what a command caused.
func healthOf(t *testing.T, caused []command.Caused) events.AdapterHealthReported {
	t.Helper()
	for _, c := range caused {
		if h, ok := c.Event.(events.AdapterHealthReported); ok {
			return h
		}
	}
	t.Fatalf("no health report among %v", caused)
	return events.AdapterHealthReported{}
}

type breakerResult struct {
	State string `json:"state"`
	Was   string `json:"was"`
}

type recoverResult struct {
	Recovered bool     `json:"recovered"`
	Actions   []string `json:"actions"`
}

// open_breaker makes every normal command fail at once, naming the reason, and is recorded as a
// state change; control commands still run; close_breaker lets commands through again.
func TestControl_forced_open_breaker_refuses_commands_until_closed(t *testing.T) {
	a := startPostgresAdapter(t, nil, nil) // the control database as target "control"
	c := a.c
	succeeded(t, a.query("control", `SELECT 1`, 0), nil)

	var res breakerResult
	opened := c.run(events.OpenBreaker{Adapter: events.AdapterPostgres, Target: "control", Reason: "maintenance window"})
	done := succeeded(t, opened, &res)
	require.Equal(t, breakerResult{State: "open", Was: "closed"}, res)
	require.Equal(t, "postgres/control", done.AdapterID)
	require.Equal(t, []string{"postgres/control closed→open"}, breakerMoves(opened), "recorded with the outcome")

	start := time.Now()
	refused := failed(t, a.query("control", `SELECT 1`, 0))
	require.True(t, refused.Transient)
	require.Equal(t, 1, refused.Attempts, "a refused command is not retried")
	require.Less(t, refused.DurationMicros, int64(100_000), "it fails fast")
	for _, want := range []string{"circuit breaker open", "postgres/control", "forced open", "maintenance window"} {
		require.Contains(t, refused.Error, want)
	}
	t.Logf("refused in %s: %s", time.Since(start), refused.Error)

	// opening it again changes nothing; probes and the other control commands still run
	again := c.run(events.OpenBreaker{Adapter: events.AdapterPostgres, Target: "control", Reason: "someone else"})
	succeeded(t, again, &res)
	require.Equal(t, breakerResult{State: "open", Was: "open"}, res)
	require.Empty(t, breakerMoves(again))
	probed := c.run(events.ProbeTarget{Adapter: events.AdapterPostgres, Target: "control"})
	succeeded(t, probed, nil)
	require.True(t, healthOf(t, probed).Healthy, "the probe reached the target")
	succeeded(t, c.run(events.InitializeTarget{Adapter: events.AdapterPostgres, Target: "control"}), nil)
	require.Contains(t, failed(t, a.query("control", `SELECT 1`, 0)).Error, "maintenance window",
		"still refused, for the first reason")

	closed := c.run(events.CloseBreaker{Adapter: events.AdapterPostgres, Target: "control", Reason: "done"})
	succeeded(t, closed, &res)
	require.Equal(t, breakerResult{State: "closed", Was: "open"}, res)
	require.Equal(t, []string{"postgres/control open→closed"}, breakerMoves(closed))
	var rows pgQueryResult
	succeeded(t, a.query("control", `SELECT 1`, 0), &rows)
	require.Equal(t, 1, rows.RowCount)

	closedAgain := c.run(events.CloseBreaker{Adapter: events.AdapterPostgres, Target: "control"})
	succeeded(t, closedAgain, &res)
	require.Equal(t, breakerResult{State: "closed", Was: "closed"}, res)
	require.Empty(t, breakerMoves(closedAgain))
}

func TestControl_initialize_target_reports_each_adapters_readiness(t *testing.T) {
	rig := startConsulAdapter(t, nil)
	initialize := func(adapter, target string) map[string]string {
		t.Helper()
		var res map[string]string
		done := succeeded(t, rig.cmd.run(events.InitializeTarget{Adapter: adapter, Target: target}), &res)
		require.Equal(t, events.AdapterID(adapter, target), done.AdapterID)
		return res
	}

	pg := initialize(events.AdapterPostgres, "control")
	require.Len(t, pg, 2, "%v", pg)
	require.True(t, strings.HasPrefix(pg["server_version"], "15"), "%v", pg)
	require.Equal(t, "false", pg["in_recovery"])

	k := initialize(events.AdapterKafka, "bus")
	require.Len(t, k, 2, "%v", k)
	require.Equal(t, "1", k["brokers"])
	_, err := strconv.Atoi(k["controller_id"])
	require.NoError(t, err, "%v", k)

	leader, err := rig.api.Status().Leader()
	require.NoError(t, err)
	require.Equal(t, map[string]string{"datacenter": "dc1", "leader": leader}, initialize(events.AdapterConsul, "agent"))
}

// After the adapter's sessions are terminated on the server, recover_target replaces the pool:
// the next command runs on a new session.
func TestControl_postgres_recover_target_gives_a_fresh_pool(t *testing.T) {
	targetURL := control.NewDatabase(t)
	a := startPostgresAdapter(t, []postgres.Target{{Name: "orders", URL: targetURL}}, nil)
	backend := func() int64 {
		t.Helper()
		var res pgQueryResult
		succeeded(t, a.query("orders", `SELECT pg_backend_pid()`, 0), &res)
		var row []int64
		require.NoError(t, json.Unmarshal(res.Rows[0], &row))
		return row[0]
	}
	before := backend()

	ctx := context.Background()
	admin, err := pgx.Connect(ctx, targetURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close(context.Background()) })
	// pg_terminate_backend in the select list: it runs only for the rows the filter kept.
	rows, err := admin.Query(ctx, `SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'omnibase-infra' AND pid <> pg_backend_pid()`)
	require.NoError(t, err)
	var terminated []int64
	var pid int64
	var signalled bool
	_, err = pgx.ForEachRow(rows, []any{&pid, &signalled}, func() error {
		if signalled {
			terminated = append(terminated, pid)
		}
		return nil
	})
	require.NoError(t, err)
	require.Contains(t, terminated, before, "the adapter's session was terminated")

	caused := a.c.run(events.RecoverTarget{Adapter: events.AdapterPostgres, Target: "orders"})
	var res recoverResult
	succeeded(t, caused, &res)
	require.True(t, res.Recovered)
	require.Len(t, res.Actions, 1)
	require.Contains(t, res.Actions[0], "replaced the connection pool")
	require.True(t, healthOf(t, caused).Healthy, "the probe after the recovery is recorded with it")

	after := backend()
	require.NotContains(t, terminated, after, "the next command runs on a new session")
	t.Logf("session %d terminated, recovered onto session %d: %v", before, after, res.Actions)
}

// A restarted Consul dev agent forgets its services: recover_target fails while the agent is down
// and, once it is back, registers again the services the adapter registered (and not those it
// deregistered), as Consul's own API shows.
func TestControl_consul_recover_target_registers_the_services_again(t *testing.T) {
	rig := startConsulAdapter(t, nil)
	kept := "web-" + watermill.NewUUID()[:8]
	dropped := kept + "-old"
	resultOf(t, rig.cmd.run(events.ConsulRegisterService{On: onAgent, ServiceID: kept, Name: "web", Address: "10.0.0.9",
		Port: 8080, Tags: []string{"blue"}, Check: &events.ServiceCheck{Type: events.CheckTTL, TTL: "5m"}}))
	resultOf(t, rig.cmd.run(events.ConsulRegisterService{On: onAgent, ServiceID: dropped, Name: "web", Port: 8081}))
	resultOf(t, rig.cmd.run(events.ConsulDeregisterService{On: onAgent, ServiceID: dropped}))
	recoverAgent := func() []command.Caused {
		return rig.cmd.run(events.RecoverTarget{Adapter: events.AdapterConsul, Target: "agent"})
	}

	var res recoverResult
	succeeded(t, recoverAgent(), &res)
	require.Equal(t, recoverResult{Recovered: true, Actions: []string{"re-registered service " + kept}}, res,
		"with the agent up, registering again changes nothing and succeeds")

	ctx := context.Background()
	require.NoError(t, rig.agent.Stop(ctx))
	down := recoverAgent()
	f := failed(t, down)
	require.True(t, f.Transient)
	require.Contains(t, f.Error, "recovery failed: could not register service \""+kept+"\"")
	require.Contains(t, f.Error, "still unhealthy")
	require.False(t, healthOf(t, down).Healthy)

	require.NoError(t, rig.agent.Start(ctx))
	services, err := rig.api.Agent().Services()
	require.NoError(t, err)
	require.NotContains(t, services, kept, "the restarted dev agent forgot the service")

	up := recoverAgent()
	succeeded(t, up, &res)
	require.Equal(t, recoverResult{Recovered: true, Actions: []string{"re-registered service " + kept}}, res)
	require.True(t, healthOf(t, up).Healthy)
	service, _, err := rig.api.Agent().Service(kept, nil)
	require.NoError(t, err, "Consul knows the service again")
	require.Equal(t, "web", service.Service)
	require.Equal(t, "10.0.0.9", service.Address)
	require.Equal(t, 8080, service.Port)
	require.Equal(t, []string{"blue"}, service.Tags)
	require.Equal(t, api.HealthCritical, agentCheck(t, rig.api, "service:"+kept), "its TTL check is back, critical until passed")
	services, err = rig.api.Agent().Services()
	require.NoError(t, err)
	require.NotContains(t, services, dropped, "a deregistered service stays gone")
}

// Kafka's recovery reads the cluster's metadata anew and replaces the producer pool; publishing
// works on the new one.
func TestControl_kafka_recover_target_replaces_the_connection(t *testing.T) {
	broker := newKafka(t)
	url, db := newControlDB(t)
	startApp(t, adapterConfig(url, broker.Brokers()))
	c := newCommander(t, db, broker.Brokers())
	publish := events.KafkaPublish{On: onBus(), Topic: "control-" + watermill.NewUUID()[:8], Payload: "x"}
	succeeded(t, c.run(publish), nil)

	caused := c.run(events.RecoverTarget{Adapter: events.AdapterKafka, Target: "bus"})
	var res recoverResult
	succeeded(t, caused, &res)
	require.True(t, res.Recovered)
	require.Len(t, res.Actions, 2, "%v", res.Actions)
	require.Contains(t, res.Actions[0], "refreshed the cluster metadata (1 brokers")
	require.Contains(t, res.Actions[1], "replaced the client and its producer pool (2 producers)")
	require.Equal(t, "1", healthOf(t, caused).Details["brokers"])

	succeeded(t, c.run(publish), nil)
	require.Len(t, consumeAll(t, broker.Brokers(), publish.Topic, 2*time.Second, 2), 2,
		"the second record went through the new producers")
}
