package sagas_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/sagas"
)

func TestDefaultContract_routes_each_intent_to_the_documented_workflow(t *testing.T) {
	contract, err := sagas.DefaultContract()
	require.NoError(t, err)

	tests := []struct {
		name   string
		intent events.IntentMessage
		want   string
	}{
		{name: "health_degraded", intent: events.InfrastructureHealthDegraded{}, want: "health_check"},
		{name: "health_critical", intent: events.InfrastructureHealthCritical{}, want: "health_check"},
		{name: "circuit_breaker_opened", intent: events.CircuitBreakerOpened{}, want: "failover"},
		{name: "failover_required", intent: events.FailoverRequired{}, want: "failover"},
		{name: "connection_pool_exhausted", intent: events.ConnectionPoolExhausted{}, want: "health_check"},
		{name: "recovery_initiated", intent: events.RecoveryInitiated{}, want: "failover"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			workflow, ok := contract.Route(tt.intent.Kind().Name)
			require.True(t, ok, "%s has a route", tt.intent.Kind().Name)
			require.Equal(t, tt.want, workflow)
			require.NotEmpty(t, contract.Workflows[workflow].Steps, "the saga has a first step to start at")
		})
	}
	require.Len(t, contract.Routes, len(tests), "no route for an intent that does not exist")
}

func TestDefaultContract_workflows(t *testing.T) {
	contract, err := sagas.DefaultContract()
	require.NoError(t, err)

	require.Equal(t, map[string]sagas.Workflow{
		"health_check":   {Steps: []string{"read_state", "probe_adapters", "aggregate_replies", "publish_report"}},
		"failover":       {Steps: []string{"identify_failed_adapter", "open_breaker", "attempt_recovery", "poll_recovery", "close_breaker"}},
		"initialization": {Steps: []string{"init_postgres", "init_kafka", "init_consul", "verify_health"}},
	}, contract.Workflows)
}

func TestContract_Route_unknown_intent(t *testing.T) {
	contract, err := sagas.DefaultContract()
	require.NoError(t, err)

	workflow, ok := contract.Route("adapter_health_reported")
	require.False(t, ok)
	require.Empty(t, workflow)
}

func TestLoadContract(t *testing.T) {
	builtIn, err := sagas.DefaultContract()
	require.NoError(t, err)

	t.Run("empty_path_is_the_built_in_contract", func(t *testing.T) {
		contract, err := sagas.LoadContract("")
		require.NoError(t, err)
		require.Equal(t, builtIn, contract)
	})
	t.Run("file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "contract.yaml")
		require.NoError(t, os.WriteFile(path, []byte("routes:\n  failover_required: drain\nworkflows:\n  drain:\n    steps: [stop_writes, promote_replica]\n"), 0o600))

		contract, err := sagas.LoadContract(path)
		require.NoError(t, err)
		workflow, ok := contract.Route("failover_required")
		require.True(t, ok)
		require.Equal(t, "drain", workflow)
		require.Equal(t, []string{"stop_writes", "promote_replica"}, contract.Workflows["drain"].Steps)
	})
	t.Run("missing_file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope.yaml")
		_, err := sagas.LoadContract(path)
		require.ErrorIs(t, err, os.ErrNotExist)
		require.ErrorContains(t, err, "nope.yaml")
	})
	t.Run("invalid_file_named_in_the_error", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "bad.yaml")
		require.NoError(t, os.WriteFile(path, []byte("routes:\n  failover_required: drain\nworkflows: {}\n"), 0o600))

		_, err := sagas.LoadContract(path)
		require.ErrorContains(t, err, "contract "+path+":2: route \"failover_required\" names unknown workflow \"drain\"")
	})
}

func TestParseContract_reports_every_problem_with_its_line(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		wantErrs []string
	}{
		{
			name: "route_to_unknown_workflow",
			yaml: `routes:
  failover_required: failover
  circuit_breaker_opened: fail_over
workflows:
  failover:
    steps: [open_breaker]
`,
			wantErrs: []string{`contract test.yaml:3: route "circuit_breaker_opened" names unknown workflow "fail_over"`},
		},
		{
			name: "workflow_without_steps",
			yaml: `routes:
  failover_required: failover
workflows:
  failover:
    steps: []
`,
			wantErrs: []string{`contract test.yaml:4: workflow "failover" has no steps`},
		},
		{
			name: "workflow_without_steps_field",
			yaml: `routes:
  failover_required: failover
workflows:
  failover: {}
`,
			wantErrs: []string{`contract test.yaml:4: workflow "failover" has no steps`},
		},
		{
			name: "step_listed_twice",
			yaml: `routes:
  failover_required: failover
workflows:
  failover:
    steps: [open_breaker, attempt_recovery, open_breaker]
`,
			wantErrs: []string{`contract test.yaml:5: workflow "failover" lists step "open_breaker" twice`},
		},
		{
			name: "steps_not_a_list",
			yaml: `routes:
  failover_required: failover
workflows:
  failover:
    steps: open_breaker
`,
			wantErrs: []string{`contract test.yaml:5: workflow "failover"`, "cannot unmarshal"},
		},
		{
			name: "unknown_top_level_field",
			yaml: `routes:
  failover_required: failover
workflows:
  failover:
    steps: [open_breaker]
timeouts: 5s
`,
			wantErrs: []string{"contract test.yaml", "line 6: field timeouts not found"},
		},
		{
			name:     "missing_routes",
			yaml:     "workflows:\n  failover:\n    steps: [open_breaker]\n",
			wantErrs: []string{`contract test.yaml: missing mapping "routes"`},
		},
		{
			name:     "missing_workflows",
			yaml:     "routes: {}\n",
			wantErrs: []string{`contract test.yaml: missing mapping "workflows"`},
		},
		{
			name:     "empty",
			yaml:     "",
			wantErrs: []string{"contract test.yaml"},
		},
		{
			name: "every_problem_at_once",
			yaml: `routes:
  failover_required: failover
  recovery_initiated: recovery
workflows:
  failover:
    steps: [open_breaker, open_breaker]
  health_check:
    steps: []
`,
			wantErrs: []string{
				`contract test.yaml:3: route "recovery_initiated" names unknown workflow "recovery"`,
				`contract test.yaml:6: workflow "failover" lists step "open_breaker" twice`,
				`contract test.yaml:7: workflow "health_check" has no steps`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			contract, err := sagas.ParseContract("test.yaml", []byte(tt.yaml))
			require.Error(t, err)
			for _, want := range tt.wantErrs {
				require.ErrorContains(t, err, want)
			}
			require.Empty(t, contract.Routes, "an invalid contract routes nothing")
		})
	}
}
