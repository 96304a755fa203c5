// Package credentials is the one source of the process's credentials: a reference names where a
// secret lives — the environment, a file (watched, as Kubernetes mounts secrets), Vault's KV v2
// engine, or the dynamic PostgreSQL users of Vault's database secrets engine — and a Cache reads
// it at most once per lease, renews leases before they expire and takes a fresh lease before the
// maximum TTL ends, telling its watchers (connection pools) when the secret changed.
//
// No secret value ever reaches a log, an error or an event: Secret prints redacted, and errors
// name the reference, never what it holds.
package credentials

import (
	"errors"
	"fmt"
	"strings"
)

// Schemes of a reference.
const (
	SchemeEnv     = "env"      // env:NAME — the variable's value
	SchemeFile    = "file"     // file:PATH — the file's content, trimmed; re-read when it changes
	SchemeVaultKV = "vault-kv" // vault-kv:MOUNT/PATH#FIELD — a KV v2 secret's field
	SchemeVaultDB = "vault-db" // vault-db:MOUNT/creds/ROLE — dynamic database credentials
)

// Ref is a parsed credentials reference. It holds where a secret is, never the secret.
type Ref struct {
	// Scheme is one of the Scheme constants.
	Scheme string
	// Path is the variable's name, the file's path or the Vault path (mount first).
	Path string
	// Field of a KV secret; empty means the fields "username" and "password".
	Field string
}

// String is the reference as written.
func (r Ref) String() string {
	s := r.Scheme + ":" + r.Path
	if r.Field != "" {
		s += "#" + r.Field
	}
	return s
}

// ParseRef reads a reference: env:NAME, file:PATH, vault-kv:MOUNT/PATH[#FIELD] or
// vault-db:MOUNT/creds/ROLE.
func ParseRef(s string) (Ref, error) {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || rest == "" {
		return Ref{}, fmt.Errorf("credentials reference %q: want SCHEME:WHERE (env:NAME, file:PATH, vault-kv:MOUNT/PATH#FIELD, vault-db:MOUNT/creds/ROLE)", s)
	}
	r := Ref{Scheme: scheme, Path: rest}
	switch scheme {
	case SchemeEnv:
		if strings.ContainsAny(rest, "=/ ") {
			return Ref{}, fmt.Errorf("credentials reference %q: not an environment variable name", s)
		}
	case SchemeFile:
	case SchemeVaultKV:
		r.Path, r.Field, _ = strings.Cut(rest, "#")
		if mount, path, ok := strings.Cut(strings.Trim(r.Path, "/"), "/"); !ok || mount == "" || path == "" {
			return Ref{}, fmt.Errorf("credentials reference %q: want vault-kv:MOUNT/PATH#FIELD", s)
		}
		r.Path = strings.Trim(r.Path, "/")
	case SchemeVaultDB:
		r.Path = strings.Trim(rest, "/")
		parts := strings.Split(r.Path, "/")
		if len(parts) < 3 || parts[len(parts)-2] != "creds" || parts[0] == "" || parts[len(parts)-1] == "" {
			return Ref{}, fmt.Errorf("credentials reference %q: want vault-db:MOUNT/creds/ROLE", s)
		}
	default:
		return Ref{}, fmt.Errorf("credentials reference %q: unknown scheme %q (known: env, file, vault-kv, vault-db)", s, scheme)
	}
	return r, nil
}

// ErrNotFound is returned when a reference names nothing: an unset variable, a missing field.
var ErrNotFound = errors.New("credentials not found")

// ErrLeaseGone is returned by a Renewer for a lease Vault no longer knows (revoked or expired):
// only a fresh lease helps.
var ErrLeaseGone = errors.New("lease revoked or expired")
