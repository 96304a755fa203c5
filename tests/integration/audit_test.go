package integration_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/audit"
	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/platform/merkle"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// auditRig is a control database holding a 40-entry audit log with checkpoints at 16 and 30,
// their witness on Kafka, and the key that signed them in a file.
type auditRig struct {
	url, keyFile string
	brokers      []string
	db           *pgxpool.Pool
	signer       *audit.Signer
	witnessed    []audit.Checkpoint
}

func newAuditRig(t *testing.T) auditRig {
	t.Helper()
	kafka := newKafka(t)
	url, db := newControlDB(t)
	startRelay(t, db, kafka.Brokers())
	ctx := context.Background()
	seed := make([]byte, 32)
	_, _ = rand.Read(seed)
	keyFile := filepath.Join(t.TempDir(), "audit.key")
	require.NoError(t, os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(seed)+"\n"), 0o600))
	signer, err := audit.LoadSigner(keyFile)
	require.NoError(t, err)
	for i := 1; i <= 40; i++ {
		e := audit.Entry{Actor: fmt.Sprintf("operator-%d@ops", i%3), Action: []string{"command.sent", "replay.swapped", "process.started"}[i%3],
			Subject: fmt.Sprintf("postgres/t%d", i%5), Outcome: "sent", Detail: map[string]string{"command_id": fmt.Sprint("c-", i), "kind": "postgres_query/v1"}}
		require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error { _, err := audit.Append(ctx, tx, e); return err }))
		if i == 16 || i == 30 {
			c, err := audit.Sign(ctx, db, signer, time.Now())
			require.NoError(t, err)
			require.Equal(t, int64(i), c.Size)
		}
	}
	rig := auditRig{url: url, keyFile: keyFile, brokers: kafka.Brokers(), db: db, signer: signer}
	eventually(t, 30*time.Second, "both checkpoints on the Kafka witness", func() (bool, string, error) {
		var err error
		rig.witnessed, err = readWitness(t, rig.brokers)
		return len(rig.witnessed) == 2, fmt.Sprint(len(rig.witnessed)), err
	})
	return rig
}

