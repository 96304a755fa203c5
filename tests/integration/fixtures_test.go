package integration_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/projections/infrastate"
)

// readFixture reads a recorded stream: one message per line, as it was on the topic.
func readFixture(t *testing.T, path string) []*message.Message {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []*message.Message
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line struct {
			UUID     string            `json:"uuid"`
			Metadata map[string]string `json:"metadata"`
			Payload  json.RawMessage   `json:"payload"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line))
		msg := message.NewMessage(line.UUID, []byte(line.Payload))
		msg.Metadata = line.Metadata
		out = append(out, msg)
	}
	require.NoError(t, sc.Err())
	return out
}

// A stream recorded from an older version goes through the live projection and the replay, and
// ends in the same state as the same stream written in the current version.
func TestFixtures_older_version_stream_replays_to_the_current_version_state(t *testing.T) {
	old := readFixture(t, "../fixtures/infra-events-v1.jsonl")
	require.Len(t, old, 150)
	require.Equal(t, "1", old[0].Metadata.Get(events.MetaVersion), "the fixture is in version 1")

	// The same stream in the current version: each event read (upcast) and written again.
	reducer := infrastate.Reducer{Thresholds: infrastate.DefaultThresholds()}
	current := map[string]infrastate.TargetState{}
	for _, msg := range old {
		env, m, err := events.Catalog().Decode(msg)
		require.NoError(t, err)
		again, err := events.EncodeWithID(env.ID, m, events.Origin{CorrelationID: env.CorrelationID}, env.OccurredAt)
		require.NoError(t, err)
		env2, m2, err := events.Catalog().Decode(again)
		require.NoError(t, err)
		require.Zero(t, env2.UpcastFrom, "written in the current version")
		s, ok := current[m2.Key()]
		if !ok {
			s = infrastate.NewState(m2.Key())
		}
		current[m2.Key()], _ = reducer.Reduce(s, env2, m2)
	}

	// The old stream as the old version published it: through the outbox, so it is in the log.
	kafka := newKafka(t)
	url, db := newControlDB(t)
	startApp(t, app.Config{DatabaseURL: url, KafkaBrokers: kafka.Brokers(), Roles: []app.Role{app.RoleRelay, app.RoleProjection}})
	ctx := context.Background()
	for _, msg := range old {
		require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error {
			return outbox.PublishSealed(ctx, tx, sealerOf(t, db), events.DefaultTopics().Events, msg)
		}))
	}
	waitApplied(t, db, len(old))

	live, err := infrastate.List(ctx, db)
	require.NoError(t, err)
	require.Len(t, live, len(current))
	for _, s := range live {
		require.Equal(t, current[s.AdapterID], s, "live state of %s from the v1 stream", s.AdapterID)
	}
	require.Equal(t, infrastate.StatusHealthy, current["postgres/target"].Status, "the stream ends recovered")

	out, stderr, code := omni(t, []string{"DATABASE_URL=" + url}, "replay", "--verify")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, stderr)
	require.Contains(t, out, "replayed 150 events")
	require.Contains(t, out, "verified")
}
