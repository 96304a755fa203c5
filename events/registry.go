package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Reasons a message cannot be decoded. DecodeError wraps exactly one of them; test with errors.Is.
var (
	ErrBadEnvelope     = errors.New("bad envelope")
	ErrUnknownType     = errors.New("unknown message type")
	ErrUnknownVersion  = errors.New("unknown schema version")
	ErrInvalidPayload  = errors.New("invalid payload")
	ErrPayloadTooLarge = errors.New("payload too large")
	// ErrUnauthenticated: the message's MAC is missing, made with a key this process does not
	// hold, or does not verify — it was not written by one of this system's producers.
	ErrUnauthenticated = errors.New("unauthenticated message")
	// ErrUndecryptable: a sealed field could not be opened — its key is missing or retired, or
	// the ciphertext (or what it is bound to) was changed.
	ErrUndecryptable = errors.New("undecryptable payload")
)

// IsSecurity reports whether err is a decode failure that is also a security event: a message
// that does not authenticate or a sealed field that does not open.
func IsSecurity(err error) bool {
	return errors.Is(err, ErrUnauthenticated) || errors.Is(err, ErrUndecryptable)
}

// DecodeError says why a message could not be decoded. Such a message can never be handled:
// consumers send it to their poison topic with this error as the reason.
type DecodeError struct {
	Reason    error
	Kind      Kind
	MessageID string
	Err       error
}

