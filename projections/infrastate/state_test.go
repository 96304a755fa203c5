package infrastate_test

import (
	"encoding/json"
	"testing"
	"time"

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
		{name: "latency_window_unset_means_the_default", thresholds: infrastate.Thresholds{DegradedAfter: 1, CriticalAfter: 3, HealthyAfter: 2}},
		{
			name:       "latency_window_configured",
			thresholds: infrastate.Thresholds{DegradedAfter: 1, CriticalAfter: 3, HealthyAfter: 2, LatencyWindow: time.Minute, LatencySamples: 16},
		},
		{
			name:       "latency_window_negative",
			thresholds: infrastate.Thresholds{DegradedAfter: 1, CriticalAfter: 3, HealthyAfter: 2, LatencyWindow: -time.Second},
			wantErrs:   []string{"latency-window is -1s, must not be negative"},
		},
		{
			name:       "latency_samples_negative",
			thresholds: infrastate.Thresholds{DegradedAfter: 1, CriticalAfter: 3, HealthyAfter: 2, LatencySamples: -1},
			wantErrs:   []string{"latency-samples is -1, must not be negative"},
		},
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
			thresholds: infrastate.Thresholds{DegradedAfter: -1, CriticalAfter: -2, HealthyAfter: -3, LatencyWindow: -1, LatencySamples: -4},
			wantErrs: []string{
				"degraded-after is -1, must be at least 1",
				"critical-after is -2, must be at least degraded-after (-1)",
				"healthy-after is -3, must be at least 1",
				"latency-window is -1ns, must not be negative",
				"latency-samples is -4, must not be negative",
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
	require.Equal(t, infrastate.Thresholds{
		DegradedAfter: 1, CriticalAfter: 3, HealthyAfter: 2, LatencyWindow: 5 * time.Minute, LatencySamples: 512,
	}, infrastate.DefaultThresholds())
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
		{name: "all_unknown", statuses: []infrastate.Status{unknown, unknown}, want: unknown},
		{name: "one_healthy", statuses: []infrastate.Status{healthy}, want: healthy},
		{name: "all_healthy", statuses: []infrastate.Status{healthy, healthy, healthy}, want: healthy},
		{name: "unknown_is_worse_than_healthy", statuses: []infrastate.Status{healthy, unknown, healthy}, want: unknown},
		{name: "degraded_is_worse_than_unknown", statuses: []infrastate.Status{unknown, degraded, healthy}, want: degraded},
		{name: "degraded_is_worse_than_healthy", statuses: []infrastate.Status{healthy, degraded, healthy}, want: degraded},
		{name: "critical_is_worse_than_degraded", statuses: []infrastate.Status{degraded, critical, degraded}, want: critical},
		{name: "critical_is_worse_than_unknown", statuses: []infrastate.Status{unknown, critical}, want: critical},
		{name: "critical_is_worst", statuses: []infrastate.Status{critical, degraded, unknown, healthy}, want: critical},
		{name: "critical_last", statuses: []infrastate.Status{healthy, degraded, critical}, want: critical},
		{name: "a_status_this_version_does_not_know_shows_as_unknown", statuses: []infrastate.Status{healthy, "", healthy}, want: unknown},
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

func TestStatus_Severity_orders_healthy_unknown_degraded_critical(t *testing.T) {
	order := []infrastate.Status{infrastate.StatusHealthy, infrastate.StatusUnknown, infrastate.StatusDegraded, infrastate.StatusCritical}
	for i := 1; i < len(order); i++ {
		require.Less(t, order[i-1].Severity(), order[i].Severity(), "%s before %s", order[i-1], order[i])
	}
	require.Equal(t, infrastate.StatusUnknown.Severity(), infrastate.Status("resting").Severity(), "a status this version does not know counts as unknown")
}

// Samples are stored as they always were, RFC 3339 times; rows written with an offset read back
// as the same instant, written again in UTC.
func TestLatencySample_JSON_keeps_the_instant(t *testing.T) {
	var s infrastate.LatencySample
	require.NoError(t, json.Unmarshal([]byte(`{"at":"2026-11-01T01:00:00.5+01:00","us":7}`), &s))
	require.True(t, s.At.Time().Equal(time.Date(2026, 11, 1, 0, 0, 0, 5e8, time.UTC)), "read %s", s.At.Time())
	out, err := json.Marshal(s)
	require.NoError(t, err)
	require.JSONEq(t, `{"at":"2026-11-01T00:00:00.5Z","us":7}`, string(out))
	require.ErrorContains(t, json.Unmarshal([]byte(`{"at":"yesterday","us":7}`), &s), "latency sample time")
}
