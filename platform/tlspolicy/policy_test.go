package tlspolicy_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/platform/tlspolicy"
	"github.com/omninode/omnibase-infra/tests/certs"
)

// mozilla57 is Mozilla's server-side TLS guidelines 5.7 (ssl-config.mozilla.org/guidelines/5.7.json),
// transcribed: the pinned file must say the same.
var mozilla57 = map[string]tlspolicy.MozillaProfile{
	"modern": {
		TLSVersions:  []string{"TLSv1.3"},
		CipherSuites: []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"},
		Ciphers:      []string{},
		Curves:       []string{"X25519", "prime256v1", "secp384r1"},
		MaxCertDays:  90,
	},
	"intermediate": {
		TLSVersions:  []string{"TLSv1.2", "TLSv1.3"},
		CipherSuites: []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"},
		Ciphers: []string{
			"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
			"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
			"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
			"TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
			"TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
		},
		Curves:      []string{"X25519", "prime256v1", "secp384r1"},
		MaxCertDays: 366,
	},
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestPinned_profiles_are_mozillas_5_7(t *testing.T) {
	g, err := tlspolicy.Pinned()
	require.NoError(t, err)
	require.Equal(t, 5.7, g.Version)
	require.Equal(t, mozilla57, g.Profiles)
}

func TestProfiles_offer_what_mozilla_lists_that_go_implements(t *testing.T) {
	for name, tc := range map[string]struct {
		min, max uint16
		suites   []uint16
	}{
		"modern": {tls.VersionTLS13, tls.VersionTLS13, nil},
		"intermediate": {tls.VersionTLS12, tls.VersionTLS13, []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		}},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := tlspolicy.New(tlspolicy.Config{Profile: name}, quiet())
			require.NoError(t, err)
			c := p.ClientConfig("x", "localhost")
			require.Equal(t, tc.min, c.MinVersion)
			require.Equal(t, tc.max, c.MaxVersion)
			require.Equal(t, tc.suites, c.CipherSuites, "Mozilla's TLS 1.2 suites but the DHE ones Go lacks")
			require.Equal(t, []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384}, c.CurvePreferences)
		})
	}
}

