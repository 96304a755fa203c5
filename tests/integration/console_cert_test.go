package integration_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/audit"
	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/console"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/consumer"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// testPKI is a throwaway CA that signs a server certificate for 127.0.0.1 and client
// certificates by common name.
type testPKI struct {
	ca    *x509.Certificate
	caKey *ecdsa.PrivateKey
	pool  *x509.CertPool
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "console test CA"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &testPKI{ca: ca, caKey: key, pool: pool}
}

var serial int64 = 10

// issue signs a certificate for cn, a server's (for 127.0.0.1) or a client's.
func (p *testPKI) issue(t *testing.T, cn string, server bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage, tmpl.IPAddresses = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// client is an HTTPS client trusting p, presenting cert (none when nil), keeping cookies.
func (p *testPKI) client(t *testing.T, cert *tls.Certificate) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	cfg := &tls.Config{RootCAs: p.pool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: cfg},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func fetch(t *testing.T, c *http.Client, method, u string, form url.Values) (int, string) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = c.PostForm(u, form)
	} else {
		resp, err = c.Get(u)
	}
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// On a TLS listener that verifies client certificates, a verified certificate logs its holder in
// by its common name: its forms carry a CSRF token, its requeue is done and audited under its
// name. Without a certificate the same console is read-only and the action is refused; a form
// posted without its CSRF token is refused too (403), each refusal a security event.
func TestConsole_a_verified_client_certificate_logs_in_and_its_actions_are_audited(t *testing.T) {
	_, db := newControlDB(t)
	ctx := context.Background()
	store, err := outbox.NewPoisonStore(outbox.PoisonStoreConfig{DB: db})
	require.NoError(t, err)
	msg, err := events.Encode(events.ProbeTarget{Adapter: events.AdapterPostgres, Target: "orders"}, events.NewOrigin(), time.Now())
	require.NoError(t, err)
	require.NoError(t, store.Store(ctx, consumer.PoisonRecord{Group: "adapter-postgres", Topic: "infra.commands.postgres",
		Partition: 0, Offset: 7, Message: msg, Reason: errors.New(`rejected: postgres target "orders" is not configured`)}))
	var id int64
	require.NoError(t, db.QueryRow(ctx, `SELECT id FROM poison_messages WHERE message_id = $1`, msg.UUID).Scan(&id))

	pki := newTestPKI(t)
	port, err := containers.FreePort()
	require.NoError(t, err)
	cfg := console.Config{Addr: fmt.Sprintf("127.0.0.1:%d", port), TLS: &tls.Config{MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{pki.issue(t, "127.0.0.1", true)}, ClientCAs: pki.pool, ClientAuth: tls.VerifyClientCertIfGiven}}
	c, err := console.New(cfg, console.Deps{DB: db}, testLogger(t))
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	ready := make(chan string, 1)
	go func() { done <- c.Run(runCtx, func(addr string) { ready <- addr }) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	base := "https://" + <-ready
	action := fmt.Sprintf("%s/poison/%d/requeue", base, id)

	// No certificate: read-only, the action refused.
	anonymous := pki.client(t, nil)
	code, body := fetch(t, anonymous, http.MethodGet, fmt.Sprintf("%s/poison/%d", base, id), nil)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "read-only")
	require.Contains(t, body, "is not configured")
	code, body = fetch(t, anonymous, http.MethodPost, action, nil)
	require.Equal(t, http.StatusUnauthorized, code, body)

	// A certificate: logged in as cert:bob; a post without the form's CSRF token is refused.
	bobCert := pki.issue(t, "bob", false)
	bob := pki.client(t, &bobCert)
	code, body = fetch(t, bob, http.MethodGet, fmt.Sprintf("%s/poison/%d", base, id), nil)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "cert:bob")
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]{64})"`).FindStringSubmatch(body)
	require.Len(t, m, 2, "the page's forms carry a CSRF token")
	code, body = fetch(t, bob, http.MethodPost, action, url.Values{"csrf": {"0"}})
	require.Equal(t, http.StatusForbidden, code, body)
	requirePoisonStatus(t, db, id, "poisoned")

	code, body = fetch(t, bob, http.MethodPost, action, url.Values{"csrf": {m[1]}})
	require.Equal(t, http.StatusSeeOther, code, body)
	requirePoisonStatus(t, db, id, "requeued")
	actors := auditActions(t, db, audit.ActionPoisonRequeued, msg.UUID)
	require.Len(t, actors, 1)
	require.Contains(t, actors[0], "cert:bob@127.0.0.1 (console, certificate)")
	var topic string
	require.NoError(t, db.QueryRow(ctx, `SELECT topic FROM event_log WHERE event_id = $1`, msg.UUID).Scan(&topic))
	require.Equal(t, "infra.commands.postgres", topic, "requeued through the outbox to its topic, under its own id")

	var refusals []string
	rows, err := db.Query(ctx, `SELECT detail->>'reason' FROM audit_entries WHERE action = 'security.unauthenticated' ORDER BY seq`)
	require.NoError(t, err)
	for rows.Next() {
		var r string
		require.NoError(t, rows.Scan(&r))
		refusals = append(refusals, r)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"console action without a login", "console action without its form's CSRF token"}, refusals)
}
