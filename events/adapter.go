package events

import "time"

// Adapter names.
const (
	AdapterPostgres = "postgres"
	AdapterKafka    = "kafka"
	AdapterConsul   = "consul"
	// omni:scaffold:adapters
)

var adapterNames = []string{
	AdapterPostgres, AdapterKafka, AdapterConsul,
	// omni:scaffold:adapter-names
}

// AdapterID names one adapter target, e.g. "postgres/orders". Events about a target are keyed by
// it, so they stay in order.
func AdapterID(adapter, target string) string { return adapter + "/" + target }

// AdapterHealthReported is recorded after every health probe of an adapter target.
//
// Version 2 added Details; version 1 messages are read through an upcaster (Details empty).
type AdapterHealthReported struct {
	AdapterID string `json:"adapter_id"`
	Adapter   string `json:"adapter"`
	Target    string `json:"target"`
	Healthy   bool   `json:"healthy"`
	// Error is why the probe failed; empty when Healthy.
	Error string `json:"error,omitempty"`
	// LatencyMicros is the probe's round trip; for a failed probe, how long it took to fail.
	LatencyMicros int64     `json:"latency_us"`
	ProbedAt      time.Time `json:"probed_at"`
	// Details are what the adapter measured besides reachability, e.g. "replica_lag_ms",
	// "controller_id", "leader". Each adapter documents its own.
	Details map[string]string `json:"details,omitempty"`
	// Requested says a command asked for the probe (probe_target, recover_target) rather than the
	// owner's probe schedule: the projection shows it, but its hysteresis counts scheduled probes
	// only, one per probe interval, so a workflow's probes never speed up the state it reacts to.
	Requested bool `json:"requested,omitempty"`
}

func (AdapterHealthReported) Kind() Kind    { return Kind{Name: "adapter_health_reported", Version: 2} }
func (e AdapterHealthReported) Key() string { return e.AdapterID }
func (e AdapterHealthReported) Validate() error {
	var f fields
	f.text("adapter_id", e.AdapterID)
	f.oneOf("adapter", e.Adapter, adapterNames...)
	f.text("target", e.Target)
	f.nonNegative("latency_us", e.LatencyMicros)
	f.time("probed_at", e.ProbedAt)
	if !e.Healthy {
		f.text("error", e.Error)
	}
	return f.err()
}

// AdapterHealthReportedV1 is version 1 of AdapterHealthReported, as omnibase-infra wrote it
// before the adapters reported details. Only read, never written.
type AdapterHealthReportedV1 struct {
	AdapterID     string    `json:"adapter_id"`
	Adapter       string    `json:"adapter"`
	Target        string    `json:"target"`
	Healthy       bool      `json:"healthy"`
	Error         string    `json:"error,omitempty"`
	LatencyMicros int64     `json:"latency_us"`
	ProbedAt      time.Time `json:"probed_at"`
}

func (AdapterHealthReportedV1) Kind() Kind    { return Kind{Name: "adapter_health_reported", Version: 1} }
func (e AdapterHealthReportedV1) Key() string { return e.AdapterID }
func (e AdapterHealthReportedV1) Validate() error {
	return e.up().Validate()
}

func (e AdapterHealthReportedV1) up() AdapterHealthReported {
	return AdapterHealthReported{AdapterID: e.AdapterID, Adapter: e.Adapter, Target: e.Target, Healthy: e.Healthy,
		Error: e.Error, LatencyMicros: e.LatencyMicros, ProbedAt: e.ProbedAt}
}

// CircuitBreakerStateChanged is recorded whenever an adapter target's circuit breaker moves.
type CircuitBreakerStateChanged struct {
	AdapterID string       `json:"adapter_id"`
	From      BreakerState `json:"from"`
	To        BreakerState `json:"to"`
	// ConsecutiveFailures counted by the breaker when it moved.
	ConsecutiveFailures int64     `json:"consecutive_failures"`
	ChangedAt           time.Time `json:"changed_at"`
}

func (CircuitBreakerStateChanged) Kind() Kind {
	return Kind{Name: "circuit_breaker_state_changed", Version: 1}
}
func (e CircuitBreakerStateChanged) Key() string { return e.AdapterID }
func (e CircuitBreakerStateChanged) Validate() error {
	var f fields
	f.text("adapter_id", e.AdapterID)
	f.oneOf("from", string(e.From), breakerStates...)
	f.oneOf("to", string(e.To), breakerStates...)
	f.nonNegative("consecutive_failures", e.ConsecutiveFailures)
	f.time("changed_at", e.ChangedAt)
	return f.err()
}

// Ownership reasons: why a target's owner changed.
const (
	// OwnershipAcquired: the target had no owner, or its owner had let it go.
	OwnershipAcquired = "acquired"
	// OwnershipTakenOver: the owner's lease ran out without it renewing (the process died or lost
	// the control database) and another process took the target.
	OwnershipTakenOver = "taken_over"
	// OwnershipReleased: the owner let the target go (it stops, or holds more than its share).
	OwnershipReleased = "released"
)

// TargetOwnershipChanged is recorded whenever an adapter target's owner changes: the one adapter
// process that probes it and executes its commands, under a lease whose Token (a fencing token)
// grows at every new owner. Released leaves the target without an owner until one takes it.
type TargetOwnershipChanged struct {
	AdapterID string `json:"adapter_id"`
	// Owner is the process that owns the target now; empty when released.
	Owner string `json:"owner,omitempty"`
	// Previous is the process that owned it before, if any.
	Previous  string    `json:"previous,omitempty"`
	Token     int64     `json:"token"`
	Reason    string    `json:"reason"`
	ChangedAt time.Time `json:"changed_at"`
}

func (TargetOwnershipChanged) Kind() Kind    { return Kind{Name: "target_ownership_changed", Version: 1} }
func (e TargetOwnershipChanged) Key() string { return e.AdapterID }
func (e TargetOwnershipChanged) Validate() error {
	var f fields
	f.text("adapter_id", e.AdapterID)
	f.oneOf("reason", e.Reason, OwnershipAcquired, OwnershipTakenOver, OwnershipReleased)
	if e.Reason != OwnershipReleased {
		f.text("owner", e.Owner)
	}
	f.positive("token", e.Token)
	f.time("changed_at", e.ChangedAt)
	return f.err()
}

// ConnectionPoolStatsReported is recorded after every probe of a target with a connection pool.
type ConnectionPoolStatsReported struct {
	AdapterID string `json:"adapter_id"`
	Acquired  int64  `json:"acquired"`
	Idle      int64  `json:"idle"`
	Total     int64  `json:"total"`
	Max       int64  `json:"max"`
	// WaitCount is how many acquires so far had to wait for a connection (cumulative).
	WaitCount  int64     `json:"wait_count"`
	ReportedAt time.Time `json:"reported_at"`
}

func (ConnectionPoolStatsReported) Kind() Kind {
	return Kind{Name: "connection_pool_stats_reported", Version: 1}
}
func (e ConnectionPoolStatsReported) Key() string { return e.AdapterID }
func (e ConnectionPoolStatsReported) Validate() error {
	var f fields
	f.text("adapter_id", e.AdapterID)
	f.nonNegative("acquired", e.Acquired)
	f.nonNegative("idle", e.Idle)
	f.nonNegative("total", e.Total)
	f.positive("max", e.Max)
	f.nonNegative("wait_count", e.WaitCount)
	f.time("reported_at", e.ReportedAt)
	return f.err()
}
