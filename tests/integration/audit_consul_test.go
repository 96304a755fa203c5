package integration_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/audit"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// The relay role given --audit-consul-witness writes every checkpoint to Consul KV too; omni
// audit verify reads it, and catches what the database alone cannot: the log rewritten and its
// checkpoints deleted or re-signed (with another key, or the leaked one), a checkpoint deleted
// from the database.
func TestAudit_the_Consul_witness_catches_a_rewritten_database(t *testing.T) {
	kafka := newKafka(t)
	consul := started(t, containers.StartConsul)
	url, db := newControlDB(t)
	ctx := context.Background()
	keyFile := filepath.Join(t.TempDir(), "audit.key")
	out, stderr, code := omni(t, []string{"DATABASE_URL=" + url}, "audit", "keygen", keyFile)
	require.Equal(t, 0, code, stderr+out)
	signer, err := audit.LoadSigner(keyFile)
	require.NoError(t, err)

	cfg := appConfig(url, kafka.Brokers())
	cfg.Roles = []app.Role{app.RoleRelay}
	cfg.Audit = app.AuditConfig{KeyFile: keyFile, CheckpointInterval: 200 * time.Millisecond, ConsulWitness: consul.Addr}
	port, err := containers.FreePort()
	require.NoError(t, err)
	cfg.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", port)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	withTestKey(&cfg)
	go func() { done <- app.Run(runCtx, cfg, testLogger(t)) }()
	stopped := false
	stopApp := func() {
		if !stopped {
			stopped = true
			stop()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("omni stopped with: %v", err)
			}
		}
	}
	t.Cleanup(stopApp)

	for i := range 10 {
		require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error {
			_, err := audit.Append(ctx, tx, audit.Entry{Actor: "alice@ops (omni cmd)", Action: "command.sent", Subject: fmt.Sprintf("postgres/t%d", i), Outcome: "sent"})
			return err
		}))
	}
	witness, err := audit.NewConsulWitness(consul.Addr, "")
	require.NoError(t, err)
	var held []audit.Checkpoint
	eventually(t, 30*time.Second, "the checkpoint of 11 entries in Consul", func() (bool, string, error) {
		var err error
		held, err = witness.Checkpoints(ctx)
		if err != nil || len(held) == 0 {
			return false, fmt.Sprint(err), nil
		}
		return held[len(held)-1].Size == 11, fmt.Sprint(held[len(held)-1].Size), nil
	})
	stopApp()
	held, err = witness.Checkpoints(ctx)
	require.NoError(t, err)
	for _, c := range held {
		require.Equal(t, "consul", c.From)
	}
	other, err := audit.NewSigner(make([]byte, 32))
	require.NoError(t, err)
	require.ErrorContains(t, witness.Put(ctx, audit.Checkpoint{Size: 11, SignedAt: time.Now(), KeyID: other.KeyID(), Signature: []byte("x")}),
		"the Consul witness already holds another checkpoint of 11 entries", "a witness never replaces what it holds")

	rewrite := func(t *testing.T, tx pgx.Tx) {
		sqlExec(t, tx, `UPDATE audit_entries SET actor = 'mallory' WHERE seq = 5`)
		recompute(t, tx)
		sqlExec(t, tx, `DELETE FROM audit_checkpoints`)
	}
	for _, tc := range []struct {
		name string
		do   func(t *testing.T, tx pgx.Tx)
		kind string
		why  string
	}{
		{"rewritten_recomputed_and_signed_with_another_key", func(t *testing.T, tx pgx.Tx) {
			rewrite(t, tx)
			_, err := audit.Sign(ctx, txBeginner{tx}, other, time.Now())
			require.NoError(t, err)
		}, audit.BadCheck, "(database) does not verify with key " + signer.KeyID()},
		{"rewritten_recomputed_its_checkpoints_deleted", rewrite, audit.Rewritten, "(consul): rewritten between entries"},
		{"rewritten_and_re_signed_with_the_leaked_key", func(t *testing.T, tx pgx.Tx) {
			rewrite(t, tx)
			_, err := audit.Sign(ctx, txBeginner{tx}, signer, time.Now())
			require.NoError(t, err)
		}, audit.Contradict, "the database and the consul hold different heads for 11 entries"},
		{"a_checkpoint_deleted_from_the_database", func(t *testing.T, tx pgx.Tx) {
			sqlExec(t, tx, `DELETE FROM audit_checkpoints WHERE size = $1`, held[0].Size)
		}, audit.Unrecorded, fmt.Sprintf("the consul witness holds the checkpoint of %d entries", held[0].Size)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := db.Begin(ctx)
			require.NoError(t, err)
			defer func() { require.NoError(t, tx.Rollback(ctx)) }()
			sqlExec(t, tx, `SET LOCAL session_replication_role = replica`) // the triggers off, as a superuser can
			tc.do(t, tx)
			r, err := audit.Verify(ctx, tx, signer.Public(), held)
			require.NoError(t, err)
			require.NotNil(t, r.Problem, "not detected")
			require.Equal(t, tc.kind, r.Problem.Kind, r.Problem.Why)
			require.Contains(t, r.Problem.Why, tc.why)
		})
	}

	// On the command line: the untouched log verifies against Consul; rewritten for good with
	// its checkpoints deleted, it verifies without the witness — and not with it.
	env := []string{"DATABASE_URL=" + url}
	out, stderr, code = omni(t, env, "audit", "verify", "--key-file", keyFile, "--consul-witness", consul.Addr)
	require.Equal(t, 0, code, stderr+out)
	require.Contains(t, out, "verified: entries 1 to 11 match the checkpoint")
	require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		sqlExec(t, tx, `SET LOCAL session_replication_role = replica`)
		rewrite(t, tx)
		return nil
	}))
	out, stderr, code = omni(t, env, "audit", "verify", "--key-file", keyFile)
	require.Equal(t, 0, code, stderr+out)
	require.Contains(t, out, "no checkpoint yet", "the database alone cannot tell")
	out, _, code = omni(t, env, "audit", "verify", "--key-file", keyFile, "--consul-witness", consul.Addr)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "NOT VERIFIED: rewritten: the entries do not match the checkpoint of")
	require.Contains(t, out, "(consul): rewritten between entries ")

	// Signing the rewritten log again with the key: the database takes it, the witness does not.
	out, stderr, code = omni(t, env, "audit", "checkpoint", "--key-file", keyFile, "--consul-witness", consul.Addr)
	require.NotEqual(t, 0, code, out)
	require.Contains(t, stderr, "the Consul witness already holds another checkpoint of 11 entries")
}
