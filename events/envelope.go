package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
)

// Metadata keys of the envelope. They travel in Watermill metadata (Kafka headers, the outbox's
// metadata column), so a message can be routed and traced without decoding its payload.
const (
	MetaType          = "type"
	MetaVersion       = "schema_version"
	MetaCorrelationID = "correlation_id"
	MetaCausationID   = "causation_id"
	MetaOccurredAt    = "occurred_at"
	MetaKey           = "key"
)

// Envelope is what is known about a message besides its payload.
type Envelope struct {
	// ID is the Watermill message UUID; consumers deduplicate on it.
	ID   string
	Kind Kind
	// CorrelationID ties together everything caused by one trigger (a probe, an operator command).
	CorrelationID string
	// CausationID is the ID of the message that caused this one; empty for a root message.
	CausationID string
	OccurredAt  time.Time
	// Key is the partition key (see Message.Key).
	Key string
	// UpcastFrom is the version the message was written in when Decode upcast it to Kind; zero
	// when it was written in the current version.
	UpcastFrom Kind
}

// Caused returns the envelope fields for a message caused by e: same correlation, e as cause.
func (e Envelope) Caused() Origin {
	return Origin{CorrelationID: e.CorrelationID, CausationID: e.ID}
}

// Origin is what a new message inherits from the one that caused it.
type Origin struct {
	CorrelationID string
	CausationID   string
}

// NewOrigin starts a new correlation, for messages no other message caused.
func NewOrigin() Origin { return Origin{CorrelationID: watermill.NewUUID()} }

// Encode turns m into a Watermill message with a new UUID. It refuses an invalid m.
func Encode(m Message, origin Origin, occurredAt time.Time) (*message.Message, error) {
	return EncodeWithID(watermill.NewUUID(), m, origin, occurredAt)
}

// EncodeWithID is Encode with a caller-chosen message ID, for messages whose identity is
// derived from what caused them (so that reprocessing produces the same ID).
func EncodeWithID(id string, m Message, origin Origin, occurredAt time.Time) (*message.Message, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("could not encode %s: %w", m.Kind(), err)
	}
	if origin.CorrelationID == "" {
		return nil, fmt.Errorf("could not encode %s: %w", m.Kind(), errors.New("missing correlation id"))
	}
	payload, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("could not marshal %s: %w", m.Kind(), err)
	}
	msg := message.NewMessage(id, payload)
	msg.Metadata.Set(MetaType, m.Kind().Name)
	msg.Metadata.Set(MetaVersion, strconv.Itoa(m.Kind().Version))
	msg.Metadata.Set(MetaCorrelationID, origin.CorrelationID)
	if origin.CausationID != "" {
		msg.Metadata.Set(MetaCausationID, origin.CausationID)
	}
	msg.Metadata.Set(MetaOccurredAt, occurredAt.UTC().Format(time.RFC3339Nano))
	msg.Metadata.Set(MetaKey, m.Key())
	return msg, nil
}

// ReadEnvelope reads the envelope of msg, naming every missing or malformed field.
func ReadEnvelope(msg *message.Message) (Envelope, error) {
	return ParseEnvelope(msg.UUID, msg.Metadata.Get)
}

// ParseEnvelope reads the envelope of the message with id from its metadata, which meta returns
// key by key ("" for a missing key), naming every missing or malformed field as ReadEnvelope does.
// It lets a reader that keeps the metadata elsewhere — the event log's columns — build an
// envelope without a message.
func ParseEnvelope(id string, meta func(key string) string) (Envelope, error) {
	var errs []error
	env := Envelope{
		ID:            id,
		CorrelationID: meta(MetaCorrelationID),
		CausationID:   meta(MetaCausationID),
		Key:           meta(MetaKey),
	}
	env.Kind.Name = meta(MetaType)
	if env.ID == "" {
		errs = append(errs, errors.New("missing message id"))
	}
	if env.Kind.Name == "" {
		errs = append(errs, fmt.Errorf("missing metadata %q", MetaType))
	}
	if v := meta(MetaVersion); v == "" {
		errs = append(errs, fmt.Errorf("missing metadata %q", MetaVersion))
	} else if n, err := strconv.Atoi(v); err != nil || n < 1 {
		errs = append(errs, fmt.Errorf("metadata %q is %q, want a positive integer", MetaVersion, v))
	} else {
		env.Kind.Version = n
	}
	if env.CorrelationID == "" {
		errs = append(errs, fmt.Errorf("missing metadata %q", MetaCorrelationID))
	}
	if v := meta(MetaOccurredAt); v == "" {
		errs = append(errs, fmt.Errorf("missing metadata %q", MetaOccurredAt))
	} else if t, err := time.Parse(time.RFC3339Nano, v); err != nil {
		errs = append(errs, fmt.Errorf("metadata %q is %q, want RFC 3339", MetaOccurredAt, v))
	} else {
		env.OccurredAt = t
	}
	if err := errors.Join(errs...); err != nil {
		return env, &DecodeError{Reason: ErrBadEnvelope, Kind: env.Kind, MessageID: id, Err: err}
	}
	return env, nil
}
