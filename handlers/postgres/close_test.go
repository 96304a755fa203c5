package postgres_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/effect"
	"github.com/omninode/omnibase-infra/handlers/postgres"
)

// After Close every call is refused at once, without touching the server, and Close can be
// called again. (That Close waits for the calls in flight is checked on a real server, by
// effecttest's suite in tests/integration.)
func TestClose_refuses_the_calls_after_it(t *testing.T) {
	d, err := postgres.New(postgres.Config{Targets: []postgres.Target{{Name: "db", URL: "postgres://u@127.0.0.1:1/db"}}}, nil)
	require.NoError(t, err)
	d.Close()
	ctx := context.Background()

	_, err = d.Execute(ctx, "db", events.PostgresExecute{On: events.On{Target: "db"}, Statement: events.Statement{SQL: "SELECT 1"}})
	require.ErrorIs(t, err, effect.ErrDriverClosed)
	require.EqualError(t, err, "postgres driver closed")
	_, err = d.Probe(ctx, "db")
	require.ErrorIs(t, err, effect.ErrDriverClosed)
	_, err = d.Initialize(ctx, "db")
	require.ErrorIs(t, err, effect.ErrDriverClosed)
	_, err = d.Recover(ctx, "db")
	require.ErrorIs(t, err, effect.ErrDriverClosed)
	d.Close()
}
