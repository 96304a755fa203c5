package effect

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/omninode/omnibase-infra/platform/consumer"
)

// Retry retries a command's transient errors with exponential backoff and jitter. It keeps its own
// loop, inside the command's timeout, rather than the consumer policy's: a command is retried
// against its target, and only while a new try cannot apply the effect twice (see Retrier).
type Retry struct {
	// Attempts in all, the first included. Default 3; 1 turns retrying off.
	Attempts int
	// Backoff between attempts. Default 100ms, doubling up to 2s, ±50%.
	Backoff consumer.Backoff
}

func (r *Retry) setDefaults() {
	if r.Attempts == 0 {
		r.Attempts = 3
	}
	r.Backoff = r.Backoff.Or(consumer.Backoff{Initial: 100 * time.Millisecond, Max: 2 * time.Second, Multiplier: 2, Jitter: 0.5})
}

// Do calls fn until it succeeds, fails with an error transient does not accept, the attempts run
// out or ctx ends. It returns how many attempts it made and fn's last error (not ctx's, when ctx
// ended while waiting: the command failed with what the target said).
func (r Retry) Do(ctx context.Context, transient func(error) bool, fn func(ctx context.Context) error) (int, error) {
	attempts := 0
	var last error
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		attempts++
		last = fn(ctx)
		if last != nil && !transient(last) {
			return struct{}{}, backoff.Permanent(last)
		}
		return struct{}{}, last
	}, backoff.WithBackOff(r.Backoff.New()), backoff.WithMaxTries(uint(r.Attempts)), backoff.WithMaxElapsedTime(0))
	if err != nil && last != nil {
		var p *backoff.PermanentError
		if errors.As(err, &p) || ctx.Err() != nil {
			return attempts, last
		}
	}
	return attempts, err
}
