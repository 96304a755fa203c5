package integration_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/seal"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// withTestKey gives cfg the suite's test key-encryption key unless it has keys of its own.
func withTestKey(cfg *app.Config) {
	if cfg.Seal == (app.SealConfig{}) {
		cfg.Seal.KEK = containers.TestKEK
	}
}

// sealerOf returns the sealer of the test database db, as every omni against it holds: what
// the suite publishes through it is sealed and signed as omni's own messages are.
func sealerOf(t *testing.T, db *pgxpool.Pool) *seal.Sealer {
	t.Helper()
	if s, ok := sealers.Load(db); ok {
		return s.(*seal.Sealer)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := app.OpenSeal(ctx, app.SealConfig{KEK: containers.TestKEK, Refresh: time.Second}, db)
	require.NoError(t, err)
	sealers.Store(db, s)
	return s
}

// sealers are the sealers of the test databases, by pool.
var sealers sync.Map

// signed seals and signs msgs for topic with db's keys, for the suite's own producers.
func signed(t *testing.T, db *pgxpool.Pool, topic string, msgs ...*message.Message) []*message.Message {
	t.Helper()
	s := sealerOf(t, db)
	for _, m := range msgs {
		require.NoError(t, s.Seal(context.Background(), topic, m))
	}
	return msgs
}

var _ outbox.Sealer = (*seal.Sealer)(nil)
