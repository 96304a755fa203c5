package integration_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/platform/ratelimit"
)

// Two limiters on two pools of one database — two processes — let exactly one burst through
// between them however many ask at once, and a request charged once is not charged again.
func TestRateLimitStore_limiters_on_one_database_share_each_bucket_exactly(t *testing.T) {
	url, db := newControlDB(t)
	other, err := app.Connect(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(other.Close)
	cfg := limitedRules(t, "client=*:40/h,burst=40", "target=postgres/orders:1000/24h,burst=1000")
	l1, err := ratelimit.New(cfg, db, nil, testLogger(t))
	require.NoError(t, err)
	l2, err := ratelimit.New(cfg, other, nil, testLogger(t))
	require.NoError(t, err)

	var admitted, refused atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		l := l1
		if w%2 == 1 {
			l = l2
		}
		wg.Go(func() {
			for i := range 20 {
				d, err := l.Admit(context.Background(), ratelimit.Request{ID: fmt.Sprintf("w%d-%d", w, i), Client: "alice", Target: "postgres/orders"})
				if !assertNoError(t, err) {
					return
				}
				if d.Allowed {
					admitted.Add(1)
				} else {
					refused.Add(1)
					if d.RetryAfter <= 0 || d.RetryAfter > 90*time.Second {
						t.Errorf("retry after %s: want within one emission interval (1h/40)", d.RetryAfter)
					}
				}
			}
		})
	}
	wg.Wait()
	require.Equal(t, int64(40), admitted.Load(), "one burst for both limiters")
	require.Equal(t, int64(120), refused.Load())

	// The target's bucket moved only for the admitted: a refused request spends nothing.
	d, err := l1.Admit(context.Background(), ratelimit.Request{ID: "probe", Client: "bob", Target: "postgres/orders"})
	require.NoError(t, err)
	require.True(t, d.Allowed)
	for _, v := range d.Verdicts {
		if v.Rule.Scope == ratelimit.ScopeTarget {
			require.Equal(t, 1000-41, v.Remaining, "40 of alice's and this one")
		}
	}

	// A command checked again (a redelivery, a retry after a transient error) takes no token,
	// in either process.
	d, err = l2.Admit(context.Background(), ratelimit.Request{ID: "w0-0", Client: "alice", Target: "postgres/orders"})
	require.NoError(t, err)
	require.True(t, d.Allowed, "admitted before, admitted again")
	require.True(t, d.Again)
	d, err = l1.Admit(context.Background(), ratelimit.Request{ID: "probe", Client: "bob", Target: "postgres/orders"})
	require.NoError(t, err)
	require.True(t, d.Again)
	d, err = l1.Admit(context.Background(), ratelimit.Request{ID: "fresh", Client: "bob", Target: "postgres/orders"})
	require.NoError(t, err)
	for _, v := range d.Verdicts {
		if v.Rule.Scope == ratelimit.ScopeTarget {
			require.Equal(t, 1000-42, v.Remaining, "the checks again took nothing")
		}
	}
	var charges int
	require.NoError(t, db.QueryRow(context.Background(), `SELECT count(*) FROM rate_limit_charges`).Scan(&charges))
	require.Equal(t, 42, charges, "only admitted requests are charged")
}

// assertNoError is require.NoError for goroutines: it reports and returns false.
func assertNoError(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Errorf("unexpected error: %v", err)
		return false
	}
	return true
}
