package integration_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/audit"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// Every adapter command's outcome is an entry (command.completed: succeeded, rejected), a breaker
// forced open and closed by command is one more, the commands a saga sends are entries sent by
// the saga — and the log with all of them verifies.
func TestAudit_outcomes_forced_breakers_and_saga_commands_are_entries(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	cfg := appConfig(url, kafka.Brokers())
	cfg.Adapters.CommandTimeout = 5 * time.Second
	startApp(t, cfg)
	waitHealthy(t, db, "postgres/control")
	ctx := context.Background()
	env := []string{"DATABASE_URL=" + url, "KAFKA_BROKERS=" + strings.Join(kafka.Brokers(), ",")}
	run := func(want int, args ...string) {
		t.Helper()
		out, stderr, code := omni(t, env, args...)
		require.Equal(t, want, code, "omni %v: %s%s", args, out, stderr)
	}
	run(0, "cmd", "postgres", "probe", "--target", "control", "--wait")
	run(0, "cmd", "postgres", "open-breaker", "--wait", "--data", `{"target":"control","reason":"maintenance window"}`)
	run(0, "cmd", "postgres", "close-breaker", "--wait", "--data", `{"target":"control","reason":"maintenance over"}`)
	run(1, "cmd", "postgres", "probe", "--target", "nowhere", "--any-target", "--wait")
	run(0, "sagas", "start", "initialization", "--subject", "infrastructure")

	type entry struct{ actor, action, subject, outcome, kind, reason, step, err string }
	var all []entry
	eventually(t, 30*time.Second, "the saga's commands in the audit log", func() (bool, string, error) {
		all = nil
		rows, err := db.Query(ctx, `SELECT actor, action, subject, outcome, coalesce(detail->>'kind', ''), coalesce(detail->>'reason', ''),
			coalesce(detail->>'step', ''), coalesce(detail->>'error', '') FROM audit_entries ORDER BY seq`)
		if err != nil {
			return false, "", err
		}
		defer rows.Close()
		sagaSent := 0
		for rows.Next() {
			var e entry
			if err := rows.Scan(&e.actor, &e.action, &e.subject, &e.outcome, &e.kind, &e.reason, &e.step, &e.err); err != nil {
				return false, "", err
			}
			if e.action == "command.sent" && strings.HasPrefix(e.actor, "saga initialization ") {
				sagaSent++
			}
			all = append(all, e)
		}
		return sagaSent > 0, fmt.Sprintf("%d entries, %d sent by the saga", len(all), sagaSent), rows.Err()
	})
	has := func(what string, match func(e entry) bool) entry {
		t.Helper()
		for _, e := range all {
			if match(e) {
				return e
			}
		}
		require.Failf(t, "no such entry", "%s in %+v", what, all)
		return entry{}
	}
	probed := has("the probe's outcome", func(e entry) bool {
		return e.action == "command.completed" && e.kind == "probe_target/v1" && e.outcome == "succeeded"
	})
	require.Equal(t, "postgres/control", probed.subject)
	require.Regexp(t, `^omni run \(.+/\d+\)$`, probed.actor, "an outcome is recorded by the adapter's process")
	opened := has("the forced open", func(e entry) bool { return e.action == "breaker.forced_open" && e.reason == "maintenance window" })
	require.Equal(t, entry{actor: probed.actor, action: "breaker.forced_open", subject: "postgres/control", outcome: "open",
		reason: "maintenance window"}, opened)
	closed := has("the forced close", func(e entry) bool { return e.action == "breaker.forced_closed" && e.reason == "maintenance over" })
	require.Equal(t, "closed", closed.outcome)
	require.Equal(t, "postgres/control", closed.subject)
	has("open_breaker's outcome", func(e entry) bool {
		return e.action == "command.completed" && e.kind == "open_breaker/v1" && e.outcome == "succeeded"
	})
	rejected := has("the rejection's outcome", func(e entry) bool { return e.action == "command.completed" && e.outcome == "rejected" })
	require.Equal(t, "postgres", rejected.subject, "a target that is not configured is not named")
	require.Contains(t, rejected.reason, `postgres target "nowhere" is not configured`)
	has("the rejection's security event", func(e entry) bool { return e.action == "security.rejected" })
	sent := has("a saga's command", func(e entry) bool { return strings.HasPrefix(e.actor, "saga initialization ") })
	require.Regexp(t, `^saga initialization \S+$`, sent.actor)
	require.Equal(t, "sent", sent.outcome)
	require.NotEmpty(t, sent.step)
	require.NotEmpty(t, sent.kind)

	// The helper the poison requeue is to call.
	require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		return audit.RecordRequeue(ctx, tx, "alice@ops (omni poison)", "adapter-postgres", "m-1", "infra.commands.postgres")
	}))
	var requeued entry
	var group, message string
	require.NoError(t, db.QueryRow(ctx, `SELECT actor, subject, outcome, detail->>'group', detail->>'message_id' FROM audit_entries
		WHERE action = $1`, audit.ActionPoisonRequeued).Scan(&requeued.actor, &requeued.subject, &requeued.outcome, &group, &message))
	require.Equal(t, entry{actor: "alice@ops (omni poison)", subject: "infra.commands.postgres", outcome: "requeued"}, requeued)
	require.Equal(t, [2]string{"adapter-postgres", "m-1"}, [2]string{group, message})

	keyFile := filepath.Join(t.TempDir(), "audit.key")
	run(0, "audit", "keygen", keyFile)
	run(0, "audit", "checkpoint", "--key-file", keyFile)
	out, stderr, code := omni(t, env, "audit", "verify", "--key-file", keyFile)
	require.Equal(t, 0, code, stderr+out)
	require.Contains(t, out, "verified: entries 1 to ")
}
