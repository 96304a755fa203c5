package tlspolicy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Files name the PEM files of one connection that has its own: a CA, a client certificate and
// its key. An empty field takes the policy's.
type Files struct {
	CAFile, CertFile, KeyFile string
}

// Policy is the TLS policy of a process: every *tls.Config of the process comes from it. It is
// safe for concurrent use.
type Policy struct {
	cfg     Config
	profile profile
	logger  *slog.Logger
	metrics *metrics

	mu      sync.Mutex
	watched map[string]*watched // by kind and files, so two connections of one file share it
	uses    []use               // which endpoint uses which files, for the expiry metric

	ca, pair         *watched // the process's own client CA and certificate; nil: none
	server, clientCA *watched // the servers' certificate and client CA; nil: none
}

type use struct {
	endpoint, kind string
	w              *watched
}

// New builds the policy and loads its files; every problem is named by its setting.
func New(cfg Config, logger *slog.Logger) (*Policy, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid TLS policy: %w", err)
	}
	prof, err := cfg.resolve()
	if err != nil {
		return nil, fmt.Errorf("invalid TLS policy: %w", err)
	}
	p := &Policy{cfg: cfg, profile: prof, logger: logger, watched: map[string]*watched{}, metrics: newMetrics()}
	var errs []error
	load := func(field string, w **watched, open func() (*watched, error)) {
		var err error
		if *w, err = open(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", cfg.name(field), err))
		}
	}
	if cfg.CAFile != "" {
		load("CAFile", &p.ca, func() (*watched, error) { return p.open("CA", cfg.CAFile, "") })
	}
	if cfg.CertFile != "" {
		load("CertFile", &p.pair, func() (*watched, error) { return p.open("certificate", cfg.CertFile, cfg.KeyFile) })
	}
	if cfg.Server.On() {
		load("Server.CertFile", &p.server, func() (*watched, error) {
			return p.open("certificate", cfg.Server.CertFile, cfg.Server.KeyFile)
		})
	}
	if cfg.Server.ClientCAFile != "" {
		load("Server.ClientCAFile", &p.clientCA, func() (*watched, error) { return p.open("CA", cfg.Server.ClientCAFile, "") })
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("invalid TLS policy: %w", err)
	}
	return p, nil
}

// Default is the intermediate policy with no files of its own: what a component built without a
// policy (a test, a tool) connects with.
func Default() *Policy {
	p, err := New(DefaultConfig(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		panic(fmt.Sprintf("tlspolicy: the default policy is invalid: %v", err)) // the pinned profile is broken
	}
	return p
}

// Config is the policy's configuration, defaults filled in.
func (p *Policy) Config() Config { return p.cfg }

// Require reports whether every connection must use TLS.
func (p *Policy) Require() bool { return p.cfg.Require }

// open returns the watched files, loading them the first time.
func (p *Policy) open(kind, file, key string) (*watched, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id := kind + "\x00" + file + "\x00" + key
	if w, ok := p.watched[id]; ok {
		return w, nil
	}
	var w *watched
	var err error
	if kind == "CA" {
		w, err = newCA(file, p.cfg.ReloadInterval, p.logger)
	} else {
		w, err = newKeyPair(file, key, p.cfg.ReloadInterval, p.logger)
	}
	if err != nil {
		return nil, err
	}
	p.watched[id] = w
	return w, nil
}

func (p *Policy) use(endpoint, kind string, w *watched) {
	if w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	u := use{endpoint, kind, w}
	if !slices.Contains(p.uses, u) {
		p.uses = append(p.uses, u)
		w.warnExpiry([]string{endpoint}, p.cfg.ExpiryWarning)
	}
}

// base is the profile as a tls.Config.
func (p *Policy) base() *tls.Config {
	return &tls.Config{
		MinVersion: p.profile.minVersion, MaxVersion: p.profile.maxVersion,
		CipherSuites: slices.Clone(p.profile.suites), CurvePreferences: slices.Clone(p.profile.curves),
	}
}

// ClientConfig is the configuration of a connection to serverName (the host dialled: a name or
// an address) with the policy's own CA and client certificate.
func (p *Policy) ClientConfig(endpoint, serverName string) *tls.Config {
	return p.client(endpoint, p.ca, p.pair).config(serverName)
}

// ClientConfigWith is ClientConfig with the connection's own files, each reloaded as the
// policy's are; its errors name the file.
func (p *Policy) ClientConfigWith(endpoint, serverName string, f Files) (*tls.Config, error) {
	c, err := p.clientWith(endpoint, f)
	if err != nil {
		return nil, err
	}
	return c.config(serverName), nil
}

func (p *Policy) clientWith(endpoint string, f Files) (*client, error) {
	ca, pair := p.ca, p.pair
	var err error
	if f.CAFile != "" {
		if ca, err = p.open("CA", f.CAFile, ""); err != nil {
			return nil, err
		}
	}
	switch {
	case (f.CertFile == "") != (f.KeyFile == ""):
		return nil, errors.New("a client certificate and its key: give both or neither")
	case f.CertFile != "":
		if pair, err = p.open("certificate", f.CertFile, f.KeyFile); err != nil {
			return nil, err
		}
	}
	return p.client(endpoint, ca, pair), nil
}

func (p *Policy) client(endpoint string, ca, pair *watched) *client {
	p.use(endpoint, "ca", ca)
	p.use(endpoint, "cert", pair)
	return &client{p: p, endpoint: endpoint, ca: ca, pair: pair}
}

// client is one endpoint's client side: its CA (nil: the system's roots) and certificate.
type client struct {
	p        *Policy
	endpoint string
	ca, pair *watched
}

func (c *client) config(serverName string) *tls.Config {
	cfg := c.p.base()
	cfg.ServerName = serverName
	if c.pair != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return c.pair.current().pair, nil
		}
	}
	if c.ca == nil {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			c.p.outcome(c.endpoint, "client", serverName, nil)
			return nil
		}
		return cfg
	}
	// WARNING: Go's own verification is off only so that the CA file's current certificates are
	// the roots of each new connection; VerifyConnection verifies the chain and the name
	// (verify-full) and refuses what does not pass.
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		err := verify(cs, serverName, c.ca.current().pool, x509.ExtKeyUsageServerAuth)
		c.p.outcome(c.endpoint, "client", serverName, err)
		if err != nil {
			return fmt.Errorf("%s: %w", c.endpoint, err)
		}
		return nil
	}
	return cfg
}

