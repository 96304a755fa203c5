package infrastate_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/projections/infrastate"
)

func TestThresholds_Validate(t *testing.T) {
	tests := []struct {
		name       string
		thresholds infrastate.Thresholds
		wantErrs   []string
	}{
		{name: "defaults", thresholds: infrastate.DefaultThresholds()},
		{name: "all_one", thresholds: infrastate.Thresholds{DegradedAfter: 1, CriticalAfter: 1, HealthyAfter: 1}},
		{
			name:       "degraded_after_zero",
			thresholds: infrastate.Thresholds{DegradedAfter: 0, CriticalAfter: 3, HealthyAfter: 2},
			wantErrs:   []string{"degraded-after is 0, must be at least 1"},
		},
		{
			name:       "critical_before_degraded",
			thresholds: infrastate.Thresholds{DegradedAfter: 3, CriticalAfter: 2, HealthyAfter: 2},
			wantErrs:   []string{"critical-after is 2, must be at least degraded-after (3)"},
		},
		{
			name:       "healthy_after_zero",
			thresholds: infrastate.Thresholds{DegradedAfter: 1, CriticalAfter: 3, HealthyAfter: 0},
			wantErrs:   []string{"healthy-after is 0, must be at least 1"},
		},
		{
			name:       "every_problem_reported",
			thresholds: infrastate.Thresholds{DegradedAfter: -1, CriticalAfter: -2, HealthyAfter: -3},
			wantErrs: []string{
				"degraded-after is -1, must be at least 1",
				"critical-after is -2, must be at least degraded-after (-1)",
				"healthy-after is -3, must be at least 1",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.thresholds.Validate()
			if len(tt.wantErrs) == 0 {
				require.NoError(t, err)
				return
			}
			for _, want := range tt.wantErrs {
				require.ErrorContains(t, err, want)
			}
		})
	}
}

func TestDefaultThresholds_are_the_documented_ones(t *testing.T) {
	require.Equal(t, infrastate.Thresholds{DegradedAfter: 1, CriticalAfter: 3, HealthyAfter: 2}, infrastate.DefaultThresholds())
}

func TestOverall_is_the_worst_status_of_any_target(t *testing.T) {
	const (
		unknown  = infrastate.StatusUnknown
		healthy  = infrastate.StatusHealthy
		degraded = infrastate.StatusDegraded
		critical = infrastate.StatusCritical
	)
	tests := []struct {
		name     string
		statuses []infrastate.Status
		want     infrastate.Status
	}{
		{name: "no_targets", statuses: nil, want: unknown},
		{name: "one_healthy", statuses: []infrastate.Status{healthy}, want: healthy},
		{name: "all_healthy", statuses: []infrastate.Status{healthy, healthy, healthy}, want: healthy},
		{name: "unknown_is_worse_than_healthy", statuses: []infrastate.Status{healthy, unknown, healthy}, want: unknown},
		{name: "degraded_is_worse_than_unknown", statuses: []infrastate.Status{unknown, degraded, healthy}, want: degraded},
		{name: "critical_is_worst", statuses: []infrastate.Status{critical, degraded, unknown, healthy}, want: critical},
		{name: "critical_last", statuses: []infrastate.Status{healthy, degraded, critical}, want: critical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var states []infrastate.TargetState
			for _, s := range tt.statuses {
				states = append(states, infrastate.TargetState{Status: s})
			}
			require.Equal(t, tt.want, infrastate.Overall(states))
		})
	}
}
