package bench_test

import (
	"context"
	"crypto/ed25519"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/audit"
)

var auditEntries = flag.Int("audit-entries", 1_000_000, "entries of the audit log BenchmarkAuditVerify verifies")

// BenchmarkAuditVerify times audit.Verify — read every entry, recompute its leaf, the tree, and
// hold it to a signed checkpoint — over a log of -audit-entries (1,000,000) entries, as
// `omni audit verify` runs it.
func BenchmarkAuditVerify(b *testing.B) {
	ctx := context.Background()
	db := freshDB(b)
	n := *auditEntries
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	rows := make([][]any, n)
	for i := range rows {
		e := audit.Entry{Seq: int64(i + 1), At: at.Add(time.Duration(i) * time.Millisecond), Actor: fmt.Sprintf("operator-%d@ops (omni cmd)", i%7),
			Action: "command.sent", Subject: fmt.Sprintf("postgres/t%d", i%9), Outcome: "sent",
			Detail: map[string]string{"command_id": fmt.Sprintf("%036d", i), "kind": "postgres_query/v1"}}
		leaf := e.Leaf()
		rows[i] = []any{e.Seq, e.At, e.Actor, e.Action, e.Subject, e.Outcome, e.Detail, leaf[:]}
	}
	_, err := db.CopyFrom(ctx, pgx.Identifier{"audit_entries"}, []string{"seq", "at", "actor", "action", "subject", "outcome", "detail", "leaf"},
		pgx.CopyFromRows(rows))
	require.NoError(b, err)
	signer, err := audit.NewSigner(make([]byte, ed25519.SeedSize))
	require.NoError(b, err)
	_, err = audit.Sign(ctx, db, signer, time.Now())
	require.NoError(b, err)
	_, err = db.Exec(ctx, `VACUUM ANALYZE audit_entries`)
	require.NoError(b, err)

	var total time.Duration
	rounds := 0
	for b.Loop() {
		start := time.Now()
		r, err := audit.Verify(ctx, db, signer.Public(), nil)
		total += time.Since(start)
		require.NoError(b, err)
		require.Nil(b, r.Problem)
		require.Equal(b, int64(n), r.Verified.Size)
		rounds++
	}
	secs := total.Seconds() / float64(rounds)
	results.Record(b, "audit_verify_1m_s", secs*1_000_000/float64(n), "s")
	fmt.Printf("audit verify: %d entries in %.2f s (%.2f s per million; target under 10 s), mean of %d rounds\n", n, secs, secs*1_000_000/float64(n), rounds)
}
