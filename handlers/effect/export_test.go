package effect

import (
	"errors"
	"sync"
	"time"

	"github.com/omninode/omnibase-infra/events"
)

// TargetBreaker is the breaker of the one target "agent" of a consul adapter, recorded in memory,
// for the tests of package effect_test. Each call's outcome is recorded as the adapter records it:
// the breaker moves only when the recording succeeds (see FailRecording).
type TargetBreaker struct{ h *breakerHarness }

type breakerHarness struct {
	b *breakers

	mu       sync.Mutex
	recorded []events.CircuitBreakerStateChanged
	fail     bool
}

var errRecording = errors.New("the control database is down")

func NewTargetBreaker(cfg Breaker) TargetBreaker {
	cfg.setDefaults()
	return TargetBreaker{h: &breakerHarness{b: newBreakers(cfg, events.AdapterConsul, []string{"agent"}, time.Now)}}
}

func (h *breakerHarness) record(f fold) error {
	return h.b.settle("agent", f, func(_ Circuit, _ bool, changes []events.Message) (bool, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.fail {
			return false, errRecording
		}
		for _, c := range changes {
			h.recorded = append(h.recorded, c.(events.CircuitBreakerStateChanged))
		}
		return true, nil
	})
}

// FailRecording makes the recording of outcomes fail (true) or succeed again (false).
func (t TargetBreaker) FailRecording(fail bool) {
	t.h.mu.Lock()
	t.h.fail = fail
	t.h.mu.Unlock()
}

// Call is a command's call: its error counts against the breaker when counts says so.
func (t TargetBreaker) Call(counts func(error) bool, fn func() error) error {
	return t.call(false, counts, fn)
}

// Probe is a scheduled probe: every error counts, and it reaches the target while forced open.
func (t TargetBreaker) Probe(fn func() error) error {
	return t.call(true, func(error) bool { return true }, fn)
}

func (t TargetBreaker) call(probe bool, counts func(error) bool, fn func() error) error {
	tk, err := t.h.b.admit("agent", probe)
	if err != nil {
		return err
	}
	defer t.h.b.done("agent", tk)
	err = fn()
	o := succeeded
	if err != nil && counts(err) {
		o = failed
	}
	if rerr := t.h.record(t.h.b.outcomeOf(tk, o)); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

func (t TargetBreaker) ForceOpen(reason string) events.BreakerState {
	was := t.h.b.state("agent")
	_ = t.h.record(func(c Circuit, now time.Time) (Circuit, []move) { return c.ForceOpen(t.h.b.cfg, reason, now) })
	return was
}

func (t TargetBreaker) Reset() events.BreakerState {
	was := t.h.b.state("agent")
	_ = t.h.record(func(c Circuit, now time.Time) (Circuit, []move) { return c.Reset(now) })
	return was
}

// Refuse is what a command meets: nil when the breaker lets it through.
func (t TargetBreaker) Refuse() error {
	tk, err := t.h.b.admit("agent", false)
	if err == nil {
		t.h.b.done("agent", tk)
	}
	return err
}

func (t TargetBreaker) State() events.BreakerState { return t.h.b.state("agent") }

// Take returns the changes recorded since the last Take.
func (t TargetBreaker) Take() []events.CircuitBreakerStateChanged {
	t.h.mu.Lock()
	defer t.h.mu.Unlock()
	out := t.h.recorded
	t.h.recorded = nil
	return out
}
