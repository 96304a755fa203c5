package events

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// Intent is what every intent carries: the projection decided something should happen to Subject.
type Intent struct {
	// ID is derived from the subject, the intent's name and the event that caused it (IntentID),
	// so reprocessing that event can never raise a second intent.
	ID string `json:"intent_id"`
	// Subject is the adapter id the intent is about.
	Subject string `json:"subject"`
	// Reason is for people: what the projection saw.
	Reason string `json:"reason"`
	// CausedBy is the id of the event whose fold raised the intent.
	CausedBy string    `json:"caused_by"`
	RaisedAt time.Time `json:"raised_at"`
}

// IntentID derives an intent's id from what caused it.
func IntentID(name, subject, causedBy string) string { return DerivedID(name, subject, causedBy) }

// DerivedID is a message id derived from parts, so that whoever makes the same message again
// (a retried transaction, a decision taken twice) names it the same. It is shaped as a UUID so it
// fits wherever a message UUID goes (watermill-sql's uuid column).
func DerivedID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func (i Intent) Key() string { return i.Subject }
func (i Intent) Validate() error {
	var f fields
	f.text("intent_id", i.ID)
	f.text("subject", i.Subject)
	f.text("reason", i.Reason)
	f.text("caused_by", i.CausedBy)
	f.time("raised_at", i.RaisedAt)
	return f.err()
}

// The six intents. Each is its own type so handlers are typed; they share Intent's fields.
type (
	InfrastructureHealthDegraded struct{ Intent }
	InfrastructureHealthCritical struct{ Intent }
	CircuitBreakerOpened         struct{ Intent }
	FailoverRequired             struct{ Intent }
	ConnectionPoolExhausted      struct{ Intent }
	RecoveryInitiated            struct{ Intent }
)

func (InfrastructureHealthDegraded) Kind() Kind {
	return Kind{Name: "infrastructure_health_degraded", Version: 1}
}
func (InfrastructureHealthCritical) Kind() Kind {
	return Kind{Name: "infrastructure_health_critical", Version: 1}
}
func (CircuitBreakerOpened) Kind() Kind { return Kind{Name: "circuit_breaker_opened", Version: 1} }
func (FailoverRequired) Kind() Kind     { return Kind{Name: "failover_required", Version: 1} }
func (ConnectionPoolExhausted) Kind() Kind {
	return Kind{Name: "connection_pool_exhausted", Version: 1}
}
func (RecoveryInitiated) Kind() Kind { return Kind{Name: "recovery_initiated", Version: 1} }

// IntentMessage is implemented by every intent.
type IntentMessage interface {
	Message
	Fields() Intent
	// with returns an intent of the same type carrying i.
	with(i Intent) IntentMessage
}

func (i Intent) Fields() Intent { return i }

// NewIntent raises an intent of type T about subject: its id is derived from T's name, the subject
// and the event that caused it (IntentID), so the same event can never raise it twice.
func NewIntent[T IntentMessage](subject, reason, causedBy string, at time.Time) T {
	var zero T
	return zero.with(Intent{
		ID:       IntentID(zero.Kind().Name, subject, causedBy),
		Subject:  subject,
		Reason:   reason,
		CausedBy: causedBy,
		RaisedAt: at,
	}).(T)
}

func (InfrastructureHealthDegraded) with(i Intent) IntentMessage {
	return InfrastructureHealthDegraded{i}
}
func (InfrastructureHealthCritical) with(i Intent) IntentMessage {
	return InfrastructureHealthCritical{i}
}
func (CircuitBreakerOpened) with(i Intent) IntentMessage    { return CircuitBreakerOpened{i} }
func (FailoverRequired) with(i Intent) IntentMessage        { return FailoverRequired{i} }
func (ConnectionPoolExhausted) with(i Intent) IntentMessage { return ConnectionPoolExhausted{i} }
func (RecoveryInitiated) with(i Intent) IntentMessage       { return RecoveryInitiated{i} }
func (InitializationRequested) with(i Intent) IntentMessage { return InitializationRequested{i} }
