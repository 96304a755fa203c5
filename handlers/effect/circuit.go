package effect

import (
	"time"

	"github.com/omninode/omnibase-infra/events"
)

// Circuit is one target's circuit breaker as recorded: a plain value, kept in target_breakers and
// moved only by outcomes whose recording committed, so that the recorded history always explains
// it, a restarted process carries on from it, and a new owner of the target takes it over.
//
// Open with OpenFor passed reads as half-open (see Effective): the move to half-open is recorded
// with the outcome of the trial call that made it, not by a clock.
type Circuit struct {
	State events.BreakerState `json:"state"`
	// Since is when it entered State.
	Since time.Time `json:"since"`
	// Failures in a row that counted against the target.
	Failures int64 `json:"failures"`
	// Successes of trial calls since it went half-open.
	Successes int64 `json:"successes,omitempty"`
	// Forced is open_breaker's reason while forced open; ForcedOpen says it is.
	ForcedOpen bool   `json:"forced_open,omitempty"`
	Forced     string `json:"forced_reason,omitempty"`
	// Generation moves on at every state change: an outcome of a call admitted in an earlier
	// generation counts for nothing, as a call in flight on a breaker close_breaker replaced.
	Generation int64 `json:"generation"`
}

// closedCircuit is a new target's breaker.
func closedCircuit() Circuit { return Circuit{State: events.BreakerClosed} }

// Effective is the state as a caller sees it at now: open whose OpenFor has passed is half-open.
func (c Circuit) Effective(cfg Breaker, now time.Time) events.BreakerState {
	if c.State == events.BreakerOpen && !c.ForcedOpen && !now.Before(c.Since.Add(cfg.OpenFor)) {
		return events.BreakerHalfOpen
	}
	return c.State
}

// move is one recorded state change.
type move struct {
	from, to events.BreakerState
	failures int64
	at       time.Time
}

// to moves c to state at now and returns the move; nothing when c is already there.
func (c *Circuit) to(state events.BreakerState, now time.Time, moves []move) []move {
	if c.State == state {
		return moves
	}
	moves = append(moves, move{from: c.State, to: state, failures: c.Failures, at: now})
	c.State, c.Since, c.Successes = state, now, 0
	c.Generation++
	return moves
}

// outcome is what one call through the breaker came to.
type outcome int

const (
	// succeeded: the call worked, or failed in a way that is not the target's fault.
	succeeded outcome = iota
	// failed: the call failed and it counts against the target.
	failed
)

// Fold folds one call's outcome into c: the call was admitted in generation gen. It returns the
// new breaker and the moves to record. A call of an earlier generation, or any call while forced
// open, moves nothing.
func (c Circuit) Fold(cfg Breaker, gen int64, o outcome, now time.Time) (Circuit, []move) {
	if c.ForcedOpen || gen != c.Generation {
		return c, nil
	}
	var moves []move
	if c.Effective(cfg, now) == events.BreakerHalfOpen && c.State == events.BreakerOpen {
		moves = c.to(events.BreakerHalfOpen, now, moves)
	}
	switch {
	case o == succeeded && c.State == events.BreakerHalfOpen:
		c.Successes++
		if c.Successes >= int64(cfg.HalfOpenCalls) {
			c.Failures = 0
			moves = c.to(events.BreakerClosed, now, moves)
		}
	case o == succeeded:
		c.Failures = 0
	case c.State == events.BreakerHalfOpen:
		c.Failures++
		moves = c.to(events.BreakerOpen, now, moves)
	case c.State == events.BreakerClosed:
		c.Failures++
		if c.Failures >= int64(cfg.Failures) {
			moves = c.to(events.BreakerOpen, now, moves)
		}
	}
	return c, moves
}

// ForceOpen forces c open until Reset, with reason; a breaker already forced keeps its reason.
func (c Circuit) ForceOpen(cfg Breaker, reason string, now time.Time) (Circuit, []move) {
	if c.ForcedOpen {
		return c, nil
	}
	var moves []move
	if c.State == events.BreakerOpen && c.Effective(cfg, now) == events.BreakerHalfOpen {
		moves = c.to(events.BreakerHalfOpen, now, moves)
	}
	moves = c.to(events.BreakerOpen, now, moves)
	if len(moves) == 0 {
		c.Generation++ // calls in flight end unheard, as on any state change
	}
	c.ForcedOpen, c.Forced = true, reason
	return c, moves
}

// Reset closes c with zero counts, lifting a forced open.
func (c Circuit) Reset(now time.Time) (Circuit, []move) {
	c.ForcedOpen, c.Forced, c.Failures = false, "", 0
	moves := c.to(events.BreakerClosed, now, nil)
	if len(moves) == 0 {
		c.Generation++
	}
	return c, moves
}

// changes are moves as the events that record them.
func changes(adapterID string, moves []move) []events.Message {
	out := make([]events.Message, len(moves))
	for i, m := range moves {
		out[i] = events.CircuitBreakerStateChanged{AdapterID: adapterID, From: m.from, To: m.to,
			ConsecutiveFailures: m.failures, ChangedAt: m.at}
	}
	return out
}
