package kafka_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/kafka"
	"github.com/omninode/omnibase-infra/internal/devkafka"
)

// A publish to one of the loop's own topics is refused before anything is produced, on any
// target: not transient (so not retried, and not counted against the breaker), not counted as a
// publish, naming the topic and the flag that would allow it.
func TestDriver_publish_refuses_the_control_topics(t *testing.T) {
	custom := events.Topics{Events: "ops.events", Intents: "ops.intents", CommandsPrefix: "ops.cmd.", PoisonSuffix: ".dead"}
	for _, tc := range []struct {
		name    string
		topics  events.Topics // zero: the defaults
		topic   string
		refused bool
	}{
		{"events", events.Topics{}, "infra.events", true},
		{"intents", events.Topics{}, "infra.intents", true},
		{"an_adapters_commands", events.Topics{}, "infra.commands.postgres", true},
		{"any_commands_topic", events.Topics{}, "infra.commands.redis", true},
		{"an_adapters_poison", events.Topics{}, "adapter-kafka.poison", true},
		{"the_relays_poison", events.Topics{}, "outbox-relay.poison", true},
		{"any_poison_topic", events.Topics{}, "orders.poison", true},
		{"the_audit_witness", events.Topics{}, "infra.audit", true},
		{"the_security_events", events.Topics{}, "infra.security", true},
		{"the_audit_witness_under_other_topics", custom, "infra.audit", true},
		{"a_topic_of_its_own", events.Topics{}, "orders", false},
		{"a_name_that_only_starts_like_events", events.Topics{}, "infra.events-archive", false},
		{"the_commands_prefix_without_its_dot", events.Topics{}, "infra.commands", false},
		{"configured_events", custom, "ops.events", true},
		{"configured_commands", custom, "ops.cmd.consul", true},
		{"configured_poison", custom, "saga-intake.dead", true},
		{"a_default_name_under_other_topics", custom, "infra.events", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Nobody listens there: a publish that is not refused fails reaching it, transiently.
			d, err := kafka.New(kafka.Config{Targets: []kafka.Target{{Name: "down", Brokers: []string{"127.0.0.1:1"}}},
				ControlTopics: tc.topics, Timeout: 200 * time.Millisecond}, nil)
			require.NoError(t, err)
			t.Cleanup(d.Close)
			ctx := context.Background()
			_, err = d.Execute(ctx, "down", events.KafkaPublish{On: events.On{Target: "down"}, Topic: tc.topic, Payload: "x"})
			require.Error(t, err)
			h, _ := d.Probe(ctx, "down")
			if !tc.refused {
				require.True(t, d.Transient(err), "tried, and the cluster is down: %v", err)
				require.Equal(t, "1", h.Details["producer_publishes"])
				return
			}
			require.False(t, d.Transient(err), "a refusal is not retried: %v", err)
			require.ErrorContains(t, err, `topic "`+tc.topic+`" is a control topic of this omnibase-infra; `+
				`publishing to it from the kafka adapter would bypass the outbox (allow it with --kafka-allow-control-topics)`)
			require.Equal(t, "0", h.Details["producer_publishes"], "refused before producing")
		})
	}
}

// With AllowControlTopics the publish goes through, as it did before the refusal.
func TestDriver_publish_to_a_control_topic_when_allowed(t *testing.T) {
	broker, err := devkafka.Start(devkafka.Config{}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(broker.Close)
	d, err := kafka.New(kafka.Config{Targets: []kafka.Target{{Name: "bus", Brokers: broker.Addrs()}}, AllowControlTopics: true}, nil)
	require.NoError(t, err)
	t.Cleanup(d.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := d.Execute(ctx, "bus", events.KafkaPublish{On: events.On{Target: "bus"}, Topic: "infra.intents", Payload: "x"})
	require.NoError(t, err)
	require.Equal(t, "infra.intents", res.(events.KafkaPublishResult).Topic)
}

func TestConfig_control_topics_default_and_are_validated(t *testing.T) {
	require.Equal(t, events.DefaultTopics(), kafka.DefaultConfig().ControlTopics)
	require.False(t, kafka.DefaultConfig().AllowControlTopics, "refused unless allowed")
	err := kafka.Config{Targets: []kafka.Target{{Name: "bus", Brokers: []string{"h:1"}}},
		ControlTopics: events.Topics{Events: "ops.events"}}.Validate()
	require.ErrorContains(t, err, "kafka adapter: control topics: topic intents is empty")
}
