package bench_test

import (
	"context"
	"crypto/ed25519"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/audit"
	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/outbox"
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

// BenchmarkAuditedCommandOutcome measures what the audit log costs the adapters' commands: the
// transaction that records a command's outcome (its effect row and two events through the
// outbox, as handlerShapes writes them) with and without the command.completed entry
// audit.RecordCommandOutcome appends in it, at the same concurrency (8 workers). Appends are
// serialised by the log's lock, held until each transaction commits.
func BenchmarkAuditedCommandOutcome(b *testing.B) {
	const txs, workers, perTx = 2000, 8, 2
	db := freshDB(b)
	record := audit.RecordCommandOutcome("omni run (bench)")
	// As the adapters do: the entry last in the transaction, the log's lock held until the commit.
	audited := func(ctx context.Context, tx pgx.Tx, msgs []*message.Message) error {
		if err := outbox.Publish(ctx, tx, "bench.events", msgs...); err != nil {
			return err
		}
		return record(ctx, tx, events.ProbeTarget{Adapter: events.AdapterPostgres, Target: "orders"}, events.CommandSucceeded{
			CommandID: msgs[0].UUID, Command: "probe_target/v1", AdapterID: "postgres/orders", Attempts: 1, CompletedAt: time.Now()})
	}
	plainPass := func() float64 {
		return handlerShapes(b, db, handlerMessages(b, txs, perTx), workers, outboxPublish("bench.events")) / perTx
	}
	auditedPass := func() float64 { return handlerShapes(b, db, handlerMessages(b, txs, perTx), workers, audited) / perTx }
	auditedRate, plainRate, rounds := alternate(b, auditedPass, plainPass)
	results.Record(b, "command_outcome_tx_per_s", plainRate, "tx/s")
	results.Record(b, "command_outcome_audited_tx_per_s", auditedRate, "tx/s")
	ratio := results.Ratio(b, "command_outcome_audited_over_plain_x", "command_outcome_audited_tx_per_s", "command_outcome_tx_per_s")
	fmt.Printf("command outcome tx: %.0f tx/s plain, %.0f tx/s with its audit entry; ratio %.2f (%d workers, mean of %d rounds)\n",
		plainRate, auditedRate, ratio, workers, rounds)
}
