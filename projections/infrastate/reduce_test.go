package infrastate_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/projections/infrastate"
)

const subject = "postgres/orders"

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

// input is one event as the projection receives it: its payload and when it occurred.
type input struct {
	m  events.Message
	at time.Time
}

func ok(sec int) input { return okIn(sec, 500) }

func fail(sec int) input { return failIn(sec, 2000) }

// okIn is a successful probe at sec that took us microseconds.
func okIn(sec int, us int64) input {
	return input{at: at(sec), m: events.AdapterHealthReported{
		AdapterID: subject, Adapter: events.AdapterPostgres, Target: "orders", Healthy: true,
		LatencyMicros: us, ProbedAt: at(sec),
	}}
}

// failIn is a failed probe at sec that took us microseconds to fail.
func failIn(sec int, us int64) input {
	return input{at: at(sec), m: events.AdapterHealthReported{
		AdapterID: subject, Adapter: events.AdapterPostgres, Target: "orders", Healthy: false,
		Error: "connection refused", LatencyMicros: us, ProbedAt: at(sec),
	}}
}

func breaker(sec int, from, to events.BreakerState) input {
	return input{at: at(sec), m: events.CircuitBreakerStateChanged{
		AdapterID: subject, From: from, To: to, ConsecutiveFailures: 5, ChangedAt: at(sec),
	}}
}

func pool(sec int, acquired, maxConns, waits int64) input {
	return input{at: at(sec), m: events.ConnectionPoolStatsReported{
		AdapterID: subject, Acquired: acquired, Idle: maxConns - acquired, Total: maxConns, Max: maxConns,
		WaitCount: waits, ReportedAt: at(sec),
	}}
}

// envelope gives every input its own message id, derived from where it occurred.
func envelope(in input) events.Envelope {
	return events.Envelope{
		ID:            fmt.Sprintf("event-%s", in.at.Format("150405.000")),
		Kind:          in.m.Kind(),
		CorrelationID: "corr-1",
		OccurredAt:    in.at,
		Key:           in.m.Key(),
	}
}

func names(intents []events.IntentMessage) []string {
	out := []string{}
	for _, in := range intents {
		out = append(out, in.Kind().Name)
	}
	return out
}

// requireIntentsFrom checks what every raised intent carries: its subject, the event that caused
// it, the time of that event, an id derived from both, and that it can be published.
func requireIntentsFrom(t *testing.T, env events.Envelope, intents []events.IntentMessage) {
	t.Helper()
	for _, in := range intents {
		f := in.Fields()
		name := in.Kind().Name
		require.Equal(t, subject, f.Subject, name)
		require.Equal(t, env.ID, f.CausedBy, name)
		require.Equal(t, env.OccurredAt, f.RaisedAt, name)
		require.Equal(t, events.IntentID(name, subject, env.ID), f.ID, name)
		require.NotEmpty(t, f.Reason, name)
		_, err := events.EncodeWithID(f.ID, in, env.Caused(), f.RaisedAt)
		require.NoError(t, err, "%s can be published", name)
	}
}

type step struct {
	in          input
	wantStatus  infrastate.Status
	wantIntents []string
}

