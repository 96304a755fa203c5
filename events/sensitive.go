package events

import "context"

// Sensitive is implemented by the message types that carry secrets: SensitiveFields names the
// JSON paths of the fields that are sealed (encrypted) before the message enters the outbox —
// "value", or "statements[].args" for a field of each element of an array. The outbox, the event
// log and the bus only ever hold those fields sealed; consumers see them opened.
type Sensitive interface {
	SensitiveFields() []string
}

// MetaMAC is the metadata key of a message's MAC (see package platform/seal).
const MetaMAC = "mac"

// MACKeys are the envelope metadata a message's MAC covers, in the order it covers them. Other
// metadata (trace context) is not the envelope and may change on the way.
var MACKeys = [...]string{MetaType, MetaVersion, MetaCorrelationID, MetaCausationID, MetaOccurredAt, MetaKey}

// Opener authenticates a message and opens its sealed fields before it is decoded. Its errors
// wrap ErrUnauthenticated (the MAC) or ErrUndecryptable (a sealed field); the registry makes
// them DecodeErrors with that reason. platform/seal's Sealer is the Opener.
type Opener interface {
	// Open checks the MAC of the message id of topic (meta returns its metadata by key) and
	// returns payload with its sealed fields opened, the fields being fields.
	Open(ctx context.Context, topic string, env Envelope, meta func(string) string, fields []string, payload []byte) ([]byte, error)
}

// Sensitive fields of the messages that declare them. Queries' rows, KV values and published
// records are sealed inside CommandSucceeded.Result, which is sealed whole.
func (PostgresExecute) SensitiveFields() []string     { return []string{"args"} }
func (PostgresQuery) SensitiveFields() []string       { return []string{"args"} }
func (PostgresTransaction) SensitiveFields() []string { return []string{"statements[].args"} }
func (KafkaPublish) SensitiveFields() []string        { return []string{"payload", "headers"} }
func (ConsulKVPut) SensitiveFields() []string         { return []string{"value"} }
func (ConsulKVCompareAndSet) SensitiveFields() []string {
	return []string{"value"}
}
func (ConsulKVChanged) SensitiveFields() []string  { return []string{"value"} }
func (CommandSucceeded) SensitiveFields() []string { return []string{"result"} }
