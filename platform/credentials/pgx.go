package credentials

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Source hands out a reference's current credentials; Cache is the one. Consumers take this
// narrow interface.
type Source interface {
	// Get returns the credentials, read at most once per lease.
	Get(ctx context.Context, ref Ref) (Secret, error)
	// Invalidate drops the credentials of that version, refused by their server.
	Invalidate(ref Ref, version uint64)
	// InvalidateRefused drops the credentials a refused connection (Refused) used.
	InvalidateRefused(err error)
	// Watch calls fn each time the credentials change, until stop is called.
	Watch(ref Ref, fn func()) (stop func())
}

var _ Source = (*Cache)(nil)

// BeforeConnect is a pgxpool BeforeConnect giving each new connection ref's current
// credentials: the user name when they carry one, and the password. When the server refuses them
// (Refused), that version is invalidated, so that the next connection reads them anew.
func BeforeConnect(src Source, ref Ref) func(context.Context, *pgx.ConnConfig) error {
	return func(ctx context.Context, cc *pgx.ConnConfig) error {
		s, err := src.Get(ctx, ref)
		if err != nil {
			return err
		}
		if s.Username != "" {
			cc.User = s.Username
		}
		cc.Password = s.Password
		next := cc.OnPgError
		version := s.Version
		cc.OnPgError = func(c *pgconn.PgConn, pgErr *pgconn.PgError) bool {
			if refusedCode(pgErr.Code) {
				src.Invalidate(ref, version)
			}
			if next != nil {
				return next(c, pgErr)
			}
			return !strings.EqualFold(pgErr.Severity, "FATAL")
		}
		return nil
	}
}

// Refused reports whether err is a server refusing a connection's credentials: SQLSTATE 28P01
// (invalid password: a revoked or expired user reads the same) or 28000 (invalid
// authorization). With credentials from a Source, such an error is transient: they are read anew.
func Refused(err error) bool {
	var connectErr *pgconn.ConnectError
	var pgErr *pgconn.PgError
	return errors.As(err, &connectErr) && errors.As(err, &pgErr) && refusedCode(pgErr.Code)
}

// RefusedUser is the user whose credentials err (Refused) says were refused.
func RefusedUser(err error) (string, bool) {
	var connectErr *pgconn.ConnectError
	if !Refused(err) || !errors.As(err, &connectErr) || connectErr.Config == nil || connectErr.Config.User == "" {
		return "", false
	}
	return connectErr.Config.User, true
}

func refusedCode(code string) bool { return code == "28P01" || code == "28000" }