func TestReducer_Reduce_rules(t *testing.T) {
	const (
		unknown  = infrastate.StatusUnknown
		healthy  = infrastate.StatusHealthy
		degraded = infrastate.StatusDegraded
		critical = infrastate.StatusCritical

		healthDegraded = "infrastructure_health_degraded"
		healthCritical = "infrastructure_health_critical"
		breakerOpened  = "circuit_breaker_opened"
		failover       = "failover_required"
		poolExhausted  = "connection_pool_exhausted"
		recovery       = "recovery_initiated"
	)
	open, closed, halfOpen := events.BreakerOpen, events.BreakerClosed, events.BreakerHalfOpen
	none := []string{}

	tests := []struct {
		name       string
		thresholds infrastate.Thresholds // zero means DefaultThresholds
		steps      []step
	}{
		{
			name: "first_success_makes_an_unknown_target_healthy",
			steps: []step{
				{ok(1), healthy, none},
				{ok(2), healthy, none},
			},
		},
		{
			name: "first_failure_makes_an_unknown_target_degraded",
			steps: []step{
				{fail(1), degraded, []string{healthDegraded}},
			},
		},
		{
			name:       "unknown_target_stays_unknown_below_degraded_after",
			thresholds: infrastate.Thresholds{DegradedAfter: 2, CriticalAfter: 3, HealthyAfter: 1},
			steps: []step{
				{fail(1), unknown, none},
				{fail(2), degraded, []string{healthDegraded}},
			},
		},
		{
			name:       "critical_at_the_first_failure_raises_only_critical",
			thresholds: infrastate.Thresholds{DegradedAfter: 1, CriticalAfter: 1, HealthyAfter: 1},
			steps: []step{
				{fail(1), critical, []string{healthCritical}},
				{fail(2), critical, none},
			},
		},
		{
			name: "default_hysteresis_degraded_after_1_critical_after_3",
			steps: []step{
				{ok(1), healthy, none},
				{fail(2), degraded, []string{healthDegraded}},
				{fail(3), degraded, none},
				{fail(4), critical, []string{healthCritical}},
			},
		},
		{
			name: "staying_critical_raises_nothing_more",
			steps: []step{
				{fail(1), degraded, []string{healthDegraded}},
				{fail(2), degraded, none},
				{fail(3), critical, []string{healthCritical}},
				{fail(4), critical, none},
				{fail(5), critical, none},
				{fail(6), critical, none},
			},
		},
		{
			name: "critical_target_recovery_initiated_on_first_success_healthy_after_2",
			steps: []step{
				{fail(1), degraded, []string{healthDegraded}},
				{fail(2), degraded, none},
				{fail(3), critical, []string{healthCritical}},
				{ok(4), critical, []string{recovery}},
				{ok(5), healthy, none},
				{ok(6), healthy, none},
			},
		},
		{
			name: "recovering_critical_target_stays_critical_on_a_failure",
			steps: []step{
				{fail(1), degraded, []string{healthDegraded}},
				{fail(2), degraded, none},
				{fail(3), critical, []string{healthCritical}},
				{ok(4), critical, []string{recovery}},
				{fail(5), critical, none},
			},
		},
		{
			name: "recovery_initiated_once_per_first_success",
			steps: []step{
				{fail(1), degraded, []string{healthDegraded}},
				{fail(2), degraded, none},
				{fail(3), critical, []string{healthCritical}},
				{ok(4), critical, []string{recovery}},
				{breaker(5, closed, halfOpen), critical, none},
				{pool(6, 1, 10, 0), critical, none},
				{ok(7), healthy, none},
			},
		},
		{
			name: "recovery_initiated_once_per_critical_episode_success_failure_success",
			steps: []step{
				{fail(1), degraded, []string{healthDegraded}},
				{fail(2), degraded, none},
				{fail(3), critical, []string{healthCritical}},
				{ok(4), critical, []string{recovery}},
				{fail(5), critical, none},
				{ok(6), critical, none},
				{fail(7), critical, none},
				{fail(8), critical, none},
				{fail(9), critical, none},
				{ok(10), critical, none},
				{ok(11), healthy, none},
			},
		},
		{
			name: "recovery_initiated_again_in_the_next_critical_episode",
			steps: []step{
				{fail(1), degraded, []string{healthDegraded}},
				{fail(2), degraded, none},
				{fail(3), critical, []string{healthCritical}},
				{ok(4), critical, []string{recovery}},
				{ok(5), healthy, none},
				{fail(6), degraded, []string{healthDegraded}},
				{fail(7), degraded, none},
				{fail(8), critical, []string{healthCritical}},
				{ok(9), critical, []string{recovery}},
				{fail(10), critical, none},
				{ok(11), critical, none},
			},
		},
		{
			name:       "recovery_initiated_when_one_success_makes_a_critical_target_healthy",
			thresholds: infrastate.Thresholds{DegradedAfter: 1, CriticalAfter: 1, HealthyAfter: 1},
			steps: []step{
				{fail(1), critical, []string{healthCritical}},
				{ok(2), healthy, []string{recovery}},
				{fail(3), critical, []string{healthCritical}},
				{ok(4), healthy, []string{recovery}},
			},
		},
		{
			name: "no_recovery_intent_for_a_degraded_target",
			steps: []step{
				{fail(1), degraded, []string{healthDegraded}},
				{ok(2), degraded, none},
				{fail(3), degraded, none},
				{ok(4), degraded, none},
			},
		},
		{
			name: "degraded_target_healthy_after_2_successes_without_recovery_intent",
			steps: []step{
				{ok(1), healthy, none},
				{fail(2), degraded, []string{healthDegraded}},
				{ok(3), degraded, none},
				{ok(4), healthy, none},
			},
		},
		{
			name: "failure_restarts_the_success_count",
			steps: []step{
				{fail(1), degraded, []string{healthDegraded}},
				{ok(2), degraded, none},
				{fail(3), degraded, none},
				{ok(4), degraded, none},
				{ok(5), healthy, none},
			},
		},
		{
			name: "success_restarts_the_failure_count",
			steps: []step{
				{fail(1), degraded, []string{healthDegraded}},
				{fail(2), degraded, none},
				{ok(3), degraded, none},
				{fail(4), degraded, none},
				{fail(5), degraded, none},
				{fail(6), critical, []string{healthCritical}},
			},
		},
		{
			name: "healthy_again_then_degraded_again_raises_degraded_again",
			steps: []step{
				{fail(1), degraded, []string{healthDegraded}},
				{ok(2), degraded, none},
				{ok(3), healthy, none},
				{fail(4), degraded, []string{healthDegraded}},
			},
		},
		{
			name:       "configured_hysteresis_degraded_after_2_critical_after_4_healthy_after_3",
			thresholds: infrastate.Thresholds{DegradedAfter: 2, CriticalAfter: 4, HealthyAfter: 3},
			steps: []step{
				{ok(1), healthy, none},
				{fail(2), healthy, none},
				{fail(3), degraded, []string{healthDegraded}},
				{fail(4), degraded, none},
				{fail(5), critical, []string{healthCritical}},
				{ok(6), critical, []string{recovery}},
				{ok(7), critical, none},
				{ok(8), healthy, none},
			},
		},
		{
			name:       "critical_as_soon_as_degraded_raises_only_critical",
			thresholds: infrastate.Thresholds{DegradedAfter: 2, CriticalAfter: 2, HealthyAfter: 1},
			steps: []step{
				{ok(1), healthy, none},
				{fail(2), healthy, none},
				{fail(3), critical, []string{healthCritical}},
				{ok(4), healthy, []string{recovery}},
			},
		},
		{
			name: "breaker_opening_raises_circuit_breaker_opened",
			steps: []step{
				{ok(1), healthy, none},
				{breaker(2, closed, open), healthy, []string{breakerOpened}},
				{breaker(3, open, halfOpen), healthy, none},
				{breaker(4, halfOpen, closed), healthy, none},
			},
		},
		{
			name: "breaker_reopening_after_a_failed_half_open_trial_is_the_same_episode",
			steps: []step{
				{breaker(1, closed, open), unknown, []string{breakerOpened}},
				{breaker(2, open, halfOpen), unknown, none},
				{breaker(3, halfOpen, open), unknown, none},
				{breaker(4, open, halfOpen), unknown, none},
				{breaker(5, halfOpen, open), unknown, none},
			},
		},
		{
			name: "breaker_opening_again_after_it_closed_raises_circuit_breaker_opened_again",
			steps: []step{
				{breaker(1, closed, open), unknown, []string{breakerOpened}},
				{breaker(2, open, halfOpen), unknown, none},
				{breaker(3, halfOpen, closed), unknown, none},
				{breaker(4, closed, open), unknown, []string{breakerOpened}},
			},
		},
		{
			name: "breaker_opening_from_half_open_is_the_first_opening_of_its_episode",
			steps: []step{
				{breaker(1, closed, halfOpen), unknown, none},
				{breaker(2, halfOpen, open), unknown, []string{breakerOpened}},
				{breaker(3, open, halfOpen), unknown, none},
				{breaker(4, halfOpen, open), unknown, none},
			},
		},
		{
			name: "breaker_move_to_the_state_it_is_in_raises_nothing",
			steps: []step{
				{breaker(1, closed, open), unknown, []string{breakerOpened}},
				{breaker(2, halfOpen, open), unknown, none},
				{breaker(3, closed, closed), unknown, none},
			},
		},
		{
			name: "failover_required_when_breaker_opens_on_a_critical_target",
			steps: []step{
				{fail(1), degraded, []string{healthDegraded}},
				{fail(2), degraded, none},
				{fail(3), critical, []string{healthCritical}},
				{breaker(4, closed, open), critical, []string{breakerOpened, failover}},
				{fail(5), critical, none},
			},
		},
		{
			name: "failover_required_when_a_target_with_open_breaker_becomes_critical",
			steps: []step{
				{breaker(1, closed, open), unknown, []string{breakerOpened}},
				{fail(2), degraded, []string{healthDegraded}},
				{fail(3), degraded, none},
				{fail(4), critical, []string{healthCritical, failover}},
				{fail(5), critical, none},
			},
		},
		{
			name: "failover_required_once_per_critical_episode_while_the_breaker_reopens",
			steps: []step{
				{fail(1), degraded, []string{healthDegraded}},
				{fail(2), degraded, none},
				{fail(3), critical, []string{healthCritical}},
				{breaker(4, closed, open), critical, []string{breakerOpened, failover}},
				{breaker(5, open, halfOpen), critical, none},
				{breaker(6, halfOpen, open), critical, none},
				{breaker(7, open, halfOpen), critical, none},
				{breaker(8, halfOpen, closed), critical, none},
				{breaker(9, closed, open), critical, []string{breakerOpened}},
				{fail(10), critical, none},
			},
		},
		{
			name: "failover_required_once_per_critical_episode_while_recovery_flaps",
			steps: []step{
				{breaker(1, closed, open), unknown, []string{breakerOpened}},
				{fail(2), degraded, []string{healthDegraded}},
				{fail(3), degraded, none},
				{fail(4), critical, []string{healthCritical, failover}},
				{ok(5), critical, []string{recovery}},
				{fail(6), critical, none},
				{ok(7), critical, none},
				{fail(8), critical, none},
			},
		},
		{
			name: "failover_required_again_in_the_next_critical_episode",
			steps: []step{
				{fail(1), degraded, []string{healthDegraded}},
				{fail(2), degraded, none},
				{fail(3), critical, []string{healthCritical}},
				{breaker(4, closed, open), critical, []string{breakerOpened, failover}},
				{ok(5), critical, []string{recovery}},
				{ok(6), healthy, none},
				{fail(7), degraded, []string{healthDegraded}},
				{fail(8), degraded, none},
				{fail(9), critical, []string{healthCritical, failover}},
			},
		},
		{
			name: "failover_required_when_the_breaker_opens_on_a_recovering_critical_target",
			steps: []step{
				{fail(1), degraded, []string{healthDegraded}},
				{fail(2), degraded, none},
				{fail(3), critical, []string{healthCritical}},
				{ok(4), critical, []string{recovery}},
				{breaker(5, closed, open), critical, []string{breakerOpened, failover}},
			},
		},
		{
			name: "no_failover_for_a_healthy_target_with_open_breaker",
			steps: []step{
				{ok(1), healthy, none},
				{breaker(2, closed, open), healthy, []string{breakerOpened}},
				{ok(3), healthy, none},
			},
		},
		{
			name: "no_failover_for_a_degraded_target_with_open_breaker",
			steps: []step{
				{fail(1), degraded, []string{healthDegraded}},
				{breaker(2, closed, open), degraded, []string{breakerOpened}},
				{fail(3), degraded, none},
			},
		},
		{
			name: "no_failover_for_a_critical_target_whose_breaker_is_half_open",
			steps: []step{
				{fail(1), degraded, []string{healthDegraded}},
				{fail(2), degraded, none},
				{fail(3), critical, []string{healthCritical}},
				{breaker(4, closed, halfOpen), critical, none},
			},
		},
		{
			name: "pool_exhausted_when_every_connection_is_acquired_and_an_acquire_waited",
			steps: []step{
				{pool(1, 5, 10, 0), unknown, none},
				{pool(2, 10, 10, 1), unknown, []string{poolExhausted}},
			},
		},
		{
			name: "pool_exhausted_raised_once_while_it_stays_exhausted",
			steps: []step{
				{pool(1, 10, 10, 1), unknown, []string{poolExhausted}},
				{pool(2, 10, 10, 4), unknown, none},
				{pool(3, 10, 10, 9), unknown, none},
			},
		},
		{
			name: "pool_exhausted_again_after_it_was_not",
			steps: []step{
				{pool(1, 10, 10, 1), unknown, []string{poolExhausted}},
				{pool(2, 3, 10, 1), unknown, none},
				{pool(3, 10, 10, 2), unknown, []string{poolExhausted}},
			},
		},
		{
			name: "pool_exhausted_once_per_episode_while_it_stays_full_without_new_waits",
			steps: []step{
				{pool(1, 10, 10, 1), unknown, []string{poolExhausted}},
				{pool(2, 10, 10, 1), unknown, none},
				{pool(3, 10, 10, 2), unknown, none},
				{pool(4, 9, 10, 2), unknown, none},
				{pool(5, 10, 10, 3), unknown, []string{poolExhausted}},
			},
		},
		{
			name: "pool_wait_counter_restart_counts_its_waits_as_new",
			steps: []step{
				{pool(1, 5, 10, 8), unknown, none},
				{pool(2, 10, 10, 2), unknown, []string{poolExhausted}},
			},
		},
		{
			name: "pool_wait_counter_restart_to_zero_is_no_wait",
			steps: []step{
				{pool(1, 5, 10, 8), unknown, none},
				{pool(2, 10, 10, 0), unknown, none},
				{pool(3, 10, 10, 2), unknown, []string{poolExhausted}},
			},
		},
		{
			name: "pool_exhausted_at_the_first_report_when_it_is_full_with_waits",
			steps: []step{
				{pool(1, 10, 10, 3), unknown, []string{poolExhausted}},
			},
		},
		{
			name: "pool_full_with_only_earlier_waits_is_not_exhausted",
			steps: []step{
				{pool(1, 4, 10, 5), unknown, none},
				{pool(2, 10, 10, 5), unknown, none},
				{pool(3, 10, 10, 6), unknown, []string{poolExhausted}},
			},
		},
		{
			name: "pool_full_without_waiting_is_not_exhausted",
			steps: []step{
				{pool(1, 10, 10, 0), unknown, none},
				{pool(2, 10, 10, 0), unknown, none},
			},
		},
		{
			name: "pool_waiting_with_free_connections_is_not_exhausted",
			steps: []step{
				{pool(1, 4, 10, 3), unknown, none},
				{pool(2, 9, 10, 7), unknown, none},
			},
		},
		{
			name: "families_do_not_raise_each_others_intents",
			steps: []step{
				{fail(1), degraded, []string{healthDegraded}},
				{pool(2, 10, 10, 1), degraded, []string{poolExhausted}},
				{breaker(3, closed, open), degraded, []string{breakerOpened}},
				{fail(4), degraded, none},
				{pool(5, 10, 10, 2), degraded, none},
				{fail(6), critical, []string{healthCritical, failover}},
				{pool(7, 10, 10, 3), critical, none},
				{breaker(8, open, halfOpen), critical, none},
				{ok(9), critical, []string{recovery}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := infrastate.Reducer{Thresholds: tt.thresholds}
			if tt.thresholds == (infrastate.Thresholds{}) {
				r.Thresholds = infrastate.DefaultThresholds()
			}
			s := infrastate.NewState(subject)
			for i, st := range tt.steps {
				env := envelope(st.in)
				var intents []events.IntentMessage
				s, intents = r.Reduce(s, env, st.in.m)

				require.Equal(t, st.wantStatus, s.Status, "status after step %d (%s)", i+1, st.in.m.Kind().Name)
				require.Equal(t, st.wantIntents, names(intents), "intents of step %d (%s)", i+1, st.in.m.Kind().Name)
				requireIntentsFrom(t, env, intents)
			}
		})
	}
}

func TestReducer_Reduce_records_the_latest_probe(t *testing.T) {
	r := infrastate.Reducer{Thresholds: infrastate.DefaultThresholds()}
	s := infrastate.NewState(subject)
	require.Equal(t, infrastate.TargetState{
		AdapterID: subject, Adapter: "postgres", Target: "orders",
		Status: infrastate.StatusUnknown, Breaker: events.BreakerClosed,
	}, s)

	for _, in := range []input{fail(1), fail(2)} {
		s, _ = r.Reduce(s, envelope(in), in.m)
	}
	require.Equal(t, int64(2), s.Probes)
	require.Equal(t, 2, s.ConsecutiveFailures)
	require.Equal(t, 0, s.ConsecutiveSuccesses)
	require.Equal(t, "connection refused", s.LastError)
	require.Equal(t, int64(2000), s.LastLatencyMicros, "the last latency is the last probe's, failed or not")
	require.Equal(t, at(2), s.LastProbedAt)
	require.Equal(t, infrastate.LatencyState{}, s.Latency, "failed probes are no latency samples")

	withDetails := ok(3)
	probe := withDetails.m.(events.AdapterHealthReported)
	probe.Details = map[string]string{"replica_lag_ms": "12"}
	withDetails.m = probe
	s, intents := r.Reduce(s, envelope(withDetails), withDetails.m)
	require.Empty(t, intents)
	require.Equal(t, int64(3), s.Probes)
	require.Equal(t, 0, s.ConsecutiveFailures)
	require.Equal(t, 1, s.ConsecutiveSuccesses)
	require.Empty(t, s.LastError)
	require.Equal(t, int64(500), s.LastLatencyMicros)
	require.Equal(t, map[string]string{"replica_lag_ms": "12"}, s.LastDetails)
	probe.Details["replica_lag_ms"] = "99"
	require.Equal(t, "12", s.LastDetails["replica_lag_ms"], "the state has its own copy of the details")
	require.Equal(t, infrastate.LatencyState{
		Samples:   []infrastate.LatencySample{{At: infrastate.InstantOf(at(3)), Micros: 500}},
		MinMicros: 500, AvgMicros: 500, MaxMicros: 500, P95Micros: 500,
	}, s.Latency)

	s, _ = r.Reduce(s, envelope(ok(4)), ok(4).m)
	require.Nil(t, s.LastDetails, "the details are the newest probe's")

	opening := breaker(5, events.BreakerClosed, events.BreakerOpen)
	s, _ = r.Reduce(s, envelope(opening), opening.m)
	require.Equal(t, events.BreakerOpen, s.Breaker)
	require.Equal(t, at(5), s.BreakerSince)
	again := breaker(6, events.BreakerHalfOpen, events.BreakerOpen)
	s, _ = r.Reduce(s, envelope(again), again.m)
	require.Equal(t, at(5), s.BreakerSince, "a move to the state the breaker is in does not restart it")
	trial := breaker(7, events.BreakerOpen, events.BreakerHalfOpen)
	s, _ = r.Reduce(s, envelope(trial), trial.m)
	require.Equal(t, events.BreakerHalfOpen, s.Breaker)
	require.Equal(t, at(7), s.BreakerSince)

	s, _ = r.Reduce(s, envelope(pool(8, 4, 10, 0)), pool(8, 4, 10, 0).m)
	require.Equal(t, infrastate.PoolState{
		Acquired: 4, Idle: 6, Total: 10, Max: 10, WaitCount: 0, Utilisation: 0.4, ReportedAt: at(8),
	}, s.Pool)
	s, _ = r.Reduce(s, envelope(pool(9, 10, 10, 3)), pool(9, 10, 10, 3).m)
	require.Equal(t, infrastate.PoolState{
		Acquired: 10, Idle: 0, Total: 10, Max: 10, WaitCount: 3, Utilisation: 1, Exhausted: true, ReportedAt: at(9),
	}, s.Pool)
	require.Equal(t, int64(4), s.Probes, "only probes count as probes")
}

func TestReducer_Reduce_records_once_per_episode_intents_in_the_state(t *testing.T) {
	r := infrastate.Reducer{Thresholds: infrastate.DefaultThresholds()}
	s := infrastate.NewState(subject)
	fold := func(in input) {
		s, _ = r.Reduce(s, envelope(in), in.m)
	}
	for _, in := range []input{fail(1), fail(2), fail(3), breaker(4, events.BreakerClosed, events.BreakerOpen), ok(5)} {
		fold(in)
	}
	require.Equal(t, infrastate.Raised{RecoveryInitiated: true, FailoverRequired: true, CircuitBreakerOpened: true}, s.Raised)

	fold(breaker(6, events.BreakerOpen, events.BreakerHalfOpen))
	fold(breaker(7, events.BreakerHalfOpen, events.BreakerClosed))
	require.Equal(t, infrastate.Raised{RecoveryInitiated: true, FailoverRequired: true}, s.Raised, "the breaker episode ended")

	fold(ok(8))
	require.Equal(t, infrastate.StatusHealthy, s.Status)
	require.Equal(t, infrastate.Raised{}, s.Raised, "the critical episode ended")
}

func TestReducer_Reduce_ignores_stale_events(t *testing.T) {
	// The target's state reflects a probe at 10s, a breaker move at 10s and a pool report at 10s.
	history := []input{
		fail(8), fail(9), ok(10),
		breaker(10, events.BreakerOpen, events.BreakerHalfOpen),
		pool(10, 2, 10, 5),
	}
	tests := []struct {
		name  string
		stale input
	}{
		{name: "older_failed_probe", stale: fail(5)},
		{name: "older_successful_probe", stale: ok(5)},
		{name: "duplicate_probe", stale: ok(10)},
		{name: "probe_as_old_as_the_newest_with_another_outcome", stale: fail(10)},
		{name: "older_breaker_opening", stale: breaker(5, events.BreakerClosed, events.BreakerOpen)},
		{name: "duplicate_breaker_move", stale: breaker(10, events.BreakerOpen, events.BreakerHalfOpen)},
		{name: "breaker_move_as_old_as_the_newest", stale: breaker(10, events.BreakerHalfOpen, events.BreakerOpen)},
		{name: "newer_breaker_move_to_the_state_it_is_in", stale: breaker(11, events.BreakerOpen, events.BreakerHalfOpen)},
		{name: "older_exhausted_pool", stale: pool(5, 10, 10, 9)},
		{name: "duplicate_pool_report", stale: pool(10, 2, 10, 5)},
		{name: "pool_report_as_old_as_the_newest", stale: pool(10, 10, 10, 9)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := infrastate.Reducer{Thresholds: infrastate.DefaultThresholds()}
			s := infrastate.NewState(subject)
			for _, in := range history {
				s, _ = r.Reduce(s, envelope(in), in.m)
			}
			require.Equal(t, infrastate.StatusDegraded, s.Status, "one success after failures")

			after, intents := r.Reduce(s, envelope(tt.stale), tt.stale.m)
			require.Equal(t, s, after, "state unchanged")
			require.Empty(t, intents)

			other := envelope(tt.stale)
			other.ID = "a-new-message-id"
			after, intents = r.Reduce(s, other, tt.stale.m)
			require.Equal(t, s, after, "state unchanged under another message id")
			require.Empty(t, intents)
		})
	}
}

