package integration_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/audit"
	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// omni audit report says who did what in the period, how it ended, the counts, the security
// events and whether a verified checkpoint covers it — in JSON, CSV and Markdown alike — and says
// plainly when the period is not covered, or the log does not verify.
func TestAudit_report_in_each_format(t *testing.T) {
	url, db := newControlDB(t)
	ctx := context.Background()
	day := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	add := func(e audit.Entry) {
		require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error { _, err := audit.Append(ctx, tx, e); return err }))
	}
	add(audit.Entry{At: day.Add(-time.Hour), Actor: "carol@ops (omni cmd)", Action: "command.sent", Subject: "postgres/orders", Outcome: "sent"})
	add(audit.Entry{At: day.Add(time.Hour), Actor: "alice@ops (omni cmd)", Action: "command.sent", Subject: "postgres/orders", Outcome: "sent"})
	add(audit.Entry{At: day.Add(2 * time.Hour), Actor: "omni run (a/1)", Action: "command.completed", Subject: "postgres/orders", Outcome: "succeeded"})
	add(audit.Entry{At: day.Add(3 * time.Hour), Actor: "alice@ops (omni cmd)", Action: "replay.swapped", Subject: "infrastate", Outcome: "swapped"})
	require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		return audit.RecordSecurity(ctx, tx, nil, events.SecurityEventRecorded{Type: events.SecurityRejected, Actor: "bob@ops (omni cmd)",
			Subject: "postgres/nowhere", Reason: `rejected: postgres target "nowhere" is not configured`, At: day.Add(4 * time.Hour)})
	}))
	add(audit.Entry{At: day.Add(30 * time.Hour), Actor: "carol@ops (omni cmd)", Action: "command.sent", Subject: "postgres/orders", Outcome: "sent"})

	keyFile := filepath.Join(t.TempDir(), "audit.key")
	env := []string{"DATABASE_URL=" + url}
	out, stderr, code := omni(t, env, "audit", "keygen", keyFile)
	require.Equal(t, 0, code, stderr+out)
	report := func(format string) (string, int) {
		out, stderr, code := omni(t, env, "audit", "report", "--since", "2026-11-30", "--until", "2026-12-01T00:00:00Z", "-o", format, "--key-file", keyFile)
		require.Contains(t, []int{0, 1}, code, stderr)
		return out, code
	}

	// No checkpoint yet: verified, but not covered, and it says so.
	out, code = report("markdown")
	require.Equal(t, 0, code)
	require.Contains(t, out, "NOT COVERED: the audit log verifies, but no signed checkpoint covers the period's entries 2 to 5")

	out, stderr, code = omni(t, env, "audit", "checkpoint", "--key-file", keyFile)
	require.Equal(t, 0, code, stderr+out)

	out, code = report("json")
	require.Equal(t, 0, code)
	var r audit.ComplianceReport
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	require.True(t, r.Coverage.Verified)
	require.True(t, r.Coverage.Covered, r.Coverage.Statement)
	require.Equal(t, int64(6), r.Coverage.Checkpoint.Size)
	require.Equal(t, []int64{2, 3, 4, 5}, seqs(r.Entries), "the period's entries only")
	require.Equal(t, audit.ReportEntry{Seq: 2, At: day.Add(time.Hour), Actor: "alice@ops (omni cmd)", Action: "command.sent",
		Subject: "postgres/orders", Outcome: "sent"}, r.Entries[0])
	require.Equal(t, []audit.Count{{Value: "alice@ops (omni cmd)", N: 2}, {Value: "bob@ops (omni cmd)", N: 1}, {Value: "omni run (a/1)", N: 1}}, r.ByActor)
	require.Equal(t, []audit.Count{{Value: "command.completed", N: 1}, {Value: "command.sent", N: 1}, {Value: "replay.swapped", N: 1},
		{Value: "security.rejected", N: 1}}, r.ByAction)
	require.Contains(t, r.ByOutcome, audit.Count{Value: "refused", N: 1})
	require.Len(t, r.Security, 1)
	require.Equal(t, `rejected: postgres target "nowhere" is not configured`, r.Security[0].Reason)
	require.Equal(t, "bob@ops (omni cmd)", r.Security[0].Actor)
	require.Contains(t, r.Coverage.Statement, "covered: the period's entries 2 to 5 are verified and covered by the checkpoint of 6 entries")

	out, code = report("csv")
	require.Equal(t, 0, code)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err, out)
	require.Equal(t, []string{"section", "seq", "at", "actor", "action", "subject", "outcome", "value", "count", "note"}, rows[0])
	require.Equal(t, "coverage", rows[1][0])
	require.Equal(t, "covered", rows[1][6])
	require.Equal(t, "6", rows[1][7])
	sections := map[string]int{}
	for _, row := range rows[1:] {
		sections[row[0]]++
	}
	require.Equal(t, map[string]int{"coverage": 1, "entry": 4, "security": 1, "by_actor": 3, "by_action": 4, "by_outcome": 4}, sections)
	require.Contains(t, rows, []string{"security", "5", day.Add(4 * time.Hour).Format(time.RFC3339Nano), "bob@ops (omni cmd)", "security.rejected",
		"postgres/nowhere", "refused", "", "", `rejected: postgres target "nowhere" is not configured`})
	require.Contains(t, rows, []string{"by_actor", "", "", "", "", "", "", "alice@ops (omni cmd)", "2", ""})

	out, code = report("markdown")
	require.Equal(t, 0, code)
	for _, want := range []string{
		"# Audit report, 2026-11-30T00:00:00Z to 2026-12-01T00:00:00Z",
		"covered: the period's entries 2 to 5 are verified and covered by the checkpoint of 6 entries",
		"| alice@ops (omni cmd) | 2 |",
		"| security.rejected | 1 |",
		`| 5 | 2026-11-30T04:00:00Z | bob@ops (omni cmd) | rejected | postgres/nowhere | rejected: postgres target "nowhere" is not configured |`,
		"| 3 | 2026-11-30T02:00:00Z | omni run (a/1) | command.completed | postgres/orders | succeeded |",
	} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, "carol", "entries outside the period are left out")

	// An entry of the period appended after the checkpoint: not covered, and named.
	add(audit.Entry{At: day.Add(5 * time.Hour), Actor: "dave@ops (omni cmd)", Action: "command.sent", Subject: "consul/agent", Outcome: "sent"})
	out, code = report("json")
	require.Equal(t, 0, code)
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.False(t, r.Coverage.Covered)
	require.Contains(t, r.Coverage.Statement, "NOT COVERED: the audit log verifies, but the latest verified checkpoint (6 entries")
	require.Contains(t, r.Coverage.Statement, "entries 7 to 7")

	// A tampered log: not verified, exit status 1, and the report says it cannot be relied on.
	require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL session_replication_role = replica`); err != nil { // the triggers off, as a superuser can
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE audit_entries SET actor = 'nobody' WHERE seq = 2`)
		return err
	}))
	out, code = report("markdown")
	require.Equal(t, 1, code)
	require.Contains(t, out, "NOT VERIFIED: the audit log does not verify (changed:")
	require.True(t, bytes.Contains([]byte(out), []byte("cannot be relied on")))
}

func seqs(es []audit.ReportEntry) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}
