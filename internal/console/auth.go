package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/audit"
	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// sessionCookie names the login's cookie.
const sessionCookie = "omni_console"

// token is one line of the token file: who it logs in as, and the secret.
type token struct {
	name   string
	secret []byte
}

// readTokens reads the token file: "NAME:TOKEN" or "TOKEN" a line; blank lines and # comments
// are skipped. Its errors never quote a token.
func readTokens(path string) ([]token, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("console token file: %w", err)
	}
	var out []token
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, secret, ok := strings.Cut(line, ":")
		if !ok {
			name, secret = "operator", line
		}
		if len(secret) < 16 {
			return nil, fmt.Errorf("console token file %s, line %d: a token must be at least 16 characters", path, i+1)
		}
		out = append(out, token{name: strings.TrimSpace(name), secret: []byte(secret)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("console token file %s holds no token", path)
	}
	return out, nil
}

// login returns who secret logs in as, comparing with every token in constant time.
func (c *Console) login(secret string) (string, bool) {
	name, found := "", 0
	for _, t := range c.tokens {
		if subtle.ConstantTimeCompare(t.secret, []byte(secret)) == 1 {
			name, found = t.name, 1
		}
	}
	return name, found == 1
}

// session is a login: who, and the CSRF token of its forms.
type session struct {
	who     string
	csrf    string
	expires time.Time
}

type sessions struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]session
}

func newSessions(ttl time.Duration) *sessions { return &sessions{ttl: ttl, m: map[string]session{}} }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	return hex.EncodeToString(b)
}

func (s *sessions) start(who string) (string, session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for id, v := range s.m {
		if now.After(v.expires) {
			delete(s.m, id)
		}
	}
	id := randomHex(32)
	v := session{who: who, csrf: randomHex(32), expires: now.Add(s.ttl)}
	s.m[id] = v
	return id, v
}

func (s *sessions) get(id string) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[id]
	if !ok || time.Now().After(v.expires) {
		return session{}, false
	}
	return v, true
}

func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

// viewer is who is looking: logged in (who, and the CSRF token forms carry) or not.
type viewer struct {
	who  string
	csrf string
	// via says how: "token" or "certificate".
	via string
}

// LoggedIn, Who, CSRF and Via are for the templates.
func (v viewer) LoggedIn() bool { return v.who != "" }
func (v viewer) Who() string    { return v.who }
func (v viewer) CSRF() string   { return v.csrf }
func (v viewer) Via() string    { return v.via }

// viewerOf reads the request's login: its session cookie, else a verified client certificate
// (which starts a session, so its forms carry a CSRF token too).
func (c *Console) viewerOf(w http.ResponseWriter, r *http.Request) viewer {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		if s, ok := c.sessions.get(ck.Value); ok {
			via := "token"
			if strings.HasPrefix(s.who, "cert:") {
				via = "certificate"
			}
			return viewer{who: s.who, csrf: s.csrf, via: via}
		}
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		who := "cert:" + r.TLS.VerifiedChains[0][0].Subject.CommonName
		id, s := c.sessions.start(who)
		c.setCookie(w, r, id)
		return viewer{who: who, csrf: s.csrf, via: "certificate"}
	}
	return viewer{}
}

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, id string) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(c.cfg.SessionTTL.Seconds())})
}

// actor is how the audit log names v acting from r.
func actor(v viewer, r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return fmt.Sprintf("%s@%s (console, %s)", v.who, host, v.via)
}

// errRefused is the refusal of an action without a login or with a wrong CSRF token.
var errRefused = errors.New("refused")

// authorize checks that r may act: a login, and the CSRF token of its session. A refusal is
// answered (401 without a login, 403 with a bad CSRF token) and recorded as a security event.
func (c *Console) authorize(w http.ResponseWriter, r *http.Request, v viewer) error {
	var reason string
	code := http.StatusUnauthorized
	switch {
	case !v.LoggedIn():
		reason = "console action without a login"
	case subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(v.csrf)) != 1:
		reason, code = "console action without its form's CSRF token", http.StatusForbidden
	default:
		return nil
	}
	who := v.who
	if who == "" {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		who = "anonymous@" + host + " (console)"
	}
	ev := events.SecurityEventRecorded{Type: events.SecurityUnauthenticated, Actor: who, Subject: "console " + r.URL.Path,
		Reason: reason, At: time.Now()}
	if err := pgtx.Run(r.Context(), c.deps.DB, func(tx pgx.Tx) error {
		return audit.RecordSecurity(r.Context(), tx, c.deps.Sealer, ev)
	}); err != nil {
		c.logger.ErrorContext(r.Context(), "could not record a refused console action", "error", err, "path", r.URL.Path)
	}
	c.logger.WarnContext(r.Context(), "console action refused", "reason", reason, "path", r.URL.Path, "remote", r.RemoteAddr)
	http.Error(w, "refused: "+reason+" (log in at /login)", code)
	return errRefused
}

// handleLogin shows the login form (GET) or checks its token (POST).
func (c *Console) handleLogin(w http.ResponseWriter, r *http.Request) {
	v := c.viewerOf(w, r)
	data := map[string]any{"TokenLogin": len(c.tokens) > 0, "CertLogin": c.cfg.TLS != nil}
	if r.Method == http.MethodPost {
		name, ok := c.login(r.PostFormValue("token"))
		if !ok {
			c.recordFailedLogin(r.Context(), r)
			w.WriteHeader(http.StatusUnauthorized)
			data["Error"] = "That token is not one of the console's."
			c.render(w, r, v, "login", "Log in", data)
			return
		}
		id, _ := c.sessions.start(name)
		c.setCookie(w, r, id)
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	c.render(w, r, v, "login", "Log in", data)
}

func (c *Console) recordFailedLogin(ctx context.Context, r *http.Request) {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	ev := events.SecurityEventRecorded{Type: events.SecurityUnauthenticated, Actor: "anonymous@" + host + " (console)",
		Subject: "console /login", Reason: "console login with a wrong token", At: time.Now()}
	if err := pgtx.Run(ctx, c.deps.DB, func(tx pgx.Tx) error { return audit.RecordSecurity(ctx, tx, c.deps.Sealer, ev) }); err != nil {
		c.logger.ErrorContext(ctx, "could not record a failed console login", "error", err)
	}
}

func (c *Console) handleLogout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		c.sessions.end(ck.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