func TestReducer_Reduce_redelivered_events_raise_nothing_again(t *testing.T) {
	// Each event of the history raised intents; each comes again, after everything.
	history := []input{
		fail(1), fail(2), fail(3),
		breaker(4, events.BreakerClosed, events.BreakerOpen),
		ok(5),
		pool(6, 10, 10, 1),
	}
	r := infrastate.Reducer{Thresholds: infrastate.DefaultThresholds()}
	s := infrastate.NewState(subject)
	raised := 0
	for _, in := range history {
		var intents []events.IntentMessage
		s, intents = r.Reduce(s, envelope(in), in.m)
		raised += len(intents)
	}
	require.Equal(t, 6, raised, "degraded, critical, breaker opened, failover, recovery, pool exhausted")
	for _, in := range history {
		after, intents := r.Reduce(s, envelope(in), in.m)
		require.Equal(t, s, after, "%s redelivered", in.m.Kind().Name)
		require.Empty(t, intents, "%s redelivered", in.m.Kind().Name)
	}
}

func TestReducer_Reduce_judges_each_family_by_its_own_clock(t *testing.T) {
	r := infrastate.Reducer{Thresholds: infrastate.DefaultThresholds()}
	s := infrastate.NewState(subject)
	for _, in := range []input{ok(10), breaker(20, events.BreakerClosed, events.BreakerOpen), pool(30, 1, 10, 0)} {
		s, _ = r.Reduce(s, envelope(in), in.m)
	}
	s, intents := r.Reduce(s, envelope(fail(15)), fail(15).m)
	require.Equal(t, infrastate.StatusDegraded, s.Status, "a probe newer than the newest probe is folded")
	require.Equal(t, []string{"infrastructure_health_degraded"}, names(intents))

	s, _ = r.Reduce(s, envelope(pool(25, 10, 10, 1)), pool(25, 10, 10, 1).m)
	require.Equal(t, at(30), s.Pool.ReportedAt, "a pool report older than the newest is not")
	s, _ = r.Reduce(s, envelope(breaker(25, events.BreakerOpen, events.BreakerHalfOpen)), breaker(25, events.BreakerOpen, events.BreakerHalfOpen).m)
	require.Equal(t, events.BreakerHalfOpen, s.Breaker, "a breaker move newer than the newest is folded")
}

