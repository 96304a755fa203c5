package integration_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/migrations"
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/projections/infrastate"
	"github.com/omninode/omnibase-infra/sagas"
)

// beforeSagaState is the last migration before 00008 moved each workflow's fields of
// saga_instances.data under "state".
const beforeSagaState = 7

// oldSaga is a saga row as the version before 00008 wrote it: every workflow's fields at the top
// of data, beside the engine's.
type oldSaga struct {
	name, id, workflow, subject, step, status string
	data                                      string
	// state is what 00008 makes of the workflow's fields.
	state string
	// down is data after 00008's down step; empty when it is data itself.
	down string
}

var oldSagas = []oldSaga{
	{
		name: "health_check_waiting_for_a_probe", id: "11111111-0000-0000-0000-000000000001",
		workflow: "health_check", subject: "consul/ghost", step: "probe_adapters", status: "running",
		data: `{"correlation_id": "corr-health", "triggers": [{"intent": "infrastructure_health_degraded",
			"intent_id": "intent-health", "reason": "2 failed probes", "raised_at": "2026-11-23T10:00:00Z"}],
			"index": 1, "attempt": 1, "token": 1, "deadline": "2026-11-23T10:00:10Z",
			"pending": {"cmd-ghost": "consul/ghost"},
			"replies": {"kafka/bus": {"outcome": "succeeded", "result": {"healthy": true, "error": ""}},
				"postgres/control": {"outcome": "succeeded", "result": {"healthy": false, "error": "too many connections"}}},
			"targets": ["consul/ghost", "kafka/bus", "postgres/control"],
			"states": {"consul/ghost": "healthy", "kafka/bus": "healthy", "postgres/control": "degraded"},
			"completed": ["read_state"]}`,
		state: `{"targets": ["consul/ghost", "kafka/bus", "postgres/control"],
			"states": {"consul/ghost": "healthy", "kafka/bus": "healthy", "postgres/control": "degraded"}}`,
	},
	{
		name: "health_check_completed", id: "11111111-0000-0000-0000-000000000002",
		workflow: "health_check", subject: "kafka/bus", step: "publish_report", status: "completed",
		data: `{"correlation_id": "corr-report", "triggers": [], "index": 3, "attempt": 1, "token": 1,
			"targets": ["kafka/bus"], "states": {"kafka/bus": "healthy"},
			"health": [{"adapter_id": "kafka/bus", "probe": "healthy", "state": "healthy"}], "overall": "healthy",
			"completed": ["read_state", "probe_adapters", "aggregate_replies", "publish_report"]}`,
		state: `{"targets": ["kafka/bus"], "states": {"kafka/bus": "healthy"},
			"health": [{"adapter_id": "kafka/bus", "probe": "healthy", "state": "healthy"}], "overall": "healthy"}`,
	},
	{
		name: "failover_polling", id: "11111111-0000-0000-0000-000000000003",
		workflow: "failover", subject: "consul/agent", step: "poll_recovery", status: "running",
		data: `{"correlation_id": "corr-failover", "triggers": [{"intent": "failover_required",
			"intent_id": "intent-failover", "reason": "breaker open", "raised_at": "2026-11-23T10:00:00Z"}],
			"index": 3, "attempt": 2, "token": 4, "deadline": "2026-11-23T10:00:30Z", "done": ["open_breaker"],
			"targets": ["consul/agent"], "states": {"consul/agent": "critical"},
			"completed": ["identify_failed_adapter", "open_breaker", "attempt_recovery"]}`,
		state: `{"target": "consul/agent"}`,
		down: `{"correlation_id": "corr-failover", "triggers": [{"intent": "failover_required",
			"intent_id": "intent-failover", "reason": "breaker open", "raised_at": "2026-11-23T10:00:00Z"}],
			"index": 3, "attempt": 2, "token": 4, "deadline": "2026-11-23T10:00:30Z", "done": ["open_breaker"],
			"targets": ["consul/agent"],
			"completed": ["identify_failed_adapter", "open_breaker", "attempt_recovery"]}`,
	},
	{
		name: "failover_recovered", id: "11111111-0000-0000-0000-000000000004",
		workflow: "failover", subject: "postgres/control", step: "close_breaker", status: "completed",
		data: `{"correlation_id": "corr-recovered", "triggers": [], "index": 4, "attempt": 1, "token": 5,
			"done": ["open_breaker"], "targets": ["postgres/control"], "states": {"postgres/control": "degraded"},
			"recovered": true, "completed": ["identify_failed_adapter", "open_breaker", "attempt_recovery",
			"poll_recovery", "close_breaker"]}`,
		state: `{"target": "postgres/control", "recovered": true}`,
		down: `{"correlation_id": "corr-recovered", "triggers": [], "index": 4, "attempt": 1, "token": 5,
			"done": ["open_breaker"], "targets": ["postgres/control"],
			"recovered": true, "completed": ["identify_failed_adapter", "open_breaker", "attempt_recovery",
			"poll_recovery", "close_breaker"]}`,
	},
	{
		name: "failover_that_never_found_its_target", id: "11111111-0000-0000-0000-000000000005",
		workflow: "failover", subject: "consul/nowhere", step: "identify_failed_adapter", status: "escalated",
		data: `{"correlation_id": "corr-nowhere", "triggers": [], "index": 0, "attempt": 1, "token": 0,
			"compensating": true, "failed_step": "identify_failed_adapter",
			"failure": "the projection knows no target \"consul/nowhere\""}`,
		state: `{}`,
	},
	{
		name: "initialization_failed", id: "11111111-0000-0000-0000-000000000006",
		workflow: "initialization", subject: "infrastructure", step: "init_consul", status: "failed",
		data: `{"correlation_id": "corr-init", "triggers": [], "index": 2, "attempt": 1, "token": 3,
			"targets": ["consul/agent"], "states": {"consul/agent": "healthy"}, "compensating": true,
			"failed_step": "init_consul", "failure": "consul/agent: no reply",
			"completed": ["init_postgres", "init_kafka"]}`,
		state: `{"targets": ["consul/agent"]}`,
		down: `{"correlation_id": "corr-init", "triggers": [], "index": 2, "attempt": 1, "token": 3,
			"targets": ["consul/agent"], "compensating": true,
			"failed_step": "init_consul", "failure": "consul/agent: no reply",
			"completed": ["init_postgres", "init_kafka"]}`,
	},
}

