package sagas_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/sagas"
)

// sameAsTyped drives a saga through Decide and, in step, through its workflow with the state
// type erased, as the engine does (the state encoded between inputs), answering every command
// with reply; the two must decide alike at every input.
func sameAsTyped[S any](t *testing.T, workflow string, def sagas.Definition[S], view sagas.View, reply sagas.Reply) {
	typed := newRun(t, workflow, def, "consul/main", view)
	erased := sagas.Workflows()[workflow]
	stored := sagas.Saga[json.RawMessage]{ID: typed.saga.ID, Workflow: workflow, Subject: typed.saga.Subject, Version: 1}

	step := func(in sagas.Input) {
		want := typed.apply(in)
		got, err := erased.Decide(typed.spec, stored, in, view, typed.now)
		require.NoError(t, err)
		require.Equal(t, want.Changed, got.Changed)
		require.Equal(t, want.Commands, got.Commands)
		require.Equal(t, want.Events, got.Events)
		require.Equal(t, want.Timers, got.Timers)
		require.Equal(t, want.Timeline, got.Timeline)
		require.Equal(t, want.Saga.Progress, got.Saga.Progress)
		require.Equal(t, want.Saga.Status, got.Saga.Status)
		state, err := json.Marshal(want.Saga.State)
		require.NoError(t, err)
		require.JSONEq(t, string(state), string(got.Saga.State))
		if got.Changed {
			stored = got.Saga
			stored.Version++
		}
	}
	step(sagas.Started{Trigger: sagas.Trigger{Intent: "failover_required", IntentID: "intent-1"}, CorrelationID: "corr-1"})
	for typed.saga.Status == sagas.StatusRunning && len(typed.last.Commands) > 0 {
		for _, c := range typed.last.Commands {
			step(sagas.Replied{CommandID: c.ID, Reply: reply})
		}
	}
	require.NotEqual(t, sagas.StatusRunning, typed.saga.Status, "the saga ended: %v", typed.log)
}

func TestWorkflow_with_its_state_erased_decides_as_the_typed_definition(t *testing.T) {
	healthy := sagas.View{Targets: []sagas.Target{
		{Adapter: "postgres", Target: "control", Status: events.StatusHealthy, Breaker: events.BreakerClosed},
		{Adapter: "kafka", Target: "main", Status: events.StatusHealthy, Breaker: events.BreakerClosed},
		{Adapter: "consul", Target: "main", Status: events.StatusHealthy, Breaker: events.BreakerClosed},
	}}
	t.Run("health_check", func(t *testing.T) {
		sameAsTyped(t, "health_check", sagas.HealthCheck(), threeTargets(), probeReply(false))
	})
	t.Run("failover", func(t *testing.T) { sameAsTyped(t, "failover", sagas.Failover(), failedConsul(), ok) })
	t.Run("initialization", func(t *testing.T) {
		sameAsTyped(t, "initialization", sagas.Initialization(), healthy, probeReply(true))
	})
}

func TestWorkflow_refuses_a_stored_state_it_does_not_know(t *testing.T) {
	contract, err := sagas.DefaultContract()
	require.NoError(t, err)
	tests := []struct {
		name, workflow, state string
	}{
		{name: "a_field_of_another_workflow", workflow: "failover", state: `{"targets": ["consul/main"]}`},
		{name: "an_unknown_field", workflow: "health_check", state: `{"targets": [], "surprise": 1}`},
		{name: "not_an_object", workflow: "initialization", state: `["consul/main"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sagas.Saga[json.RawMessage]{ID: "saga-1", Workflow: tt.workflow, Subject: "consul/main",
				Status: sagas.StatusRunning, State: json.RawMessage(tt.state)}
			_, err := sagas.Workflows()[tt.workflow].Decide(contract.Workflows[tt.workflow], s,
				sagas.Fired{Token: 1, Kind: sagas.TimerTimeout}, sagas.View{}, t0)
			require.ErrorContains(t, err, tt.workflow+" saga saga-1 has an unreadable state")
		})
	}
}
