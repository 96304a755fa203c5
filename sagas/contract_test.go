package sagas_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
		{name: "initialization_requested", intent: events.InitializationRequested{}, want: "initialization"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			workflow, ok := contract.Route(tt.intent.Kind().Name)
			require.True(t, ok, "%s has a route", tt.intent.Kind().Name)
			require.Equal(t, tt.want, workflow)
		})
	}
	require.Len(t, contract.Routes, len(tests), "no route for an intent that does not exist")
}

func TestDefaultContract_workflows(t *testing.T) {
	contract, err := sagas.DefaultContract()
	require.NoError(t, err)

	names := func(w sagas.WorkflowSpec) []string {
		var out []string
		for _, s := range w.Steps {
			out = append(out, s.Name)
		}
		return out
	}
	require.Equal(t, []string{"read_state", "probe_adapters", "aggregate_replies", "publish_report"}, names(contract.Workflows["health_check"]))
	require.Equal(t, []string{"identify_failed_adapter", "open_breaker", "attempt_recovery", "poll_recovery", "close_breaker"}, names(contract.Workflows["failover"]))
	require.Equal(t, []string{"init_postgres", "init_kafka", "init_consul", "verify_health"}, names(contract.Workflows["initialization"]))

	failover := contract.Workflows["failover"]
	require.True(t, failover.Escalate)
	require.Equal(t, "release_breaker", failover.Steps[1].Compensation)
	require.Equal(t, sagas.Repeat{Attempts: 12, Wait: 5 * time.Second}, failover.Steps[3].Poll)
	require.Equal(t, sagas.Repeat{Attempts: 3, Wait: 2 * time.Second}, failover.Steps[1].Retry)
	require.Equal(t, 10*time.Second, contract.Workflows["health_check"].Steps[1].Timeout)
	require.Equal(t, sagas.DefaultStepTimeout, contract.Workflows["health_check"].Steps[0].Timeout, "a step without a timeout gets the default")
}

func TestContract_Route_unknown_intent(t *testing.T) {
	contract, err := sagas.DefaultContract()
	require.NoError(t, err)

	workflow, ok := contract.Route("adapter_health_reported")
	require.False(t, ok)
	require.Empty(t, workflow)
}

const validWorkflows = `workflows:
  health_check:
    steps:
      - name: read_state
      - name: probe_adapters
      - name: aggregate_replies
      - name: publish_report
`

