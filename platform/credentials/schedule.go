package credentials

import "time"

// Action is what the cache does next with a leased secret.
type Action int

const (
	// Renew extends the lease by its duration.
	Renew Action = iota
	// Rotate takes a fresh lease (new credentials); the old one is left to expire, so that
	// connections made with it finish what they are doing.
	Rotate
)

func (a Action) String() string {
	if a == Rotate {
		return "rotate"
	}
	return "renew"
}

// Lease is what the schedule knows of a lease.
type Lease struct {
	// Duration of the lease when it was obtained: what each renewal asks for.
	Duration time.Duration
	// Renewable as Vault said.
	Renewable bool
	// Refreshed is when it was obtained or last renewed; ExpiresAt what that gave.
	Refreshed time.Time
	ExpiresAt time.Time
}

// cappedShare: a renewal that left less than this share of the lease's duration was cut short by
// the maximum TTL; renewing again would give less still.
const cappedShare = 0.9

// minStep keeps a lease with a tiny TTL from being refreshed in a busy loop.
const minStep = 100 * time.Millisecond

// Next says what to do with l, and when: renew a renewable lease two thirds into what its last
// refresh gave; once renewals stop giving the full duration (the maximum TTL is near) or when the
// lease cannot be renewed, take a fresh lease — at once after a capped renewal, which leaves the
// old credentials at least a third of a lease for the commands in flight, and two thirds into an
// unrenewable lease.
func Next(l Lease) (Action, time.Time) {
	left := l.ExpiresAt.Sub(l.Refreshed)
	step := func(d time.Duration) time.Time { return l.Refreshed.Add(max(d, minStep)) }
	switch {
	case !l.Renewable:
		return Rotate, step(left * 2 / 3)
	case float64(left) < cappedShare*float64(l.Duration):
		return Rotate, l.Refreshed
	default:
		return Renew, step(left * 2 / 3)
	}
}

// retryAfter is when to try again after a refresh failed at now: soon, but never past the point
// where the secret expires (a third of the time left, at least a second apart).
func retryAfter(now, expiresAt time.Time) time.Time {
	const ceiling = 5 * time.Second
	if expiresAt.IsZero() {
		return now.Add(ceiling)
	}
	return now.Add(min(ceiling, max(time.Second, expiresAt.Sub(now)/3)))
}
