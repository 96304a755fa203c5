package integration_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/platform/bus"
	"github.com/omninode/omnibase-infra/platform/seal"
	"github.com/omninode/omnibase-infra/projections/infrastate"
	"github.com/omninode/omnibase-infra/tests/containers"
)

func quoted(s string) json.RawMessage { return json.RawMessage(strconv.Quote(s)) }

// What a command carries and what it returns — SQL arguments, query rows, a record published to
// Kafka — is ciphertext wherever omni keeps or sends it; only a holder of the keys reads it.
func TestSeal_sensitive_fields_are_only_ciphertext_in_the_outbox_the_event_log_and_on_Kafka(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	cfg := adapterConfig(url, kafka.Brokers())
	cfg.Relay.Retention = -1 // delivered rows stay in the outbox, to be searched
	startApp(t, cfg)
	c := newCommander(t, db, kafka.Brokers())
	ctx := context.Background()
	_, err := db.Exec(ctx, `CREATE TABLE secrets (v text)`)
	require.NoError(t, err)

	argMarker := "arg-secret-" + watermill.NewShortUUID()
	rowMarker := "row-secret-" + watermill.NewShortUUID()
	recordMarker := "record-secret-" + watermill.NewShortUUID()
	markers := []string{argMarker, rowMarker, recordMarker}
	succeeded(t, c.run(events.PostgresExecute{On: events.On{Target: "control"},
		Statement: events.Statement{SQL: "INSERT INTO secrets VALUES ($1)", Args: []json.RawMessage{quoted(argMarker)}}}), nil)
	var rows events.PostgresQueryResult
	succeeded(t, c.run(events.PostgresQuery{On: events.On{Target: "control"},
		Statement: events.Statement{SQL: "SELECT v, $1::text FROM secrets", Args: []json.RawMessage{quoted(rowMarker)}}}), &rows)
	require.Len(t, rows.Rows, 1)
	require.Contains(t, string(rows.Rows[0]), argMarker, "a holder of the keys reads the result opened")
	require.Contains(t, string(rows.Rows[0]), rowMarker)
	succeeded(t, c.run(events.KafkaPublish{On: events.On{Target: "bus"}, Topic: "user-topic-" + watermill.NewShortUUID(),
		Payload: recordMarker}), nil)

	// omni cmd --wait prints the result opened, as the commander read it
	env := []string{"DATABASE_URL=" + url, "KAFKA_BROKERS=" + strings.Join(kafka.Brokers(), ",")}
	out, stderr, code := omni(t, env, "cmd", "postgres", "query", "--target", "control", "--data", `{"sql":"SELECT v FROM secrets"}`, "--wait", "--json")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, argMarker)

	// The event log: every row searched raw.
	var logged, sealedRows int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE position('sealed:1:'::bytea in payload) > 0) FROM event_log`).
		Scan(&logged, &sealedRows))
	// four outcomes (results sealed whole) and three of the commands (the CLI's query has no args)
	require.GreaterOrEqual(t, sealedRows, 7, "the commands and their outcomes are sealed (%d rows logged)", logged)
	for _, m := range markers {
		var n int
		require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM event_log WHERE position(convert_to($1, 'UTF8') in payload) > 0
			OR position($1 in metadata::text) > 0`, m).Scan(&n))
		require.Zero(t, n, "%s in clear in the event log", m)
	}

	// The outbox: each row's text and the message inside its forwarder envelope (base64).
	outboxRows, err := db.Query(ctx, `SELECT payload::text FROM watermill_outbox`)
	require.NoError(t, err)
	n := 0
	for outboxRows.Next() {
		var text string
		require.NoError(t, outboxRows.Scan(&text))
		var fwd struct {
			Payload  []byte            `json:"payload"`
			Metadata map[string]string `json:"metadata"`
		}
		require.NoError(t, json.Unmarshal([]byte(text), &fwd))
		require.NotEmpty(t, fwd.Metadata[events.MetaMAC], "every outbox row is signed")
		for _, m := range markers {
			require.NotContains(t, text, m)
			require.NotContains(t, string(fwd.Payload), m, "%s in clear in the outbox", m)
		}
		n++
	}
	require.NoError(t, outboxRows.Err())
	require.GreaterOrEqual(t, n, logged, "the delivered rows were kept to be searched")

	// Kafka: every record of the command and events topics, value and headers.
	topics := events.DefaultTopics()
	for _, topic := range []string{topics.Commands(events.AdapterPostgres), topics.Commands(events.AdapterKafka), topics.Events} {
		records := consumeAll(t, kafka.Brokers(), topic, 2*time.Second, 10000)
		require.NotEmpty(t, records, topic)
		for _, r := range records {
			require.NotEmpty(t, header(r, events.MetaMAC), "every record on %s is signed", topic)
			for _, m := range markers {
				require.False(t, bytes.Contains(r.Value, []byte(m)), "%s in clear on %s", m, topic)
				for _, h := range r.Headers {
					require.False(t, bytes.Contains(h.Value, []byte(m)), "%s in clear in a header on %s", m, topic)
				}
			}
		}
	}
}

