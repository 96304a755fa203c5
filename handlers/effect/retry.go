package effect

import (
	"context"
	"math/rand/v2"
	"time"
)

// Retry retries transient errors with exponential backoff and jitter.
type Retry struct {
	// Attempts in all, the first included. Default 3; 1 turns retrying off.
	Attempts int
	// Initial wait before the second attempt. Default 100ms.
	Initial time.Duration
	// Max wait between attempts. Default 2s.
	Max time.Duration
	// Multiplier of the wait after each attempt. Default 2.
	Multiplier float64
	// Jitter spreads each wait uniformly over ±Jitter of itself (0 to 1). Default 0.5.
	Jitter float64
}

func (r *Retry) setDefaults() {
	if r.Attempts == 0 {
		r.Attempts = 3
	}
	if r.Initial == 0 {
		r.Initial = 100 * time.Millisecond
	}
	if r.Max == 0 {
		r.Max = 2 * time.Second
	}
	if r.Multiplier == 0 {
		r.Multiplier = 2
	}
	if r.Jitter == 0 {
		r.Jitter = 0.5
	}
}

// Wait is how long to wait before attempt n+1 after attempt n (n ≥ 1) failed, before jitter.
func (r Retry) Wait(n int) time.Duration {
	d := float64(r.Initial)
	for i := 1; i < n; i++ {
		d *= r.Multiplier
		if d >= float64(r.Max) {
			return r.Max
		}
	}
	return time.Duration(d)
}

// jittered spreads d over [d·(1-Jitter), d·(1+Jitter)].
func (r Retry) jittered(d time.Duration) time.Duration {
	if r.Jitter <= 0 {
		return d
	}
	return time.Duration(float64(d) * (1 - r.Jitter + 2*r.Jitter*rand.Float64()))
}

// Do calls fn until it succeeds, fails with an error transient does not accept, the attempts run
// out or ctx ends. It returns how many attempts it made and fn's last error.
func (r Retry) Do(ctx context.Context, transient func(error) bool, fn func(ctx context.Context) error) (int, error) {
	for n := 1; ; n++ {
		err := fn(ctx)
		if err == nil || n >= r.Attempts || !transient(err) || ctx.Err() != nil {
			return n, err
		}
		t := time.NewTimer(r.jittered(r.Wait(n)))
		select {
		case <-ctx.Done():
			t.Stop()
			return n, err
		case <-t.C:
		}
	}
}
