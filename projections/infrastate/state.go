// Package infrastate is the infrastructure-state projection: a pure fold of adapter events into the
// state of each adapter target, raising intents on transitions, and the stateless handler that
// applies it in one transaction per message.
package infrastate

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/omninode/omnibase-infra/events"
)

// Status is a target's health as the projection sees it: the events' vocabulary, so it travels
// typed from the projection to the orchestrator and into the health reports.
type Status = events.Status

// The statuses, as events defines them.
const (
	// StatusUnknown is a target no probe has succeeded on yet (nor failed often enough).
	StatusUnknown = events.StatusUnknown
	// StatusHealthy is a target whose first probe succeeded, or HealthyAfter in a row since it
	// went down.
	StatusHealthy = events.StatusHealthy
	// StatusDegraded is a target that failed DegradedAfter scheduled probes in a row.
	StatusDegraded = events.StatusDegraded
	// StatusCritical is a target that failed CriticalAfter in a row; it stays so until healthy.
	StatusCritical = events.StatusCritical
)

// TargetState is everything the projection knows about one adapter target. It is stored as JSON
// in infrastructure_state.data; its fields are plain values so the fold stays pure.
//
// Each event family has its own clock in the state — LastProbedAt for probes, BreakerSince for the
// circuit breaker, Pool.ReportedAt for the pool — and an event not newer than its family's clock
// is stale (see Reducer.Reduce).
type TargetState struct {
	AdapterID string `json:"adapter_id"`
	Adapter   string `json:"adapter"`
	Target    string `json:"target"`
	Status    Status `json:"status"`

	ConsecutiveFailures  int   `json:"consecutive_failures"`
	ConsecutiveSuccesses int   `json:"consecutive_successes"`
	Probes               int64 `json:"probes"`
	// LastLatencyMicros is the newest probe's latency, failed or not.
	LastLatencyMicros int64  `json:"last_latency_us"`
	LastError         string `json:"last_error,omitempty"`
	// LastDetails are the newest probe's details (AdapterHealthReported.Details).
	LastDetails map[string]string `json:"last_details,omitempty"`
	// LastProbedAt is the newest probe folded: the clock of the probe family.
	LastProbedAt time.Time `json:"last_probed_at"`
	// Latency is over the successful probes of the latency window.
	Latency LatencyState `json:"latency"`

	// Breaker is the circuit breaker's state; BreakerSince is when it entered it, and the clock of
	// the breaker family.
	Breaker      events.BreakerState `json:"breaker"`
	BreakerSince time.Time           `json:"breaker_since"`

	Pool PoolState `json:"pool"`

	// Owner is the adapter process that owns the target (probes it, executes its commands) since
	// OwnerSince, under lease token OwnerToken; empty while no process owns it. OwnerToken is the
	// clock of the ownership family: a change whose token is older is stale.
	Owner      string    `json:"owner,omitempty"`
	OwnerSince time.Time `json:"owner_since,omitzero"`
	OwnerToken int64     `json:"owner_token,omitempty"`

	// Raised remembers the once-per-episode intents already raised.
	Raised Raised `json:"raised"`
}

// LatencyState is the latency of a target's successful probes in the window that ends at its
// newest probe (see Thresholds.LatencyWindow). All zero when the window holds no sample.
type LatencyState struct {
	// Samples are the window's successful probes, oldest first, at most Thresholds.LatencySamples.
	Samples   []LatencySample `json:"samples,omitempty"`
	MinMicros int64           `json:"min_us"`
	// AvgMicros is the mean, rounded to the nearest microsecond.
	AvgMicros int64 `json:"avg_us"`
	MaxMicros int64 `json:"max_us"`
	// P95Micros is the nearest-rank 95th percentile: the smallest sample that at least 95% of
	// the samples do not exceed.
	P95Micros int64 `json:"p95_us"`
}

// LatencySample is one successful probe's latency.
type LatencySample struct {
	At     Instant `json:"at"`
	Micros int64   `json:"us"`
}

// Instant is a point in time in Unix nanoseconds, written in JSON as an RFC 3339 time in UTC.
// Latency samples keep their time in it rather than in a time.Time, which holds a pointer (its
// location): a window of samples is then plain memory that the garbage collector need not scan,
// and the copy of the window that every probe makes costs no write barriers. It spans the years
// 1678 to 2262.
type Instant int64

// InstantOf is the instant of t.
func InstantOf(t time.Time) Instant { return Instant(t.UnixNano()) }

// Time is the instant in UTC.
func (i Instant) Time() time.Time { return time.Unix(0, int64(i)).UTC() }

// MarshalJSON writes the instant as time.Time does, in UTC.
func (i Instant) MarshalJSON() ([]byte, error) { return i.Time().MarshalJSON() }

