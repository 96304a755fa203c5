package tlspolicy

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// material is what one set of files holds: a key pair or a CA pool, with the certificates whose
// expiry is watched.
type material struct {
	pair  *tls.Certificate
	pool  *x509.CertPool
	certs []*x509.Certificate
}

// watched is a set of files read again, at most every interval, when a connection needs them or
// Run polls: a change of their content is loaded, and a load that fails keeps the last good
// material and says why, once per bad content.
type watched struct {
	kind   string // "certificate" or "CA"
	files  []string
	load   func(contents [][]byte) (material, error)
	every  time.Duration
	logger *slog.Logger

	mu      sync.Mutex
	cur     material
	sum     [sha256.Size]byte
	lastErr string // the last reload's failure, said once
	checked time.Time
	warned  map[string]bool // certificates warned about, by fingerprint
}

func newKeyPair(certFile, keyFile string, every time.Duration, logger *slog.Logger) (*watched, error) {
	w := &watched{kind: "certificate", files: []string{certFile, keyFile}, every: every, logger: logger, load: loadPair}
	return w, w.first()
}

func newCA(file string, every time.Duration, logger *slog.Logger) (*watched, error) {
	w := &watched{kind: "CA", files: []string{file}, every: every, logger: logger, load: loadCA}
	return w, w.first()
}

func loadPair(c [][]byte) (material, error) {
	pair, err := tls.X509KeyPair(c[0], c[1])
	if err != nil {
		return material{}, err
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return material{}, err
		}
	}
	return material{pair: &pair, certs: []*x509.Certificate{pair.Leaf}}, nil
}

func loadCA(c [][]byte) (material, error) {
	pool := x509.NewCertPool()
	var certs []*x509.Certificate
	rest := c[0]
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return material{}, fmt.Errorf("a certificate could not be parsed: %w", err)
		}
		pool.AddCert(cert)
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return material{}, errors.New("no PEM certificate")
	}
	return material{pool: pool, certs: certs}, nil
}

func (w *watched) read() ([][]byte, [sha256.Size]byte, error) {
	h := sha256.New()
	var out [][]byte
	for _, f := range w.files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, [sha256.Size]byte{}, err
		}
		out = append(out, b)
		h.Write(b)
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	return out, sum, nil
}

// first loads the files at start; an error is the start's.
func (w *watched) first() error {
	contents, sum, err := w.read()
	if err != nil {
		return fmt.Errorf("could not read the %s file: %w", w.kind, err)
	}
	if w.cur, err = w.load(contents); err != nil {
		return fmt.Errorf("%w in %s", err, strings.Join(w.files, ", "))
	}
	w.sum, w.checked = sum, time.Now()
	return nil
}

// current is the material to use now, reloaded first when the interval has passed.
func (w *watched) current() material {
	w.mu.Lock()
	defer w.mu.Unlock()
	if time.Since(w.checked) >= w.every {
		w.reloadLocked()
	}
	return w.cur
}

// reload reads the files again now.
func (w *watched) reload() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reloadLocked()
}

func (w *watched) reloadLocked() {
	w.checked = time.Now()
	contents, sum, err := w.read()
	if err == nil && sum == w.sum {
		w.lastErr = ""
		return
	}
	var m material
	if err == nil {
		m, err = w.load(contents)
	}
	if err != nil {
		// Said once per failure, not at every poll: a broken file stays broken until replaced.
		if msg := err.Error(); msg != w.lastErr {
			w.lastErr = msg
			w.logger.Warn("tls: could not reload; keeping the last good "+w.kind,
				"files", strings.Join(w.files, ", "), "error", msg, "kept_subject", subject(w.cur.certs),
				"kept_not_after", notAfter(w.cur.certs))
		}
		return
	}
	w.cur, w.sum, w.lastErr = m, sum, ""
	w.logger.Info("tls: reloaded "+w.kind, "files", strings.Join(w.files, ", "), "subject", subject(m.certs),
		"not_after", notAfter(m.certs))
}

func subject(certs []*x509.Certificate) string {
	if len(certs) == 0 {
		return ""
	}
	return certs[0].Subject.String()
}

// notAfter is the earliest expiry of certs.
func notAfter(certs []*x509.Certificate) time.Time {
	var t time.Time
	for _, c := range certs {
		if t.IsZero() || c.NotAfter.Before(t) {
			t = c.NotAfter
		}
	}
	return t
}

// warnExpiry logs once per certificate that expires within window.
func (w *watched) warnExpiry(endpoints []string, window time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.warned == nil {
		w.warned = map[string]bool{}
	}
	for _, c := range w.cur.certs {
		left := time.Until(c.NotAfter)
		fp := fmt.Sprintf("%x", sha256.Sum256(c.Raw))
		if left > window || w.warned[fp] {
			continue
		}
		w.warned[fp] = true
		w.logger.Warn("tls: certificate expires soon", "kind", w.kind, "file", w.files[0], "subject", c.Subject.String(),
			"not_after", c.NotAfter, "expires_in", left.Round(time.Second).String(), "endpoints", strings.Join(endpoints, ","))
	}
}
