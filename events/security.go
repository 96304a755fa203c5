package events

import (
	"errors"
	"time"
)

// The topics of the audit log's witness and of the security events. Like the other control
// topics they are written only through the outbox: the Kafka adapter refuses to publish to them.
const (
	// AuditTopic carries the audit log's signed checkpoints (AuditCheckpointed).
	AuditTopic = "infra.audit"
	// SecurityTopic carries every security event (SecurityEventRecorded), seconds after it.
	SecurityTopic = "infra.security"
)

// SecurityEventType says what kind of refusal a security event is.
type SecurityEventType string

const (
	// SecurityUnauthenticated: a message whose MAC is missing or does not verify.
	SecurityUnauthenticated SecurityEventType = "unauthenticated"
	// SecurityUndecryptable: a sealed field that does not open.
	SecurityUndecryptable SecurityEventType = "undecryptable"
	// SecurityRejected: a well-formed request that is refused (a command for a target that is not
	// configured, for another adapter, an intent without a route).
	SecurityRejected SecurityEventType = "rejected"
	// SecurityRateLimited: a request refused because its sender sent too many.
	SecurityRateLimited SecurityEventType = "rate_limited"
	// SecurityTLSRefused: a TLS handshake the policy refused (a certificate that does not verify).
	SecurityTLSRefused SecurityEventType = "tls_refused"
)

// SecurityEventTypes are every type, in the order the report lists them.
var SecurityEventTypes = []SecurityEventType{SecurityUnauthenticated, SecurityUndecryptable, SecurityRejected, SecurityRateLimited,
	SecurityTLSRefused}

// SecurityTypeOf says whether err, the reason a message was given up on, is a security event,
// and which: a decode failure that is one (IsSecurity), a rate limit (ErrRateLimited) or a
// rejection (ErrRejected).
func SecurityTypeOf(err error) (SecurityEventType, bool) {
	switch {
	case errors.Is(err, ErrUnauthenticated):
		return SecurityUnauthenticated, true
	case errors.Is(err, ErrUndecryptable):
		return SecurityUndecryptable, true
	case errors.Is(err, ErrRateLimited):
		return SecurityRateLimited, true
	case errors.Is(err, ErrRejected):
		return SecurityRejected, true
	}
	return "", false
}

// SecurityEventRecorded is a refusal worth an operator's attention: a request rejected, a message
// that does not authenticate or does not decrypt, a sender rate-limited. Each is also an entry
// of the audit log (action "security.<kind>", outcome "refused"), appended in the same
// transaction.
type SecurityEventRecorded struct {
	Type SecurityEventType `json:"kind"`
	// Actor is who or what sent the refused message, when known (the sender of an omni cmd);
	// empty otherwise.
	Actor string `json:"actor,omitempty"`
	// Subject is what it was aimed at: an adapter id ("postgres/orders"), else its topic.
	Subject string `json:"subject"`
	// Reason is why it was refused.
	Reason string `json:"reason"`
	// Group is the consumer group that refused it; Topic where it was read from.
	Group string `json:"group,omitempty"`
	Topic string `json:"topic,omitempty"`
	// MessageID is the refused message's id, when it had one.
	MessageID string    `json:"message_id,omitempty"`
	At        time.Time `json:"at"`
}

func (SecurityEventRecorded) Kind() Kind { return Kind{Name: "security_event_recorded", Version: 1} }
func (e SecurityEventRecorded) Key() string {
	return e.Subject
}
func (e SecurityEventRecorded) Validate() error {
	var f fields
	types := make([]string, len(SecurityEventTypes))
	for i, t := range SecurityEventTypes {
		types[i] = string(t)
	}
	f.oneOf("kind", string(e.Type), types...)
	f.text("subject", e.Subject)
	f.text("reason", e.Reason)
	f.time("at", e.At)
	return f.err()
}
