package effect

import (
	"fmt"

	"github.com/omninode/omnibase-infra/events"
)

// forceOpen forces target's breaker open until reset, and returns the state it was in. Moving it
// to open is recorded as a state change; a breaker already forced open is left as it is, and one
// the gobreaker had opened is forced without a change to record.
func (b *breakers) forceOpen(target, reason string) (was events.BreakerState) {
	tb := b.byTarget[target]
	// State moves an open gobreaker whose OpenFor has passed to half-open, and records it: the
	// change recorded below starts from there.
	tb.current.Load().cb.State()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.forced.Load() != nil {
		return events.BreakerOpen
	}
	was = tb.shown
	tb.forced.Store(&forcing{reason: reason})
	b.show(tb, events.BreakerOpen, tb.current.Load().failures.Load())
	return was
}

// reset lifts a forced open and replaces target's gobreaker with a closed one whose counts are
// zero, and returns the state it was in. Moving it to closed is recorded as a state change. A
// call in flight on the replaced gobreaker ends there, unrecorded.
func (b *breakers) reset(target string) (was events.BreakerState) {
	tb := b.byTarget[target]
	tb.mu.Lock()
	defer tb.mu.Unlock()
	was = tb.shown
	// The new gobreaker goes in before the forcing is lifted, so the old one is never heard.
	tb.current.Store(b.newCircuit(tb))
	tb.forced.Store(nil)
	b.show(tb, events.BreakerClosed, 0)
	return was
}

// refuse returns an error wrapping ErrBreakerOpen, with the reason, while target's breaker is
// forced open; nil otherwise.
func (b *breakers) refuse(target string) error {
	tb := b.byTarget[target]
	f := tb.forced.Load()
	if f == nil {
		return nil
	}
	reason := f.reason
	if reason == "" {
		reason = "no reason given"
	}
	return fmt.Errorf("%w for %s: forced open (%s)", ErrBreakerOpen, tb.id, reason)
}

// probe runs a scheduled probe of target through its breaker. While the breaker is forced open
// the probe goes straight to the target and counts for nothing: the gobreaker is replaced when
// the breaker closes, and a probe the gobreaker held back would not show a recovery.
func (b *breakers) probe(target string, fn func() error) error {
	if b.byTarget[target].forced.Load() != nil {
		return fn()
	}
	return b.call(target, func(error) bool { return true }, fn)
}
