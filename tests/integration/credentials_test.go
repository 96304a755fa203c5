package integration_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/postgres"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/platform/credentials"
	"github.com/omninode/omnibase-infra/tests/containers"
)

const appCreds = "vault-db:database/creds/app"

// withVault gives the app the test's Vault and a quick look at what is due.
func withVault(f *vaultDB) func(*app.Config) {
	return func(c *app.Config) {
		c.Vault = f.vaultConfig()
		c.Credentials.CheckInterval = 100 * time.Millisecond
	}
}

func TestVaultCredentials_dynamic_postgres_users_renewed_and_rotated_under_load_fail_no_command(t *testing.T) {
	const ttl, maxTTL = 4 * time.Second, 10 * time.Second
	f := newVaultDB(t, containers.DatabaseRole{Name: "app", DefaultTTL: ttl, MaxTTL: maxTTL},
		"CREATE TABLE items (n int PRIMARY KEY, who text NOT NULL)")
	a := startPostgresAdapter(t, []postgres.Target{{Name: "app", URL: f.targetURL, Credentials: appCreds}}, withVault(f))

	// Commands through the adapter for longer than two maximum TTLs: every lease is renewed until
	// its maximum TTL is near, then replaced by a new user.
	deadline := time.Now().Add(2*maxTTL + 5*time.Second)
	var sent atomic.Int64
	var mu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				caused := a.exec("app", "INSERT INTO items (n, who) VALUES ($1, session_user)", sqlArgs(t, w*1_000_000+i)...)
				sent.Add(1)
				if _, ok := outcome(t, caused).(events.CommandSucceeded); !ok {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%#v", outcome(t, caused)))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	require.Empty(t, failures, "commands failed while the credentials rotated")

	rows := f.queryAll(t, "SELECT n::text FROM items")
	require.Len(t, rows, int(sent.Load()), "every command inserted its row")
	users := f.queryAll(t, "SELECT DISTINCT who FROM items")
	reads, renewals := f.requests.succeeded(readAppCreds), f.requests.succeeded(renewLease)
	t.Logf("%d commands in %s, all succeeded; %d users (leases read: %d, renewals: %d)", sent.Load(), 2*maxTTL+5*time.Second,
		len(users), reads, renewals)
	require.GreaterOrEqual(t, len(users), 3, "a new user at least every max TTL (%s)", maxTTL)
	for _, u := range users {
		require.True(t, strings.HasPrefix(u, "v-"), "user %q is not one of Vault's", u)
	}
	// One read per lease: the users seen, and perhaps the one taken just before the end.
	require.GreaterOrEqual(t, reads, len(users))
	require.LessOrEqual(t, reads, len(users)+1)
	require.GreaterOrEqual(t, renewals, 2*len(users)-2, "leases are renewed before they are replaced")
}

func TestVaultCredentials_a_revoked_lease_is_noticed_on_use_and_replaced(t *testing.T) {
	f := newVaultDB(t, containers.DatabaseRole{Name: "app", DefaultTTL: time.Hour, MaxTTL: 2 * time.Hour})
	a := startPostgresAdapter(t, []postgres.Target{{Name: "app", URL: f.targetURL, Credentials: appCreds}}, withVault(f))
	before := firstString(t, a.rows("app", "SELECT session_user::text"))
	leases := f.leases(t)
	require.Len(t, leases, 1)

	// An operator revokes the lease: Vault ends the user's sessions and drops it.
	_, err := f.vault.Client.Logical().Write("sys/leases/revoke", map[string]any{"lease_id": leases[0]})
	require.NoError(t, err)
	require.Empty(t, f.queryAll(t, "SELECT rolname::text FROM pg_roles WHERE rolname = '"+before+"'"), "the revoked user is gone")

	// The next command meets the refusal, the cache reads new credentials, and the command,
	// retried as transient, succeeds.
	after := firstString(t, a.rows("app", "SELECT session_user::text"))
	require.NotEqual(t, before, after)
	require.Equal(t, 2, f.requests.succeeded(readAppCreds), "one new lease for the refusal")
	for range 5 {
		require.Equal(t, after, firstString(t, a.rows("app", "SELECT session_user::text")))
	}
	require.Equal(t, 2, f.requests.succeeded(readAppCreds))
}

func TestVaultCredentials_vault_stopped_and_started_cached_credentials_keep_working_and_renewal_resumes(t *testing.T) {
	const ttl = 30 * time.Second
	f := newVaultDB(t, containers.DatabaseRole{Name: "app", DefaultTTL: ttl, MaxTTL: 10 * time.Minute})
	a := startPostgresAdapter(t, []postgres.Target{{Name: "app", URL: f.targetURL, Credentials: appCreds}}, withVault(f))
	start := time.Now()
	user := firstString(t, a.rows("app", "SELECT session_user::text"))

	ctx := context.Background()
	require.NoError(t, f.vault.Stop(ctx))
	// Vault is away past the renewal due two thirds into the lease: the commands go on with the
	// credentials held, on new connections too (the server ends the sessions of the user).
	f.terminateSessions(t, user)
	for time.Since(start) < ttl*2/3+3*time.Second {
		require.Equal(t, user, firstString(t, a.rows("app", "SELECT session_user::text")))
		time.Sleep(500 * time.Millisecond)
	}
	require.Equal(t, 0, f.requests.succeeded(renewLease))
	require.Positive(t, f.requests.attempted(renewLease), "the renewal was tried while Vault was away")
	require.NoError(t, f.vault.Start(ctx))
	eventually(t, ttl, "a renewal after Vault is back", func() (bool, string, error) {
		n := f.requests.succeeded(renewLease)
		return n > 0, strconv.Itoa(n) + " renewals", nil
	})
	// Past the first lease's end, the same user still logs in: its lease was renewed.
	time.Sleep(time.Until(start.Add(ttl + 2*time.Second)))
	f.terminateSessions(t, user)
	require.Equal(t, user, firstString(t, a.rows("app", "SELECT session_user::text")))
	require.Equal(t, 1, f.requests.succeeded(readAppCreds), "no new lease was needed")
}

func TestVaultCredentials_the_cache_reads_each_secret_once_per_lease(t *testing.T) {
	f := newVaultDB(t, containers.DatabaseRole{Name: "app", DefaultTTL: time.Hour, MaxTTL: 2 * time.Hour})
	ctx := context.Background()
	require.NoError(t, f.vault.EnableKV(ctx, "kv"))
	_, err := f.vault.Client.KVv2("kv").Put(ctx, "omni/kafka", map[string]any{"password": "kafka-s3cret", "username": "omni"})
	require.NoError(t, err)
	v, err := credentials.NewVault(f.vaultConfig())
	require.NoError(t, err)
	cache, err := credentials.New(credentials.Config{Vault: v}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)

	for _, tc := range []struct {
		ref, request string
		check        func(credentials.Secret)
	}{
		{appCreds, readAppCreds, func(s credentials.Secret) {
			require.True(t, strings.HasPrefix(s.Username, "v-"))
			require.NotEmpty(t, s.LeaseID)
			require.InDelta(t, time.Hour.Seconds(), s.LeaseDuration.Seconds(), 1)
		}},
		{"vault-kv:kv/omni/kafka#password", "GET /v1/kv/data/omni/kafka", func(s credentials.Secret) {
			require.Equal(t, "kafka-s3cret", s.Password)
		}},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			ref, err := credentials.ParseRef(tc.ref)
			require.NoError(t, err)
			var wg sync.WaitGroup
			got := make([]credentials.Secret, 32)
			for i := range got {
				wg.Go(func() {
					s, err := cache.Get(ctx, ref)
					require.NoError(t, err)
					got[i] = s
				})
			}
			wg.Wait()
			for range 10 {
				s, err := cache.Get(ctx, ref)
				require.NoError(t, err)
				require.Equal(t, got[0], s)
			}
			require.Equal(t, 1, f.requests.attempted(tc.request), "42 readers, one request")
			for _, s := range got {
				require.Equal(t, got[0], s)
			}
			tc.check(got[0])
		})
	}
}
