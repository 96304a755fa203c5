package credentials

import (
	"fmt"
	"log/slog"
	"time"
)

// Secret is what a reference resolves to: a user name and password (database credentials, a
// KV secret's username and password fields) or a single value in Password. It prints redacted.
type Secret struct {
	// Username, when the source gives one.
	Username string
	// Password, or the single value of an env, file or KV field reference.
	Password string
	// Version counts the secrets a Cache has held for the reference: it changes when the secret
	// changes (rotated, re-read, replaced after a revocation).
	Version uint64
	// LeaseID of a Vault lease; empty for secrets without one.
	LeaseID string
	// LeaseDuration is the lease's time to live when obtained; 0 for secrets without a lease.
	LeaseDuration time.Duration
	// Renewable says whether the lease can be extended.
	Renewable bool
	// ExpiresAt is when the secret stops working; zero for never.
	ExpiresAt time.Time
}

// String never shows the values.
func (s Secret) String() string {
	return fmt.Sprintf("credentials.Secret{Username:%s Password:[REDACTED] Version:%d}", redact(s.Username), s.Version)
}

// GoString never shows the values, as %#v.
func (s Secret) GoString() string { return s.String() }

// LogValue never shows the values, as slog.
func (s Secret) LogValue() slog.Value {
	return slog.GroupValue(slog.Uint64("version", s.Version), slog.Bool("leased", s.LeaseID != ""),
		slog.Time("expires_at", s.ExpiresAt))
}

// same reports whether two secrets hold the same values.
func (s Secret) same(o Secret) bool { return s.Username == o.Username && s.Password == o.Password }

func redact(v string) string {
	if v == "" {
		return `""`
	}
	return "[REDACTED]"
}
