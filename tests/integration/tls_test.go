package integration_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/handlers/postgres"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/platform/bus"
	"github.com/omninode/omnibase-infra/platform/credentials"
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

	// The URL's own files (sslrootcert, sslcert, sslkey) are held to the policy too: a policy
	// with no CA of its own verifies against sslrootcert.
	bare, err := tlspolicy.New(tlspolicy.Config{}, testLogger(t))
	require.NoError(t, err)
	ssl, err = pgConnect(t, bare, fmt.Sprintf("postgres://certuser@localhost:%d/postgres?sslmode=verify-full&sslrootcert=%s&sslcert=%s&sslkey=%s",
		pg.Port, ca.File, clientCert, clientKey), nil)
	require.NoError(t, err)
	require.True(t, ssl)
	_, err = pgConnect(t, bare, fmt.Sprintf("postgres://postgres@localhost:%d/postgres?sslmode=verify-full", pg.Port), nil)
	require.ErrorContains(t, err, "certificate signed by unknown authority", "the system's roots do not know the test CA")
}

// What the policy cannot do, or a connection it requires to be TLS that is not, stops omni run
// at start, naming the flag.
func TestTLS_omni_run_refuses_at_start_what_the_policy_cannot_do(t *testing.T) {
	env := []string{"DATABASE_URL=postgres://omni@127.0.0.1:1/omni?sslmode=verify-full", "KAFKA_BROKERS=127.0.0.1:1"}
	for name, tc := range map[string]struct {
		args []string
		want []string
	}{
		"a_tls_1_3_suite": {[]string{"--tls-profile", "custom", "--tls-cipher-suites", "TLS_AES_256_GCM_SHA384"},
			[]string{"--tls-cipher-suites: TLS_AES_256_GCM_SHA384 is a TLS 1.3 suite, and Go does not let TLS 1.3 suites be chosen"}},
		"a_version_below_1_2": {[]string{"--tls-profile", "custom", "--tls-min-version", "1.1"},
			[]string{"--tls-min-version 1.1: a version below TLS 1.2 is not allowed"}},
		"an_unknown_suite": {[]string{"--tls-profile", "custom", "--tls-cipher-suites", "TLS_ECDHE_RSA_WITH_RC5"},
			[]string{`--tls-cipher-suites: "TLS_ECDHE_RSA_WITH_RC5" is not a cipher suite Go knows`}},
		"plaintext_with_tls_required": {[]string{"--tls-require"},
			[]string{"the control bus (--kafka-brokers; turn TLS on with --kafka-tls) is plaintext, but the TLS policy requires TLS (--tls-require)",
				"the HTTP server (--http-addr; give --http-tls-cert and --http-tls-key) is plaintext"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, stderr, code := omni(t, env, append([]string{"run"}, tc.args...)...)
			require.Equal(t, 2, code, stderr)
			for _, w := range tc.want {
				require.Contains(t, stderr, w)
			}
		})
	}
}

// tlsFiles is the material of the omni run test: one CA, the servers' certificates, omni's and
// an operator's client certificates.
type tlsFiles struct {
	ca                        *certs.CA
	pgCert, pgKey             string
	kafkaCert, kafkaKey       string
	consulCert, consulKey     string
	httpCert, httpKey         string
	omniCert, omniKey         string
	operatorCert, operatorKey string
}

