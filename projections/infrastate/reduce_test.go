package infrastate_test

import (
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

func ok(sec int) input {
	return input{at: at(sec), m: events.AdapterHealthReported{
		AdapterID: subject, Adapter: events.AdapterPostgres, Target: "orders", Healthy: true,
		LatencyMicros: 500, ProbedAt: at(sec),
	}}
}

func fail(sec int) input {
	return input{at: at(sec), m: events.AdapterHealthReported{
		AdapterID: subject, Adapter: events.AdapterPostgres, Target: "orders", Healthy: false,
		Error: "connection refused", LatencyMicros: 2000, ProbedAt: at(sec),
	}}
}

func breaker(sec int, from, to string) input {
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
			name: "breaker_reopening_raises_circuit_breaker_opened_again",
			steps: []step{
				{breaker(1, closed, open), unknown, []string{breakerOpened}},
				{breaker(2, open, halfOpen), unknown, none},
				{breaker(3, halfOpen, open), unknown, []string{breakerOpened}},
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
	require.Equal(t, int64(2000), s.LastLatencyMicros)
	require.Equal(t, at(2), s.LastProbedAt)

	s, intents := r.Reduce(s, envelope(ok(3)), ok(3).m)
	require.Empty(t, intents)
	require.Equal(t, int64(3), s.Probes)
	require.Equal(t, 0, s.ConsecutiveFailures)
	require.Equal(t, 1, s.ConsecutiveSuccesses)
	require.Empty(t, s.LastError)
	require.Equal(t, int64(500), s.LastLatencyMicros)

	s, _ = r.Reduce(s, envelope(breaker(4, events.BreakerClosed, events.BreakerOpen)), breaker(4, events.BreakerClosed, events.BreakerOpen).m)
	require.Equal(t, events.BreakerOpen, s.Breaker)
	require.Equal(t, at(4), s.BreakerSince)

	s, _ = r.Reduce(s, envelope(pool(5, 10, 10, 3)), pool(5, 10, 10, 3).m)
	require.Equal(t, infrastate.PoolState{
		Acquired: 10, Idle: 0, Total: 10, Max: 10, WaitCount: 3, Exhausted: true, ReportedAt: at(5),
	}, s.Pool)
	require.Equal(t, int64(3), s.Probes, "only probes count as probes")
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
		{name: "duplicate_probe", stale: fail(10)},
		{name: "older_breaker_opening", stale: breaker(5, events.BreakerClosed, events.BreakerOpen)},
		{name: "duplicate_breaker_move", stale: breaker(10, events.BreakerHalfOpen, events.BreakerOpen)},
		{name: "older_exhausted_pool", stale: pool(5, 10, 10, 9)},
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
		})
	}
}

func TestReducer_Reduce_ignores_messages_that_are_not_about_target_state(t *testing.T) {
	r := infrastate.Reducer{Thresholds: infrastate.DefaultThresholds()}
	s, _ := r.Reduce(infrastate.NewState(subject), envelope(fail(1)), fail(1).m)

	for _, m := range []events.Message{
		events.ProbeTarget{Adapter: events.AdapterPostgres, Target: "orders"},
		events.InfrastructureHealthCritical{Intent: events.Intent{Subject: subject}},
	} {
		after, intents := r.Reduce(s, events.Envelope{ID: "other", OccurredAt: at(2)}, m)
		require.Equal(t, s, after, m.Kind().Name)
		require.Empty(t, intents, m.Kind().Name)
	}
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
