package integration_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/audit"
	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/poison"
	"github.com/omninode/omnibase-infra/platform/bus"
	"github.com/omninode/omnibase-infra/platform/seal"
	"github.com/omninode/omnibase-infra/projections/infrastate"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// lateKey is a MAC key no process holds yet: what it signs is refused as unauthenticated (and
// poisoned) until the key is imported into seal_keys — a key restored late, the case a requeue
// is for.
type lateKey struct {
	id     string
	secret []byte
}

func newLateKey(t *testing.T) lateKey {
	t.Helper()
	b := make([]byte, 4)
	secret := make([]byte, seal.KeySize)
	_, err := rand.Read(b)
	require.NoError(t, err)
	_, err = rand.Read(secret)
	require.NoError(t, err)
	return lateKey{id: "m" + time.Now().UTC().Format("20060102") + "-" + hex.EncodeToString(b), secret: secret}
}

// sign sets msg's MAC for topic under k, as a producer holding k does.
func (k lateKey) sign(topic string, msg *message.Message) *message.Message {
	in := seal.MACInput{Topic: topic, MessageID: msg.UUID, Payload: msg.Payload}
	for _, key := range events.MACKeys {
		in.Meta = append(in.Meta, msg.Metadata.Get(key))
	}
	msg.Metadata.Set(events.MetaMAC, seal.Sign(k.id, k.secret, in))
	return msg
}

// importInto adds k to db's keyring, wrapped under the suite's key-encryption key, as active.
func (k lateKey) importInto(t *testing.T, db *pgxpool.Pool) {
	t.Helper()
	kek, err := seal.ParseKEK(containers.TestKEK)
	require.NoError(t, err)
	wrapped, err := kek.Wrap(context.Background(), k.secret)
	require.NoError(t, err)
	_, err = db.Exec(context.Background(), `INSERT INTO seal_keys (id, purpose, state, wrapped) VALUES ($1, 'mac', 'active', $2)`, k.id, wrapped)
	require.NoError(t, err)
}

// healthReport is a target's health report, as an adapter publishes it.
func healthReport(t *testing.T, adapterID string) *message.Message {
	t.Helper()
	now := time.Now()
	msg, err := events.Encode(events.AdapterHealthReported{AdapterID: adapterID, Adapter: events.AdapterPostgres,
		Target: strings.TrimPrefix(adapterID, "postgres/"), Healthy: true, LatencyMicros: 5, ProbedAt: now}, events.NewOrigin(), now)
	require.NoError(t, err)
	return msg
}

// poisonRows reads the poison records of message id (and of its requeues) of group.
func poisonRows(t *testing.T, db *pgxpool.Pool, group, id string) []poison.Message {
	t.Helper()
	list, err := poison.List(context.Background(), db, poison.Filter{Group: group, Limit: 1000})
	require.NoError(t, err)
	var out []poison.Message
	for _, m := range list {
		if poison.OriginalID(m.MessageID) == id {
			out = append(out, m)
		}
	}
	return out
}

