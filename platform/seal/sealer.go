package seal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/omninode/omnibase-infra/events"
)

// Sealer seals and signs messages before they are written (the outbox's Sealer), and verifies
// and opens them before they are decoded (the registry's events.Opener).
type Sealer struct {
	ring     *Keyring
	registry *events.Registry
}

var _ events.Opener = (*Sealer)(nil)

// NewSealer seals the fields registry's types declare sensitive with ring's keys.
func NewSealer(ring *Keyring, registry *events.Registry) *Sealer {
	return &Sealer{ring: ring, registry: registry}
}

// Keyring is the keyring the sealer uses.
func (s *Sealer) Keyring() *Keyring { return s.ring }

// reasoned is an error that reads as its cause and is also its reason (errors.Is), so a
// DecodeError made of it names the reason once.
type reasoned struct{ reason, err error }

func (e reasoned) Error() string   { return e.err.Error() }
func (e reasoned) Unwrap() []error { return []error{e.reason, e.err} }

func unauthenticated(err error) error { return reasoned{events.ErrUnauthenticated, err} }
func undecryptable(err error) error   { return reasoned{events.ErrUndecryptable, err} }

// Seal seals msg's sensitive fields under the primary data key and sets its MAC, for topic. A
// message whose metadata names no type it knows, or whose payload is not a JSON object, is
// signed only: it has no fields to find, and its consumer refuses it for what it is (a bad
// envelope, an unknown type, an invalid payload), not for its MAC. Fields sealed already (the
// copy of a message on a poison topic) are left as they are, bound to the original.
func (s *Sealer) Seal(ctx context.Context, topic string, msg *message.Message) error {
	kind, err := kindOf(msg.Metadata.Get)
	if err != nil {
		return s.sign(ctx, topic, msg)
	}
	if fields := s.registry.SensitiveFields(kind); len(fields) > 0 {
		dek, err := s.ring.Primary(ctx, PurposeData)
		if err != nil {
			return fmt.Errorf("could not seal message %s: %w", msg.UUID, err)
		}
		b := Binding{Topic: topic, MessageID: msg.UUID, Type: kind.Name, Version: kind.Version}
		payload, err := walk(msg.Payload, fields, func(path string, raw json.RawMessage) (json.RawMessage, error) {
			if strings.HasPrefix(string(raw), `"`+prefix) {
				return raw, nil // sealed already (a message published again as it was)
			}
			b.Path = path
			env, err := SealValue(dek.ID, dek.secret, raw, b)
			if err != nil {
				return nil, err
			}
			return json.Marshal(env)
		})
		if err != nil {
			// Not a JSON object (the copy of a poisoned message can be anything): no field can be
			// found to seal, and refusing would make the poison store fail for a message's shape.
			return s.sign(ctx, topic, msg)
		}
		msg.Payload = payload
	}
	return s.sign(ctx, topic, msg)
}

// Sign sets msg's MAC for topic, sealing nothing: for tools and tests that must sign what they
// cannot seal.
func (s *Sealer) Sign(ctx context.Context, topic string, msg *message.Message) error {
	return s.sign(ctx, topic, msg)
}

func (s *Sealer) sign(ctx context.Context, topic string, msg *message.Message) error {
	mk, err := s.ring.Primary(ctx, PurposeMAC)
	if err != nil {
		return fmt.Errorf("could not sign message %s: %w", msg.UUID, err)
	}
	msg.Metadata.Set(events.MetaMAC, Sign(mk.ID, mk.secret, macInput(topic, msg.UUID, msg.Metadata.Get, msg.Payload)))
	return nil
}

func macInput(topic, id string, meta func(string) string, payload []byte) MACInput {
	in := MACInput{Topic: topic, MessageID: id, Meta: make([]string, len(events.MACKeys)), Payload: payload}
	for i, k := range events.MACKeys {
		in.Meta[i] = meta(k)
	}
	return in
}

