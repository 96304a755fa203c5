// Package infrastate is the infrastructure-state projection: a pure fold of adapter events into the
// state of each adapter target, raising intents on transitions, and the stateless handler that
// applies it in one transaction per message.
package infrastate

import (
	"errors"
	"fmt"
	"time"
)

// Status is a target's health as the projection sees it.
type Status string

const (
	StatusUnknown  Status = "unknown"
	StatusHealthy  Status = "healthy"
	StatusDegraded Status = "degraded"
	StatusCritical Status = "critical"
)

// Severity orders statuses from best to worst, for the overall status.
func (s Status) Severity() int {
	switch s {
	case StatusHealthy:
		return 0
	case StatusUnknown:
		return 1
	case StatusDegraded:
		return 2
	case StatusCritical:
		return 3
	}
	return 1
}

// TargetState is everything the projection knows about one adapter target. It is stored as JSON
// in infrastructure_state.data; its fields are plain values so the fold stays pure.
type TargetState struct {
	AdapterID string `json:"adapter_id"`
	Adapter   string `json:"adapter"`
	Target    string `json:"target"`
	Status    Status `json:"status"`

	ConsecutiveFailures  int    `json:"consecutive_failures"`
	ConsecutiveSuccesses int    `json:"consecutive_successes"`
	Probes               int64  `json:"probes"`
	LastLatencyMicros    int64  `json:"last_latency_us"`
	LastError            string `json:"last_error,omitempty"`
	// LastProbedAt is the newest probe folded; an older one is stale and ignored.
	LastProbedAt time.Time `json:"last_probed_at"`

	Breaker      string    `json:"breaker"`
	BreakerSince time.Time `json:"breaker_since"`

	Pool PoolState `json:"pool"`
}

// PoolState is the newest connection-pool report of a target.
type PoolState struct {
	Acquired   int64     `json:"acquired"`
	Idle       int64     `json:"idle"`
	Total      int64     `json:"total"`
	Max        int64     `json:"max"`
	WaitCount  int64     `json:"wait_count"`
	Exhausted  bool      `json:"exhausted"`
	ReportedAt time.Time `json:"reported_at"`
}

// Thresholds are the hysteresis of health: how many consecutive probes move a target.
type Thresholds struct {
	// DegradedAfter consecutive failed probes make a healthy target degraded. Default 1.
	DegradedAfter int
	// CriticalAfter consecutive failed probes make it critical. Default 3; at least DegradedAfter.
	CriticalAfter int
	// HealthyAfter consecutive successful probes make a degraded or critical target healthy. Default 2.
	HealthyAfter int
}

// DefaultThresholds are used unless configured otherwise.
func DefaultThresholds() Thresholds {
	return Thresholds{DegradedAfter: 1, CriticalAfter: 3, HealthyAfter: 2}
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
	return errors.Join(errs...)
}