func newTLSFiles(t *testing.T) tlsFiles {
	ca, err := certs.NewCA(t.TempDir(), "ca")
	require.NoError(t, err)
	f := tlsFiles{ca: ca}
	for _, c := range []struct {
		name      string
		leaf      certs.Leaf
		cert, key *string
	}{
		{"pg", certs.Leaf{CommonName: "pg", Hosts: []string{"127.0.0.1", "localhost"}}, &f.pgCert, &f.pgKey},
		{"kafka", certs.Leaf{CommonName: "kafka", Hosts: []string{"127.0.0.1"}}, &f.kafkaCert, &f.kafkaKey},
		{"consul", certs.Leaf{CommonName: "consul", Hosts: []string{"127.0.0.1", "localhost"}}, &f.consulCert, &f.consulKey},
		{"http", certs.Leaf{CommonName: "http-first", Hosts: []string{"127.0.0.1"}}, &f.httpCert, &f.httpKey},
		{"omni", certs.Leaf{CommonName: "omni", Client: true}, &f.omniCert, &f.omniKey},
		{"operator", certs.Leaf{CommonName: "operator", Client: true}, &f.operatorCert, &f.operatorKey},
	} {
		*c.cert, *c.key, err = ca.Issue(c.name, c.leaf)
		require.NoError(t, err)
	}
	return f
}

// httpsClient connects to omni's HTTP server with the CA and, when cert is given, a client
// certificate; every request on a new connection.
func httpsClient(t *testing.T, caFile, cert, key string, maxVersion uint16) *http.Client {
	pem, err := os.ReadFile(caFile)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(pem))
	cfg := &tls.Config{RootCAs: roots, MaxVersion: maxVersion}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		require.NoError(t, err)
		// Offered whatever CAs the server names, as a client that does not know better would.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
}

// socket is one established TCP connection of a process, by port.
type socket struct{ local, remote int }

// processSockets lists the established TCP connections of the process pid: its socket file
// descriptors matched with the network namespace's table of connections.
func processSockets(t *testing.T, pid int) []socket {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	require.NoError(t, err)
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	port := func(addr string) int {
		_, hex, _ := strings.Cut(addr, ":")
		n, err := strconv.ParseInt(hex, 16, 32)
		require.NoError(t, err)
		return int(n)
	}
	var out []socket
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		require.NoError(t, err)
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			const established = "01"
			if len(f) < 10 || f[3] != established || !inodes[f[9]] {
				continue
			}
			out = append(out, socket{local: port(f[1]), remote: port(f[2])})
		}
	}
	return out
}

// tlsMetrics reads /metrics: omni_tls_handshakes_total by "SIDE ENDPOINT RESULT", and
// omni_tls_certificate_expiry_seconds by "ENDPOINT KIND".
func tlsMetrics(t *testing.T, client *http.Client, addr string) (handshakes, expiry map[string]float64) {
	t.Helper()
	resp, err := client.Get("https://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	handshakes, expiry = map[string]float64{}, map[string]float64{}
	for name, into := range map[string]map[string]float64{"omni_tls_handshakes_total": handshakes, "omni_tls_certificate_expiry_seconds": expiry} {
		mf := families[name]
		require.NotNil(t, mf, "%s on /metrics", name)
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if name == "omni_tls_handshakes_total" {
				into[labels["side"]+" "+labels["endpoint"]+" "+labels["result"]] += m.GetCounter().GetValue()
			} else {
				into[labels["endpoint"]+" "+labels["kind"]] = m.GetGauge().GetValue()
			}
		}
	}
	return handshakes, expiry
}