// Verify checks the MAC of the message id of topic.
func (s *Sealer) Verify(ctx context.Context, topic, id string, meta func(string) string, payload []byte) error {
	mac := meta(events.MetaMAC)
	if mac == "" {
		return unauthenticated(errors.New("no MAC: not written by a producer of this system"))
	}
	kid, err := MACKeyID(mac)
	if err != nil {
		return unauthenticated(err)
	}
	mk, err := s.ring.Lookup(ctx, PurposeMAC, kid)
	if err != nil {
		return unauthenticated(err)
	}
	if err := Verify(mac, mk.secret, macInput(topic, id, meta, payload)); err != nil {
		return unauthenticated(fmt.Errorf("%w (topic %s)", err, topic))
	}
	return nil
}

// Open verifies the message's MAC, then opens fields in payload (events.Opener).
func (s *Sealer) Open(ctx context.Context, topic string, env events.Envelope, meta func(string) string, fields []string, payload []byte) ([]byte, error) {
	if err := s.Verify(ctx, topic, env.ID, meta, payload); err != nil {
		return nil, err
	}
	if len(fields) == 0 {
		return payload, nil
	}
	b := Binding{Topic: topic, MessageID: env.ID, Type: env.Kind.Name, Version: env.Kind.Version}
	out, err := walk(payload, fields, func(path string, raw json.RawMessage) (json.RawMessage, error) {
		b.Path = path
		return s.openValue(ctx, raw, b, nil)
	})
	if errors.Is(err, errShape) {
		return payload, nil // not the type's shape: the decoder says how (an invalid payload)
	}
	if err != nil {
		return nil, undecryptable(err)
	}
	return out, nil
}

func (s *Sealer) openValue(ctx context.Context, raw json.RawMessage, b Binding, keyIDs map[string]bool) (json.RawMessage, error) {
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		return nil, fmt.Errorf("field %q: %w", b.Path, ErrNotSealed)
	}
	env, err := ParseEnvelope(text)
	if err != nil {
		return nil, fmt.Errorf("field %q: %w", b.Path, err)
	}
	if keyIDs != nil {
		keyIDs[env.KeyID] = true
	}
	dek, err := s.ring.Lookup(ctx, PurposeData, env.KeyID)
	if err != nil {
		return nil, fmt.Errorf("field %q: %w", b.Path, err)
	}
	return env.Open(dek.secret, b)
}

// Reseal opens a stored message (its MAC checked) and, when any of its fields or its MAC is
// under a key that is not the primary, seals and signs it again under the primaries. It reports
// whether it changed the message. Rewrap uses it.
func (s *Sealer) Reseal(ctx context.Context, topic string, msg *message.Message) (bool, error) {
	if err := s.Verify(ctx, topic, msg.UUID, msg.Metadata.Get, msg.Payload); err != nil {
		return false, err
	}
	kind, err := kindOf(msg.Metadata.Get)
	if err != nil {
		return false, err
	}
	dek, err := s.ring.Primary(ctx, PurposeData)
	if err != nil {
		return false, err
	}
	mk, err := s.ring.Primary(ctx, PurposeMAC)
	if err != nil {
		return false, err
	}
	macKID, _ := MACKeyID(msg.Metadata.Get(events.MetaMAC))
	used := map[string]bool{}
	b := Binding{Topic: topic, MessageID: msg.UUID, Type: kind.Name, Version: kind.Version}
	plain, err := walk(msg.Payload, s.registry.SensitiveFields(kind), func(path string, raw json.RawMessage) (json.RawMessage, error) {
		b.Path = path
		return s.openValue(ctx, raw, b, used)
	})
	if err != nil {
		return false, undecryptable(err)
	}
	delete(used, dek.ID)
	if len(used) == 0 && macKID == mk.ID {
		return false, nil
	}
	msg.Payload = plain
	return true, s.Seal(ctx, topic, msg)
}

func kindOf(meta func(string) string) (events.Kind, error) {
	k := events.Kind{Name: meta(events.MetaType)}
	v, err := strconv.Atoi(meta(events.MetaVersion))
	if err != nil || k.Name == "" {
		return k, fmt.Errorf("metadata %q and %q do not name a message type", events.MetaType, events.MetaVersion)
	}
	k.Version = v
	return k, nil
}
