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

type targetBreaker struct {
	cb *gobreaker.CircuitBreaker
	// failures in a row, as the breaker counted them; read by the state-change callback, which
	// gobreaker calls after resetting its own counts.
	failures atomic.Int64
}

func newBreakers(cfg Breaker, adapter string, targets []string, now func() time.Time) *breakers {
	b := &breakers{cfg: cfg, now: now, byTarget: map[string]*targetBreaker{}}
	for _, target := range targets {
		tb := &targetBreaker{}
		id := events.AdapterID(adapter, target)
		tb.cb = gobreaker.NewCircuitBreaker(gobreaker.Settings{
			Name:        id,
			MaxRequests: cfg.HalfOpenCalls,
			Timeout:     cfg.OpenFor,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= cfg.Failures },
			IsSuccessful: func(err error) bool {
				var h harmless
				return err == nil || errors.As(err, &h)
			},
			OnStateChange: func(_ string, from, to gobreaker.State) {
				b.mu.Lock()
				defer b.mu.Unlock()
				b.pending = append(b.pending, events.CircuitBreakerStateChanged{
					AdapterID: id, From: stateName(from), To: stateName(to),
					ConsecutiveFailures: tb.failures.Load(), ChangedAt: b.now(),
				})
			},
		})
		b.byTarget[target] = tb
	}
	return b
}

func stateName(s gobreaker.State) string {
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
// wrapping ErrBreakerOpen.
func (b *breakers) call(target string, counts func(error) bool, fn func() error) error {
	tb := b.byTarget[target]
	_, err := tb.cb.Execute(func() (any, error) {
		err := fn()
		switch {
		case err == nil:
			tb.failures.Store(0)
		case counts(err):
			tb.failures.Add(1)
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
		return fmt.Errorf("%w for %s since %d failures in a row", ErrBreakerOpen, tb.cb.Name(), tb.failures.Load())
	}
	return err
}

// state is target's breaker state now, as an events.Breaker* name.
func (b *breakers) state(target string) string { return stateName(b.byTarget[target].cb.State()) }

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
