package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/hashicorp/consul/api"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/consul"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/bus"
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/projections/infrastate"
	"github.com/omninode/omnibase-infra/sagas"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// publishIntent puts an intent on the intents topic, as the projection would.
func publishIntent(t *testing.T, db *pgxpool.Pool, brokers []string, name, subject string) string {
	t.Helper()
	var in events.IntentMessage
	intent := events.Intent{ID: watermill.NewUUID(), Subject: subject, Reason: "raised by the test", CausedBy: "test",
		RaisedAt: time.Now()}
	for _, proto := range events.Intents() {
		if proto.Kind().Name == name {
			in = withIntent(proto, intent)
		}
	}
	require.NotNil(t, in, "intent %s", name)
	pub, err := bus.NewPublisher(brokers, bus.Security{}, watermill.NopLogger{})
	require.NoError(t, err)
	defer pub.Close()
	msg, err := events.EncodeWithID(intent.ID, in, events.NewOrigin(), time.Now())
	require.NoError(t, err)
	require.NoError(t, pub.Publish(events.DefaultTopics().Intents, signed(t, db, events.DefaultTopics().Intents, msg)...))
	return intent.ID
}

func withIntent(proto events.IntentMessage, in events.Intent) events.IntentMessage {
	switch proto.(type) {
	case events.InfrastructureHealthDegraded:
		return events.InfrastructureHealthDegraded{Intent: in}
	case events.InfrastructureHealthCritical:
		return events.InfrastructureHealthCritical{Intent: in}
	case events.CircuitBreakerOpened:
		return events.CircuitBreakerOpened{Intent: in}
	case events.FailoverRequired:
		return events.FailoverRequired{Intent: in}
	case events.ConnectionPoolExhausted:
		return events.ConnectionPoolExhausted{Intent: in}
	case events.RecoveryInitiated:
		return events.RecoveryInitiated{Intent: in}
	case events.InitializationRequested:
		return events.InitializationRequested{Intent: in}
	}
	return nil
}

// sagaTriggeredBy waits for the saga an intent started or joined and returns its id.
func sagaTriggeredBy(t *testing.T, db *pgxpool.Pool, intentID string) string {
	t.Helper()
	var id string
	eventually(t, 30*time.Second, "a saga triggered by intent "+intentID, func() (bool, string, error) {
		err := db.QueryRow(context.Background(), `SELECT id FROM saga_instances
			WHERE data->'triggers' @> jsonb_build_array(jsonb_build_object('intent_id', $1::text))`, intentID).Scan(&id)
		if err == pgx.ErrNoRows {
			return false, "none yet", nil
		}
		return err == nil, "", err
	})
	return id
}

// waitSaga waits until saga id satisfies cond and returns it with its timeline.
func waitSaga(t *testing.T, db *pgxpool.Pool, id string, timeout time.Duration, what string, cond func(sagas.Story) bool) sagas.Story {
	t.Helper()
	var st sagas.Story
	eventually(t, timeout, what, func() (bool, string, error) {
		var err error
		st, err = sagas.Show(context.Background(), db, id)
		if err != nil {
			return false, "", err
		}
		return cond(st), fmt.Sprintf("%s at %s: %v", st.Status, st.Step, events_(st)), nil
	})
	return st
}

func ended(st sagas.Story) bool { return st.Status != sagas.StatusRunning }

// events_ is a saga's timeline as step:event.
func events_(st sagas.Story) []string {
	var out []string
	for _, m := range st.Timeline {
		out = append(out, m.Step+":"+m.Event)
	}
	return out
}

