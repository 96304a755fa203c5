package integration_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/platform/credentials"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// TestVaultCredentials_omni_run_with_its_control_database_credentials_only_from_vault runs the
// built binary with a DATABASE_URL that names no user and no password and no key-encryption key
// of its own: it migrates, runs every role and its adapter acts on the control database as users
// that Vault makes and rotates, and its data and MAC keys are wrapped by Vault's transit engine.
func TestVaultCredentials_omni_run_with_its_control_database_credentials_only_from_vault(t *testing.T) {
	const ttl, maxTTL = 5 * time.Second, 12 * time.Second
	// Every user Vault makes acts as omni_owner, so what one user creates (the schema) the next
	// one owns too, and dropping a user leaves the tables.
	f := newVaultDB(t, containers.DatabaseRole{Name: "app", DefaultTTL: ttl, MaxTTL: maxTTL,
		CreationStatements: []string{
			`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE omni_owner;`,
			`ALTER ROLE "{{name}}" SET role = 'omni_owner';`,
		}},
		"CREATE ROLE omni_owner NOLOGIN", "GRANT ALL ON SCHEMA public TO omni_owner")
	kafka := newKafka(t)
	require.NoError(t, f.vault.EnableTransit(context.Background(), "transit"))
	_, err := f.vault.Client.Logical().Write("transit/keys/omni-kek", map[string]any{"type": "aes256-gcm96"})
	require.NoError(t, err)
	// OMNI_SEAL_KEK= takes away the suite's test key: the KEK is Vault's alone.
	p := startOmniProcessEnv(t, []string{"VAULT_TOKEN=" + f.vault.RootToken, "OMNI_SEAL_KEK="}, f.targetURL, kafka.Brokers(), "adapters,relay,projection,sagas",
		"--skip-migrate=false", "--database-credentials", appCreds, "--vault-addr", f.vault.Addr, "--probe-interval", "500ms",
		"--seal-vault-transit-key", "omni-kek")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("omni's output:\n%s", p.stderr.String())
		}
	})
	p.ready(t)

	// The tables are there, owned by omni_owner; the commander writes to the outbox as postgres.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := f.pool(t)
	var owner string
	require.NoError(t, db.QueryRow(ctx, "SELECT tableowner FROM pg_tables WHERE tablename = 'event_log'").Scan(&owner))
	require.Equal(t, "omni_owner", owner)
	rows, err := db.Query(ctx, "SELECT convert_from(wrapped, 'UTF8') FROM seal_keys WHERE wrapped IS NOT NULL")
	require.NoError(t, err)
	wrapped, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Len(t, wrapped, 2, "a data key and a MAC key")
	for _, w := range wrapped {
		require.True(t, strings.HasPrefix(w, "vault:v1:"), "keys are wrapped by Vault's transit key: %.12s…", w)
	}
	// The commander holds the keys as omni does: through Vault.
	transit, err := app.OpenSeal(ctx, app.SealConfig{VaultTransit: "transit/omni-kek",
		Vault: credentials.VaultConfig{Addr: f.vault.Addr, Token: f.vault.RootToken}, Refresh: time.Second}, db)
	require.NoError(t, err)
	sealers.Store(db, transit)
	c := newCommander(t, db, kafka.Brokers())

	// Commands on the control database past two maximum TTLs: every one succeeds, as a
	// sequence of Vault's users.
	users := map[string]bool{}
	for start := time.Now(); time.Since(start) < 2*maxTTL+3*time.Second; {
		var res pgQueryResult
		succeeded(t, c.run(events.PostgresQuery{On: events.On{Target: "control"},
			Statement: events.Statement{SQL: "SELECT session_user::text"}}), &res)
		users[firstString(t, res)] = true
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("control database users seen: %d", len(users))
	require.GreaterOrEqual(t, len(users), 2, "the credentials rotated")
	for u := range users {
		require.True(t, strings.HasPrefix(u, "v-"), "user %q is not one of Vault's", u)
	}
	waitHealthy(t, db, "postgres/control")
	require.NotContains(t, p.stderr.String(), f.vault.RootToken, "the Vault token is never logged")
}

// pool is a pool on the database as postgres, closed when the test ends.
func (f *vaultDB) pool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	db, err := app.Connect(context.Background(), f.url)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	return db
}
