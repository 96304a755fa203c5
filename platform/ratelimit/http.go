package ratelimit

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Middleware limits next per client address (ScopeHTTP rules). A refused request is answered
// 429 Too Many Requests with Retry-After (whole seconds, rounded up; absent when a rate of zero
// refuses it: trying again does not help). Every limited answer carries the RateLimit-Policy
// and RateLimit headers of draft-ietf-httpapi-ratelimit-headers for the rule with the least
// room:
//
//	RateLimit-Policy: "http=*:10/s,burst=20";q=20;w=2
//	RateLimit: "http=*:10/s,burst=20";r=0;t=1
//
// (q: the burst; w: the seconds a full burst takes to come back; r: requests left; t: seconds
// until the bucket is full). Shadow rules add no header and refuse nothing. The client address
// is the connection's (RemoteAddr): a proxy in front must be limited by its own means. When no
// HTTP rule is configured, next is returned as it is.
func (l *Limiter) Middleware(next http.Handler) http.Handler {
	if l == nil || !l.Limits(ScopeHTTP) {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		d, err := l.Admit(r.Context(), Request{Address: host})
		if err != nil { // the in-memory store does not fail; were it to, the server stays open
			l.logger.ErrorContext(r.Context(), "could not check the HTTP rate limits; admitting", "error", err)
			next.ServeHTTP(w, r)
			return
		}
		if v, ok := tightest(d); ok {
			name := strconv.Quote(v.Rule.String())
			var window time.Duration // a rate of zero has no window: nothing comes back
			if v.Rule.Rate.Count > 0 {
				window = time.Duration(v.Rule.Burst) * v.Rule.Rate.interval()
			}
			w.Header().Set("RateLimit-Policy", fmt.Sprintf("%s;q=%d;w=%d", name, quota(v.Rule), seconds(window)))
			w.Header().Set("RateLimit", fmt.Sprintf("%s;r=%d;t=%d", name, max(0, v.Remaining), seconds(v.Reset)))
		}
		if !d.Allowed {
			if !d.Never {
				w.Header().Set("Retry-After", strconv.FormatInt(max(1, seconds(d.RetryAfter)), 10))
			}
			msg := "rate limited"
			if d.Refused != nil {
				msg += " by " + d.Refused.Rule.String()
			}
			if d.Never {
				msg += ": every request is refused"
			} else {
				msg += fmt.Sprintf(": retry after %s", d.RetryAfter.Round(time.Millisecond))
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = fmt.Fprintln(w, strings.TrimSpace(msg))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tightest is the enforced verdict with the least room: the one a client must heed.
func tightest(d Decision) (Verdict, bool) {
	var best Verdict
	found := false
	for _, v := range d.Verdicts {
		if v.Rule.Shadow {
			continue
		}
		if !found || v.Remaining < best.Remaining || !v.Allowed && best.Allowed {
			best, found = v, true
		}
	}
	return best, found
}

func quota(r Rule) int {
	if r.Rate.Count == 0 {
		return 0
	}
	return r.Burst
}

// seconds is d in whole seconds, rounded up.
func seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(math.Ceil(d.Seconds()))
}