func readWitness(t *testing.T, brokers []string) ([]audit.Checkpoint, error) {
	var out []audit.Checkpoint
	for _, r := range consumeAll(t, brokers, audit.Topic, 500*time.Millisecond, 100) {
		var e events.AuditCheckpointed
		if err := json.Unmarshal(r.Value, &e); err != nil {
			return nil, err
		}
		c, err := audit.FromEvent(e, "kafka")
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// tamper is one way of rewriting the audit tables, run by a superuser with the triggers off.
type tamper struct {
	name     string
	do       func(t *testing.T, tx pgx.Tx)
	kind     string
	seq      int64 // the entry named; 0 when a range is
	from, to int64
}

// recompute rewrites every leaf to match its entry, as someone without the signing key would.
func recompute(t *testing.T, tx pgx.Tx) {
	rows, err := tx.Query(context.Background(), `SELECT seq, at, actor, action, subject, outcome, detail FROM audit_entries ORDER BY seq`)
	require.NoError(t, err)
	var all []audit.Entry
	for rows.Next() {
		var e audit.Entry
		require.NoError(t, rows.Scan(&e.Seq, &e.At, &e.Actor, &e.Action, &e.Subject, &e.Outcome, &e.Detail))
		all = append(all, e)
	}
	require.NoError(t, rows.Err())
	for _, e := range all {
		leaf := e.Leaf()
		sqlExec(t, tx, `UPDATE audit_entries SET leaf = $2 WHERE seq = $1`, e.Seq, leaf[:])
	}
}

func sqlExec(t *testing.T, tx pgx.Tx, sql string, args ...any) {
	t.Helper()
	_, err := tx.Exec(context.Background(), sql, args...)
	require.NoError(t, err, sql)
}

// The tamper corpus: every field of entries across the log changed, rows deleted, moved,
// inserted, the tail truncated, the tree recomputed without the key, checkpoints replaced or
// forged — each found by audit.Verify with the right entry (or range) and how; the untouched log
// verifies; and omni audit verify says the same from the command line, the Kafka witness included.
func TestAudit_verify_finds_every_tampering_of_the_corpus_and_names_the_entry(t *testing.T) {
	rig := newAuditRig(t)
	ctx := context.Background()
	pub := rig.signer.Public()

	r, err := audit.Verify(ctx, rig.db, pub, rig.witnessed)
	require.NoError(t, err)
	require.Nil(t, r.Problem, "the untouched log verifies")
	require.Equal(t, int64(40), r.Entries)
	require.Equal(t, int64(30), r.Verified.Size)
	require.Equal(t, 4, r.Checkpoints, "two in the database, two on Kafka")

	var corpus []tamper
	fields := map[string]string{
		"actor": `actor = 'mallory'`, "action": `action = 'nothing.happened'`, "subject": `subject = 'postgres/other'`,
		"outcome": `outcome = 'succeeded'`, "detail": `detail = detail || '{"kind":"postgres_execute/v1"}'`, "at": `at = at + interval '1 second'`,
	}
	for _, seq := range []int64{1, 7, 16, 17, 29, 30, 31, 40} {
		for field, set := range fields {
			corpus = append(corpus, tamper{name: fmt.Sprintf("entry %d's %s changed", seq, field), kind: audit.Changed, seq: seq,
				do: func(t *testing.T, tx pgx.Tx) { sqlExec(t, tx, `UPDATE audit_entries SET `+set+` WHERE seq = $1`, seq) }})
		}
	}
	for _, seq := range []int64{1, 10, 29, 35} {
		corpus = append(corpus, tamper{name: fmt.Sprintf("entry %d deleted", seq), kind: audit.Missing, seq: seq,
			do: func(t *testing.T, tx pgx.Tx) { sqlExec(t, tx, `DELETE FROM audit_entries WHERE seq = $1`, seq) }})
	}
	for _, pair := range [][2]int64{{3, 5}, {20, 33}} {
		corpus = append(corpus, tamper{name: fmt.Sprintf("entries %d and %d swapped", pair[0], pair[1]), kind: audit.Reordered, seq: pair[0],
			do: func(t *testing.T, tx pgx.Tx) {
				sqlExec(t, tx, `UPDATE audit_entries SET seq = -seq WHERE seq = $1 OR seq = $2`, pair[0], pair[1])
				sqlExec(t, tx, `UPDATE audit_entries SET seq = CASE WHEN seq = -$1::bigint THEN $2::bigint ELSE $1::bigint END WHERE seq < 0`, pair[0], pair[1])
			}})
	}
	corpus = append(corpus, tamper{name: "an entry inserted at 8, the rest renumbered", kind: audit.Inserted, seq: 9,
		do: func(t *testing.T, tx pgx.Tx) {
			sqlExec(t, tx, `UPDATE audit_entries SET seq = -(seq + 1) WHERE seq >= 8`)
			sqlExec(t, tx, `UPDATE audit_entries SET seq = -seq WHERE seq < 0`)
			e := audit.Entry{Seq: 8, At: time.Now().UTC().Truncate(time.Microsecond), Actor: "mallory", Action: "command.sent", Subject: "postgres/t1", Outcome: "sent"}
			leaf := e.Leaf()
			sqlExec(t, tx, `INSERT INTO audit_entries VALUES (8, $1, $2, $3, $4, $5, '{}', $6)`, e.At, e.Actor, e.Action, e.Subject, e.Outcome, leaf[:])
		}})
	for _, c := range []struct{ from, to int64 }{{25, 30}, {2, 16}} { // to: the first checkpoint past the cut
		corpus = append(corpus, tamper{name: fmt.Sprintf("the tail truncated from %d", c.from), kind: audit.Truncated, seq: c.from, from: c.from, to: c.to,
			do: func(t *testing.T, tx pgx.Tx) { sqlExec(t, tx, `DELETE FROM audit_entries WHERE seq >= $1`, c.from) }})
	}
	for _, c := range []struct{ seq, from, to int64 }{{12, 1, 16}, {16, 1, 16}, {20, 17, 30}} {
		corpus = append(corpus, tamper{name: fmt.Sprintf("entry %d changed and every leaf recomputed", c.seq), kind: audit.Rewritten, from: c.from, to: c.to,
			do: func(t *testing.T, tx pgx.Tx) {
				sqlExec(t, tx, `UPDATE audit_entries SET actor = 'mallory' WHERE seq = $1`, c.seq)
				recompute(t, tx)
			}})
	}
	corpus = append(corpus, tamper{name: "entry 20 rewritten, leaves recomputed, the database's checkpoints deleted: the Kafka witness", kind: audit.Rewritten, from: 17, to: 30,
		do: func(t *testing.T, tx pgx.Tx) {
			sqlExec(t, tx, `UPDATE audit_entries SET outcome = 'refused' WHERE seq = 20`)
			recompute(t, tx)
			sqlExec(t, tx, `DELETE FROM audit_checkpoints`)
		}})
	corpus = append(corpus, tamper{name: "checkpoint 30 replaced by one signed with another key", kind: audit.BadCheck,
		do: func(t *testing.T, tx pgx.Tx) {
			other, err := audit.NewSigner(make([]byte, 32))
			require.NoError(t, err)
			sqlExec(t, tx, `DELETE FROM audit_checkpoints WHERE size = 30`)
			_, err = audit.Sign(context.Background(), txBeginner{tx}, other, time.Now())
			require.NoError(t, err)
		}})
	corpus = append(corpus, tamper{name: "checkpoint 30 re-signed over a rewritten log with the leaked key", kind: audit.Contradict, from: 1, to: 30,
		do: func(t *testing.T, tx pgx.Tx) {
			sqlExec(t, tx, `UPDATE audit_entries SET actor = 'mallory' WHERE seq = 20`)
			recompute(t, tx)
			sqlExec(t, tx, `DELETE FROM audit_checkpoints WHERE size >= 30`)
			sqlExec(t, tx, `DELETE FROM audit_entries WHERE seq > 30`)
			_, err := audit.Sign(context.Background(), txBeginner{tx}, rig.signer, time.Now())
			require.NoError(t, err)
		}})

	for _, tc := range corpus {
		tx, err := rig.db.Begin(ctx)
		require.NoError(t, err)
		sqlExec(t, tx, `SET LOCAL session_replication_role = replica`) // the triggers off, as a superuser can
		tc.do(t, tx)
		r, err := audit.Verify(ctx, tx, pub, rig.witnessed)
		require.NoError(t, tx.Rollback(ctx))
		require.NoError(t, err, tc.name)
		require.NotNil(t, r.Problem, "%s: not detected", tc.name)
		require.Equal(t, tc.kind, r.Problem.Kind, "%s: %s", tc.name, r.Problem.Why)
		require.Equal(t, tc.seq, r.Problem.Seq, "%s: %s", tc.name, r.Problem.Why)
		if tc.to != 0 {
			require.Equal(t, [2]int64{tc.from, tc.to}, [2]int64{r.Problem.From, r.Problem.To}, "%s: %s", tc.name, r.Problem.Why)
		}
	}
	t.Logf("tamper corpus: %d tamperings, each detected with its entry named", len(corpus))

	// Each rollback left the log as it was.
	r, err = audit.Verify(ctx, rig.db, pub, rig.witnessed)
	require.NoError(t, err)
	require.Nil(t, r.Problem)

	// An inclusion proof of entry 7 against the signed head of 30 entries.
	p, err := audit.Prove(ctx, rig.db, 7, 30)
	require.NoError(t, err)
	require.Equal(t, r.Verified.Root, p.Root)
	require.NoError(t, merkle.VerifyInclusion(6, 30, p.Leaf, p.Path, r.Verified.Root))

	// The command line: the untouched log verifies; the log rewritten for good, its leaves and
	// the database's checkpoints with it, is caught by the witness on Kafka.
	env := []string{"DATABASE_URL=" + rig.url, "KAFKA_BROKERS=" + strings.Join(rig.brokers, ",")}
	out, stderr, code := omni(t, env, "audit", "verify", "--key-file", rig.keyFile)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "40 entries")
	require.Contains(t, out, "verified: entries 1 to 30 match the checkpoint")
	out, stderr, code = omni(t, env, "audit", "prove", "7", "--size", "30")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, `"check": "verifies (RFC 6962 inclusion proof)"`)

	require.NoError(t, pgtx.Run(ctx, rig.db, func(tx pgx.Tx) error {
		sqlExec(t, tx, `SET LOCAL session_replication_role = replica`)
		sqlExec(t, tx, `UPDATE audit_entries SET subject = 'postgres/elsewhere' WHERE seq = 22`)
		recompute(t, tx)
		sqlExec(t, tx, `DELETE FROM audit_checkpoints`)
		return nil
	}))
	out, _, code = omni(t, env, "audit", "verify", "--key-file", rig.keyFile)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "NOT VERIFIED: rewritten: the entries do not match the checkpoint of 30 entries")
	require.Contains(t, out, "(kafka): rewritten between entries 17 and 30")

	_, err = rig.db.Exec(ctx, `UPDATE audit_entries SET actor = 'x' WHERE seq = 1`)
	require.ErrorContains(t, err, "audit_entries is append-only: UPDATE refused", "an ordinary session cannot change the log")
	_, err = rig.db.Exec(ctx, `TRUNCATE audit_entries`)
	require.ErrorContains(t, err, "audit_entries is append-only: TRUNCATE refused")
}

