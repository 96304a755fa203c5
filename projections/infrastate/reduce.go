package infrastate

import (
	"fmt"
	"maps"
	"slices"
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
// It never modifies s: the slices and maps of the result are its own.
//
// Stale events. Each event family has its own clock in the state: a probe's ProbedAt is compared
// with LastProbedAt, a breaker move's ChangedAt with BreakerSince, a pool report's ReportedAt with
// Pool.ReportedAt. An event whose time is not after its family's clock is stale: older than what
// the state reflects, or as old — a redelivery of the event the state reflects, under its own
// message id or another. A stale event returns s unchanged and raises nothing. Every event that is
// folded moves its family's clock to its own time (a breaker move to the state the breaker is
// already in is not folded at all), so an event folded once is stale whenever it comes again,
// however late and whatever came in between. Families are judged apart — a pool report is not
// stale because a newer probe was folded — because one family's clock says nothing about
// another's: an adapter stamps the pool report and the breaker move of a probe while it runs,
// before the probe's own ProbedAt, and records them after it.
//
// Events that do not concern target state (commands, command outcomes, Consul watch events,
// intents) return s unchanged and raise nothing.
func (r Reducer) Reduce(s TargetState, env events.Envelope, m events.Message) (TargetState, []events.IntentMessage) {
	return r.reduce(s, env, m, false)
}

// reduceOwned is Reduce for a caller that drops s for the result, as a replay does: the result's
// latency window may share s's array, appending past the end of s's window, which spares copying
// the window at every probe. s reads the same afterwards, but it must not be folded again: a
// second result would append over the first's newest sample.
func (r Reducer) reduceOwned(s TargetState, env events.Envelope, m events.Message) (TargetState, []events.IntentMessage) {
	return r.reduce(s, env, m, true)
}

func (r Reducer) reduce(s TargetState, env events.Envelope, m events.Message, owned bool) (TargetState, []events.IntentMessage) {
	before := s
	switch e := m.(type) {
	case events.AdapterHealthReported:
		if !e.ProbedAt.After(s.LastProbedAt) {
			return s, nil
		}
		s = r.foldHealth(s, e, owned)
	case events.CircuitBreakerStateChanged:
		if !e.ChangedAt.After(s.BreakerSince) || e.To == s.Breaker {
			return s, nil
		}
		s.Breaker, s.BreakerSince = e.To, e.ChangedAt
	case events.TargetOwnershipChanged:
		if !foldOwner(&s, e) {
			return s, nil
		}
	case events.ConnectionPoolStatsReported:
		if !e.ReportedAt.After(s.Pool.ReportedAt) {
			return s, nil
		}
		s.Pool = foldPool(s.Pool, e)
	default:
		return s, nil
	}
	return transitions(before, s, env)
}

// foldOwner folds a change of owner into s and says whether it was new: a new owner comes with a
// newer token than the state's; a release names the owner and token the state has.
func foldOwner(s *TargetState, e events.TargetOwnershipChanged) bool {
	if e.Reason == events.OwnershipReleased {
		if e.Token != s.OwnerToken || s.Owner == "" || s.Owner != e.Previous {
			return false
		}
		s.Owner, s.OwnerSince = "", e.ChangedAt
		return true
	}
	if e.Token <= s.OwnerToken {
		return false
	}
	s.Owner, s.OwnerSince, s.OwnerToken = e.Owner, e.ChangedAt, e.Token
	return true
}

// foldHealth applies the hysteresis: DegradedAfter and CriticalAfter consecutive failures move a
// target down, HealthyAfter consecutive successes bring a degraded or critical one back. Only
// scheduled probes count, one per probe interval from the target's one owner: a probe a command
// asked for (Requested) updates the latest probe and the latency, nothing else. The first
// success of an unknown target makes it healthy at once; a critical target stays critical until
// it is healthy again.
func (r Reducer) foldHealth(s TargetState, e events.AdapterHealthReported, owned bool) TargetState {
	s.Probes++
	s.LastProbedAt = e.ProbedAt
	s.LastLatencyMicros = e.LatencyMicros
	s.LastDetails = nil
	if len(e.Details) > 0 {
		s.LastDetails = maps.Clone(e.Details)
	}
	s.Latency = r.latency(s.Latency.Samples, e, owned)
	if e.Requested {
		// A command's probe is shown, but the hysteresis counts the owner's scheduled probes only.
		return s
	}
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

// latency is the window that ends at probe e: the samples probed after e.ProbedAt-LatencyWindow,
// e's own when it succeeded, at most LatencySamples of them (the newest). Only successful probes
// are samples: a failed probe's latency is how long it took to fail — a timeout or an instant
// refusal — which says how the target fails, not how fast it serves. A failed probe still moves the
// window on, so a target failing for longer than the window has no latency statistics.
//
// With owned, the window is samples' array resliced and appended to (see reduceOwned); otherwise
// it is a copy.
func (r Reducer) latency(samples []LatencySample, e events.AdapterHealthReported, owned bool) LatencyState {
	from := InstantOf(e.ProbedAt.Add(-r.Thresholds.window()))
	// Samples are in probe order (stale probes are never folded): the expired ones are a prefix.
	start := 0
	for start < len(samples) && samples[start].At <= from {
		start++
	}
	kept := samples[start:]
	if !owned {
		kept = make([]LatencySample, 0, len(samples)-start+1)
		kept = append(kept, samples[start:]...)
	}
	if e.Healthy {
		kept = append(kept, LatencySample{At: InstantOf(e.ProbedAt), Micros: e.LatencyMicros})
	}
	if n := r.Thresholds.samples(); len(kept) > n {
		kept = kept[len(kept)-n:]
		if !owned {
			kept = slices.Clone(kept)
		}
	}
	if len(kept) == 0 {
		return LatencyState{} // nil samples, as the state reads back from JSON
	}
	lo, hi, sum := kept[0].Micros, kept[0].Micros, int64(0)
	for _, k := range kept {
		lo, hi, sum = min(lo, k.Micros), max(hi, k.Micros), sum+k.Micros
	}
	n := int64(len(kept))
	rank := (95*n + 99) / 100 // ceil(0.95 n), 1-based, in ascending order
	return LatencyState{
		Samples:   kept,
		MinMicros: lo,
		AvgMicros: (sum + n/2) / n,
		MaxMicros: hi,
		P95Micros: kthLargest(kept, int(n-rank+1)),
	}
}

// kthLargest returns the k-th largest latency of samples (1 ≤ k ≤ len(samples)). It keeps the k
// largest seen so far in a small descending buffer: above the 95th percentile k is about a
// twentieth of the window, so this costs a fraction of sorting the window, and allocates nothing
// for windows of fewer than 640 samples.
func kthLargest(samples []LatencySample, k int) int64 {
	var buf [32]int64
	top := buf[:0]
	if k > len(buf) {
		top = make([]int64, 0, k)
	}
	for _, s := range samples {
		v := s.Micros
		if len(top) == k && v <= top[k-1] {
			continue
		}
		i := 0
		for i < len(top) && top[i] >= v {
			i++
		}
		if len(top) < k {
			top = append(top, 0)
		}
		copy(top[i+1:], top[i:len(top)-1])
		top[i] = v
	}
	return top[k-1]
}

// foldPool takes the newest pool report. WaitCount is cumulative; a count lower than the previous
// one means the counter restarted (the adapter did), and all of it is new.
func foldPool(p PoolState, e events.ConnectionPoolStatsReported) PoolState {
	waited := e.WaitCount - p.WaitCount
	if e.WaitCount < p.WaitCount {
		waited = e.WaitCount
	}
	full := e.Acquired >= e.Max
	var utilisation float64
	if e.Max > 0 {
		utilisation = float64(e.Acquired) / float64(e.Max)
	}
	return PoolState{
		Acquired: e.Acquired, Idle: e.Idle, Total: e.Total, Max: e.Max, WaitCount: e.WaitCount,
		Utilisation: utilisation,
		// An episode starts when every connection is taken and someone had to wait since the last
		// report, and lasts while every connection stays taken.
		Exhausted:  full && (waited > 0 || p.Exhausted),
		ReportedAt: e.ReportedAt,
	}
}

// transitions compares the state before and after one event, raises the intents of the rules
// table (README, "Intents") and records the once-per-episode ones in after.Raised. Only edges
// raise intents, never levels, so a target that stays critical for an hour raised
// infrastructure_health_critical once; and an edge that repeats inside one episode (a breaker
// that re-opens after a failed half-open trial, a recovering target that fails and succeeds
// again) does not raise its intent twice.
func transitions(before, after TargetState, env events.Envelope) (TargetState, []events.IntentMessage) {
	var out []events.IntentMessage
	subject, cause, at := after.AdapterID, env.ID, env.OccurredAt
	failing := func() string {
		return fmt.Sprintf("%d consecutive failed probes, last: %s", after.ConsecutiveFailures, after.LastError)
	}
	if after.Status != before.Status {
		switch after.Status {
		case StatusDegraded:
			out = append(out, events.NewIntent[events.InfrastructureHealthDegraded](subject, failing(), cause, at))
		case StatusCritical:
			out = append(out, events.NewIntent[events.InfrastructureHealthCritical](subject, failing(), cause, at))
		}
	}

	// A critical episode lasts from entering critical until healthy again.
	inCritical := before.Status == StatusCritical && after.Status == StatusCritical
	if !inCritical {
		after.Raised.RecoveryInitiated, after.Raised.FailoverRequired = false, false
	}
	succeeded := after.ConsecutiveSuccesses > before.ConsecutiveSuccesses
	if before.Status == StatusCritical && succeeded && !before.Raised.RecoveryInitiated {
		out = append(out, events.NewIntent[events.RecoveryInitiated](subject, "first successful probe after critical", cause, at))
		after.Raised.RecoveryInitiated = inCritical
	}

	// A breaker episode lasts from leaving closed until closed again.
	if after.Breaker == events.BreakerClosed {
		after.Raised.CircuitBreakerOpened = false
	}
	if after.Breaker == events.BreakerOpen && before.Breaker != events.BreakerOpen && !after.Raised.CircuitBreakerOpened {
		out = append(out, events.NewIntent[events.CircuitBreakerOpened](subject, "circuit breaker opened", cause, at))
		after.Raised.CircuitBreakerOpened = true
	}

	wasFailover := before.Status == StatusCritical && before.Breaker == events.BreakerOpen
	isFailover := after.Status == StatusCritical && after.Breaker == events.BreakerOpen
	if isFailover && !wasFailover && !after.Raised.FailoverRequired {
		out = append(out, events.NewIntent[events.FailoverRequired](subject, "critical with its circuit breaker open", cause, at))
		after.Raised.FailoverRequired = true
	}

	if after.Pool.Exhausted && !before.Pool.Exhausted {
		reason := fmt.Sprintf("all %d connections acquired, %d waits so far", after.Pool.Max, after.Pool.WaitCount)
		out = append(out, events.NewIntent[events.ConnectionPoolExhausted](subject, reason, cause, at))
	}
	return after, out
}
