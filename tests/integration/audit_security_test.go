package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/omninode/omnibase-infra/events"
)

// A command for a target the adapter does not have is a security event, seconds after it was
// sent: it is poisoned with its reason, and in the same transaction it is an audit entry naming
// who sent it and an event on infra.security; the process's omni_security_events_total moves.
func TestAudit_a_rejected_command_is_poisoned_recorded_published_and_counted(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	addr := startApp(t, adapterConfig(url, kafka.Brokers()))
	ctx := context.Background()
	const rejected = `omni_security_events_total{kind="rejected"}`
	eventually(t, 30*time.Second, "the process's metrics", func() (bool, string, error) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false, err.Error(), nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status, nil
	})
	require.Zero(t, metric(t, addr, rejected), "every kind is shown from the start, at 0")

	env := []string{"DATABASE_URL=" + url, "KAFKA_BROKERS=" + strings.Join(kafka.Brokers(), ",")}
	sent := time.Now()
	out, stderr, code := omni(t, env, "cmd", "postgres", "probe", "--target", "nowhere", "--any-target")
	require.Equal(t, 0, code, stderr)
	id := strings.TrimSpace(out)
	var sender string
	require.NoError(t, db.QueryRow(ctx, `SELECT actor FROM audit_entries WHERE action = 'command.sent' AND detail->>'command_id' = $1`,
		id).Scan(&sender))

	var entry struct {
		actor, subject, outcome string
		detail                  map[string]string
	}
	eventually(t, 10*time.Second, "the rejection poisoned and in the audit log", func() (bool, string, error) {
		var poisoned int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM poison_messages WHERE message_id = $1`, id).Scan(&poisoned); err != nil {
			return false, "", err
		}
		err := db.QueryRow(ctx, `SELECT actor, subject, outcome, detail FROM audit_entries WHERE action = 'security.rejected'`).
			Scan(&entry.actor, &entry.subject, &entry.outcome, &entry.detail)
		return poisoned == 1 && err == nil, fmt.Sprintf("%d poisoned, entry: %v", poisoned, err), nil
	})
	require.Equal(t, sender, entry.actor, "the security event names who sent the command")
	require.Equal(t, "postgres/nowhere", entry.subject)
	require.Equal(t, "refused", entry.outcome)
	require.Equal(t, id, entry.detail["message_id"])
	require.Equal(t, "infra.commands.postgres", entry.detail["topic"])
	require.Contains(t, entry.detail["reason"], `postgres target "nowhere" is not configured`)
	var reason string
	require.NoError(t, db.QueryRow(ctx, `SELECT reason FROM poison_messages WHERE message_id = $1`, id).Scan(&reason))
	require.Equal(t, reason, entry.detail["reason"], "the entry's reason is the poison's")

	records := consumeUntil(t, kafka.Brokers(), events.SecurityTopic, 10*time.Second, func(rs []*kgo.Record) (bool, string) {
		return len(rs) > 0, fmt.Sprintf("%d records", len(rs))
	})
	require.Len(t, records, 1)
	require.Equal(t, "security_event_recorded", header(records[0], events.MetaType))
	var ev events.SecurityEventRecorded
	require.NoError(t, json.Unmarshal(records[0].Value, &ev))
	require.Equal(t, events.SecurityRejected, ev.Type)
	require.Equal(t, sender, ev.Actor)
	require.Equal(t, "postgres/nowhere", ev.Subject)
	require.Equal(t, id, ev.MessageID)
	require.Equal(t, entry.detail["reason"], ev.Reason)
	require.NotEmpty(t, ev.Group)

	require.Equal(t, 1.0, metric(t, addr, rejected))
	took := time.Since(sent)
	t.Logf("rejected command to poison, audit entry, infra.security and metric: %s", took.Round(time.Millisecond))
	require.Less(t, took, 15*time.Second, "seconds after")
}