// Anyone who can produce to the bus but holds no key cannot forge events or commands: what does
// not verify is poisoned "unauthenticated", never applied, and the consumers go on; a signed
// message whose sealed field is under a key nobody holds is poisoned "undecryptable".
func TestSeal_messages_without_a_valid_MAC_are_poisoned_unauthenticated_and_not_applied(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	startApp(t, appConfig(url, kafka.Brokers()))
	waitHealthy(t, db, "postgres/control")
	topics := events.DefaultTopics()
	ctx := context.Background()

	health := func(adapterID string) *message.Message {
		now := time.Now()
		msg, err := events.Encode(events.AdapterHealthReported{AdapterID: adapterID, Adapter: events.AdapterPostgres,
			Target: strings.TrimPrefix(adapterID, "postgres/"), Healthy: true, LatencyMicros: 5, ProbedAt: now}, events.NewOrigin(), now)
		require.NoError(t, err)
		return msg
	}
	unsigned := health("postgres/forged")
	wrongKey := health("postgres/forged")
	wrongKey.Metadata.Set(events.MetaMAC, "m20260101-deadbeef:"+base64.RawURLEncoding.EncodeToString(make([]byte, 32)))
	tampered := signed(t, db, topics.Events, health("postgres/forged"))[0]
	tampered.Payload = bytes.Replace(tampered.Payload, []byte(`"latency_us":5`), []byte(`"latency_us":6`), 1)
	pub, err := bus.NewPublisher(kafka.Brokers(), bus.Security{}, watermill.NopLogger{})
	require.NoError(t, err)
	defer pub.Close()
	require.NoError(t, pub.Publish(topics.Events, unsigned, wrongKey, tampered))

	poisoned := poisonedBy(t, db, kafka.Brokers(), infrastate.ConsumerName, topics.Events, 3)
	for name, id := range map[string]string{"unsigned": unsigned.UUID, "wrong key": wrongKey.UUID, "tampered": tampered.UUID} {
		require.Contains(t, poisoned[id], "unauthenticated message", name)
	}
	require.Contains(t, poisoned[unsigned.UUID], "no MAC")
	require.Contains(t, poisoned[wrongKey.UUID], `no mac key "m20260101-deadbeef"`)
	require.Contains(t, poisoned[tampered.UUID], "does not verify")

	// The projection went on: a signed event after them is applied; the forged target has no row.
	require.NoError(t, pub.Publish(topics.Events, signed(t, db, topics.Events, health("postgres/signed"))...))
	waitHealthy(t, db, "postgres/signed")
	states, err := infrastate.List(ctx, db)
	require.NoError(t, err)
	for _, s := range states {
		require.NotEqual(t, "postgres/forged", s.AdapterID, "a forged event created a state row")
	}

	// Commands: an unsigned one, and one signed with the real MAC key but sealed under a data key
	// no process holds. Each is rejected with its reason and poisoned; the adapter goes on.
	c := newCommander(t, db, kafka.Brokers())
	commandTopic := topics.Commands(events.AdapterPostgres)
	forgedCmd, err := events.Encode(events.ProbeTarget{Adapter: events.AdapterPostgres, Target: "control"}, events.NewOrigin(), time.Now())
	require.NoError(t, err)
	keys, err := seal.NewStore(db, mustKEK(t)).Load(ctx)
	require.NoError(t, err)
	var macID string
	var macKey []byte
	for _, k := range keys {
		if k.Purpose == seal.PurposeMAC && k.State == seal.StatePrimary {
			macID, macKey = k.ID, k.Secret()
		}
	}
	ghostKey := make([]byte, seal.KeySize)
	_, _ = rand.Read(ghostKey)
	ghostRing, err := seal.StaticKeyring(map[string][]byte{"d-ghost": ghostKey}, map[string][]byte{macID: macKey}, "d-ghost", macID)
	require.NoError(t, err)
	ghostCmd, err := events.Encode(events.PostgresExecute{On: events.On{Target: "control"},
		Statement: events.Statement{SQL: "SELECT $1::text", Args: []json.RawMessage{quoted("x")}}}, events.NewOrigin(), time.Now())
	require.NoError(t, err)
	require.NoError(t, seal.NewSealer(ghostRing, events.Catalog()).Seal(ctx, commandTopic, ghostCmd))

	for _, tc := range []struct {
		name string
		msg  *message.Message
		want []string
	}{
		{"unsigned", forgedCmd, []string{"unauthenticated message", "no MAC"}},
		{"unknown_data_key", ghostCmd, []string{"undecryptable payload", `no data key "d-ghost"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := c.watch()
			require.NoError(t, c.pub.Publish(commandTopic, tc.msg))
			rejected, ok := outcome(t, c.await(w, tc.msg.UUID)).(events.CommandRejected)
			require.True(t, ok, "want command_rejected")
			for _, want := range tc.want {
				require.Contains(t, rejected.Reason, want)
			}
			succeeded(t, c.run(events.ProbeTarget{Adapter: events.AdapterPostgres, Target: "control"}), nil)
		})
	}
	reasons := poisonedBy(t, db, kafka.Brokers(), "adapter-postgres", commandTopic, 2)
	require.Contains(t, reasons[forgedCmd.UUID], "unauthenticated message")
	require.Contains(t, reasons[ghostCmd.UUID], "undecryptable payload")
}

func mustKEK(t *testing.T) seal.KeyWrapper {
	t.Helper()
	k, err := seal.ParseKEK(containers.TestKEK)
	require.NoError(t, err)
	return k
}

type keyRow struct {
	ID      string `json:"id"`
	Purpose string `json:"purpose"`
	State   string `json:"state"`
}

func listKeys(t *testing.T, env []string) map[string]keyRow {
	t.Helper()
	out, stderr, code := omni(t, env, "keys", "list", "-o", "json")
	require.Equal(t, 0, code, stderr)
	var rows []keyRow
	require.NoError(t, json.Unmarshal([]byte(out), &rows), out)
	byID := map[string]keyRow{}
	for _, r := range rows {
		byID[r.ID] = r
	}
	return byID
}

// Rotating the keys, rewrapping what is stored and retiring the old keys loses nothing: every
// row still opens, and a replay of the event log equals the live state.
func TestSeal_rotate_rewrap_retire_keeps_every_row_readable_and_replay_equals_live(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	cfg := appConfig(url, kafka.Brokers())
	cfg.Seal = app.SealConfig{KEK: containers.TestKEK, Refresh: time.Second}
	startApp(t, cfg)
	waitHealthy(t, db, "postgres/control")
	c := newCommander(t, db, kafka.Brokers())
	ctx := context.Background()
	env := []string{"DATABASE_URL=" + url, "KAFKA_BROKERS=" + strings.Join(kafka.Brokers(), ",")}
	query := func(marker string) {
		t.Helper()
		var res events.PostgresQueryResult
		succeeded(t, c.run(events.PostgresQuery{On: events.On{Target: "control"},
			Statement: events.Statement{SQL: "SELECT $1::text", Args: []json.RawMessage{quoted(marker)}}}), &res)
		require.Contains(t, string(res.Rows[0]), marker)
	}
	query("before-rotation")

	before := listKeys(t, env)
	require.Len(t, before, 2, "a data key and a MAC key made at the first start")
	out, stderr, code := omni(t, env, "keys", "rotate")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "new primary keys")
	after := listKeys(t, env)
	require.Len(t, after, 4)
	var oldIDs []string
	for id := range before {
		require.Equal(t, "active", after[id].State, "the old key %s stays readable", id)
		oldIDs = append(oldIDs, id)
	}

	// Still needed by what is stored: refused, naming what to do.
	_, stderr, code = omni(t, env, "keys", "retire", oldIDs[0], "--grace=0s")
	require.NotEqual(t, 0, code)
	require.Contains(t, stderr, "omni keys rewrap")

	time.Sleep(3 * time.Second) // every process's keys refreshed (each second): nothing new under the old keys
	query("after-rotation")
	out, stderr, code = omni(t, env, "keys", "rewrap")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "rewrapped:")
	for _, id := range oldIDs {
		out, stderr, code = omni(t, env, "keys", "retire", id, "--grace=0s")
		require.Equal(t, 0, code, "retire %s: %s%s", id, out, stderr)
	}
	for _, id := range oldIDs {
		require.Equal(t, "retired", listKeys(t, env)[id].State)
	}
	for _, id := range oldIDs {
		var oldRows int
		require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM event_log
			WHERE position(convert_to('sealed:1:' || $1 || ':', 'UTF8') in payload) > 0 OR metadata->>'mac' LIKE $1 || ':%'`, id).Scan(&oldRows))
		require.Zero(t, oldRows, "no row of the event log under retired key %s", id)
	}

	// Everything still reads: the loop, the CLI and a replay of the whole log.
	query("after-retirement")
	out, stderr, code = omni(t, env, "replay", "--verify")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, stderr)
	require.Contains(t, out, "verified")

	rows, err := db.Query(ctx, `SELECT action FROM audit_entries WHERE action LIKE 'keys.%' ORDER BY seq`)
	require.NoError(t, err)
	var actions []string
	for rows.Next() {
		var a string
		require.NoError(t, rows.Scan(&a))
		actions = append(actions, a)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"keys.rotated", "keys.rewrapped", "keys.retired", "keys.retired"}, actions)
	var rewrapped int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM audit_entries WHERE action = 'event_log.rewrapped'`).Scan(&rewrapped))
	require.Positive(t, rewrapped, "every page of the event log rewrapped is an audit entry")
}
