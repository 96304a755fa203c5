package ratelimit

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Scope says what a rule counts: each distinct key of its scope has a bucket of its own.
type Scope string

const (
	// ScopeClient counts per sender of a command: the actor of its command.sent audit entry
	// ("alice@host (omni cmd)", "saga failover <id>"), "unknown" when none is known.
	ScopeClient Scope = "client"
	// ScopeEndpoint counts per adapter × command type: "postgres/postgres_query".
	ScopeEndpoint Scope = "endpoint"
	// ScopeTarget counts per target: its adapter id, "postgres/orders".
	ScopeTarget Scope = "target"
	// ScopeHTTP counts per client address of the process's HTTP server: "127.0.0.1".
	ScopeHTTP Scope = "http"
)

// Scopes are every scope, in the order the docs list them.
var Scopes = []Scope{ScopeClient, ScopeEndpoint, ScopeTarget, ScopeHTTP}

// Rate is how many requests a bucket lets through per period, sustained.
type Rate struct {
	// Count per Per. Zero refuses everything; negative is unlimited (the rule does nothing).
	Count int
	// Per is the period. Required when Count > 0.
	Per time.Duration
}

// Unlimited is a rate that never refuses.
var Unlimited = Rate{Count: -1}

// ParseRate reads "100/s", "10/min", "5000/h", "3/100ms", "0" (refuse everything) or "-1",
// "unlimited" (never refuse).
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "unlimited" {
		return Unlimited, nil
	}
	count, per, hasPer := strings.Cut(s, "/")
	n, err := strconv.Atoi(strings.TrimSpace(count))
	if err != nil {
		return Rate{}, fmt.Errorf("rate %q: want COUNT/PERIOD (100/s, 10/min), 0 or unlimited", s)
	}
	if n <= 0 {
		if n < 0 {
			return Unlimited, nil
		}
		return Rate{}, nil
	}
	if !hasPer {
		return Rate{}, fmt.Errorf("rate %q: missing the period (100/s, 10/min, 5000/h)", s)
	}
	var d time.Duration
	switch per = strings.TrimSpace(per); per {
	case "s", "sec", "second":
		d = time.Second
	case "m", "min", "minute":
		d = time.Minute
	case "h", "hour":
		d = time.Hour
	default:
		if d, err = time.ParseDuration(per); err != nil || d <= 0 {
			return Rate{}, fmt.Errorf("rate %q: period %q is not s, min, h or a positive duration", s, per)
		}
	}
	return Rate{Count: n, Per: d}, nil
}

func (r Rate) String() string {
	switch {
	case r.Count < 0:
		return "unlimited"
	case r.Count == 0:
		return "0"
	}
	switch r.Per {
	case time.Second:
		return fmt.Sprintf("%d/s", r.Count)
	case time.Minute:
		return fmt.Sprintf("%d/min", r.Count)
	case time.Hour:
		return fmt.Sprintf("%d/h", r.Count)
	}
	return fmt.Sprintf("%d/%s", r.Count, r.Per)
}

// interval is the GCRA emission interval: the time one request costs.
func (r Rate) interval() time.Duration { return r.Per / time.Duration(r.Count) }

// Rule is one limit: a rate and a burst for every key of a scope that Match selects.
type Rule struct {
	// Scope is what the rule counts. Required.
	Scope Scope
	// Match selects the keys the rule applies to: a pattern where "*" stands for any text, "/"
	// included ("*", "alice@*", "postgres/*"; every other character is itself), or for
	// ScopeHTTP also a CIDR ("10.0.0.0/8"). Default "*": every key. Each key it selects has its
	// own bucket.
	Match string
	// Rate is the sustained rate of each bucket. Zero refuses everything; negative is unlimited.
	Rate Rate
	// Burst is how many requests a full bucket lets through at once. Default: Rate.Count (a
	// period's worth), at least 1. Must not be negative.
	Burst int
	// Shadow logs and counts what the rule would refuse, and refuses nothing.
	Shadow bool
}

func (r *Rule) setDefaults() {
	if r.Match == "" {
		r.Match = "*"
	}
	if r.Burst == 0 {
		r.Burst = max(1, r.Rate.Count)
	}
}