func TestConfig_refuses_what_go_cannot_do_naming_the_setting(t *testing.T) {
	flags := map[string]string{"Profile": "--tls-profile", "MinVersion": "--tls-min-version",
		"MaxVersion": "--tls-max-version", "CipherSuites": "--tls-cipher-suites"}
	for name, tc := range map[string]struct {
		cfg  tlspolicy.Config
		want []string
	}{
		"tls13_suite":      {tlspolicy.Config{Profile: "custom", CipherSuites: []string{"TLS_AES_128_GCM_SHA256"}}, []string{"--tls-cipher-suites", "TLS_AES_128_GCM_SHA256 is a TLS 1.3 suite", "Go does not let TLS 1.3 suites be chosen"}},
		"below_1_2":        {tlspolicy.Config{Profile: "custom", MinVersion: "1.1"}, []string{"--tls-min-version 1.1", "below TLS 1.2"}},
		"unknown_suite":    {tlspolicy.Config{Profile: "custom", CipherSuites: []string{"TLS_FAST"}}, []string{`--tls-cipher-suites: "TLS_FAST" is not a cipher suite Go knows`}},
		"widening":         {tlspolicy.Config{Profile: "custom", CipherSuites: []string{"TLS_RSA_WITH_AES_128_GCM_SHA256"}}, []string{"not in the intermediate profile"}},
		"min_above_max":    {tlspolicy.Config{Profile: "custom", MinVersion: "1.3", MaxVersion: "1.2"}, []string{"--tls-min-version 1.3 is above --tls-max-version 1.2"}},
		"narrowing_modern": {tlspolicy.Config{Profile: "modern", MinVersion: "1.2"}, []string{"--tls-min-version is set, but --tls-profile is modern"}},
		"unknown_profile":  {tlspolicy.Config{Profile: "old"}, []string{`--tls-profile "old" is unknown`}},
		"unknown_version":  {tlspolicy.Config{Profile: "custom", MaxVersion: "2"}, []string{`--tls-max-version "2" is unknown`}},
		"half_a_pair":      {tlspolicy.Config{CertFile: "c.pem"}, []string{"CertFile and KeyFile: give both or neither"}},
		"client_auth_no_ca": {tlspolicy.Config{Server: tlspolicy.ServerConfig{CertFile: "a", KeyFile: "b", ClientAuth: "require"}},
			[]string{"Server.ClientAuth require needs Server.ClientCAFile"}},
	} {
		t.Run(name, func(t *testing.T) {
			tc.cfg.Flags = flags
			_, err := tlspolicy.New(tc.cfg, quiet())
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

func TestCustom_narrows_to_the_suites_given(t *testing.T) {
	p, err := tlspolicy.New(tlspolicy.Config{Profile: "custom", MaxVersion: "1.2",
		CipherSuites: []string{"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"}}, quiet())
	require.NoError(t, err)
	c := p.ClientConfig("x", "localhost")
	require.Equal(t, uint16(tls.VersionTLS12), c.MaxVersion)
	require.Equal(t, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}, c.CipherSuites)
}

// server runs a TLS echo of the peer's certificate subject under p, until the test ends.
func server(t *testing.T, p *tlspolicy.Policy) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	tl := tls.NewListener(ln, p.ServerConfig("test"))
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				tc := c.(*tls.Conn)
				if tc.Handshake() != nil {
					return
				}
				name := "anonymous"
				if pc := tc.ConnectionState().PeerCertificates; len(pc) > 0 {
					name = pc[0].Subject.CommonName
				}
				_, _ = io.WriteString(c, name)
			}()
		}
	}()
	return ln.Addr().String()
}

func dial(t *testing.T, cfg *tls.Config, addr string) (tls.ConnectionState, string, error) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return tls.ConnectionState{}, "", err
	}
	defer c.Close()
	b, err := io.ReadAll(c)
	return c.ConnectionState(), string(b), err
}

func TestModern_server_refuses_a_client_offering_only_tls_1_2(t *testing.T) {
	dir := t.TempDir()
	ca, err := certs.NewCA(dir, "ca")
	require.NoError(t, err)
	cert, key, err := ca.Issue("server", certs.Leaf{CommonName: "server", Hosts: []string{"127.0.0.1"}})
	require.NoError(t, err)
	p, err := tlspolicy.New(tlspolicy.Config{Profile: "modern", CAFile: ca.File,
		Server: tlspolicy.ServerConfig{CertFile: cert, KeyFile: key}}, quiet())
	require.NoError(t, err)
	addr := server(t, p)

	old := &tls.Config{MaxVersion: tls.VersionTLS12, ServerName: "127.0.0.1", RootCAs: p.ClientConfig("x", "127.0.0.1").RootCAs}
	old.InsecureSkipVerify = true
	_, _, err = dial(t, old, addr)
	require.ErrorContains(t, err, "protocol version")

	cs, _, err := dial(t, p.ClientConfig("test", "127.0.0.1"), addr)
	require.NoError(t, err)
	require.Equal(t, uint16(tls.VersionTLS13), cs.Version)
	require.NoError(t, p.Check(cs))
}

func TestClient_refuses_a_server_certificate_for_another_host(t *testing.T) {
	dir := t.TempDir()
	ca, err := certs.NewCA(dir, "ca")
	require.NoError(t, err)
	cert, key, err := ca.Issue("server", certs.Leaf{CommonName: "db.example", Hosts: []string{"db.example"}})
	require.NoError(t, err)
	p, err := tlspolicy.New(tlspolicy.Config{CAFile: ca.File, Server: tlspolicy.ServerConfig{CertFile: cert, KeyFile: key}}, quiet())
	require.NoError(t, err)
	addr := server(t, p)
	_, _, err = dial(t, p.ClientConfig("test", "other.example"), addr)
	require.ErrorContains(t, err, `certificate of "other.example" refused`)
	require.ErrorContains(t, err, "valid for db.example, not other.example")
	_, _, err = dial(t, p.ClientConfig("test", "db.example"), addr)
	require.NoError(t, err)
}

