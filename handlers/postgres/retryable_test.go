package postgres_test

import (
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/postgres"
)

// A transient error is retried only when the statement cannot have been applied.
func TestRetryable_only_when_the_statement_cannot_have_been_applied(t *testing.T) {
	d, err := postgres.New(postgres.Config{Targets: []postgres.Target{{Name: "db", URL: "postgres://u@127.0.0.1:1/db"}}}, nil)
	require.NoError(t, err)
	defer d.Close()
	cmd := events.PostgresExecute{}
	for name, c := range map[string]struct {
		err  error
		want bool
	}{
		"deadlock: rolled back by the server": {&pgconn.PgError{Code: "40P01"}, true},
		"too many connections":                {fmt.Errorf("exec: %w", &pgconn.PgError{Code: "53300"}), true},
		"could not connect":                   {&pgconn.ConnectError{}, true},
		"connection lost mid-statement (EOF)": {fmt.Errorf("exec: %w", io.ErrUnexpectedEOF), false},
		"connection reset while in flight":    {fmt.Errorf("exec: %w", syscall.ECONNRESET), false},
	} {
		require.True(t, d.Transient(c.err), "%s is transient", name)
		require.Equal(t, c.want, d.Retryable(cmd, c.err), name)
	}
}