// Validate reports every problem of the rule, each naming it.
func (r Rule) Validate() error {
	var errs []error
	known := false
	for _, s := range Scopes {
		known = known || r.Scope == s
	}
	if !known {
		errs = append(errs, fmt.Errorf("unknown scope %q (known: client, endpoint, target, http)", r.Scope))
	}
	if r.Rate.Count > 0 && r.Rate.Per <= 0 {
		errs = append(errs, fmt.Errorf("rate %d per %s: the period must be positive", r.Rate.Count, r.Rate.Per))
	}
	if r.Rate.Count > 0 && r.Rate.interval() <= 0 {
		errs = append(errs, fmt.Errorf("rate %s: more than one request per nanosecond", r.Rate))
	}
	if r.Burst < 0 {
		errs = append(errs, fmt.Errorf("burst %d: must not be negative", r.Burst))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("rate limit %q: %w", r.String(), err)
	}
	return nil
}

// matches reports whether key is one of the rule's.
func (r Rule) matches(key string) bool {
	if r.Scope == ScopeHTTP && strings.Contains(r.Match, "/") {
		if p, err := netip.ParsePrefix(r.Match); err == nil {
			a, err := netip.ParseAddr(key)
			return err == nil && p.Contains(a.Unmap())
		}
	}
	return glob(r.Match, key)
}

// glob reports whether s matches pattern, whose "*"s stand for any text.
func glob(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last)
}

// String is the rule as ParseRule reads it: "client=alice@*:50/s,burst=10,shadow". It names the
// rule in errors, logs, metrics and the RateLimit-Policy header.
func (r Rule) String() string {
	var b strings.Builder
	match := r.Match
	if match == "" {
		match = "*"
	}
	fmt.Fprintf(&b, "%s=%s:%s", r.Scope, match, r.Rate)
	if r.Burst != 0 {
		fmt.Fprintf(&b, ",burst=%d", r.Burst)
	}
	if r.Shadow {
		b.WriteString(",shadow")
	}
	return b.String()
}

// ParseRule reads a rule: SCOPE=MATCH:RATE[,burst=N][,shadow], for example
//
//	client=*:50/s,burst=10          every client 50 commands a second, 10 at once
//	client=alice@*:0                refuse every command alice sends
//	endpoint=postgres/postgres_query:100/s
//	target=postgres/orders:10/min,shadow
//	http=*:20/s,burst=40
//
// MATCH may be left out ("client=:50/s"): every key. It must not contain a comma.
func ParseRule(s string) (Rule, error) {
	head, opts, _ := strings.Cut(strings.TrimSpace(s), ",")
	scope, rest, ok := strings.Cut(head, "=")
	i := strings.LastIndex(rest, ":")
	if !ok || i < 0 {
		return Rule{}, fmt.Errorf("rate limit %q: want SCOPE=MATCH:RATE[,burst=N][,shadow], e.g. client=*:50/s,burst=10", s)
	}
	r := Rule{Scope: Scope(strings.TrimSpace(scope)), Match: strings.TrimSpace(rest[:i])}
	var errs []error
	rate, err := ParseRate(rest[i+1:])
	if err != nil {
		errs = append(errs, err)
	}
	r.Rate = rate
	for opt := range strings.SplitSeq(opts, ",") {
		switch k, v, _ := strings.Cut(strings.TrimSpace(opt), "="); k {
		case "":
		case "burst":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				errs = append(errs, fmt.Errorf("burst %q: want a whole number of at least 1", v))
			}
			r.Burst = n
		case "shadow":
			r.Shadow = true
		default:
			errs = append(errs, fmt.Errorf("unknown option %q (known: burst=N, shadow)", opt))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Rule{}, fmt.Errorf("rate limit %q: %w", s, err)
	}
	r.setDefaults()
	if err := r.Validate(); err != nil {
		return Rule{}, err
	}
	return r, nil
}

// ParseRules reads each of specs with ParseRule and reports every bad one.
func ParseRules(specs []string) ([]Rule, error) {
	var rules []Rule
	var errs []error
	for _, s := range specs {
		r, err := ParseRule(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rules = append(rules, r)
	}
	return rules, errors.Join(errs...)
}