func (e *DecodeError) Error() string {
	msg := fmt.Sprintf("message %s", e.MessageID)
	if e.Kind.Name != "" {
		msg += fmt.Sprintf(" (%s)", e.Kind)
	}
	msg += ": " + e.Reason.Error()
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is makes errors.Is(err, ErrUnknownType) and the like work.
func (e *DecodeError) Is(target error) bool { return target == e.Reason }

func (e *DecodeError) Unwrap() error { return e.Err }

// Registry maps kinds to Go types. It is built once at start-up and read-only after that.
type Registry struct {
	types      map[Kind]reflect.Type
	plans      map[Kind]*plainPlan
	versions   map[string][]int
	upcasters  map[Kind]Upcaster
	sensitive  map[Kind][]string
	opener     Opener
	maxPayload int
}

// Upcaster reads an older version of a message type. Decode decodes such a message strictly into
// Old's Go type, validates it, and applies Up — repeatedly, when the result is itself an older
// version — until it has the current version, so consumers only ever see current types.
type Upcaster struct {
	// Old is a prototype of the older version's Go type (its Kind names the older version).
	Old Message
	// Up converts a value of Old's type into the next version.
	Up func(Message) Message
}

// DefaultMaxPayload is the largest payload a Registry decodes unless told otherwise.
const DefaultMaxPayload = 1 << 20

// NewRegistry returns a registry of the given message types.
func NewRegistry(prototypes ...Message) *Registry {
	r := &Registry{
		types:      make(map[Kind]reflect.Type),
		plans:      make(map[Kind]*plainPlan),
		versions:   make(map[string][]int),
		upcasters:  make(map[Kind]Upcaster),
		sensitive:  make(map[Kind][]string),
		maxPayload: DefaultMaxPayload,
	}
	for _, p := range prototypes {
		r.add(p)
	}
	return r
}

func (r *Registry) add(p Message) {
	t := reflect.TypeOf(p)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	k := p.Kind()
	r.types[k] = t
	r.plans[k] = planPlain(t)
	if s, ok := p.(Sensitive); ok {
		r.sensitive[k] = s.SensitiveFields()
	}
	r.versions[k.Name] = append(r.versions[k.Name], k.Version)
	slices.Sort(r.versions[k.Name])
}

// WithUpcasters returns a copy of r that also reads the older versions ups describe.
func (r *Registry) WithUpcasters(ups ...Upcaster) *Registry {
	c := *r
	c.types, c.plans, c.versions, c.upcasters = maps.Clone(r.types), maps.Clone(r.plans), maps.Clone(r.versions), maps.Clone(r.upcasters)
	c.sensitive = maps.Clone(r.sensitive)
	for name, v := range c.versions {
		c.versions[name] = slices.Clone(v)
	}
	for _, u := range ups {
		c.add(u.Old)
		c.upcasters[u.Old.Kind()] = u
	}
	return &c
}

// WithMaxPayload returns a copy of r that refuses payloads larger than n bytes.
func (r *Registry) WithMaxPayload(n int) *Registry {
	c := *r
	c.maxPayload = n
	return &c
}

// WithOpener returns a copy of r that authenticates every message and opens its sealed fields
// with o before decoding it: a message that does not authenticate or open is a DecodeError
// whose reason is ErrUnauthenticated or ErrUndecryptable.
func (r *Registry) WithOpener(o Opener) *Registry {
	c := *r
	c.opener = o
	return &c
}

// SensitiveFields returns the sealed fields of kind k (see Sensitive); nil for none.
func (r *Registry) SensitiveFields(k Kind) []string { return r.sensitive[k] }

// Decode reads msg's envelope and decodes its payload into the registered Go type (a value,
// not a pointer). Unknown fields, missing fields and invalid values are errors. The topic the
// message was read from (what its MAC binds) is the one the Watermill router put in msg's
// context; consumers outside a router use DecodeFrom.
func (r *Registry) Decode(msg *message.Message) (Envelope, Message, error) {
	return r.DecodeFrom(message.SubscribeTopicFromCtx(msg.Context()), msg)
}

// DecodeFrom is Decode of a message read from topic.
func (r *Registry) DecodeFrom(topic string, msg *message.Message) (Envelope, Message, error) {
	env, err := ReadEnvelope(msg)
	if err != nil {
		return env, nil, err
	}
	return r.OpenPayload(msg.Context(), topic, env, msg.Metadata.Get, msg.Payload)
}

// OpenPayload is DecodePayload of a message of topic whose metadata meta returns: with an
// Opener, the message is authenticated and opened first.
func (r *Registry) OpenPayload(ctx context.Context, topic string, env Envelope, meta func(string) string, payload []byte) (Envelope, Message, error) {
	if r.opener != nil {
		// Sizes first: a payload too large is refused for that, before a MAC is computed over it.
		if len(payload) > r.maxPayload {
			return env, nil, &DecodeError{Reason: ErrPayloadTooLarge, Kind: env.Kind, MessageID: env.ID,
				Err: fmt.Errorf("%d bytes, at most %d", len(payload), r.maxPayload)}
		}
		plain, err := r.opener.Open(ctx, topic, env, meta, r.sensitive[env.Kind], payload)
		if err != nil {
			reason := ErrUndecryptable
			if errors.Is(err, ErrUnauthenticated) {
				reason = ErrUnauthenticated
			}
			return env, nil, &DecodeError{Reason: reason, Kind: env.Kind, MessageID: env.ID, Err: err}
		}
		payload = plain
	}
	return r.DecodePayload(env, payload)
}

// DecodePayload decodes payload, the payload of the message env was read from, as Decode does
// after reading the envelope. It is Decode for readers that build the envelope themselves (see
// ParseEnvelope).
func (r *Registry) DecodePayload(env Envelope, payload []byte) (Envelope, Message, error) {
	fail := func(reason, err error) (Envelope, Message, error) {
		return env, nil, &DecodeError{Reason: reason, Kind: env.Kind, MessageID: env.ID, Err: err}
	}
	t, ok := r.types[env.Kind]
	if !ok {
		if known := r.versions[env.Kind.Name]; len(known) > 0 {
			return fail(ErrUnknownVersion, fmt.Errorf("known versions of %q: %v", env.Kind.Name, known))
		}
		return fail(ErrUnknownType, nil)
	}
	if len(payload) > r.maxPayload {
		return fail(ErrPayloadTooLarge, fmt.Errorf("%d bytes, at most %d", len(payload), r.maxPayload))
	}
	ptr := reflect.New(t)
	if p := r.plans[env.Kind]; p == nil || !p.decode(payload, ptr.Elem()) {
		if p != nil {
			ptr = reflect.New(t) // the plain decoder declined half way
		}
		if err := DecodeStrict(payload, ptr.Interface()); err != nil {
			return fail(ErrInvalidPayload, err)
		}
	}
	m := ptr.Elem().Interface().(Message)
	if err := m.Validate(); err != nil {
		return fail(ErrInvalidPayload, err)
	}
	for seen := 0; ; seen++ {
		u, old := r.upcasters[m.Kind()]
		if !old {
			break
		}
		if seen > len(r.upcasters) {
			return fail(ErrUnknownVersion, fmt.Errorf("upcasters of %s loop", env.Kind))
		}
		from := m.Kind()
		m = u.Up(m)
		if err := m.Validate(); err != nil {
			return fail(ErrInvalidPayload, fmt.Errorf("after upcasting %s to %s: %w", from, m.Kind(), err))
		}
	}
	env.UpcastFrom, env.Kind = env.Kind, m.Kind()
	if env.UpcastFrom == env.Kind {
		env.UpcastFrom = Kind{}
	}
	return env, m, nil
}

// DecodeStrict decodes payload into v with encoding/json, refusing unknown fields and trailing
// data: what every reader of stored or received JSON here does, so a shape it does not know stops
// with a reason rather than being half read.
func DecodeStrict(payload []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// Kinds lists the registered current kinds (not the older versions upcasters read).
func (r *Registry) Kinds() []Kind {
	out := make([]Kind, 0, len(r.types))
	for k := range r.types {
		if _, old := r.upcasters[k]; !old {
			out = append(out, k)
		}
	}
	return out
}