func TestParseContract_names_the_line_of_each_problem(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		wantErrs []string
	}{
		{
			name:     "route_to_unknown_workflow",
			yaml:     "routes:\n  infrastructure_health_degraded: self_heal\n" + validWorkflows,
			wantErrs: []string{"contract test.yaml:2:", `unknown workflow "self_heal"`},
		},
		{
			name:     "duplicate_route",
			yaml:     "routes:\n  failover_required: health_check\n  failover_required: health_check\n" + validWorkflows,
			wantErrs: []string{"contract test.yaml:3:", `"failover_required" given twice (first on line 2)`},
		},
		{
			name:     "route_for_unknown_intent",
			yaml:     "routes:\n  disk_full: health_check\n" + validWorkflows,
			wantErrs: []string{"contract test.yaml:2:", `unknown intent "disk_full"`},
		},
		{
			name: "workflow_the_engine_does_not_run",
			yaml: "routes:\n  failover_required: health_check\n" + validWorkflows +
				"  self_heal:\n    steps:\n      - name: pray\n",
			wantErrs: []string{"contract test.yaml:10:", `unknown workflow "self_heal"`},
		},
		{
			name: "unknown_step",
			yaml: "routes:\n  failover_required: health_check\nworkflows:\n  health_check:\n    steps:\n" +
				"      - name: read_state\n      - name: reboot_everything\n",
			wantErrs: []string{"contract test.yaml:7:", `unknown step "reboot_everything"`},
		},
		{
			name: "unreachable_step",
			yaml: "routes:\n  failover_required: health_check\nworkflows:\n  health_check:\n    steps:\n" +
				"      - name: read_state\n        next: publish_report\n      - name: probe_adapters\n      - name: publish_report\n",
			wantErrs: []string{"contract test.yaml:8:", `step "probe_adapters" is unreachable from "read_state"`},
		},
		{
			name: "next_names_unknown_step",
			yaml: "routes:\n  failover_required: health_check\nworkflows:\n  health_check:\n    steps:\n" +
				"      - name: read_state\n        next: nowhere\n",
			wantErrs: []string{"contract test.yaml:6:", `next names unknown step "nowhere"`},
		},
		{
			name: "missing_compensation",
			yaml: "routes:\n  failover_required: failover\nworkflows:\n  failover:\n    steps:\n" +
				"      - name: identify_failed_adapter\n      - name: open_breaker\n      - name: close_breaker\n",
			wantErrs: []string{"contract test.yaml:7:", `step "open_breaker" changes the target's circuit breaker and has no compensation`},
		},
		{
			name: "unknown_compensation",
			yaml: "routes:\n  failover_required: failover\nworkflows:\n  failover:\n    steps:\n" +
				"      - name: open_breaker\n        compensation: pray\n",
			wantErrs: []string{"contract test.yaml:6:", `unknown compensation "pray"`},
		},
		{
			name:     "compensation_as_step",
			yaml:     "routes:\n  failover_required: failover\nworkflows:\n  failover:\n    steps:\n      - name: release_breaker\n",
			wantErrs: []string{"contract test.yaml:6:", `"release_breaker" is a compensation, not a step`},
		},
		{
			name: "duplicate_step",
			yaml: "routes:\n  failover_required: health_check\nworkflows:\n  health_check:\n    steps:\n" +
				"      - name: read_state\n      - name: read_state\n",
			wantErrs: []string{"contract test.yaml:7:", `lists step "read_state" twice (first on line 6)`},
		},
		{
			name: "unknown_field_in_step",
			yaml: "routes:\n  failover_required: health_check\nworkflows:\n  health_check:\n    steps:\n" +
				"      - name: read_state\n        timout: 5s\n",
			wantErrs: []string{"contract test.yaml:7:", `unknown field "timout"`},
		},
		{
			name: "bad_timeout",
			yaml: "routes:\n  failover_required: health_check\nworkflows:\n  health_check:\n    steps:\n" +
				"      - name: read_state\n        timeout: soon\n",
			wantErrs: []string{"contract test.yaml:7:", `timeout "soon" is not a positive duration`},
		},
		{
			name: "poll_without_wait",
			yaml: "routes:\n  failover_required: health_check\nworkflows:\n  health_check:\n    steps:\n" +
				"      - name: read_state\n        poll: {attempts: 3}\n",
			wantErrs: []string{"contract test.yaml:7:", `poll: missing "every"`},
		},
		{
			name:     "step_without_name",
			yaml:     "routes:\n  failover_required: health_check\nworkflows:\n  health_check:\n    steps:\n      - timeout: 5s\n",
			wantErrs: []string{"contract test.yaml:6:", "a step has no name"},
		},
		{
			name:     "workflow_without_steps",
			yaml:     "routes:\n  failover_required: health_check\nworkflows:\n  health_check: {}\n",
			wantErrs: []string{"contract test.yaml:4:", `workflow "health_check" has no steps`},
		},
		{
			name:     "unknown_top_level_field",
			yaml:     "routs:\n  failover_required: health_check\n" + validWorkflows,
			wantErrs: []string{"contract test.yaml:1:", `unknown field "routs"`, `missing "routes"`},
		},
		{
			name:     "not_yaml",
			yaml:     "routes: [\n",
			wantErrs: []string{"contract test.yaml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sagas.ParseContract("test.yaml", []byte(tt.yaml))
			require.Error(t, err)
			for _, want := range tt.wantErrs {
				require.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestParseContract_reports_every_problem_at_once(t *testing.T) {
	yaml := "routes:\n  failover_required: nowhere\n  disk_full: health_check\n" + validWorkflows
	_, err := sagas.ParseContract("test.yaml", []byte(yaml))
	require.Error(t, err)
	require.Len(t, strings.Split(err.Error(), "\n"), 2, err.Error())
}

func TestLoadContract_reads_a_file_and_defaults_to_the_built_in_one(t *testing.T) {
	path := filepath.Join(t.TempDir(), "contract.yaml")
	require.NoError(t, os.WriteFile(path, []byte("routes:\n  infrastructure_health_critical: health_check\n"+validWorkflows), 0o600))
	c, err := sagas.LoadContract(path)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"infrastructure_health_critical": "health_check"}, c.Routes)

	def, err := sagas.LoadContract("")
	require.NoError(t, err)
	require.Len(t, def.Workflows, 3)

	_, err = sagas.LoadContract(filepath.Join(t.TempDir(), "missing.yaml"))
	require.ErrorContains(t, err, "could not read contract")
}
