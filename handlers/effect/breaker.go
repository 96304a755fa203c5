package effect

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker"

	"github.com/omninode/omnibase-infra/events"
)

// Breaker configures the circuit breaker every target gets.
type Breaker struct {
	// Failures in a row that open the breaker. Default 5.
	Failures uint32
	// OpenFor is how long the breaker stays open before it lets one call through (half-open).
	// Default 10s.
	OpenFor time.Duration
	// HalfOpenCalls is how many calls half-open lets through; that many successes close it.
	// Default 1.
	HalfOpenCalls uint32
}

func (b *Breaker) setDefaults() {
	if b.Failures == 0 {
		b.Failures = 5
	}
	if b.OpenFor == 0 {
		b.OpenFor = 10 * time.Second
	}
	if b.HalfOpenCalls == 0 {
		b.HalfOpenCalls = 1
	}
}

// ErrBreakerOpen is returned, wrapped, for a call the breaker did not let through.
var ErrBreakerOpen = errors.New("circuit breaker open")

// harmless wraps an error that must not count against the target (a SQL syntax error says
// nothing about the server's health).
type harmless struct{ err error }

func (h harmless) Error() string { return h.err.Error() }

// breakers holds one gobreaker per target and the state changes not yet recorded as events.
type breakers struct {
	cfg      Breaker
	now      func() time.Time
	byTarget map[string]*targetBreaker

	mu      sync.Mutex
	pending []events.CircuitBreakerStateChanged
}

// targetBreaker is one target's breaker: its gobreaker, which close_breaker replaces (gobreaker
// has no reset), and whether open_breaker forced it open.
type targetBreaker struct {
	id      string
	current atomic.Pointer[circuit]
	forced  atomic.Pointer[forcing] // nil unless forced open; written under mu

	// mu serialises the recording of the target's state changes, so that each starts where the
	// last ended. WARNING: gobreaker calls OnStateChange holding its own lock, and that takes
	// mu: never call the gobreaker while holding mu.
	mu sync.Mutex
	// shown is the state the recorded changes end in.
	shown events.BreakerState
}

// circuit is one gobreaker and the failures in a row it counted; read by its state-change
// callback, which gobreaker calls after resetting its own counts.
type circuit struct {
	cb       *gobreaker.CircuitBreaker
	failures atomic.Int64
}

// forcing is why a breaker was forced open.
type forcing struct{ reason string }

func newBreakers(cfg Breaker, adapter string, targets []string, now func() time.Time) *breakers {
	b := &breakers{cfg: cfg, now: now, byTarget: map[string]*targetBreaker{}}
	for _, target := range targets {
		tb := &targetBreaker{id: events.AdapterID(adapter, target), shown: events.BreakerClosed}
		tb.current.Store(b.newCircuit(tb))
		b.byTarget[target] = tb
	}
	return b
}

// newCircuit makes a closed gobreaker for tb. Its moves are recorded only while it is tb's
// current one and tb is not forced open: a forced breaker shows open whatever the gobreaker
// does, and a replaced one is gone.
func (b *breakers) newCircuit(tb *targetBreaker) *circuit {
	c := &circuit{}
	c.cb = gobreaker.NewCircuitBreaker(gobreaker.Settings{
		Name:        tb.id,
		MaxRequests: b.cfg.HalfOpenCalls,
		Timeout:     b.cfg.OpenFor,
		ReadyToTrip: func(counts gobreaker.Counts) bool { return counts.ConsecutiveFailures >= b.cfg.Failures },
		IsSuccessful: func(err error) bool {
			var h harmless
			return err == nil || errors.As(err, &h)
		},
		OnStateChange: func(_ string, _, to gobreaker.State) {
			tb.mu.Lock()
			defer tb.mu.Unlock()
			if tb.current.Load() == c && tb.forced.Load() == nil {
				b.show(tb, stateName(to), c.failures.Load())
			}
		},
	})
	return c
}

// show records that tb's state is now to, unless it already shows to. Call it holding tb.mu.
func (b *breakers) show(tb *targetBreaker, to events.BreakerState, failures int64) {
	if tb.shown == to {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = append(b.pending, events.CircuitBreakerStateChanged{
		AdapterID: tb.id, From: tb.shown, To: to, ConsecutiveFailures: failures, ChangedAt: b.now(),
	})
	tb.shown = to
}

func stateName(s gobreaker.State) events.BreakerState {
	switch s {
	case gobreaker.StateOpen:
		return events.BreakerOpen
	case gobreaker.StateHalfOpen:
		return events.BreakerHalfOpen
	}
	return events.BreakerClosed
}

// call runs fn through target's breaker. counts says whether fn's error is the target's fault;
// only such errors move the breaker towards open. A call the breaker refuses returns an error
// wrapping ErrBreakerOpen. call does not look at a forced open: see refuse.
func (b *breakers) call(target string, counts func(error) bool, fn func() error) error {
	c := b.byTarget[target].current.Load()
	_, err := c.cb.Execute(func() (any, error) {
		err := fn()
		switch {
		case err == nil:
			c.failures.Store(0)
		case counts(err):
			c.failures.Add(1)
		default:
			return nil, harmless{err}
		}
		return nil, err
	})
	var h harmless
	if errors.As(err, &h) {
		return h.err
	}
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return fmt.Errorf("%w for %s since %d failures in a row", ErrBreakerOpen, c.cb.Name(), c.failures.Load())
	}
	return err
}

// state is target's breaker state now, as an events.Breaker* name: open while forced open.
func (b *breakers) state(target string) events.BreakerState {
	tb := b.byTarget[target]
	if tb.forced.Load() != nil {
		return events.BreakerOpen
	}
	return stateName(tb.current.Load().cb.State())
}

// take removes the state changes not yet recorded. Give them back with putBack when recording
// them failed.
func (b *breakers) take() []events.CircuitBreakerStateChanged {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.pending
	b.pending = nil
	return out
}

func (b *breakers) putBack(changes []events.CircuitBreakerStateChanged) {
	if len(changes) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = append(changes, b.pending...)
}
