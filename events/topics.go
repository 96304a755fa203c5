package events

import (
	"errors"
	"fmt"
	"strings"
)

// Topics names the Kafka topics. They are configuration: every process of one deployment must
// agree on them, so they come from one place.
type Topics struct {
	// Events carries adapter facts, keyed by adapter id. Default "infra.events".
	Events string
	// Intents carries the projection's intents, keyed by subject. Default "infra.intents".
	Intents string
	// CommandsPrefix is followed by the adapter's name: "infra.commands.postgres". Default "infra.commands.".
	CommandsPrefix string
	// PoisonSuffix is appended to a consumer group's name to name its poison topic:
	// "infrastate-projection.poison". Default ".poison".
	PoisonSuffix string
}

// DefaultTopics returns the topic names used unless configured otherwise.
func DefaultTopics() Topics {
	return Topics{Events: "infra.events", Intents: "infra.intents", CommandsPrefix: "infra.commands.", PoisonSuffix: ".poison"}
}

// Commands names the command topic of an adapter.
func (t Topics) Commands(adapter string) string { return t.CommandsPrefix + adapter }

// Poison names the poison topic of a consumer group.
func (t Topics) Poison(consumerGroup string) string { return consumerGroup + t.PoisonSuffix }

// IsControl reports whether topic is one of the loop's own topics: the events or intents topic, a
// commands topic (under CommandsPrefix), a poison topic (ending in PoisonSuffix), the audit
// log's witness (AuditTopic) or the security events (SecurityTopic). Everything on them is
// written through the outbox, and so is in the event log.
func (t Topics) IsControl(topic string) bool {
	return topic == t.Events || topic == t.Intents || topic == AuditTopic || topic == SecurityTopic ||
		strings.HasPrefix(topic, t.CommandsPrefix) || strings.HasSuffix(topic, t.PoisonSuffix)
}

// Validate reports every empty name.
func (t Topics) Validate() error {
	var errs []error
	for _, n := range []struct{ name, value string }{
		{"events", t.Events}, {"intents", t.Intents}, {"commands prefix", t.CommandsPrefix}, {"poison suffix", t.PoisonSuffix},
	} {
		if n.value == "" {
			errs = append(errs, fmt.Errorf("topic %s is empty", n.name))
		}
	}
	return errors.Join(errs...)
}