// omni run with every connection over TLS — the control database and a PostgreSQL target
// (ssl=on, plaintext refused), the control bus and a Kafka target (TLS and SASL SCRAM), a Consul
// target (HTTPS only) and its own HTTP server (TLS, client certificates required) — under the
// modern profile, with --tls-require.
func TestTLS_omni_run_holds_every_connection_to_the_policy(t *testing.T) {
	f := newTLSFiles(t)
	const user, password = "omni", "scram-Pa55word-for-the-tls-test"
	pg := started(t, func(ctx context.Context) (*containers.Postgres, error) {
		return containers.StartPostgresTLS(ctx, containers.PostgresTLS{CertFile: f.pgCert, KeyFile: f.pgKey, CAFile: f.ca.File})
	})
	kafka := started(t, func(ctx context.Context) (*containers.Kafka, error) {
		return containers.StartSecureKafka(ctx, containers.SecureKafka{CertFile: f.kafkaCert, KeyFile: f.kafkaKey,
			Mechanism: bus.MechanismSCRAMSHA256, User: user, Password: password,
			Client: bus.Security{TLS: bus.TLS{CAFile: f.ca.File}, SASL: bus.SASL{Mechanism: bus.MechanismSCRAMSHA256, User: user, Password: password}}})
	})
	consul := started(t, func(ctx context.Context) (*containers.Consul, error) {
		return containers.StartConsulTLS(ctx, containers.ConsulTLS{CertFile: f.consulCert, KeyFile: f.consulKey, CAFile: f.ca.File})
	})
	setupURL := pg.NewDatabase(t) // sslmode=require: the test's own set-up
	ctx := context.Background()
	require.NoError(t, app.Migrate(ctx, setupURL, testLogger(t)))
	db, err := app.Connect(ctx, setupURL)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	url := strings.Replace(setupURL, "sslmode=require", "sslmode=verify-full", 1)

	args := []string{"--tls-profile", "modern", "--tls-require", "--tls-ca", f.ca.File, "--tls-cert", f.omniCert, "--tls-key", f.omniKey,
		"--tls-reload-interval", "200ms", "--http-tls-cert", f.httpCert, "--http-tls-key", f.httpKey, "--http-client-ca", f.ca.File,
		"--kafka-tls", "--kafka-sasl-mechanism", "SCRAM-SHA-256", "--kafka-sasl-user", user,
		"--consul-addr", "https://" + consul.Addr, "--probe-interval", "500ms"}
	env := []string{"OMNI_KAFKA_SASL_PASSWORD=" + password}
	p := startOmniProcessEnv(t, env, url, kafka.Brokers(), "adapters,relay,projection,sagas", args...)
	operator := httpsClient(t, f.ca.File, f.operatorCert, f.operatorKey, 0)
	eventually(t, 60*time.Second, "omni ready at https://"+p.addr, func() (bool, string, error) {
		resp, err := operator.Get("https://" + p.addr + "/readyz")
		if err != nil {
			return false, p.stderr.String(), err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status, nil
	})
	waitHealthy(t, db, "postgres/control")
	waitHealthy(t, db, "kafka/bus")
	waitHealthy(t, db, "consul/agent")

	t.Run("the_http_server_requires_a_client_certificate", func(t *testing.T) {
		_, err := httpsClient(t, f.ca.File, "", "", 0).Get("https://" + p.addr + "/healthz")
		require.ErrorContains(t, err, "certificate required")
	})

	t.Run("a_client_certificate_of_another_ca_is_refused_and_recorded_as_a_security_event", func(t *testing.T) {
		other, err := certs.NewCA(t.TempDir(), "other")
		require.NoError(t, err)
		cert, key, err := other.Issue("stranger", certs.Leaf{CommonName: "stranger", Client: true})
		require.NoError(t, err)
		_, err = httpsClient(t, f.ca.File, cert, key, 0).Get("https://" + p.addr + "/healthz")
		require.Error(t, err)
		eventually(t, 10*time.Second, "the refusal in the audit log", func() (bool, string, error) {
			var subject, reason string
			err := db.QueryRow(context.Background(), `SELECT subject, detail->>'reason' FROM audit_entries
				WHERE action = 'security.tls_refused' ORDER BY seq DESC LIMIT 1`).Scan(&subject, &reason)
			if errors.Is(err, pgx.ErrNoRows) {
				return false, "none yet", nil
			}
			return subject == "http" && strings.Contains(reason, `client certificate "CN=stranger" refused`), subject + ": " + reason, err
		})
	})

	t.Run("a_client_offering_only_tls_1_2_is_refused_by_the_modern_profile", func(t *testing.T) {
		_, err := httpsClient(t, f.ca.File, f.operatorCert, f.operatorKey, tls.VersionTLS12).Get("https://" + p.addr + "/healthz")
		require.ErrorContains(t, err, "protocol version")
	})

	t.Run("every_connection_goes_through_the_policy", func(t *testing.T) {
		_, httpPort, _ := strings.Cut(p.addr, ":")
		_, kafkaPort, _ := strings.Cut(kafka.Addr, ":")
		_, consulPort, _ := strings.Cut(consul.Addr, ":")
		// Each server below refuses anything but TLS: a connection to any other port is one the
		// policy does not hold.
		servers := map[string]int{httpPort: 0, strconv.Itoa(pg.Port): 0, kafkaPort: 0, consulPort: 0}
		socks := processSockets(t, p.cmd.Process.Pid)
		require.NotEmpty(t, socks)
		for _, s := range socks {
			switch {
			case strconv.Itoa(s.local) == httpPort:
				servers[httpPort]++
			default:
				_, ok := servers[strconv.Itoa(s.remote)]
				require.True(t, ok, "omni holds a connection to port %d, which is none of the TLS-only servers: %v", s.remote, socks)
				servers[strconv.Itoa(s.remote)]++
			}
		}
		t.Logf("connections by port: %v", servers)
		require.Positive(t, servers[strconv.Itoa(pg.Port)], "connections to PostgreSQL")
		require.Positive(t, servers[kafkaPort], "connections to the broker")

		// And each of them was made by the policy: its handshakes are at least as many.
		hs, expiry := tlsMetrics(t, operator, p.addr)
		t.Logf("handshakes: %v", hs)
		// The certificates in use are valid for an hour, the CA for a day.
		require.InDelta(t, time.Hour.Seconds(), expiry["http cert"], 120, "the HTTP server's certificate")
		require.InDelta(t, time.Hour.Seconds(), expiry["control-db cert"], 120, "omni's client certificate")
		require.InDelta(t, (24 * time.Hour).Seconds(), expiry["control-db ca"], 120, "the CA")
		for _, e := range []string{"control-db", "postgres/control", "control-bus", "kafka/bus", "consul/agent"} {
			require.Positive(t, hs["client "+e+" ok"], "handshakes of %s under the policy", e)
			require.Zero(t, hs["client "+e+" refused"], "refused handshakes of %s", e)
		}
		require.Positive(t, hs["server http ok"], "the HTTP server's handshakes under the policy")
		require.GreaterOrEqual(t, hs["client control-db ok"]+hs["client postgres/control ok"], float64(servers[strconv.Itoa(pg.Port)]))
		require.GreaterOrEqual(t, hs["client control-bus ok"]+hs["client kafka/bus ok"], float64(servers[kafkaPort]))
		require.GreaterOrEqual(t, hs["client consul/agent ok"], float64(servers[consulPort]))
	})

	t.Run("omni_tls_check_says_what_each_endpoint_negotiated", func(t *testing.T) {
		out, stderr, code := omni(t, append(env, "DATABASE_URL="+url, "KAFKA_BROKERS="+kafka.Addr),
			append([]string{"tls", "check", "-o", "json", "--http-addr", p.addr}, args...)...)
		require.Equal(t, 0, code, "%s\n%s", out, stderr)
		var doc struct {
			Endpoints []app.TLSCheck `json:"endpoints"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &doc))
		var names []string
		for _, e := range doc.Endpoints {
			names = append(names, e.Endpoint)
			require.True(t, e.MeetsPolicy, "%+v", e)
			require.Equal(t, "TLS 1.3", e.Version, e.Endpoint)
			require.NotEmpty(t, e.Chain, e.Endpoint)
		}
		require.ElementsMatch(t, []string{"control-db", "postgres/control", "control-bus", "kafka/bus", "consul/agent", "http"}, names)

		// Against a plaintext broker the check fails, saying which endpoint and why.
		plain := newKafka(t)
		out, _, code = omni(t, append(env, "DATABASE_URL="+url, "KAFKA_BROKERS="+plain.Addr),
			append([]string{"tls", "check", "--http-addr", p.addr}, args...)...)
		require.Equal(t, 1, code, out)
		require.Regexp(t, `control-bus\s+`+regexp.QuoteMeta(plain.Addr)+`\s+-\s+-\s+-\s+false\s+TLS handshake`, out)
	})

	t.Run("replaced_certificates_serve_new_connections_and_a_broken_one_keeps_the_old", func(t *testing.T) {
		subject := func() (string, error) {
			resp, err := operator.Get("https://" + p.addr + "/healthz")
			if err != nil {
				return "", err
			}
			resp.Body.Close()
			return resp.TLS.PeerCertificates[0].Subject.CommonName, nil
		}
		got, err := subject()
		require.NoError(t, err)
		require.Equal(t, "http-first", got)

		// A new pair written beside, then moved over the served files.
		next, nextKey, err := f.ca.Issue("http-next", certs.Leaf{CommonName: "http-second", Hosts: []string{"127.0.0.1"}})
		require.NoError(t, err)
		require.NoError(t, os.Rename(nextKey, f.httpKey))
		require.NoError(t, os.Rename(next, f.httpCert))
		eventually(t, 10*time.Second, "the new certificate served", func() (bool, string, error) {
			got, err := subject()
			return got == "http-second", got, err
		})

		require.NoError(t, os.WriteFile(f.httpCert, []byte("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"), 0o644))
		eventually(t, 10*time.Second, "the failed reload logged", func() (bool, string, error) {
			return strings.Contains(p.stderr.String(), "could not reload; keeping the last good certificate"), "", nil
		})
		require.Contains(t, p.stderr.String(), `kept_subject="CN=http-second"`)
		got, err = subject()
		require.NoError(t, err)
		require.Equal(t, "http-second", got, "the last good certificate is still served")
	})
}

// Vault over HTTPS: the credentials' client is made by the policy — verified against its CA, and
// refused without it.
func TestTLS_vault_over_https_goes_through_the_policy(t *testing.T) {
	ca, err := certs.NewCA(t.TempDir(), "ca")
	require.NoError(t, err)
	cert, key, err := ca.Issue("vault", certs.Leaf{CommonName: "vault", Hosts: []string{"127.0.0.1"}})
	require.NoError(t, err)
	var httpsAddr string
	v := started(t, func(ctx context.Context) (*containers.Vault, error) {
		v, addr, err := containers.StartVaultTLS(ctx, cert, key)
		httpsAddr = addr
		return v, err
	})
	ctx := context.Background()
	require.NoError(t, v.EnableKV(ctx, "kv"))
	_, err = v.Client.KVv2("kv").Put(ctx, "omni", map[string]any{"password": "pw-vault-tls-7"})
	require.NoError(t, err)
	ref, err := credentials.ParseRef("vault-kv:kv/omni#password")
	require.NoError(t, err)

	read := func(tc tlspolicy.Config) (*tlspolicy.Policy, credentials.Secret, error) {
		cfg := app.Config{TLS: tc, Vault: credentials.VaultConfig{Addr: httpsAddr, Token: v.RootToken}}
		p, err := app.OpenTLS(&cfg, testLogger(t))
		require.NoError(t, err)
		vc, err := credentials.NewVault(cfg.Vault)
		require.NoError(t, err)
		s, err := vc.KV().Read(ctx, ref)
		return p, s, err
	}
	p, s, err := read(tlspolicy.Config{CAFile: ca.File})
	require.NoError(t, err)
	require.Equal(t, "pw-vault-tls-7", s.Password)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(p.Collector()))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var vaultHandshakes float64
	for _, mf := range mfs {
		if mf.GetName() != "omni_tls_handshakes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "endpoint" && l.GetValue() == "vault" {
					vaultHandshakes += m.GetCounter().GetValue()
				}
			}
		}
	}
	require.Positive(t, vaultHandshakes, "the Vault connection's handshake was the policy's")

	_, _, err = read(tlspolicy.Config{})
	require.ErrorContains(t, err, "certificate signed by unknown authority", "the system's roots do not know the test CA")
}