// outcome counts a handshake; a refusal is also logged at warn and handed to OnRefusal.
func (p *Policy) outcome(endpoint, side, peer string, err error) {
	p.metrics.handshake(endpoint, side, err)
	if err == nil {
		return
	}
	p.logger.Warn("tls: handshake refused", "endpoint", endpoint, "side", side, "peer", peer, "reason", err.Error())
	if p.cfg.OnRefusal != nil {
		p.cfg.OnRefusal(Refusal{Endpoint: endpoint, Side: side, Peer: peer, Reason: err.Error()})
	}
}

func verify(cs tls.ConnectionState, name string, roots *x509.CertPool, usage x509.ExtKeyUsage) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the peer presented no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		DNSName: name, Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage},
	})
	switch {
	case err != nil && name == "":
		return fmt.Errorf("client certificate %q refused: %w", cs.PeerCertificates[0].Subject.String(), err)
	case err != nil:
		return fmt.Errorf("certificate of %q refused: %w", name, err)
	}
	return nil
}

// Check reports whether a negotiated connection meets the policy: its version within the
// profile's, and under TLS 1.2 one of its suites.
func (p *Policy) Check(cs tls.ConnectionState) error {
	var errs []error
	if cs.Version < p.profile.minVersion || cs.Version > p.profile.maxVersion {
		errs = append(errs, fmt.Errorf("version %s is outside the %s profile (%s to %s)", tls.VersionName(cs.Version),
			p.profile.name, tls.VersionName(p.profile.minVersion), tls.VersionName(p.profile.maxVersion)))
	}
	if cs.Version == tls.VersionTLS12 && !slices.Contains(p.profile.suites, cs.CipherSuite) {
		errs = append(errs, fmt.Errorf("suite %s is not in the %s profile", tls.CipherSuiteName(cs.CipherSuite), p.profile.name))
	}
	return errors.Join(errs...)
}

// Describe is the profile in words, for logs and omni tls check.
func (p *Policy) Describe() string {
	versions := tls.VersionName(p.profile.minVersion)
	if p.profile.maxVersion != p.profile.minVersion {
		versions += " to " + tls.VersionName(p.profile.maxVersion)
	}
	if p.profile.maxVersion < tls.VersionTLS12 || p.profile.minVersion > tls.VersionTLS12 {
		return fmt.Sprintf("%s: %s", p.profile.name, versions)
	}
	var suites []string
	for _, s := range p.profile.suites {
		suites = append(suites, tls.CipherSuiteName(s))
	}
	return fmt.Sprintf("%s: %s; TLS 1.2 suites %s", p.profile.name, versions, strings.Join(suites, ", "))
}

// Run reads the files again every ReloadInterval, so a replaced certificate is loaded (and a
// broken one said) even while no connection is made, and warns of what expires within
// ExpiryWarning. It returns when ctx ends.
func (p *Policy) Run(ctx context.Context) error {
	t := time.NewTicker(p.cfg.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		p.mu.Lock()
		uses := slices.Clone(p.uses)
		p.mu.Unlock()
		byFiles := map[*watched][]string{}
		for _, u := range uses {
			byFiles[u.w] = append(byFiles[u.w], u.endpoint)
		}
		for w, endpoints := range byFiles {
			w.reload()
			w.warnExpiry(endpoints, p.cfg.ExpiryWarning)
		}
	}
}

// Collector exports the policy's metrics: omni_tls_certificate_expiry_seconds and
// omni_tls_handshakes_total.
func (p *Policy) Collector() prometheus.Collector { return &collector{p: p} }

// Load reads f's files as a connection would, and reports every problem naming the field as
// names calls it ("CAFile" → "--kafka-tls-ca"; "CertFile" and "KeyFile" likewise).
func (p *Policy) Load(f Files, names map[string]string) error {
	name := func(field string) string {
		if n, ok := names[field]; ok {
			return n
		}
		return field
	}
	var errs []error
	if f.CAFile != "" {
		if _, err := p.open("CA", f.CAFile, ""); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name("CAFile"), err))
		}
	}
	switch {
	case (f.CertFile == "") != (f.KeyFile == ""):
		errs = append(errs, fmt.Errorf("%s, %s: give both or neither", name("CertFile"), name("KeyFile")))
	case f.CertFile != "":
		if _, err := p.open("certificate", f.CertFile, f.KeyFile); err != nil {
			errs = append(errs, fmt.Errorf("%s, %s: %w", name("CertFile"), name("KeyFile"), err))
		}
	}
	return errors.Join(errs...)
}
