// Package events holds every message type omnibase-infra sends: events (past tense), intents and
// commands (imperative), the envelope carried in Watermill metadata, and the registry that decodes
// messages strictly back into their Go types.
package events

import "fmt"

// Kind names a message type and the version of its schema.
type Kind struct {
	Name    string
	Version int
}

func (k Kind) String() string { return fmt.Sprintf("%s/v%d", k.Name, k.Version) }

// Message is implemented by every payload type.
type Message interface {
	// Kind is the type's name and schema version.
	Kind() Kind
	// Key is what the message is about (an adapter id, an intent's subject, a command's target).
	// It is the Kafka partition key, so order holds per key.
	Key() string
	// Validate reports every missing or invalid field.
	Validate() error
}
