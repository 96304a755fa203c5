package infrastate

import (
	"fmt"
	"strings"

	"github.com/omninode/omnibase-infra/events"
)

// Reducer folds events into target state. It is a pure function of its inputs: no clock, no I/O,
// intents' ids and times derived from the event that raised them.
type Reducer struct {
	Thresholds Thresholds
}

// NewState is the state of a target no event has been folded for yet.
func NewState(adapterID string) TargetState {
	adapter, target, _ := strings.Cut(adapterID, "/")
	return TargetState{AdapterID: adapterID, Adapter: adapter, Target: target, Status: StatusUnknown, Breaker: events.BreakerClosed}
}

// Reduce folds one event into s and returns the new state and the intents the transition raises.
// Events that do not concern target state return s unchanged.
func (r Reducer) Reduce(s TargetState, env events.Envelope, m events.Message) (TargetState, []events.IntentMessage) {
	before := s
	switch e := m.(type) {
	case events.AdapterHealthReported:
		if !e.ProbedAt.After(s.LastProbedAt) {
			return s, nil // stale or duplicate: never move backwards
		}
		s = r.foldHealth(s, e)
	case events.CircuitBreakerStateChanged:
		if !e.ChangedAt.After(s.BreakerSince) {
			return s, nil
		}
		s.Breaker, s.BreakerSince = e.To, e.ChangedAt
	case events.ConnectionPoolStatsReported:
		if !e.ReportedAt.After(s.Pool.ReportedAt) {
			return s, nil
		}
		s.Pool = PoolState{
			Acquired: e.Acquired, Idle: e.Idle, Total: e.Total, Max: e.Max, WaitCount: e.WaitCount,
			// Exhausted: every connection is taken and someone had to wait since the last report.
			Exhausted:  e.Acquired >= e.Max && e.WaitCount > s.Pool.WaitCount,
			ReportedAt: e.ReportedAt,
		}
	default:
		return s, nil
	}
	return s, transitions(before, s, env)
}

func (r Reducer) foldHealth(s TargetState, e events.AdapterHealthReported) TargetState {
	s.Probes++
	s.LastProbedAt = e.ProbedAt
	s.LastLatencyMicros = e.LatencyMicros
	if e.Healthy {
		s.ConsecutiveSuccesses++
		s.ConsecutiveFailures = 0
		s.LastError = ""
		if s.Status == StatusUnknown || s.ConsecutiveSuccesses >= r.Thresholds.HealthyAfter {
			s.Status = StatusHealthy
		}
		return s
	}
	s.ConsecutiveFailures++
	s.ConsecutiveSuccesses = 0
	s.LastError = e.Error
	switch {
	case s.ConsecutiveFailures >= r.Thresholds.CriticalAfter:
		s.Status = StatusCritical
	case s.ConsecutiveFailures >= r.Thresholds.DegradedAfter && s.Status != StatusCritical:
		s.Status = StatusDegraded
	}
	return s
}

// transitions compares the state before and after one event and raises the intents of the rules
// table (README, "Intents"). Only edges raise intents, never levels, so a target that stays
// critical for an hour raised infrastructure_health_critical once.
func transitions(before, after TargetState, env events.Envelope) []events.IntentMessage {
	var out []events.IntentMessage
	raise := func(name, reason string) events.Intent {
		return events.Intent{
			ID:       events.IntentID(name, after.AdapterID, env.ID),
			Subject:  after.AdapterID,
			Reason:   reason,
			CausedBy: env.ID,
			RaisedAt: env.OccurredAt,
		}
	}
	failing := func() string {
		return fmt.Sprintf("%d consecutive failed probes, last: %s", after.ConsecutiveFailures, after.LastError)
	}
	if after.Status != before.Status {
		switch after.Status {
		case StatusDegraded:
			out = append(out, events.InfrastructureHealthDegraded{Intent: raise("infrastructure_health_degraded", failing())})
		case StatusCritical:
			out = append(out, events.InfrastructureHealthCritical{Intent: raise("infrastructure_health_critical", failing())})
		}
	}
	if before.Status == StatusCritical && after.ConsecutiveSuccesses == 1 && before.ConsecutiveSuccesses == 0 {
		out = append(out, events.RecoveryInitiated{Intent: raise("recovery_initiated", "first successful probe after critical")})
	}
	if after.Breaker == events.BreakerOpen && before.Breaker != events.BreakerOpen {
		out = append(out, events.CircuitBreakerOpened{Intent: raise("circuit_breaker_opened", "circuit breaker opened")})
	}
	wasFailover := before.Status == StatusCritical && before.Breaker == events.BreakerOpen
	isFailover := after.Status == StatusCritical && after.Breaker == events.BreakerOpen
	if isFailover && !wasFailover {
		out = append(out, events.FailoverRequired{Intent: raise("failover_required", "critical with its circuit breaker open")})
	}
	if after.Pool.Exhausted && !before.Pool.Exhausted {
		reason := fmt.Sprintf("all %d connections acquired, %d waits so far", after.Pool.Max, after.Pool.WaitCount)
		out = append(out, events.ConnectionPoolExhausted{Intent: raise("connection_pool_exhausted", reason)})
	}
	return out
}
