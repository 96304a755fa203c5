package integration_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
)

// A probe command runs through the same path as every other command and ends in its outcome.
func TestCommands_probe_command_succeeds_with_the_health_report(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	startApp(t, adapterConfig(url, kafka.Brokers()))
	c := newCommander(t, db, kafka.Brokers())

	caused := c.run(events.ProbeTarget{Adapter: events.AdapterPostgres, Target: "control"})
	var result struct {
		Healthy bool `json:"healthy"`
	}
	done := succeeded(t, caused, &result)
	require.True(t, result.Healthy)
	require.Equal(t, "postgres/control", done.AdapterID)
	require.IsType(t, events.AdapterHealthReported{}, caused[0].Event)
}

// rawCommand is a command message as anything could put it on the topic, valid or not.
func rawCommand(kind string, version int, payload string) *message.Message {
	msg := message.NewMessage(watermill.NewUUID(), []byte(payload))
	msg.Metadata.Set(events.MetaType, kind)
	msg.Metadata.Set(events.MetaVersion, strconv.Itoa(version))
	msg.Metadata.Set(events.MetaCorrelationID, watermill.NewUUID())
	msg.Metadata.Set(events.MetaOccurredAt, time.Now().UTC().Format(time.RFC3339Nano))
	msg.Metadata.Set(events.MetaKey, "postgres/control")
	return msg
}

// Every kind of bad command ends as CommandRejected with its reason and on the poison topic, and
// the adapter goes on with the next command.
func TestCommands_bad_commands_are_rejected_poisoned_and_the_adapter_moves_on(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	cfg := adapterConfig(url, kafka.Brokers())
	cfg.Adapters.MaxCommandBytes = 4096
	startApp(t, cfg)
	c := newCommander(t, db, kafka.Brokers())
	topic := events.DefaultTopics().Commands(events.AdapterPostgres)

	noCorrelation := rawCommand("probe_target", 1, `{"adapter":"postgres","target":"control"}`)
	noCorrelation.Metadata.Set(events.MetaCorrelationID, "")
	cases := []struct {
		name       string
		msg        *message.Message
		wantReason []string
	}{
		{"unknown type", rawCommand("postgres_vacuum", 1, `{"target":"control"}`),
			[]string{"postgres_vacuum/v1", "unknown message type"}},
		{"unknown version", rawCommand("postgres_query", 9, `{"target":"control","sql":"SELECT 1"}`),
			[]string{"unknown schema version", "known versions of \"postgres_query\": [1]"}},
		{"missing field", rawCommand("postgres_query", 1, `{"target":"control"}`),
			[]string{"invalid payload", `missing field "sql"`}},
		{"unknown field", rawCommand("postgres_query", 1, `{"target":"control","sql":"SELECT 1","sqll":"x"}`),
			[]string{"invalid payload", `unknown field "sqll"`}},
		{"not JSON", rawCommand("postgres_query", 1, `{"target":`), []string{"invalid payload"}},
		{"oversized", rawCommand("postgres_query", 1, `{"target":"control","sql":"SELECT '`+strings.Repeat("x", 5000)+`'"}`),
			[]string{"payload too large", "at most 4096"}},
		{"target not configured", rawCommand("postgres_query", 1, `{"target":"orders","sql":"SELECT 1"}`),
			[]string{`postgres target "orders" is not configured`}},
		{"another adapter's command", rawCommand("kafka_describe_cluster", 1, `{"target":"bus"}`),
			[]string{"kafka_describe_cluster/v1 is not a command of the postgres adapter"}},
		{"bad envelope", noCorrelation, []string{"bad envelope", `missing metadata "correlation_id"`}},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			w := c.watch()
			c.publish(topic, tc.msg)
			caused := c.await(w, tc.msg.UUID)
			rejected, ok := outcome(t, caused).(events.CommandRejected)
			require.True(t, ok, "want command_rejected, got %#v", outcome(t, caused))
			require.Equal(t, tc.msg.UUID, rejected.CommandID)
			require.Equal(t, events.AdapterPostgres, rejected.Adapter)
			for _, want := range tc.wantReason {
				require.Contains(t, rejected.Reason, want)
			}

			// and the adapter still handles the next command
			next := c.run(events.ProbeTarget{Adapter: events.AdapterPostgres, Target: "control"})
			succeeded(t, next, nil)
		})
	}

	reasons := poisonedBy(t, db, kafka.Brokers(), "adapter-postgres", "infra.commands.postgres", len(cases))
	require.Len(t, reasons, len(cases), "each bad command is poisoned once")
	for _, tc := range cases {
		reason, ok := reasons[tc.msg.UUID]
		require.True(t, ok, "%s: not on the poison topic", tc.name)
		require.Contains(t, reason, tc.wantReason[0], tc.name)
	}
}

// The same command delivered twice executes once: the second delivery is answered from
// processed_commands.
func TestCommands_a_command_delivered_twice_executes_once(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	startApp(t, adapterConfig(url, kafka.Brokers()))
	c := newCommander(t, db, kafka.Brokers())
	ctx := context.Background()
	_, err := db.Exec(ctx, `CREATE TABLE deliveries (n int)`)
	require.NoError(t, err)

	insert, err := events.Encode(events.PostgresExecute{On: events.On{Target: "control"},
		Statement: events.Statement{SQL: "INSERT INTO deliveries VALUES ($1)", Args: []json.RawMessage{json.RawMessage(`1`)}}},
		events.NewOrigin(), time.Now())
	require.NoError(t, err)
	topic := events.DefaultTopics().Commands(events.AdapterPostgres)
	w := c.watch()
	c.publish(topic, insert)
	succeeded(t, c.await(w, insert.UUID), nil)

	again := insert.Copy() // same id, as a redelivery would have
	c.publish(topic, again)
	// Commands on one target are keyed alike, so once a later one is answered the copy was handled.
	succeeded(t, c.run(events.ProbeTarget{Adapter: events.AdapterPostgres, Target: "control"}), nil)

	var rows, records int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM deliveries`).Scan(&rows))
	require.Equal(t, 1, rows, "the insert ran once")
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM processed_commands WHERE command_id = $1`, insert.UUID).Scan(&records))
	require.Equal(t, 1, records)
	outcomes := 0
	for _, r := range consumeAll(t, kafka.Brokers(), events.DefaultTopics().Events, 2*time.Second, 10000) {
		if header(r, events.MetaCausationID) == insert.UUID && header(r, events.MetaType) == "command_succeeded" {
			outcomes++
		}
	}
	require.Equal(t, 1, outcomes, "one outcome event for the command")
}