func sagaData(t *testing.T, db *pgxpool.Pool, id string) string {
	t.Helper()
	var data string
	require.NoError(t, db.QueryRow(context.Background(), `SELECT data::text FROM saga_instances WHERE id = $1`, id).Scan(&data))
	return data
}

// Sagas stored by the version before migration 00008 keep what they remembered: each workflow's
// fields move under data.state in its own shape, the engine's progress stays as it was, the down
// step gives back the old shape, and a saga that was waiting resumes where it was.
func TestMigrate_saga_rows_of_the_old_shape_move_their_state_and_resume(t *testing.T) {
	ctx := context.Background()
	url := control.NewDatabase(t)
	m, err := migrations.New(url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	_, err = m.Up(ctx)
	require.NoError(t, err)
	_, err = m.DownTo(ctx, beforeSagaState)
	require.NoError(t, err)
	db, err := app.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	for _, s := range oldSagas {
		_, err := db.Exec(ctx, `INSERT INTO saga_instances (id, workflow, correlation_key, step, status, data, version)
			VALUES ($1, $2, $3, $4, $5, $6::jsonb, 3)`, s.id, s.workflow, s.subject, s.step, s.status, s.data)
		require.NoError(t, err, s.name)
	}
	// The waiting sagas' timers, pending in watermill-sql's delayed queue as the versions before
	// 00012 kept them.
	_, err = db.Exec(ctx, `CREATE TABLE watermill_saga_timers ("offset" SERIAL PRIMARY KEY, "uuid" VARCHAR(36) NOT NULL,
		"payload" JSON DEFAULT NULL, "metadata" JSON DEFAULT NULL, "acked" BOOLEAN NOT NULL DEFAULT FALSE,
		"created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP)`)
	require.NoError(t, err)
	for _, q := range []struct{ uuid, saga, kind, at string }{
		{"22222222-0000-0000-0000-000000000001", oldSagas[0].id, "timeout", "2026-11-23T10:00:10Z"},
		{"22222222-0000-0000-0000-000000000003", oldSagas[2].id, "again", "2026-11-23T10:00:30Z"},
	} {
		token := map[string]int{oldSagas[0].id: 1, oldSagas[2].id: 4}[q.saga]
		_, err := db.Exec(ctx, `INSERT INTO watermill_saga_timers (uuid, payload, metadata) VALUES ($1,
			json_build_object('saga_id', $2::text, 'token', $3::int, 'kind', $4::text, 'at', $5::text),
			json_build_object('_watermill_delayed_until', $5::text, '_watermill_delayed_for', '10s'))`,
			q.uuid, q.saga, token, q.kind, q.at)
		require.NoError(t, err)
	}

	res, err := m.Up(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, res)
	require.Equal(t, int64(beforeSagaState+1), res[0].Source.Version, "the saga-state migration runs first, over the old rows")

	for _, s := range oldSagas {
		t.Run(s.name, func(t *testing.T) {
			st, err := sagas.Show(ctx, db, s.id)
			require.NoError(t, err)
			require.JSONEq(t, s.state, string(st.Data.State), "the workflow's state")
			var progress sagas.Progress
			require.NoError(t, json.Unmarshal([]byte(s.data), &progress))
			want, err := json.Marshal(progress)
			require.NoError(t, err)
			got, err := json.Marshal(st.Data.Progress)
			require.NoError(t, err)
			// Compared as JSON: jsonb keeps its own order of the keys of a reply's result.
			require.JSONEq(t, string(want), string(got), "the engine's progress is where it was")
			require.Equal(t, progress.Failure, st.Failure)
		})
	}

	_, err = m.DownTo(ctx, int64(beforeSagaState)) // back to before the saga-state step, whatever came after it
	require.NoError(t, err)
	for _, s := range oldSagas {
		want := s.down
		if want == "" {
			want = s.data
		}
		require.JSONEq(t, want, sagaData(t, db, s.id), "%s after the down step", s.name)
	}
	_, err = m.Up(ctx)
	require.NoError(t, err)
	for _, s := range oldSagas {
		var r sagas.Record
		require.NoError(t, json.Unmarshal([]byte(sagaData(t, db, s.id)), &r))
		require.JSONEq(t, s.state, string(r.State), "%s up again", s.name)
	}

	// The waiting sagas resume: the health check's timeout fires and it reports from the replies
	// and the states it kept; the failover polls its target again.
	contract, err := sagas.DefaultContract()
	require.NoError(t, err)
	engine, err := sagas.New(sagas.Config{DB: db, Registry: events.Catalog(), Targets: infrastate.Targets{},
		Contract: contract}, testLogger(t))
	require.NoError(t, err)
	// The old queue's timers moved to saga_timers (through the down step and up again): each fires
	// once from there, and is gone after.
	var oldQueue *string
	require.NoError(t, db.QueryRow(ctx, `SELECT to_regclass('watermill_saga_timers')::text`).Scan(&oldQueue))
	require.Nil(t, oldQueue, "the old queue's table is dropped")
	fire := func(id string, token int, kind sagas.TimerKind) {
		var timerID string
		var due time.Time
		require.NoError(t, db.QueryRow(ctx, `SELECT id, due_at FROM saga_timers WHERE saga_id = $1 AND token = $2 AND kind = $3`,
			id, token, string(kind)).Scan(&timerID, &due), "the %s timer of %s moved over", kind, id)
		require.Equal(t, 2026, due.Year(), "due when the old queue said")
		payload, err := json.Marshal(sagas.Timer{SagaID: id, Token: token, Kind: kind, At: due})
		require.NoError(t, err)
		require.NoError(t, engine.HandleTimer(message.NewMessage(timerID, payload)))
		var left int
		require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM saga_timers WHERE id = $1`, timerID).Scan(&left))
		require.Zero(t, left, "a timer is deleted by the decision it causes")
	}

	health := oldSagas[0].id
	fire(health, 1, sagas.TimerTimeout)
	st, err := sagas.Show(ctx, db, health)
	require.NoError(t, err)
	require.Equal(t, sagas.StatusCompleted, st.Status, "%v", events_(st))
	hc, err := sagas.StateOf[sagas.HealthCheckState](st)
	require.NoError(t, err)
	require.Equal(t, events.StatusDegraded, hc.Overall)
	require.Equal(t, []events.TargetHealth{
		{AdapterID: "consul/ghost", Probe: events.ProbeUnknown, State: events.StatusHealthy},
		{AdapterID: "kafka/bus", Probe: events.ProbeHealthy, State: events.StatusHealthy},
		{AdapterID: "postgres/control", Probe: events.ProbeUnhealthy, State: events.StatusDegraded, Error: "too many connections"},
	}, hc.Health)
	reports := loggedEvents(t, db, "infrastructure_health_reported", health)
	require.Len(t, reports, 1)
	require.Contains(t, reports[0], `"overall":"degraded"`)

	failover := oldSagas[2].id
	fire(failover, 4, sagas.TimerAgain)
	st, err = sagas.Show(ctx, db, failover)
	require.NoError(t, err)
	require.Equal(t, sagas.StatusRunning, st.Status)
	require.Equal(t, "poll_recovery", st.Step)
	require.Equal(t, 3, st.Data.Attempt)
	require.Len(t, st.Commands, 1)
	require.Equal(t, "recover_target/v1", st.Commands[0].Kind)
	require.Equal(t, "consul/agent", st.Commands[0].AdapterID, "the target kept under state")
}

// The orchestrator reads the projection through infrastate.Targets, inside its own transaction:
// what that transaction wrote is what it reads, and only the status and the breaker of each.
func TestSagas_read_the_projection_through_infrastate_Targets_inside_their_transaction(t *testing.T) {
	ctx := context.Background()
	_, db := newControlDB(t)
	type seen struct {
		adapter, target string
		status          events.Status
		breaker         events.BreakerState
	}
	var got []seen
	err := pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO infrastructure_state (adapter_id, adapter, target, status, data, last_event)
			VALUES ('postgres/control', 'postgres', 'control', 'healthy', '{"status": "healthy"}', 'event-1'),
			       ('consul/agent', 'consul', 'agent', 'critical', '{"status": "critical", "breaker": "open"}', 'event-2')`); err != nil {
			return err
		}
		return infrastate.Targets{}.ReadTargets(ctx, tx, func(adapter, target string, status events.Status, breaker events.BreakerState) {
			got = append(got, seen{adapter, target, status, breaker})
		})
	})
	require.NoError(t, err)
	require.Equal(t, []seen{
		{"consul", "agent", events.StatusCritical, events.BreakerOpen},
		{"postgres", "control", events.StatusHealthy, ""},
	}, got, "ordered by adapter id; no breaker recorded yet reads as none")
}