func TestReducer_Reduce_ignores_messages_that_are_not_about_target_state(t *testing.T) {
	r := infrastate.Reducer{Thresholds: infrastate.DefaultThresholds()}
	s, _ := r.Reduce(infrastate.NewState(subject), envelope(fail(1)), fail(1).m)

	for _, m := range []events.Message{
		events.ProbeTarget{Adapter: events.AdapterPostgres, Target: "orders"},
		events.CommandSucceeded{CommandID: "c1", Command: "postgres_query/v1", AdapterID: subject, Attempts: 1, CompletedAt: at(2)},
		events.CommandFailed{CommandID: "c2", Command: "postgres_query/v1", AdapterID: subject, Error: "circuit breaker is open",
			Transient: true, Attempts: 1, FailedAt: at(2)},
		events.CommandRejected{CommandID: "c3", Adapter: events.AdapterPostgres, Target: "orders", Reason: "unknown type", RejectedAt: at(2)},
		events.ConsulKVChanged{AdapterID: subject, KVKey: "k", Value: "v", ModifyIndex: 7, ObservedAt: at(2)},
		events.ConsulServiceChanged{AdapterID: subject, Service: "orders", ObservedAt: at(2),
			Instances: []events.ServiceInstance{{ServiceID: "orders-1", Node: "n1", Status: "critical"}}},
		events.InfrastructureHealthCritical{Intent: events.Intent{Subject: subject}},
		events.AdapterHealthReportedV1{AdapterID: subject, Adapter: events.AdapterPostgres, Target: "orders", Healthy: true, ProbedAt: at(2)},
	} {
		after, intents := r.Reduce(s, events.Envelope{ID: "other", OccurredAt: at(2)}, m)
		require.Equal(t, s, after, m.Kind().Name)
		require.Empty(t, intents, m.Kind().Name)
	}
}

