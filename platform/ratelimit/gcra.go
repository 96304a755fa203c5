package ratelimit

import "time"

// Verdict is what one rule says of one request.
type Verdict struct {
	Rule Rule
	// Key is the bucket's key in the rule's scope (the client, endpoint, target or address).
	Key string
	// Allowed: the bucket had room.
	Allowed bool
	// RetryAfter is, when refused, how long until the bucket has room for one request; zero
	// for a rate of zero, which never has room.
	RetryAfter time.Duration
	// Remaining is how many more requests the bucket lets through now, this one counted.
	Remaining int
	// Reset is how long until the bucket is full again.
	Reset time.Duration
}

// gcra decides one request at now against a bucket of rule whose theoretical arrival time is
// tat (zero: a new bucket), and returns the verdict and the bucket's new tat (unchanged when
// refused). The Generic Cell Rate Algorithm: each request moves tat one emission interval T on
// (from now, when tat is past); a request is let through while tat stays within the burst
// tolerance τ = (burst−1)·T of now.
func gcra(now, tat time.Time, rule Rule) (Verdict, time.Time) {
	v := Verdict{Rule: rule}
	if rule.Rate.Count < 0 {
		v.Allowed, v.Remaining = true, rule.Burst
		return v, tat
	}
	if rule.Rate.Count == 0 {
		return v, tat
	}
	t := rule.Rate.interval()
	tolerance := time.Duration(rule.Burst-1) * t
	if tat.Before(now) {
		tat = now
	}
	if over := tat.Sub(now) - tolerance; over > 0 {
		v.RetryAfter = over
		v.Reset = tat.Sub(now)
		return v, tat
	}
	next := tat.Add(t)
	v.Allowed = true
	// Room left: requests whose tat would still be within the tolerance.
	v.Remaining = int((tolerance - next.Sub(now) + t) / t)
	v.Reset = next.Sub(now)
	return v, next
}

// decide decides a request against every rule that applies to it (checks, with the tats of
// their buckets): it is refused when an enforced rule refuses it. An admitted request moves the
// bucket of every rule; a refused one moves none but the shadow rules' that let it through, so
// that a shadow rule counts as it would if it were enforced alone. write says which buckets'
// tats changed.
func decide(now time.Time, checks []check, tats []time.Time) (verdicts []Verdict, next []time.Time, write []bool, refused bool) {
	verdicts, next, write = make([]Verdict, len(checks)), make([]time.Time, len(checks)), make([]bool, len(checks))
	for i, c := range checks {
		verdicts[i], next[i] = gcra(now, tats[i], c.rule)
		verdicts[i].Key = c.key
		if !verdicts[i].Allowed && !c.rule.Shadow {
			refused = true
		}
	}
	for i, c := range checks {
		write[i] = verdicts[i].Allowed && c.rule.Rate.Count > 0 && (!refused || c.rule.Shadow)
	}
	return verdicts, next, write, refused
}

// check is one rule's bucket a request is counted in.
type check struct {
	rule Rule
	key  string
	// bucket names the bucket in the store: the rule and the key, "RULE KEY" (a rule has no
	// space).
	bucket string
}
