package effect

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/ratelimit"
)

// unknownClient is the client of a command whose sender is not known.
const unknownClient = "unknown"

// limit checks c against the rate limits, as the owner of its target takes it: once it is known
// to be a command that can run, before it runs. A command is charged once by its id, so its
// redelivery, or the same message handled again after a transient error, takes no second
// token. It returns a *rateLimitedError (an events.ErrRateLimited) when a limit refuses c, any
// other error when the limits could not be checked (transient: c comes again).
func (a *Adapter) limit(ctx context.Context, c command) error {
	l := a.cfg.Limits
	if l == nil {
		return nil
	}
	client := unknownClient
	if a.cfg.SenderOf != nil && l.Limits(ratelimit.ScopeClient) {
		s, err := a.cfg.SenderOf(ctx, c.id)
		if err != nil {
			return fmt.Errorf("command %s: %w", c.id, err)
		}
		if s != "" {
			client = s
		}
	}
	d, err := l.Admit(ctx, ratelimit.Request{ID: c.id, Client: client,
		Endpoint: a.d.Adapter() + "/" + c.cmd.Kind().Name, Target: c.adapterID(a.d.Adapter())})
	if err != nil {
		return fmt.Errorf("command %s: %w", c.id, err)
	}
	if d.Again {
		c.log.InfoContext(ctx, "command checked against the rate limits again; it was admitted before and is not charged twice")
	}
	if d.Allowed {
		return nil
	}
	return &rateLimitedError{rule: d.Refused.Rule.String(), client: client, retryAfter: d.RetryAfter, never: d.Never}
}

// rateLimitedError is a command refused by a rate limit: an events.ErrRateLimited whose text is
// the rejection's reason, "rate limited by RULE: retry after D".
type rateLimitedError struct {
	rule, client string
	retryAfter   time.Duration
	never        bool
}

func (e *rateLimitedError) Error() string {
	if e.never {
		return fmt.Sprintf("%s by %s: this limit admits nothing", events.ErrRateLimited, e.rule)
	}
	return fmt.Sprintf("%s by %s: retry after %s", events.ErrRateLimited, e.rule, e.retryAfter.Round(time.Millisecond))
}

func (e *rateLimitedError) Unwrap() error { return events.ErrRateLimited }

// retryAfterMillis is when to try again, in whole milliseconds rounded up (0: never).
func (e *rateLimitedError) retryAfterMillis() int64 {
	if e.never {
		return 0
	}
	return int64(math.Ceil(float64(e.retryAfter) / float64(time.Millisecond)))
}
