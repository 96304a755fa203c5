package ratelimit_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/platform/ratelimit"
)

// clock is a fake clock the test moves by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)} }
func quiet() *slog.Logger            { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func mustRules(t *testing.T, specs ...string) []ratelimit.Rule {
	t.Helper()
	rules, err := ratelimit.ParseRules(specs)
	require.NoError(t, err)
	return rules
}

func newLimiter(t *testing.T, c *clock, reg prometheus.Registerer, shadow bool, specs ...string) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.New(ratelimit.Config{Rules: mustRules(t, specs...), Shadow: shadow, Now: c.now}, nil, reg, quiet())
	require.NoError(t, err)
	return l
}

func admit(t *testing.T, l *ratelimit.Limiter, r ratelimit.Request) ratelimit.Decision {
	t.Helper()
	d, err := l.Admit(context.Background(), r)
	require.NoError(t, err)
	return d
}

func TestGCRABurstThenSteadyRate(t *testing.T) {
	c := newClock()
	l := newLimiter(t, c, nil, false, "client=*:10/s,burst=3")
	alice := ratelimit.Request{Client: "alice"}
	for i := range 3 {
		d := admit(t, l, alice)
		require.True(t, d.Allowed, "request %d of the burst", i+1)
		require.Equal(t, 2-i, d.Verdicts[0].Remaining, "room left after request %d", i+1)
	}
	d := admit(t, l, alice)
	require.False(t, d.Allowed, "the burst is spent")
	require.Equal(t, 100*time.Millisecond, d.RetryAfter, "one emission interval (1s/10) until there is room")
	require.Equal(t, "client=*:10/s,burst=3", d.Refused.Rule.String())

	c.add(99 * time.Millisecond)
	require.False(t, admit(t, l, alice).Allowed, "1ms too early")
	c.add(time.Millisecond)
	require.True(t, admit(t, l, alice).Allowed, "on time")
	require.False(t, admit(t, l, alice).Allowed, "one token came back, one was spent")

	// Sustained: one request every 100ms is always let through.
	for range 20 {
		c.add(100 * time.Millisecond)
		require.True(t, admit(t, l, alice).Allowed)
	}
	// Idle for long enough, the whole burst is back, and no more.
	c.add(time.Second)
	for range 3 {
		require.True(t, admit(t, l, alice).Allowed)
	}
	require.False(t, admit(t, l, alice).Allowed)
}

func TestGCRAKeysHaveTheirOwnBuckets(t *testing.T) {
	c := newClock()
	l := newLimiter(t, c, nil, false, "client=*:1/min")
	require.True(t, admit(t, l, ratelimit.Request{Client: "alice"}).Allowed)
	d := admit(t, l, ratelimit.Request{Client: "alice"})
	require.False(t, d.Allowed)
	require.Equal(t, time.Minute, d.RetryAfter)
	require.True(t, admit(t, l, ratelimit.Request{Client: "bob"}).Allowed, "bob is not alice")
}

func TestZeroRefusesEverythingNegativeIsUnlimited(t *testing.T) {
	c := newClock()
	l := newLimiter(t, c, nil, false, "client=mallory:0", "client=*:-1", "endpoint=*:unlimited")
	for range 100 {
		d := admit(t, l, ratelimit.Request{Client: "alice", Endpoint: "postgres/postgres_query"})
		require.True(t, d.Allowed, "negative and unlimited rates never refuse")
	}
	d := admit(t, l, ratelimit.Request{Client: "mallory"})
	require.False(t, d.Allowed, "a zero rate refuses even the first request")
	require.True(t, d.Never)
	require.Zero(t, d.RetryAfter, "no time helps")
	c.add(24 * time.Hour)
	require.False(t, admit(t, l, ratelimit.Request{Client: "mallory"}).Allowed)
}

func TestNoRulesAdmitsEverything(t *testing.T) {
	l := newLimiter(t, newClock(), nil, false)
	for range 1000 {
		require.True(t, admit(t, l, ratelimit.Request{Client: "alice", Address: "10.0.0.1"}).Allowed)
	}
}

