package credentials_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/platform/credentials"
)

func TestNext(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	for _, tc := range []struct {
		name   string
		lease  credentials.Lease
		action credentials.Action
		when   time.Time
	}{
		{"fresh_lease_renews_two_thirds_in", credentials.Lease{Duration: 6 * time.Second, Renewable: true, Refreshed: t0, ExpiresAt: at(6 * time.Second)},
			credentials.Renew, at(4 * time.Second)},
		{"full_renewal_renews_again", credentials.Lease{Duration: time.Hour, Renewable: true, Refreshed: at(40 * time.Minute), ExpiresAt: at(100 * time.Minute)},
			credentials.Renew, at(80 * time.Minute)},
		{"capped_renewal_rotates_at_once", credentials.Lease{Duration: 6 * time.Second, Renewable: true, Refreshed: at(8 * time.Second), ExpiresAt: at(10 * time.Second)},
			credentials.Rotate, at(8 * time.Second)},
		{"slightly_short_renewal_still_renews", credentials.Lease{Duration: 10 * time.Second, Renewable: true, Refreshed: t0, ExpiresAt: at(9500 * time.Millisecond)},
			credentials.Renew, at(9500 * time.Millisecond * 2 / 3)},
		{"unrenewable_rotates_two_thirds_in", credentials.Lease{Duration: 3 * time.Second, Refreshed: t0, ExpiresAt: at(3 * time.Second)},
			credentials.Rotate, at(2 * time.Second)},
		{"tiny_lease_waits_a_minimum", credentials.Lease{Duration: 30 * time.Millisecond, Renewable: true, Refreshed: t0, ExpiresAt: at(30 * time.Millisecond)},
			credentials.Renew, at(100 * time.Millisecond)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			action, when := credentials.Next(tc.lease)
			require.Equal(t, tc.action, action)
			require.Equal(t, tc.when, when)
		})
	}
}

// TestNextBeforeExpiry follows a lease of 4s with a maximum TTL of 10s through its renewals, as
// Vault would answer them: credentials are rotated before the old ones expire, with at least a
// third of a lease to spare.
func TestNextBeforeExpiry(t *testing.T) {
	const ttl, maxTTL = 4 * time.Second, 10 * time.Second
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	l := credentials.Lease{Duration: ttl, Renewable: true, Refreshed: t0, ExpiresAt: t0.Add(ttl)}
	renewals := 0
	for {
		action, when := credentials.Next(l)
		require.True(t, when.Before(l.ExpiresAt), "acts at %s, after the lease expires at %s", when, l.ExpiresAt)
		if action == credentials.Rotate {
			require.GreaterOrEqual(t, l.ExpiresAt.Sub(when), ttl/3)
			break
		}
		renewals++
		l.Refreshed, l.ExpiresAt = when, when.Add(ttl)
		if l.ExpiresAt.After(t0.Add(maxTTL)) {
			l.ExpiresAt = t0.Add(maxTTL)
		}
	}
	require.Equal(t, 3, renewals)
}