// loggedEvent returns the payload of the event of kind a saga published, from the event log.
func loggedEvents(t *testing.T, db *pgxpool.Pool, kind, sagaID string) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT convert_from(payload, 'UTF8') FROM event_log
		WHERE kind = $1 AND convert_from(payload, 'UTF8')::jsonb->>'saga_id' = $2 ORDER BY seq`, kind, sagaID)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

// writeContract writes a contract file for the test: the default one with edits applied.
func writeContract(t *testing.T, edits ...string) string {
	t.Helper()
	text := string(sagas.DefaultContractYAML())
	for i := 0; i+1 < len(edits); i += 2 {
		require.Contains(t, text, edits[i])
		text = strings.Replace(text, edits[i], edits[i+1], 1)
	}
	path := filepath.Join(t.TempDir(), "contract.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

// Each intent starts the workflow the contract routes it to, and the workflow completes: the
// health checks probe the real PostgreSQL and Kafka targets and publish their report; a failover
// for a healthy target finds nothing to do.
func TestSagas_each_intent_starts_its_workflow_and_it_completes(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	startApp(t, appConfig(url, kafka.Brokers()))
	waitHealthy(t, db, "postgres/control")
	waitHealthy(t, db, "kafka/bus")

	for _, tc := range []struct{ intent, workflow string }{
		{"infrastructure_health_degraded", "health_check"},
		{"infrastructure_health_critical", "health_check"},
		{"connection_pool_exhausted", "health_check"},
		{"circuit_breaker_opened", "failover"},
		{"failover_required", "failover"},
		{"recovery_initiated", "failover"},
	} {
		t.Run(tc.intent, func(t *testing.T) {
			id := sagaTriggeredBy(t, db, publishIntent(t, db, kafka.Brokers(), tc.intent, "postgres/control"))
			st := waitSaga(t, db, id, 30*time.Second, "the saga ending", ended)
			require.Equal(t, tc.workflow, st.Workflow)
			require.Equal(t, sagas.StatusCompleted, st.Status, "%v", events_(st))
			if tc.workflow == "failover" {
				require.Contains(t, events_(st), "identify_failed_adapter:step_done")
				require.Empty(t, st.Commands, "a healthy target needs no failover")
				return
			}
			require.Len(t, st.Commands, 2, "one probe per target")
			for _, c := range st.Commands {
				require.Equal(t, "probe_target/v1", c.Kind)
				require.Equal(t, sagas.ReplySucceeded, c.Outcome, "%s answered", c.AdapterID)
			}
			reports := loggedEvents(t, db, "infrastructure_health_reported", id)
			require.Len(t, reports, 1)
			require.Contains(t, reports[0], `"overall":"healthy"`)
		})
	}
}

// An intent the contract has no route for is recorded as unroutable and goes to the intake's
// poison topic with the reason; the intents after it are still taken.
func TestSagas_an_unroutable_intent_is_recorded_and_poisoned(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	cfg := appConfig(url, kafka.Brokers())
	cfg.ContractPath = writeContract(t, "  connection_pool_exhausted: health_check\n", "")
	startApp(t, cfg)
	waitHealthy(t, db, "postgres/control")

	unroutable := publishIntent(t, db, kafka.Brokers(), "connection_pool_exhausted", "postgres/control")
	next := sagaTriggeredBy(t, db, publishIntent(t, db, kafka.Brokers(), "infrastructure_health_degraded", "postgres/control"))
	waitSaga(t, db, next, 30*time.Second, "the next intent's saga completing", ended)

	var intent, reason string
	require.NoError(t, db.QueryRow(context.Background(), `SELECT intent, reason FROM saga_unroutable WHERE intent_id = $1`,
		unroutable).Scan(&intent, &reason))
	require.Equal(t, "connection_pool_exhausted", intent)
	require.Contains(t, reason, "no route for intent")

	poisoned := poisonedBy(t, db, kafka.Brokers(), sagas.IntakeConsumerName, events.DefaultTopics().Intents, 1)
	require.Len(t, poisoned, 1)
	require.Contains(t, poisoned[unroutable], "no route for intent")
}

// consulFailoverConfig runs every role with a Consul agent as target "agent", a breaker that
// opens after 3 failures, and a contract whose failover polls every pollEvery up to attempts times.
func consulFailoverConfig(t *testing.T, url string, kafka *containers.Kafka, agent *containers.Consul, pollEvery string, attempts int) app.Config {
	cfg := appConfig(url, kafka.Brokers())
	cfg.Consul.Targets = []consul.Target{{Name: "agent", Addr: agent.Addr}}
	cfg.Adapters.CommandTimeout = 3 * time.Second
	cfg.Adapters.Breaker.Failures, cfg.Adapters.Breaker.OpenFor = 3, 2*time.Second
	cfg.ContractPath = writeContract(t, "poll: {every: 5s, attempts: 12}", fmt.Sprintf("poll: {every: %s, attempts: %d}", pollEvery, attempts))
	return cfg
}

// failoverOf waits for the first failover saga of subject.
func failoverOf(t *testing.T, db *pgxpool.Pool, subject string) string {
	t.Helper()
	var id string
	eventually(t, 60*time.Second, "a failover saga for "+subject, func() (bool, string, error) {
		list, err := sagas.List(context.Background(), db, sagas.Filter{Workflow: "failover", Subject: subject})
		if err != nil || len(list) == 0 {
			return false, "none yet", err
		}
		id = list[len(list)-1].ID // the oldest
		return true, "", nil
	})
	return id
}

// Failover from a real fault: the Consul agent stops, the breaker opens and the failover saga
// polls the recovery; the agent starts again and forgets its services (a dev agent keeps nothing),
// the recovery re-registers them, the breaker closes and the saga completes.
func TestFailover_consul_stopped_then_started_recovers_and_closes_the_breaker(t *testing.T) {
	agent := started(t, containers.StartConsul)
	kafka := newKafka(t)
	url, db := newControlDB(t)
	startApp(t, consulFailoverConfig(t, url, kafka, agent, "1s", 60))
	waitHealthy(t, db, "consul/agent")
	cmd := newCommander(t, db, kafka.Brokers())
	service := "web-" + watermill.NewUUID()[:8]
	resultOf(t, cmd.run(events.ConsulRegisterService{On: onAgent, ServiceID: service, Name: "web", Port: 8080}))
	client := consulClient(t, agent)

	ctx := context.Background()
	require.NoError(t, agent.Stop(ctx))
	id := failoverOf(t, db, "consul/agent")
	st := waitSaga(t, db, id, 60*time.Second, "recovery being polled", func(st sagas.Story) bool {
		return slices.Contains(events_(st), "poll_recovery:poll_scheduled")
	})
	require.Equal(t, sagas.StatusRunning, st.Status)
	require.Contains(t, events_(st), "open_breaker:step_done")
	state := currentState(t, db, "consul/agent")
	require.Equal(t, events.BreakerOpen, state.Breaker, "the breaker is open while the agent is down")
	waitSaga(t, db, id, 30*time.Second, "the second intent joining", func(st sagas.Story) bool {
		return slices.ContainsFunc(st.Timeline, func(m sagas.Moment) bool { return m.Event == "joined" })
	})
	running, err := sagas.List(ctx, db, sagas.Filter{Workflow: "failover", Subject: "consul/agent", Status: sagas.StatusRunning})
	require.NoError(t, err)
	require.Len(t, running, 1, "circuit_breaker_opened and failover_required for one subject make one saga")

	require.NoError(t, agent.Start(ctx))
	st = waitSaga(t, db, id, 90*time.Second, "the failover completing", ended)
	require.Equal(t, sagas.StatusCompleted, st.Status, "%v", events_(st))
	require.Contains(t, events_(st), "close_breaker:step_done")
	var polls, failedRecoveries int
	for _, c := range st.Commands {
		if c.Kind == "recover_target/v1" {
			polls++
			if c.Outcome != sagas.ReplySucceeded {
				failedRecoveries++
			}
		}
	}
	require.Greater(t, failedRecoveries, 0, "recovery was tried while the agent was down")
	require.Equal(t, polls-1, failedRecoveries, "the last recovery succeeded")
	t.Logf("failover: %d recovery attempts, %v", polls, events_(st))

	registered, _, err := client.Agent().Service(service, nil)
	require.NoError(t, err, "the recovery registered the service again")
	require.Equal(t, "web", registered.Service)
	eventually(t, 30*time.Second, "the breaker closed in the projection", func() (bool, string, error) {
		s := currentState(t, db, "consul/agent")
		return s.Breaker == events.BreakerClosed, string(s.Breaker), nil
	})
}

// Failover with the fault left in place: the polls run out, the compensation hands the breaker
// back, the saga ends escalated and the escalation event is published on Kafka.
func TestFailover_with_the_fault_left_in_place_compensates_and_escalates(t *testing.T) {
	agent := started(t, containers.StartConsul)
	kafka := newKafka(t)
	url, db := newControlDB(t)
	startApp(t, consulFailoverConfig(t, url, kafka, agent, "500ms", 4))
	tail := tailEvents(t, db, kafka.Brokers())
	waitHealthy(t, db, "consul/agent")

	require.NoError(t, agent.Stop(context.Background()))
	id := failoverOf(t, db, "consul/agent")
	st := waitSaga(t, db, id, 90*time.Second, "the failover ending", ended)
	require.Equal(t, sagas.StatusEscalated, st.Status, "%v", events_(st))
	require.Equal(t, "poll_recovery", st.Data.FailedStep)
	require.Contains(t, st.Failure, "after 4 attempts")
	tl := events_(st)
	require.Less(t, slices.Index(tl, "poll_recovery:step_failed"), slices.Index(tl, "release_breaker:compensated"),
		"the compensation runs after the step failed: %v", tl)
	require.Equal(t, "escalated", tl[len(tl)-1][strings.Index(tl[len(tl)-1], ":")+1:])

	var escalation events.FailoverFailed
	eventually(t, 30*time.Second, "failover_failed on infra.events", func() (bool, string, error) {
		got := consulEvents[events.FailoverFailed](t, tail, "failover_failed")
		if len(got) == 0 {
			return false, "not yet", nil
		}
		escalation = got[0]
		return len(got) == 1, fmt.Sprintf("%d published", len(got)), nil
	})
	require.Equal(t, id, escalation.SagaID)
	require.Equal(t, "consul/agent", escalation.Subject)
	require.Equal(t, []string{"release_breaker"}, escalation.Compensated)
}

// Initialization initializes PostgreSQL, Kafka and Consul in that order and verifies with a health
// check; with Consul stopped it stops at init_consul with a report naming the step.
func TestInitialization_runs_in_order_and_reports_the_failing_step(t *testing.T) {
	agent := started(t, containers.StartConsul)
	kafka := newKafka(t)
	url, db := newControlDB(t)
	cfg := appConfig(url, kafka.Brokers())
	cfg.Consul.Targets = []consul.Target{{Name: "agent", Addr: agent.Addr}}
	cfg.Adapters.CommandTimeout = 3 * time.Second
	startApp(t, cfg)
	for _, id := range []string{"postgres/control", "kafka/bus", "consul/agent"} {
		waitHealthy(t, db, id)
	}
	env := []string{"DATABASE_URL=" + url, "KAFKA_BROKERS=" + kafka.Addr}
	start := func(subject string) string {
		out, stderr, code := omni(t, env, "sagas", "start", "initialization", "--subject", subject)
		require.Equal(t, 0, code, stderr)
		fields := strings.Fields(strings.TrimSuffix(strings.TrimSpace(out), ")"))
		return sagaTriggeredBy(t, db, fields[len(fields)-1])
	}

	id := start("infrastructure")
	st := waitSaga(t, db, id, 60*time.Second, "initialization ending", ended)
	require.Equal(t, sagas.StatusCompleted, st.Status, "%v", events_(st))
	var order []string
	for _, c := range st.Commands {
		if c.Kind == "initialize_target/v1" {
			order = append(order, c.AdapterID)
			require.Equal(t, sagas.ReplySucceeded, c.Outcome, "%s: %+v", c.AdapterID, c.Reply)
		}
	}
	require.Equal(t, []string{"postgres/control", "kafka/bus", "consul/agent"}, order)
	reports := loggedEvents(t, db, "initialization_reported", id)
	require.Len(t, reports, 1)
	require.Contains(t, reports[0], `"status":"completed"`)

	// What an operator reads: the list, and the timeline with each command and its reply.
	out, stderr, code := omni(t, env, "sagas", "list", "--workflow", "initialization", "--status", "completed", "--json")
	require.Equal(t, 0, code, stderr)
	var listed []sagas.Instance
	require.NoError(t, json.Unmarshal([]byte(out), &listed))
	require.Len(t, listed, 1)
	require.Equal(t, id, listed[0].ID)
	out, stderr, code = omni(t, env, "sagas", "show", id)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "initialization of infrastructure, completed")
	for _, want := range []string{"init_kafka", "command_sent", "initialize_target/v1 → consul/agent", "succeeded from kafka/bus",
		"verify_health", "step_done"} {
		require.Contains(t, out, want)
	}
	_, stderr, code = omni(t, env, "sagas", "show", "no-such-saga")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "no such saga")

	require.NoError(t, agent.Stop(context.Background()))
	id = start("infrastructure")
	st = waitSaga(t, db, id, 90*time.Second, "initialization ending", ended)
	require.Equal(t, sagas.StatusFailed, st.Status, "%v", events_(st))
	require.Equal(t, "init_consul", st.Data.FailedStep)
	reports = loggedEvents(t, db, "initialization_reported", id)
	require.Len(t, reports, 1)
	require.Contains(t, reports[0], `"failed_step":"init_consul"`)
	require.Contains(t, reports[0], "consul/agent")
}

// The orchestrator killed with SIGKILL mid-saga and started again resumes from the persisted step,
// and the step's pending timeout, kept in PostgreSQL, still fires: a health check waiting for a
// target whose adapter is not running reports it unknown after the deadline.
func TestSagas_orchestrator_killed_with_SIGKILL_resumes_and_its_timeout_fires(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	cfg := appConfig(url, kafka.Brokers())
	cfg.Roles = []app.Role{app.RoleAdapters, app.RoleRelay, app.RoleProjection}
	startApp(t, cfg)
	waitHealthy(t, db, "postgres/control")
	waitHealthy(t, db, "kafka/bus")
	seedTarget(t, db, "consul", "ghost") // known to the projection; no Consul adapter runs to answer

	orchestrator := func() *containers.Omni {
		return started(t, func(ctx context.Context) (*containers.Omni, error) {
			port, err := containers.FreePort()
			if err != nil {
				return nil, err
			}
			return containers.StartOmni(ctx, containers.OmniConfig{
				Args: []string{"run", "--roles=sagas", "--skip-migrate", "--http-addr", fmt.Sprintf("127.0.0.1:%d", port)},
				Env:  map[string]string{"DATABASE_URL": url, "KAFKA_BROKERS": kafka.Addr},
			})
		})
	}
	first := orchestrator()
	id := sagaTriggeredBy(t, db, publishIntent(t, db, kafka.Brokers(), "infrastructure_health_degraded", "consul/ghost"))
	st := waitSaga(t, db, id, 30*time.Second, "two of three probes answered", func(st sagas.Story) bool {
		return st.Step == "probe_adapters" && strings.Count(strings.Join(events_(st), " "), "probe_adapters:reply") == 2
	})
	require.NotNil(t, st.Deadline)
	require.NoError(t, first.Kill(context.Background()), "SIGKILL")
	killedAt := time.Now()
	require.True(t, killedAt.Before(*st.Deadline), "killed before the deadline")

	orchestrator()
	st = waitSaga(t, db, id, 60*time.Second, "the saga ending", ended)
	require.Equal(t, sagas.StatusCompleted, st.Status, "%v", events_(st))
	var timedOut *sagas.Moment
	for i, m := range st.Timeline {
		if m.Event == "timed_out" {
			timedOut = &st.Timeline[i]
		}
	}
	require.NotNil(t, timedOut, "%v", events_(st))
	require.True(t, timedOut.RecordedAt.After(killedAt), "the timeout fired after the restart")
	require.Contains(t, timedOut.Note.Reason, "consul/ghost")
	reports := loggedEvents(t, db, "infrastructure_health_reported", id)
	require.Len(t, reports, 1)
	require.Contains(t, reports[0], `{"adapter_id":"consul/ghost","probe":"unknown"`)
	require.Contains(t, reports[0], `"overall":"degraded"`)
}

func consulClient(t *testing.T, agent *containers.Consul) *api.Client {
	t.Helper()
	client, err := api.NewClient(&api.Config{Address: agent.Addr})
	require.NoError(t, err)
	return client
}

// currentState returns the projection's state of one target.
func currentState(t *testing.T, db *pgxpool.Pool, adapterID string) infrastate.TargetState {
	t.Helper()
	states, err := infrastate.List(context.Background(), db)
	require.NoError(t, err)
	for _, s := range states {
		if s.AdapterID == adapterID {
			return s
		}
	}
	t.Fatalf("the projection has no state of %s", adapterID)
	return infrastate.TargetState{}
}

// seedTarget records one healthy probe of a target no adapter runs, through the outbox, and waits
// for the projection to know it.
func seedTarget(t *testing.T, db *pgxpool.Pool, adapter, target string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	msg, err := events.Encode(events.AdapterHealthReported{AdapterID: events.AdapterID(adapter, target), Adapter: adapter,
		Target: target, Healthy: true, LatencyMicros: 1, ProbedAt: now}, events.NewOrigin(), now)
	require.NoError(t, err)
	require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		return outbox.PublishSealed(ctx, tx, sealerOf(t, db), events.DefaultTopics().Events, msg)
	}))
	waitHealthy(t, db, events.AdapterID(adapter, target))
}

// omni contract validate names the line of each problem and exits 1; a good file passes.
func TestCLI_contract_validate(t *testing.T) {
	good := writeContract(t)
	out, stderr, code := omni(t, nil, "contract", "validate", good)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "is valid: 3 workflows, 7 routes")

	bad := writeContract(t,
		"  recovery_initiated: failover\n", "  recovery_initiated: failover\n  recovery_initiated: health_check\n",
		"        compensation: release_breaker\n", "",
		"      - name: publish_report\n", "      - name: publish_report\n      - name: reboot\n")
	_, stderr, code = omni(t, nil, "contract", "validate", bad)
	require.Equal(t, 1, code)
	for _, want := range []string{`:19: routes: "recovery_initiated" given twice (first on line 18)`, `step "open_breaker" changes the target's circuit breaker and has no compensation`,
		`unknown step "reboot"`} {
		require.Contains(t, stderr, want)
	}
	out, _, code = omni(t, nil, "contract", "show")
	require.Equal(t, 0, code)
	require.Equal(t, string(sagas.DefaultContractYAML()), out)
}