func TestReducer_Reduce_does_not_modify_its_input(t *testing.T) {
	r := infrastate.Reducer{Thresholds: infrastate.DefaultThresholds()}
	s := infrastate.NewState(subject)
	for sec := 1; sec <= 20; sec++ {
		s, _ = r.Reduce(s, envelope(okIn(sec, int64(sec))), okIn(sec, int64(sec)).m)
	}
	snapshot := func(s infrastate.TargetState) string {
		b, err := json.Marshal(s)
		require.NoError(t, err)
		return string(b)
	}
	before := snapshot(s)

	first, _ := r.Reduce(s, envelope(okIn(21, 1000)), okIn(21, 1000).m)
	want := snapshot(first)
	second, _ := r.Reduce(s, envelope(failIn(21, 9)), failIn(21, 9).m)
	third, _ := r.Reduce(s, envelope(okIn(21, 7)), okIn(21, 7).m)

	require.Equal(t, before, snapshot(s), "the folded state is unchanged")
	require.Equal(t, want, snapshot(first), "folding the same state again leaves the first result alone")
	require.NotEqual(t, snapshot(second), snapshot(third))
}

func TestReducer_Reduce_state_survives_its_JSON_row(t *testing.T) {
	r := infrastate.Reducer{Thresholds: infrastate.DefaultThresholds()}
	s := infrastate.NewState(subject)
	for _, in := range []input{
		ok(1), fail(2), fail(3), fail(4), breaker(5, events.BreakerClosed, events.BreakerOpen),
		ok(6), pool(7, 10, 10, 2), okIn(8, 900),
	} {
		s, _ = r.Reduce(s, envelope(in), in.m)
	}
	data, err := json.Marshal(s)
	require.NoError(t, err)
	var back infrastate.TargetState
	require.NoError(t, json.Unmarshal(data, &back))
	require.Equal(t, s, back)

	empty := infrastate.NewState(subject)
	empty, _ = r.Reduce(empty, envelope(fail(1)), fail(1).m)
	data, err = json.Marshal(empty)
	require.NoError(t, err)
	back = infrastate.TargetState{}
	require.NoError(t, json.Unmarshal(data, &back))
	require.Equal(t, empty, back, "empty samples and details read back as they were")
}