func TestARequestIsChargedOnce(t *testing.T) {
	c := newClock()
	l := newLimiter(t, c, nil, false, "client=*:1/min")
	first := admit(t, l, ratelimit.Request{ID: "cmd-1", Client: "alice"})
	require.True(t, first.Allowed)
	again := admit(t, l, ratelimit.Request{ID: "cmd-1", Client: "alice"})
	require.True(t, again.Allowed, "a redelivered command that was admitted stays admitted")
	require.True(t, again.Again)
	require.False(t, admit(t, l, ratelimit.Request{ID: "cmd-2", Client: "alice"}).Allowed,
		"the redelivery took no token: the next command finds the bucket as cmd-1 left it")
}

func TestARefusedRequestMovesNoEnforcedBucket(t *testing.T) {
	c := newClock()
	// The target allows 2 at once; alice 1. A command refused by alice's rule does not spend the
	// target's room.
	l := newLimiter(t, c, nil, false, "client=alice:1/min", "target=*:2/min")
	require.True(t, admit(t, l, ratelimit.Request{Client: "alice", Target: "postgres/orders"}).Allowed)
	require.False(t, admit(t, l, ratelimit.Request{Client: "alice", Target: "postgres/orders"}).Allowed)
	require.True(t, admit(t, l, ratelimit.Request{Client: "bob", Target: "postgres/orders"}).Allowed,
		"the target's second token is still there")
	require.False(t, admit(t, l, ratelimit.Request{Client: "bob", Target: "postgres/orders"}).Allowed)
}

func TestShadowCountsAndRefusesNothing(t *testing.T) {
	c := newClock()
	reg := prometheus.NewRegistry()
	l := newLimiter(t, c, reg, true, "client=*:1/min")
	for range 10 {
		d := admit(t, l, ratelimit.Request{Client: "alice"})
		require.True(t, d.Allowed)
	}
	families, err := reg.Gather()
	require.NoError(t, err)
	require.Len(t, families, 1)
	require.Equal(t, "omni_rate_limited_total", families[0].GetName())
	require.Len(t, families[0].GetMetric(), 1)
	m := families[0].GetMetric()[0]
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	require.Equal(t, map[string]string{"scope": "client", "rule": "client=*:1/min,burst=1,shadow", "shadow": "true"}, labels)
	require.Equal(t, 9.0, m.GetCounter().GetValue(), "nine of ten would have been refused")
}

func TestParseRule(t *testing.T) {
	cases := []struct {
		name, spec, want, err string
	}{
		{name: "client_with_burst", spec: "client=*:50/s,burst=10", want: "client=*:50/s,burst=10"},
		{name: "default_burst_is_a_period", spec: "endpoint=postgres/*:100/min", want: "endpoint=postgres/*:100/min,burst=100"},
		{name: "empty_match_is_every_key", spec: "target=:5/h,shadow", want: "target=*:5/h,burst=5,shadow"},
		{name: "duration_period", spec: "http=10.0.0.0/8:3/250ms", want: "http=10.0.0.0/8:3/250ms,burst=3"},
		{name: "ipv6_match", spec: "http=::1:3/s", want: "http=::1:3/s,burst=3"},
		{name: "zero", spec: "client=mallory:0", want: "client=mallory:0,burst=1"},
		{name: "negative", spec: "client=*:-1", want: "client=*:unlimited,burst=1"},
		{name: "unknown_scope", spec: "user=*:5/s", err: `unknown scope "user"`},
		{name: "bad_rate", spec: "client=*:fast", err: `rate "fast"`},
		{name: "missing_period", spec: "client=*:5", err: "missing the period"},
		{name: "bad_period", spec: "client=*:5/fortnight", err: `period "fortnight"`},
		{name: "zero_burst", spec: "client=*:5/s,burst=0", err: `burst "0"`},
		{name: "unknown_option", spec: "client=*:5/s,jitter", err: `unknown option "jitter"`},
		{name: "no_rate", spec: "client=alice", err: "want SCOPE=MATCH:RATE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ratelimit.ParseRule(tc.spec)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				require.ErrorContains(t, err, tc.spec, "the error names the rule")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, r.String())
		})
	}
}