// auditActions counts the audit entries of action about group's message id.
func auditActions(t *testing.T, db *pgxpool.Pool, action, messageID string) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT actor FROM audit_entries WHERE action = $1 AND detail->>'message_id' = $2`,
		action, messageID)
	require.NoError(t, err)
	var actors []string
	for rows.Next() {
		var a string
		require.NoError(t, rows.Scan(&a))
		actors = append(actors, a)
	}
	require.NoError(t, rows.Err())
	return actors
}

// The poison tools against a running loop: an event signed by a key no process holds yet is
// poisoned; listed and shown by filter; once the key is imported, `omni poison requeue` sends it
// again through the outbox and the projection applies it. An event under a key nobody will ever
// hold, requeued, fails again: it comes back to poison once, as a new record linked to the old
// one, and never loops. Bulk actions need --all; every action is in the audit log.
func TestPoisonCLI_requeue_applies_once_fixed_and_a_message_failing_again_comes_back_once(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	startApp(t, appConfig(url, kafka.Brokers()))
	waitHealthy(t, db, "postgres/control")
	topics := events.DefaultTopics()
	env := []string{"DATABASE_URL=" + url, "KAFKA_BROKERS=" + strings.Join(kafka.Brokers(), ",")}
	group := infrastate.ConsumerName

	late, never := newLateKey(t), newLateKey(t)
	fixable := late.sign(topics.Events, healthReport(t, "postgres/late"))
	hopeless := never.sign(topics.Events, healthReport(t, "postgres/never"))
	pub, err := bus.NewPublisher(kafka.Brokers(), bus.Security{}, watermill.NopLogger{})
	require.NoError(t, err)
	defer pub.Close()
	require.NoError(t, pub.Publish(topics.Events, fixable, hopeless))
	poisonedBy(t, db, kafka.Brokers(), group, topics.Events, 2)

	// list, filtered by group and reason, as JSON; show one.
	out, stderr, code := omni(t, env, "poison", "list", "--group", group, "--reason", "NO MAC KEY", "--since", "1h", "-o", "json")
	require.Equal(t, 0, code, stderr)
	var listed []poison.Message
	require.NoError(t, json.Unmarshal([]byte(out), &listed))
	byMessage := map[string]poison.Message{}
	for _, m := range listed {
		byMessage[m.MessageID] = m
		require.Equal(t, poison.StatusPoisoned, m.Status)
		require.Equal(t, "adapter_health_reported", m.Kind)
	}
	require.Contains(t, byMessage, fixable.UUID)
	require.Contains(t, byMessage, hopeless.UUID)
	fixableID, hopelessID := byMessage[fixable.UUID].ID, byMessage[hopeless.UUID].ID
	out, stderr, code = omni(t, env, "poison", "show", strconv.FormatInt(fixableID, 10))
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, `no mac key "`+late.id+`"`)
	require.Contains(t, out, `"adapter_id":"postgres/late"`)
	out, _, code = omni(t, env, "poison", "list", "--group", group, "--until", "2020-01-01")
	require.Equal(t, 0, code)
	require.NotContains(t, out, fixable.UUID[:8], "--until bounds the time")

	// Bulk needs --all; ids and filters together are a mistake; a bad id names itself.
	_, stderr, code = omni(t, env, "poison", "requeue", "--reason", "no mac key")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "add --all")
	_, stderr, code = omni(t, env, "poison", "requeue")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "give the ids")
	_, stderr, code = omni(t, env, "poison", "discard", "seven")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, `"seven" is not a poisoned message's id`)

	// The key arrives; requeued, the event is applied.
	require.Empty(t, currentStates(t, db, "postgres/late"), "not applied while poisoned")
	late.importInto(t, db)
	out, stderr, code = omni(t, env, "poison", "requeue", strconv.FormatInt(fixableID, 10))
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "requeued")
	waitHealthy(t, db, "postgres/late")
	_, stderr, code = omni(t, env, "poison", "requeue", strconv.FormatInt(fixableID, 10))
	require.Equal(t, 1, code, "requeued already")
	require.Contains(t, stderr, "requeued or discarded already")

	// The hopeless one, requeued by filter with --all, fails again: one new record, linked.
	out, stderr, code = omni(t, env, "poison", "requeue", "--all", "--group", group, "--reason", never.id, "-o", "json")
	require.Equal(t, 0, code, stderr)
	var results []poison.Result
	require.NoError(t, json.Unmarshal([]byte(out), &results))
	require.Equal(t, []poison.Result{{ID: hopelessID, Group: group, Topic: topics.Events, Outcome: poison.StatusRequeued}}, results)
	var again poison.Message
	eventually(t, 30*time.Second, "the requeued message poisoned again", func() (bool, string, error) {
		rows := poisonRows(t, db, group, hopeless.UUID)
		for _, m := range rows {
			if m.ID != hopelessID {
				again = m
			}
		}
		return len(rows) == 2, strconv.Itoa(len(rows)) + " records", nil
	})
	require.Equal(t, hopeless.UUID+"/requeue-1", again.MessageID)
	require.Equal(t, hopelessID, *again.RequeuedFrom)
	require.Equal(t, 1, again.RequeueCount)
	require.Equal(t, poison.StatusPoisoned, again.Status)
	require.Contains(t, again.Reason, `no mac key "`+never.id+`"`)
	time.Sleep(3 * time.Second) // a loop would have poisoned it again by now
	require.Len(t, poisonRows(t, db, group, hopeless.UUID), 2, "poisoned again once, not in a loop")

	// Discard the new record; it stays, marked, and is never requeued by --all.
	out, stderr, code = omni(t, env, "poison", "discard", strconv.FormatInt(again.ID, 10))
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "discarded")
	_, stderr, code = omni(t, env, "poison", "requeue", "--all", "--group", group, "--reason", never.id)
	require.Equal(t, 1, code, "nothing still poisoned matches")
	require.Contains(t, stderr, "no poisoned message matched")

	// The retention trims the old record as it trims every record by age; its requeue stays, unlinked.
	_, err = db.Exec(context.Background(), `DELETE FROM poison_messages WHERE ctid IN (SELECT ctid FROM poison_messages WHERE id = $1)`, hopelessID)
	require.NoError(t, err, "a record a requeue links to can be trimmed")
	rows := poisonRows(t, db, group, hopeless.UUID)
	require.Len(t, rows, 1)
	require.Nil(t, rows[0].RequeuedFrom)

	// Who did what, in the audit log.
	for _, tc := range []struct{ action, id string }{
		{audit.ActionPoisonRequeued, fixable.UUID}, {audit.ActionPoisonRequeued, hopeless.UUID},
		{audit.ActionPoisonDiscarded, hopeless.UUID + "/requeue-1"},
	} {
		actors := auditActions(t, db, tc.action, tc.id)
		require.Len(t, actors, 1, "%s of %s", tc.action, tc.id)
		require.Contains(t, actors[0], "(omni poison)")
	}
}

// currentStates returns the projection's state rows of adapterID (none or one).
func currentStates(t *testing.T, db *pgxpool.Pool, adapterID string) []infrastate.TargetState {
	t.Helper()
	states, err := infrastate.ListFiltered(context.Background(), db, infrastate.Filter{Target: adapterID})
	require.NoError(t, err)
	return states
}