func TestReducer_Reduce_intent_ids_are_derived_from_the_causing_event(t *testing.T) {
	r := infrastate.Reducer{Thresholds: infrastate.DefaultThresholds()}
	s := infrastate.NewState(subject)
	for _, in := range []input{fail(1), fail(2), fail(3)} {
		s, _ = r.Reduce(s, envelope(in), in.m)
	}
	opening := breaker(4, events.BreakerClosed, events.BreakerOpen)
	env := envelope(opening)

	first, intents := r.Reduce(s, env, opening.m)
	again, reprocessed := r.Reduce(s, env, opening.m)
	require.Equal(t, []string{"circuit_breaker_opened", "failover_required"}, names(intents))
	require.Equal(t, first, again, "same input, same state")
	require.Equal(t, intents, reprocessed, "same input, same intents, ids included")
	require.NotEqual(t, intents[0].Fields().ID, intents[1].Fields().ID, "two intents of one event")

	other := env
	other.ID = "another-event"
	_, fromOther := r.Reduce(s, other, opening.m)
	require.Equal(t, names(intents), names(fromOther))
	for i := range intents {
		require.NotEqual(t, intents[i].Fields().ID, fromOther[i].Fields().ID, "another event, another id")
		require.Equal(t, other.ID, fromOther[i].Fields().CausedBy)
	}
}

// probedAt is in, probed (and occurred) at when.
func probedAt(in input, when time.Time) input {
	p := in.m.(events.AdapterHealthReported)
	p.ProbedAt = when
	return input{m: p, at: when}
}