// logs is a logger whose output the test reads.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(b []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.buf.Write(b) }
func (l *logs) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.buf.String() }

func TestReload_new_connections_get_the_new_certificate_and_a_broken_one_keeps_the_old(t *testing.T) {
	dir := t.TempDir()
	ca, err := certs.NewCA(dir, "ca")
	require.NoError(t, err)
	cert, key, err := ca.Issue("server", certs.Leaf{CommonName: "first", Hosts: []string{"127.0.0.1"}})
	require.NoError(t, err)
	clientCert, clientKey, err := ca.Issue("client", certs.Leaf{CommonName: "client-one", Client: true})
	require.NoError(t, err)
	var out logs
	p, err := tlspolicy.New(tlspolicy.Config{CAFile: ca.File, CertFile: clientCert, KeyFile: clientKey,
		ReloadInterval: 50 * time.Millisecond, Server: tlspolicy.ServerConfig{CertFile: cert, KeyFile: key, ClientCAFile: ca.File}},
		slog.New(slog.NewTextHandler(&out, nil)))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	addr := server(t, p)

	cs, peer, err := dial(t, p.ClientConfig("test", "127.0.0.1"), addr)
	require.NoError(t, err)
	require.Equal(t, "first", cs.PeerCertificates[0].Subject.CommonName)
	require.Equal(t, "client-one", peer, "the server required and verified the client's certificate")

	// Replaced on disk: the next connections see the new server and client certificates.
	_, _, err = ca.Issue("server", certs.Leaf{CommonName: "second", Hosts: []string{"127.0.0.1"}})
	require.NoError(t, err)
	_, _, err = ca.Issue("client", certs.Leaf{CommonName: "client-two", Client: true})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		cs, peer, err := dial(t, p.ClientConfig("test", "127.0.0.1"), addr)
		return err == nil && cs.PeerCertificates[0].Subject.CommonName == "second" && peer == "client-two"
	}, 5*time.Second, 50*time.Millisecond)

	// A broken replacement: the last good certificate is served, and the log says why.
	require.NoError(t, os.WriteFile(cert, []byte("not a certificate"), 0o644))
	require.Eventually(t, func() bool {
		return strings.Contains(out.String(), "could not reload; keeping the last good certificate")
	},
		5*time.Second, 50*time.Millisecond)
	require.Contains(t, out.String(), `kept_subject="CN=second"`)
	cs, _, err = dial(t, p.ClientConfig("test", "127.0.0.1"), addr)
	require.NoError(t, err)
	require.Equal(t, "second", cs.PeerCertificates[0].Subject.CommonName)
	require.Equal(t, 1, strings.Count(out.String(), "could not reload"), "said once, not at every poll")
}

func TestReload_a_replaced_ca_is_the_root_of_new_connections(t *testing.T) {
	dir := t.TempDir()
	ca1, err := certs.NewCA(dir, "ca1")
	require.NoError(t, err)
	ca2, err := certs.NewCA(dir, "ca2")
	require.NoError(t, err)
	cert, key, err := ca2.Issue("server", certs.Leaf{CommonName: "s", Hosts: []string{"127.0.0.1"}})
	require.NoError(t, err)
	trusted := dir + "/trusted.pem"
	b, err := os.ReadFile(ca1.File)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(trusted, b, 0o644))
	p, err := tlspolicy.New(tlspolicy.Config{CAFile: trusted, ReloadInterval: 10 * time.Millisecond,
		Server: tlspolicy.ServerConfig{CertFile: cert, KeyFile: key}}, quiet())
	require.NoError(t, err)
	addr := server(t, p)
	_, _, err = dial(t, p.ClientConfig("test", "127.0.0.1"), addr)
	require.ErrorContains(t, err, "certificate signed by unknown authority")

	b, err = os.ReadFile(ca2.File)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(trusted, b, 0o644))
	time.Sleep(20 * time.Millisecond)
	_, _, err = dial(t, p.ClientConfig("test", "127.0.0.1"), addr)
	require.NoError(t, err)
}

