package integration_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/handlers/postgres"
	"github.com/omninode/omnibase-infra/platform/tlspolicy"
	"github.com/omninode/omnibase-infra/tests/certs"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// pgConnect connects to rawURL as omni does (the URL put under the policy) and says whether the
// session is encrypted, as the server sees it.
func pgConnect(t *testing.T, p *tlspolicy.Policy, rawURL string, explicit *postgres.TLS) (bool, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cc, err := pgx.ParseConfig(rawURL)
	require.NoError(t, err)
	if err := postgres.ApplyTLS(cc, rawURL, p, "postgres/test", explicit); err != nil {
		return false, err
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return false, err
	}
	defer conn.Close(ctx)
	var ssl bool
	err = conn.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl)
	return ssl, err
}

// PostgreSQL with ssl=on and the test CA: verify-full connects; a server certificate for
// another host is refused, saying so; a target that authenticates with a client certificate
// connects, and without one it is refused.
func TestTLS_postgres_verify_full_wrong_host_and_client_certificate(t *testing.T) {
	dir := t.TempDir()
	ca, err := certs.NewCA(dir, "ca")
	require.NoError(t, err)
	// For "localhost" only: 127.0.0.1 is another host as far as the certificate goes.
	cert, key, err := ca.Issue("pg", certs.Leaf{CommonName: "localhost", Hosts: []string{"localhost"}})
	require.NoError(t, err)
	clientCert, clientKey, err := ca.Issue("certuser", certs.Leaf{CommonName: "certuser", Client: true})
	require.NoError(t, err)
	pg := started(t, func(ctx context.Context) (*containers.Postgres, error) {
		return containers.StartPostgresTLS(ctx, containers.PostgresTLS{CertFile: cert, KeyFile: key, CAFile: ca.File, CertUser: "certuser"})
	})
	p, err := tlspolicy.New(tlspolicy.Config{CAFile: ca.File}, testLogger(t))
	require.NoError(t, err)

	ssl, err := pgConnect(t, p, fmt.Sprintf("postgres://postgres@localhost:%d/postgres?sslmode=verify-full", pg.Port), nil)
	require.NoError(t, err, "verify-full against the CA")
	require.True(t, ssl, "the server sees a TLS session")

	_, err = pgConnect(t, p, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=verify-full", pg.Port), nil)
	require.ErrorContains(t, err, `certificate of "127.0.0.1" refused`)
	require.ErrorContains(t, err, "doesn't contain any IP SANs")

	// sslmode=require does not verify in libpq; under the policy it does all the same.
	_, err = pgConnect(t, p, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=require", pg.Port), nil)
	require.ErrorContains(t, err, `certificate of "127.0.0.1" refused`)

	// A plaintext attempt is refused by the server (hostnossl reject); a policy that requires TLS
	// refuses it before it is made.
	_, err = pgConnect(t, p, fmt.Sprintf("postgres://postgres@localhost:%d/postgres?sslmode=disable", pg.Port), nil)
	require.ErrorContains(t, err, "no encryption")
	strict, err := tlspolicy.New(tlspolicy.Config{CAFile: ca.File, Require: true}, testLogger(t))
	require.NoError(t, err)
	_, err = pgConnect(t, strict, fmt.Sprintf("postgres://postgres@localhost:%d/postgres?sslmode=prefer", pg.Port), nil)
	require.ErrorContains(t, err, "the TLS policy requires TLS (--tls-require): use sslmode=verify-full")

	// The client certificate target: certuser may only log in with its certificate.
	certURL := fmt.Sprintf("postgres://certuser@localhost:%d/postgres?sslmode=disable", pg.Port)
	ssl, err = pgConnect(t, p, certURL, &postgres.TLS{CAFile: ca.File, CertFile: clientCert, KeyFile: clientKey})
	require.NoError(t, err, "the target's explicit TLS wins over sslmode=disable, with its client certificate")
	require.True(t, ssl)
	_, err = pgConnect(t, p, certURL, &postgres.TLS{CAFile: ca.File})
	require.ErrorContains(t, err, "connection requires a valid client certificate", "no client certificate: refused")
}
