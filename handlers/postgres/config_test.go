package postgres_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/handlers/postgres"
)

const goodURL = "postgres://app@db.internal:5432/orders?sslmode=disable"

// env is an environment of its own for LookupEnv.
func env(vars map[string]string) func(string) (string, bool) {
	return func(key string) (string, bool) {
		v, ok := vars[key]
		return v, ok
	}
}

func TestNew_reports_every_config_problem_naming_the_target_and_the_field(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))
	cases := []struct {
		name string
		cfg  postgres.Config
		want []string
	}{
		{"no_targets", postgres.Config{}, []string{"postgres adapter: no targets"}},
		{"empty_name", postgres.Config{Targets: []postgres.Target{{URL: goodURL}}},
			[]string{"postgres adapter: target 0 has no name"}},
		{"slash_in_name", postgres.Config{Targets: []postgres.Target{{Name: "a/b", URL: goodURL}}},
			[]string{`postgres target "a/b": the name contains "/"`}},
		{"name_twice", postgres.Config{Targets: []postgres.Target{{Name: "orders", URL: goodURL}, {Name: "orders", URL: goodURL}}},
			[]string{`postgres target "orders": given twice`}},
		{"no_url", postgres.Config{Targets: []postgres.Target{{Name: "orders"}}},
			[]string{`postgres target "orders": URL: empty`}},
		{"bad_url", postgres.Config{Targets: []postgres.Target{{Name: "orders", URL: "postgres://app:s3cret@db:notaport/orders"}}},
			[]string{`postgres target "orders": URL: `}},
		{"password_env_not_set", postgres.Config{Targets: []postgres.Target{{Name: "orders", URL: goodURL, PasswordEnv: "ORDERS_PW"}},
			LookupEnv: env(nil)},
			[]string{`postgres target "orders": PasswordEnv: environment variable ORDERS_PW is not set`}},
		{"password_env_empty", postgres.Config{Targets: []postgres.Target{{Name: "orders", URL: goodURL, PasswordEnv: "ORDERS_PW"}},
			LookupEnv: env(map[string]string{"ORDERS_PW": ""})},
			[]string{`postgres target "orders": PasswordEnv: environment variable ORDERS_PW is empty`}},
		{"credentials_without_a_source", postgres.Config{Targets: []postgres.Target{{Name: "orders", URL: goodURL, Credentials: "vault-db:database/creds/orders"}}},
			[]string{`postgres target "orders": Credentials: no credential source is configured`}},
		{"credentials_unknown_scheme", postgres.Config{Targets: []postgres.Target{{Name: "orders", URL: goodURL, Credentials: "consul:orders"}}},
			[]string{`postgres target "orders": Credentials: credentials reference "consul:orders": unknown scheme`}},
		{"ca_file_missing", postgres.Config{Targets: []postgres.Target{{Name: "orders", URL: goodURL,
			TLS: &postgres.TLS{CAFile: filepath.Join(dir, "missing.pem")}}}},
			[]string{`postgres target "orders": TLS.CAFile: `, "no such file"}},
		{"ca_file_not_pem", postgres.Config{Targets: []postgres.Target{{Name: "orders", URL: goodURL,
			TLS: &postgres.TLS{CAFile: notPEM}}}},
			[]string{`postgres target "orders": TLS.CAFile: no PEM certificate in ` + notPEM}},
		{"cert_without_key", postgres.Config{Targets: []postgres.Target{{Name: "orders", URL: goodURL,
			TLS: &postgres.TLS{CertFile: notPEM}}}},
			[]string{`postgres target "orders": TLS.CertFile, TLS.KeyFile: give both or neither`}},
		{"min_conns_over_max", postgres.Config{Targets: []postgres.Target{{Name: "orders", URL: goodURL}}, MaxConns: 2, MinConns: 3},
			[]string{"postgres adapter: MinConns 3 is more than MaxConns 2"}},
		{"negative_caps_and_durations", postgres.Config{Targets: []postgres.Target{{Name: "orders", URL: goodURL}},
			MaxRows: -1, MaxResultBytes: -1, ConnectTimeout: -time.Second},
			[]string{"MaxRows is negative", "MaxResultBytes is negative", "ConnectTimeout is negative"}},
		{"every_problem_at_once", postgres.Config{Targets: []postgres.Target{{Name: "a", URL: "postgres://x:y:z"},
			{Name: "b", URL: goodURL, PasswordEnv: "B_PW"}}, LookupEnv: env(nil), MaxRows: -1},
			[]string{`postgres target "a": URL: `, `postgres target "b": PasswordEnv: `, "MaxRows is negative"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := postgres.New(c.cfg, slog.New(slog.DiscardHandler))
			require.Error(t, err)
			require.Nil(t, d)
			for _, want := range c.want {
				require.Contains(t, err.Error(), want)
			}
			require.NotContains(t, err.Error(), "s3cret", "a password never shows in an error")
		})
	}
}

func TestNew_connects_lazily_and_offers_the_three_commands(t *testing.T) {
	d, err := postgres.New(postgres.Config{Targets: []postgres.Target{{Name: "orders", URL: "postgres://app@127.0.0.1:1/orders"},
		{Name: "billing", URL: "host=127.0.0.1 port=1 user=app dbname=billing"}}}, slog.New(slog.DiscardHandler))
	require.NoError(t, err, "a target that is down does not fail the start")
	defer d.Close()
	require.Equal(t, []string{"orders", "billing"}, d.Targets())
	var kinds []string
	for _, c := range d.Commands() {
		kinds = append(kinds, c.Kind().String())
	}
	require.Equal(t, []string{"postgres_execute/v1", "postgres_query/v1", "postgres_transaction/v1"}, kinds)
}

