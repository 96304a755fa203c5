package sagas_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/sagas"
)

func TestStateOf_reads_the_workflows_state_as_its_type(t *testing.T) {
	story := func(workflow, state string) sagas.Story {
		return sagas.Story{Instance: sagas.Instance{ID: "saga-1", Workflow: workflow},
			Data: sagas.Record{State: json.RawMessage(state)}}
	}
	check, err := sagas.StateOf[sagas.HealthCheckState](story("health_check",
		`{"targets": ["kafka/bus"], "states": {"kafka/bus": "degraded"}, "overall": "critical"}`))
	require.NoError(t, err)
	require.Equal(t, sagas.HealthCheckState{Targets: []string{"kafka/bus"},
		States: map[string]events.Status{"kafka/bus": events.StatusDegraded}, Overall: events.StatusCritical}, check)

	failover, err := sagas.StateOf[sagas.FailoverState](story("failover", `{"target": "consul/main", "recovered": true}`))
	require.NoError(t, err)
	require.Equal(t, sagas.FailoverState{Target: "consul/main", Recovered: true}, failover)

	none, err := sagas.StateOf[sagas.InitializationState](story("initialization", ""))
	require.NoError(t, err, "a saga that has not entered a step yet has no state")
	require.Empty(t, none.Targets)

	_, err = sagas.StateOf[sagas.FailoverState](story("health_check", `{"targets": ["kafka/bus"]}`))
	require.ErrorContains(t, err, "could not read the state of health_check saga saga-1 as sagas.FailoverState")
}