func TestExpiry_is_a_metric_and_a_warning_within_the_window(t *testing.T) {
	dir := t.TempDir()
	ca, err := certs.NewCA(dir, "ca")
	require.NoError(t, err)
	cert, key, err := ca.Issue("server", certs.Leaf{CommonName: "soon", Hosts: []string{"127.0.0.1"}, Valid: 2 * time.Hour})
	require.NoError(t, err)
	var out logs
	p, err := tlspolicy.New(tlspolicy.Config{Server: tlspolicy.ServerConfig{CertFile: cert, KeyFile: key}, ExpiryWarning: 3 * time.Hour},
		slog.New(slog.NewTextHandler(&out, nil)))
	require.NoError(t, err)
	require.NotNil(t, p.ServerConfig("http"))
	require.Contains(t, out.String(), "tls: certificate expires soon")
	require.Contains(t, out.String(), `subject="CN=soon"`)

	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(p.Collector()))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var got float64
	for _, mf := range mfs {
		if mf.GetName() == "omni_tls_certificate_expiry_seconds" {
			got = mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	require.InDelta(t, (2 * time.Hour).Seconds(), got, 60)
}

func TestServer_refuses_a_client_certificate_of_another_ca_counting_and_saying_why(t *testing.T) {
	dir := t.TempDir()
	ca, err := certs.NewCA(dir, "ca")
	require.NoError(t, err)
	other, err := certs.NewCA(dir, "other")
	require.NoError(t, err)
	cert, key, err := ca.Issue("server", certs.Leaf{CommonName: "server", Hosts: []string{"127.0.0.1"}})
	require.NoError(t, err)
	strangerCert, strangerKey, err := other.Issue("stranger", certs.Leaf{CommonName: "stranger", Client: true})
	require.NoError(t, err)
	var mu sync.Mutex
	var refusals []tlspolicy.Refusal
	var out logs
	srv, err := tlspolicy.New(tlspolicy.Config{Server: tlspolicy.ServerConfig{CertFile: cert, KeyFile: key, ClientCAFile: ca.File},
		OnRefusal: func(r tlspolicy.Refusal) { mu.Lock(); defer mu.Unlock(); refusals = append(refusals, r) }},
		slog.New(slog.NewTextHandler(&out, nil)))
	require.NoError(t, err)
	addr := server(t, srv)
	stranger, err := tlspolicy.New(tlspolicy.Config{CAFile: ca.File, CertFile: strangerCert, KeyFile: strangerKey}, quiet())
	require.NoError(t, err)

	_, _, err = dial(t, stranger.ClientConfig("test", "127.0.0.1"), addr)
	require.Error(t, err)
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(refusals) == 1 }, 5*time.Second, 10*time.Millisecond)
	mu.Lock()
	r := refusals[0]
	mu.Unlock()
	require.Equal(t, "test", r.Endpoint)
	require.Equal(t, "server", r.Side)
	require.Contains(t, r.Reason, `client certificate "CN=stranger" refused`)
	require.Contains(t, r.Reason, "certificate signed by unknown authority")
	require.Contains(t, out.String(), "tls: handshake refused")

	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(srv.Collector()))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	refused := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "omni_tls_handshakes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == "refused" {
					refused += m.GetCounter().GetValue()
				}
			}
		}
	}
	require.Equal(t, 1.0, refused)
}