func TestPoolConfig_applies_the_password_env_and_the_pool_settings(t *testing.T) {
	cfg := postgres.Config{MaxConns: 7, MinConns: 2, MaxConnLifetime: time.Minute, MaxConnIdleTime: 10 * time.Second,
		LookupEnv: env(map[string]string{"ORDERS_PW": "from-env"})}
	pc, err := postgres.PoolConfig(cfg, postgres.Target{Name: "orders",
		URL: "postgres://app:from-url@db:5432/orders?sslmode=disable", PasswordEnv: "ORDERS_PW"})
	require.NoError(t, err)
	require.Equal(t, "from-env", pc.ConnConfig.Password, "PasswordEnv wins over the URL")
	require.Equal(t, "app", pc.ConnConfig.User)
	require.Equal(t, int32(7), pc.MaxConns)
	require.Equal(t, int32(2), pc.MinConns)
	require.Equal(t, time.Minute, pc.MaxConnLifetime)
	require.Equal(t, 10*time.Second, pc.MaxConnIdleTime)
	require.Equal(t, 2*time.Second, pc.ConnConfig.ConnectTimeout, "the default connect timeout")
	require.Equal(t, "omnibase-infra", pc.ConnConfig.RuntimeParams["application_name"])

	pc, err = postgres.PoolConfig(postgres.Config{}, postgres.Target{Name: "orders",
		URL: "postgres://app@db/orders?sslmode=disable&connect_timeout=7&application_name=billing"})
	require.NoError(t, err)
	require.Equal(t, 7*time.Second, pc.ConnConfig.ConnectTimeout, "the URL's connect_timeout wins")
	require.Equal(t, "billing", pc.ConnConfig.RuntimeParams["application_name"], "the URL's application_name wins")
	require.Equal(t, int32(4), pc.MaxConns, "the default pool size")
}

func TestPoolConfig_explicit_tls_verifies_the_server_on_every_host(t *testing.T) {
	ca := writeCA(t)
	pc, err := postgres.PoolConfig(postgres.Config{}, postgres.Target{Name: "orders",
		URL: "postgres://app@db1:5432,db2:5433/orders?sslmode=disable", TLS: &postgres.TLS{CAFile: ca}})
	require.NoError(t, err)
	require.NotNil(t, pc.ConnConfig.TLSConfig, "TLS wins over sslmode=disable")
	require.Equal(t, "db1", pc.ConnConfig.TLSConfig.ServerName)
	require.NotNil(t, pc.ConnConfig.TLSConfig.VerifyConnection, "the policy verifies the chain and the name against the CA file")
	require.NotEmpty(t, pc.ConnConfig.Fallbacks)
	for _, fb := range pc.ConnConfig.Fallbacks {
		require.NotNil(t, fb.TLSConfig, "no fallback goes without TLS")
		require.Equal(t, fb.Host, fb.TLSConfig.ServerName)
	}

	pc, err = postgres.PoolConfig(postgres.Config{}, postgres.Target{Name: "orders",
		URL: "postgres://app@10.0.0.5/orders", TLS: &postgres.TLS{CAFile: ca, ServerName: "db.internal"}})
	require.NoError(t, err)
	require.Equal(t, "db.internal", pc.ConnConfig.TLSConfig.ServerName)
}

// writeCA writes a self-signed CA certificate as PEM and returns its path.
func writeCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	return path
}

func TestParseTarget(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want postgres.Target
	}{
		{"url", "orders=postgres://app@db:5432/orders?sslmode=require",
			postgres.Target{Name: "orders", URL: "postgres://app@db:5432/orders?sslmode=require"}},
		{"keyword_value", "orders=host=db dbname=orders sslmode=disable",
			postgres.Target{Name: "orders", URL: "host=db dbname=orders sslmode=disable"}},
		{"password_env_taken_out", "orders=postgres://app@db/orders?sslmode=verify-full&password_env=ORDERS_PW",
			postgres.Target{Name: "orders", URL: "postgres://app@db/orders?sslmode=verify-full", PasswordEnv: "ORDERS_PW"}},
		{"password_env_alone", "orders=postgresql://app@db1,db2/orders?password_env=ORDERS_PW",
			postgres.Target{Name: "orders", URL: "postgresql://app@db1,db2/orders", PasswordEnv: "ORDERS_PW"}},
		{"credentials_taken_out", "orders=postgres://db/orders?sslmode=verify-full&credentials=vault-db:database/creds/orders",
			postgres.Target{Name: "orders", URL: "postgres://db/orders?sslmode=verify-full", Credentials: "vault-db:database/creds/orders"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := postgres.ParseTarget(c.in)
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
	for _, bad := range []string{"orders", "=postgres://db/orders", "orders=", "postgres://app:s3cret@db/orders?sslmode=disable"} {
		_, err := postgres.ParseTarget(bad)
		require.ErrorContains(t, err, "want NAME=URL", bad)
		require.NotContains(t, err.Error(), "s3cret")
	}
}