// txBeginner lets audit.Sign run inside the test's transaction, as a savepoint.
type txBeginner struct{ tx pgx.Tx }

func (b txBeginner) Begin(ctx context.Context) (pgx.Tx, error) { return b.tx.Begin(ctx) }

// A relay process given the key checkpoints the log as it grows; its start and an operator's
// replay are entries; omni audit verify holds them to the process's checkpoints on Kafka.
func TestAudit_the_relay_checkpoints_the_log_as_it_grows(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	ctx := context.Background()
	keyFile := filepath.Join(t.TempDir(), "audit.key")
	env := []string{"DATABASE_URL=" + url, "KAFKA_BROKERS=" + strings.Join(kafka.Brokers(), ",")}
	out, stderr, code := omni(t, env, "audit", "keygen", keyFile)
	require.Equal(t, 0, code, stderr)
	require.Regexp(t, `^key [0-9a-f]{16}, public key \S+\n$`, out)

	cfg := appConfig(url, kafka.Brokers())
	cfg.Roles = []app.Role{app.RoleRelay, app.RoleProjection}
	cfg.Audit = app.AuditConfig{KeyFile: keyFile, CheckpointInterval: 300 * time.Millisecond}
	startApp(t, cfg)
	checkpointed := func(size int64) {
		eventually(t, 30*time.Second, fmt.Sprintf("a checkpoint of %d entries, witnessed on Kafka", size), func() (bool, string, error) {
			witnessed, err := readWitness(t, kafka.Brokers())
			if err != nil || len(witnessed) == 0 {
				return false, fmt.Sprint(err), nil
			}
			last := witnessed[len(witnessed)-1].Size
			return last == size, fmt.Sprint(last), nil
		})
	}
	checkpointed(1)
	var actor, action string
	var detail map[string]string
	require.NoError(t, db.QueryRow(ctx, `SELECT actor, action, detail FROM audit_entries WHERE seq = 1`).Scan(&actor, &action, &detail))
	require.Equal(t, "process.started", action)
	require.Regexp(t, `^omni run \(.+/\d+\)$`, actor)
	require.Equal(t, "relay,projection", detail["roles"])
	for k, v := range detail {
		require.NotContains(t, v, "postgres://", "the configuration at start holds no URL: %s", k)
	}

	out, stderr, code = omni(t, env, "replay", "--verify")
	require.Equal(t, 0, code, stderr+out)
	require.NoError(t, db.QueryRow(ctx, `SELECT action FROM audit_entries WHERE seq = 2`).Scan(&action))
	require.Equal(t, "replay.verified", action)
	checkpointed(2)

	out, stderr, code = omni(t, env, "audit", "verify", "--key-file", keyFile)
	require.Equal(t, 0, code, stderr+out)
	require.Contains(t, out, "2 entries")
	require.Contains(t, out, "verified: entries 1 to 2 match the checkpoint")
}
