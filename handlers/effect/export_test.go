package effect

import (
	"time"

	"github.com/omninode/omnibase-infra/events"
)

// TargetBreaker is the breaker of the one target "agent" of a consul adapter, for the tests of
// package effect_test.
type TargetBreaker struct{ b *breakers }

func NewTargetBreaker(cfg Breaker) TargetBreaker {
	cfg.setDefaults()
	return TargetBreaker{b: newBreakers(cfg, events.AdapterConsul, []string{"agent"}, time.Now)}
}

// Call is a command's call: its error counts against the breaker when counts says so.
func (t TargetBreaker) Call(counts func(error) bool, fn func() error) error {
	return t.b.call("agent", counts, fn)
}

func (t TargetBreaker) Probe(fn func() error) error { return t.b.probe("agent", fn) }
func (t TargetBreaker) ForceOpen(reason string) events.BreakerState {
	return t.b.forceOpen("agent", reason)
}
func (t TargetBreaker) Reset() events.BreakerState                { return t.b.reset("agent") }
func (t TargetBreaker) Refuse() error                             { return t.b.refuse("agent") }
func (t TargetBreaker) State() events.BreakerState                { return t.b.state("agent") }
func (t TargetBreaker) Take() []events.CircuitBreakerStateChanged { return t.b.take() }