// UnmarshalJSON reads an RFC 3339 time, in any offset.
func (i *Instant) UnmarshalJSON(b []byte) error {
	var t time.Time
	if err := t.UnmarshalJSON(b); err != nil {
		return fmt.Errorf("latency sample time: %w", err)
	}
	*i = InstantOf(t)
	return nil
}

// PoolState is the newest connection-pool report of a target.
type PoolState struct {
	Acquired  int64 `json:"acquired"`
	Idle      int64 `json:"idle"`
	Total     int64 `json:"total"`
	Max       int64 `json:"max"`
	WaitCount int64 `json:"wait_count"`
	// Utilisation is Acquired/Max, 0 when Max is not positive.
	Utilisation float64 `json:"utilisation"`
	// Exhausted is true for the whole of an exhaustion episode: from a report with every
	// connection acquired and an acquire that waited since the previous report, until a report
	// with a connection free.
	Exhausted  bool      `json:"exhausted"`
	ReportedAt time.Time `json:"reported_at"`
}

// Raised records which once-per-episode intents the current episodes raised already, so that a
// flapping signal inside one episode raises none of them twice.
type Raised struct {
	// RecoveryInitiated: recovery_initiated was raised in the current critical episode.
	RecoveryInitiated bool `json:"recovery_initiated,omitempty"`
	// FailoverRequired: failover_required was raised in the current critical episode.
	FailoverRequired bool `json:"failover_required,omitempty"`
	// CircuitBreakerOpened: circuit_breaker_opened was raised since the breaker was last closed.
	CircuitBreakerOpened bool `json:"circuit_breaker_opened,omitempty"`
}

// Defaults of the latency window.
const (
	DefaultLatencyWindow  = 5 * time.Minute
	DefaultLatencySamples = 512
)

// Thresholds are how the fold judges a target: the hysteresis of health (how many consecutive
// probes move it) and the latency window.
//
// WARNING: a replay must use the live projection's thresholds, or it folds a different state.
type Thresholds struct {
	// DegradedAfter consecutive failed probes make a healthy target degraded. Default 1.
	DegradedAfter int
	// CriticalAfter consecutive failed probes make it critical. Default 3; at least DegradedAfter.
	CriticalAfter int
	// HealthyAfter consecutive successful probes make a degraded or critical target healthy. Default 2.
	HealthyAfter int
	// LatencyWindow is how far back from its newest probe a target's latency statistics reach.
	// Optional; zero means DefaultLatencyWindow (5m).
	LatencyWindow time.Duration
	// LatencySamples caps the samples a state keeps in its window (the newest are kept), so its
	// row stays small however often the target is probed. Optional; zero means
	// DefaultLatencySamples (512).
	LatencySamples int
}

// DefaultThresholds are used unless configured otherwise.
func DefaultThresholds() Thresholds {
	return Thresholds{DegradedAfter: 1, CriticalAfter: 3, HealthyAfter: 2,
		LatencyWindow: DefaultLatencyWindow, LatencySamples: DefaultLatencySamples}
}

// Validate reports every problem.
func (t Thresholds) Validate() error {
	var errs []error
	if t.DegradedAfter < 1 {
		errs = append(errs, fmt.Errorf("degraded-after is %d, must be at least 1", t.DegradedAfter))
	}
	if t.CriticalAfter < t.DegradedAfter {
		errs = append(errs, fmt.Errorf("critical-after is %d, must be at least degraded-after (%d)", t.CriticalAfter, t.DegradedAfter))
	}
	if t.HealthyAfter < 1 {
		errs = append(errs, fmt.Errorf("healthy-after is %d, must be at least 1", t.HealthyAfter))
	}
	if t.LatencyWindow < 0 {
		errs = append(errs, fmt.Errorf("latency-window is %s, must not be negative", t.LatencyWindow))
	}
	if t.LatencySamples < 0 {
		errs = append(errs, fmt.Errorf("latency-samples is %d, must not be negative", t.LatencySamples))
	}
	return errors.Join(errs...)
}

func (t Thresholds) window() time.Duration {
	if t.LatencyWindow == 0 {
		return DefaultLatencyWindow
	}
	return t.LatencyWindow
}

func (t Thresholds) samples() int {
	if t.LatencySamples == 0 {
		return DefaultLatencySamples
	}
	return t.LatencySamples
}

// statesEqual reports whether a fold changed nothing. Reduce builds new slices and maps for what
// it changes and leaves empty ones nil, so a deep comparison is exact. Every fold moves a counter
// or one of the families' clocks, so the comparison of those settles almost every call before the
// deep one (which reflection makes costly: a window of samples is compared field by field).
func statesEqual(a, b TargetState) bool {
	if a.Probes != b.Probes || a.Status != b.Status || a.Breaker != b.Breaker ||
		!a.LastProbedAt.Equal(b.LastProbedAt) || !a.BreakerSince.Equal(b.BreakerSince) ||
		!a.Pool.ReportedAt.Equal(b.Pool.ReportedAt) {
		return false
	}
	return reflect.DeepEqual(a, b)
}
