package integration_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/platform/credentials"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// vaultRequests counts the requests a Vault client sent and those Vault answered with success,
// by "METHOD /path".
type vaultRequests struct {
	next http.RoundTripper
	mu   sync.Mutex
	sent map[string]int
	ok   map[string]int
}

func newVaultRequests() *vaultRequests {
	return &vaultRequests{next: http.DefaultTransport, sent: map[string]int{}, ok: map[string]int{}}
}

func (c *vaultRequests) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	key := r.Method + " " + r.URL.Path
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent[key]++
	if err == nil && resp.StatusCode < 300 {
		c.ok[key]++
	}
	return resp, err
}

// succeeded is how many requests to key Vault answered with success.
func (c *vaultRequests) succeeded(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ok[key]
}

func (c *vaultRequests) attempted(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent[key]
}

// The requests of the database engine's role "app" mounted at "database".
const (
	readAppCreds = "GET /v1/database/creds/app"
	renewLease   = "PUT /v1/sys/leases/renew"
)

// vaultDB is a PostgreSQL server of the test's own that checks passwords, one database on it,
// and a Vault server whose database engine ("database") makes users of that database.
type vaultDB struct {
	pg    *containers.Postgres
	vault *containers.Vault
	// url of the database as postgres; targetURL without a user, for credentials from Vault.
	url, targetURL string
	requests       *vaultRequests
}

// newVaultDB sets it up: setup runs on the database as postgres before the role is created.
func newVaultDB(t *testing.T, role containers.DatabaseRole, setup ...string) *vaultDB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	f := &vaultDB{pg: started(t, containers.StartPostgres), requests: newVaultRequests()}
	require.NoError(t, f.pg.RequirePasswords(ctx))
	f.url = f.pg.NewDatabase(t)
	u, err := url.Parse(f.url)
	require.NoError(t, err)
	database := strings.TrimPrefix(u.Path, "/")
	u.User = nil
	f.targetURL = u.String()
	conn, err := pgx.Connect(ctx, f.url)
	require.NoError(t, err)
	for _, sql := range setup {
		_, err := conn.Exec(ctx, sql)
		require.NoError(t, err, sql)
	}
	require.NoError(t, conn.Close(ctx))
	f.vault = started(t, containers.StartVault)
	require.NoError(t, f.vault.EnableDatabase(ctx, "database", f.pg, database, role))
	return f
}

// vaultConfig reaches the test's Vault with its root token, counting requests.
func (f *vaultDB) vaultConfig() credentials.VaultConfig {
	return credentials.VaultConfig{Addr: f.vault.Addr, Token: f.vault.RootToken, HTTPClient: &http.Client{Transport: f.requests}}
}

// leases lists the ids of the leases of the "app" role.
func (f *vaultDB) leases(t *testing.T) []string {
	t.Helper()
	s, err := f.vault.Client.Logical().List("sys/leases/lookup/database/creds/app")
	require.NoError(t, err)
	if s == nil {
		return nil
	}
	var out []string
	for _, k := range s.Data["keys"].([]any) {
		out = append(out, "database/creds/app/"+k.(string))
	}
	return out
}

// queryAll runs sql on the database as postgres and returns the first column of each row.
func (f *vaultDB) queryAll(t *testing.T, sql string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, f.url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

// firstString is the first column of a query result's first row, a string.
func firstString(t *testing.T, res pgQueryResult) string {
	t.Helper()
	require.NotEmpty(t, res.Rows)
	var row []string
	require.NoError(t, json.Unmarshal(res.Rows[0], &row), string(res.Rows[0]))
	return row[0]
}

// terminateSessions ends the sessions of user on the server, as an operator (or a failover)
// would: the next commands need new connections.
func (f *vaultDB) terminateSessions(t *testing.T, user string) {
	t.Helper()
	f.queryAll(t, "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity WHERE usename = '"+user+"'")
}