func TestParseRulesNamesEveryBadRule(t *testing.T) {
	_, err := ratelimit.ParseRules([]string{"client=*:5/s", "client=*:x", "http=*:5/s,burst=-2"})
	require.ErrorContains(t, err, `"client=*:x"`)
	require.ErrorContains(t, err, `"http=*:5/s,burst=-2"`)
	require.NotContains(t, err.Error(), `"client=*:5/s"`)
}

func TestMatch(t *testing.T) {
	l := newLimiter(t, newClock(), nil, false, "client=alice@*:0", "target=postgres/*:0", "endpoint=*query*:0")
	refused := func(r ratelimit.Request) bool { return !admit(t, l, r).Allowed }
	require.True(t, refused(ratelimit.Request{Client: "alice@box (omni cmd)"}))
	require.False(t, refused(ratelimit.Request{Client: "malice@box (omni cmd)"}), "the pattern is anchored")
	require.True(t, refused(ratelimit.Request{Target: "postgres/orders"}))
	require.False(t, refused(ratelimit.Request{Target: "consul/agent"}))
	require.True(t, refused(ratelimit.Request{Endpoint: "postgres/postgres_query"}), "* spans slashes")
	require.False(t, refused(ratelimit.Request{Endpoint: "consul/consul_kv_put"}))
}

func TestHTTPRuleMatchesCIDR(t *testing.T) {
	l := newLimiter(t, newClock(), nil, false, "http=10.0.0.0/8:0")
	require.False(t, admit(t, l, ratelimit.Request{Address: "10.1.2.3"}).Allowed)
	require.True(t, admit(t, l, ratelimit.Request{Address: "192.168.0.1"}).Allowed)
}

func TestMiddleware(t *testing.T) {
	c := newClock()
	l := newLimiter(t, c, nil, false, "http=*:2/s,burst=2")
	srv := httptest.NewServer(l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})))
	t.Cleanup(srv.Close)
	get := func() *http.Response {
		resp, err := http.Get(srv.URL)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		require.NoError(t, resp.Body.Close())
		return resp
	}
	first := get()
	require.Equal(t, http.StatusOK, first.StatusCode)
	require.Equal(t, `"http=*:2/s,burst=2";q=2;w=1`, first.Header.Get("RateLimit-Policy"))
	require.Equal(t, `"http=*:2/s,burst=2";r=1;t=1`, first.Header.Get("RateLimit"))
	require.Equal(t, http.StatusOK, get().StatusCode)
	refused := get()
	require.Equal(t, http.StatusTooManyRequests, refused.StatusCode)
	require.Equal(t, "1", refused.Header.Get("Retry-After"), "500ms, rounded up to whole seconds")
	require.True(t, strings.HasSuffix(refused.Header.Get("RateLimit"), ";r=0;t=1"), refused.Header.Get("RateLimit"))
	c.add(500 * time.Millisecond)
	require.Equal(t, http.StatusOK, get().StatusCode)
}

func TestMiddlewareZeroRefusesWithoutRetryAfter(t *testing.T) {
	l := newLimiter(t, newClock(), nil, false, "http=*:0")
	rec := httptest.NewRecorder()
	l.Middleware(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	require.Empty(t, rec.Header().Get("Retry-After"))
	require.Equal(t, `"http=*:0,burst=1";q=0;w=0`, rec.Header().Get("RateLimit-Policy"))
	require.Equal(t, `"http=*:0,burst=1";r=0;t=0`, rec.Header().Get("RateLimit"))
}

func TestMiddlewareWithoutHTTPRulesIsTheHandler(t *testing.T) {
	l := newLimiter(t, newClock(), nil, false, "client=*:1/s")
	h := http.NotFoundHandler()
	for range 10 {
		rec := httptest.NewRecorder()
		l.Middleware(h).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		require.Equal(t, http.StatusNotFound, rec.Code)
		require.Empty(t, rec.Header().Get("RateLimit"))
	}
}
