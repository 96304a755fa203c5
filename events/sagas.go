package events

import "time"

// InitializationRequested asks the orchestrator to run the initialization workflow for Subject
// (usually "infrastructure"). `omni sagas start initialization` publishes it on the intents topic,
// where the contract routes it like any intent.
type InitializationRequested struct{ Intent }

func (InitializationRequested) Kind() Kind { return Kind{Name: "initialization_requested", Version: 1} }

// Intents returns a prototype of every intent: the names a contract may route.
func Intents() []IntentMessage {
	return append(RaisedIntents(), InitializationRequested{})
}

// RaisedIntents returns a prototype of each intent the projection raises (and keeps in
// infrastructure_intents).
func RaisedIntents() []IntentMessage {
	return []IntentMessage{
		InfrastructureHealthDegraded{}, InfrastructureHealthCritical{}, CircuitBreakerOpened{},
		FailoverRequired{}, ConnectionPoolExhausted{}, RecoveryInitiated{},
	}
}

// TargetHealth is one target's line in a health report.
type TargetHealth struct {
	AdapterID string `json:"adapter_id"`
	// Probe is what the probe the health check sent found: healthy, unhealthy or unknown.
	Probe ProbeVerdict `json:"probe"`
	// State is the projection's status of the target when the check read it.
	State Status `json:"state"`
	Error string `json:"error,omitempty"`
}

// InfrastructureHealthReported is published by the health-check workflow: every target's probe,
// aggregated within the workflow's deadline.
type InfrastructureHealthReported struct {
	SagaID  string `json:"saga_id"`
	Subject string `json:"subject"`
	// Overall is healthy when every probe was, critical when none was, degraded otherwise.
	Overall    Status         `json:"overall"`
	Targets    []TargetHealth `json:"targets"`
	ReportedAt time.Time      `json:"reported_at"`
}

func (InfrastructureHealthReported) Kind() Kind {
	return Kind{Name: "infrastructure_health_reported", Version: 1}
}
func (e InfrastructureHealthReported) Key() string { return e.Subject }
func (e InfrastructureHealthReported) Validate() error {
	var f fields
	f.text("saga_id", e.SagaID)
	f.text("subject", e.Subject)
	f.oneOf("overall", string(e.Overall), strs(StatusHealthy, StatusDegraded, StatusCritical)...)
	f.time("reported_at", e.ReportedAt)
	for _, t := range e.Targets {
		f.text("targets[].adapter_id", t.AdapterID)
		f.oneOf("targets[].probe", string(t.Probe), strs(ProbeHealthy, ProbeUnhealthy, ProbeUnknown)...)
	}
	return f.err()
}

// FailoverFailed is the failover workflow's escalation: recovery of Subject was not confirmed
// within its attempts, the saga's changes were compensated, and people must step in.
type FailoverFailed struct {
	SagaID     string `json:"saga_id"`
	Subject    string `json:"subject"`
	FailedStep string `json:"failed_step"`
	Reason     string `json:"reason"`
	// Compensated lists the compensations that ran, in the order they ran.
	Compensated []string  `json:"compensated,omitempty"`
	EscalatedAt time.Time `json:"escalated_at"`
}

func (FailoverFailed) Kind() Kind    { return Kind{Name: "failover_failed", Version: 1} }
func (e FailoverFailed) Key() string { return e.Subject }
func (e FailoverFailed) Validate() error {
	var f fields
	f.text("saga_id", e.SagaID)
	f.text("subject", e.Subject)
	f.text("failed_step", e.FailedStep)
	f.text("reason", e.Reason)
	f.time("escalated_at", e.EscalatedAt)
	return f.err()
}

// InitializationReported is published when the initialization workflow ends: completed, or failed
// at FailedStep for Reason.
type InitializationReported struct {
	SagaID  string `json:"saga_id"`
	Subject string `json:"subject"`
	Status  string `json:"status"`
	// Initialized lists the steps that completed, in order.
	Initialized []string  `json:"initialized"`
	FailedStep  string    `json:"failed_step,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	ReportedAt  time.Time `json:"reported_at"`
}

func (InitializationReported) Kind() Kind    { return Kind{Name: "initialization_reported", Version: 1} }
func (e InitializationReported) Key() string { return e.Subject }
func (e InitializationReported) Validate() error {
	var f fields
	f.text("saga_id", e.SagaID)
	f.text("subject", e.Subject)
	f.oneOf("status", e.Status, "completed", "failed")
	if e.Status == "failed" {
		f.text("failed_step", e.FailedStep)
		f.text("reason", e.Reason)
	}
	f.time("reported_at", e.ReportedAt)
	return f.err()
}
