package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/consumer"
)

// ActionSecurity prefixes the action of a security event's entry: "security.rejected", ….
const ActionSecurity = "security."

// unknownActor is the actor of a security event whose sender is not known.
const unknownActor = "unknown"

// RecordSecurity records ev in tx: an audit entry (action "security.<kind>", outcome
// "refused") and the event on events.SecurityTopic through the outbox. Both exist only if tx
// commits. SecurityRecorder.Record is the same and counts it in the process's metrics.
// sealer signs the event as everything on the bus is signed (nil: plain).
func RecordSecurity(ctx context.Context, tx pgx.Tx, sealer outbox.Sealer, ev events.SecurityEventRecorded) error {
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	ev.At = ev.At.UTC().Truncate(time.Microsecond)
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("invalid security event: %w", err)
	}
	actor := ev.Actor
	if actor == "" {
		actor = unknownActor
	}
	detail := map[string]string{"reason": ev.Reason}
	for k, v := range map[string]string{"group": ev.Group, "topic": ev.Topic, "message_id": ev.MessageID} {
		if v != "" {
			detail[k] = v
		}
	}
	msg, err := events.Encode(ev, events.NewOrigin(), ev.At)
	if err != nil {
		return err
	}
	if err := outbox.PublishSealed(ctx, tx, sealer, events.SecurityTopic, msg); err != nil {
		return fmt.Errorf("could not publish the security event: %w", err)
	}
	// The entry last: the append holds the log's lock until the commit.
	if _, err := Append(ctx, tx, Entry{At: ev.At, Actor: actor, Action: ActionSecurity + string(ev.Type), Subject: ev.Subject,
		Outcome: "refused", Detail: detail}); err != nil {
		return err
	}
	return nil
}

// SecurityRecorder records security events (RecordSecurity) and counts them in
// omni_security_events_total{kind}. WARNING: a count is taken when the event is recorded, before
// its transaction commits: a transaction that then rolls back and is tried again counts twice.
type SecurityRecorder struct {
	total  *prometheus.CounterVec
	sealer outbox.Sealer
}

// NewSecurityRecorder registers omni_security_events_total on reg, every kind at 0.
// sealer signs the events it publishes (nil: plain).
func NewSecurityRecorder(reg prometheus.Registerer, sealer outbox.Sealer) (*SecurityRecorder, error) {
	total := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "omni_security_events_total",
		Help: "Security events this process recorded (each also an audit entry and an event on " + events.SecurityTopic + "), by kind.",
	}, []string{"kind"})
	if err := reg.Register(total); err != nil {
		return nil, fmt.Errorf("could not register the security events metric: %w", err)
	}
	for _, t := range events.SecurityEventTypes {
		total.WithLabelValues(string(t))
	}
	return &SecurityRecorder{total: total, sealer: sealer}, nil
}

// Record records ev in tx and counts it.
func (r *SecurityRecorder) Record(ctx context.Context, tx pgx.Tx, ev events.SecurityEventRecorded) error {
	if err := RecordSecurity(ctx, tx, r.sealer, ev); err != nil {
		return err
	}
	r.total.WithLabelValues(string(ev.Type)).Inc()
	return nil
}

// Poisoned is the poison store's hook (outbox.PoisonStoreConfig.OnPoison): a message given up
// on for a security reason (events.SecurityTypeOf: unauthenticated, undecryptable, rate
// limited, rejected)
// is recorded as a security event in the transaction that poisons it. Its actor is the sender
// the audit log knows for it (the command.sent entry of a command sent with omni cmd).
func (r *SecurityRecorder) Poisoned(ctx context.Context, tx pgx.Tx, p consumer.PoisonRecord, id string) error {
	typ, ok := events.SecurityTypeOf(p.Reason)
	if !ok {
		return nil
	}
	subject := p.Message.Metadata.Get(events.MetaKey)
	if subject == "" {
		subject = p.Topic
	}
	actor, err := SenderOf(ctx, tx, id)
	if err != nil {
		return err
	}
	return r.Record(ctx, tx, events.SecurityEventRecorded{Type: typ, Actor: actor, Subject: subject, Reason: p.Reason.Error(),
		Group: p.Group, Topic: p.Topic, MessageID: id, At: time.Now()})
}

var _ outbox.PoisonHook = (*SecurityRecorder)(nil).Poisoned
