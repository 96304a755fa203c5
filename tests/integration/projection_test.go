package integration_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/platform/bus"
	"github.com/omninode/omnibase-infra/projections/infrastate"
	"github.com/omninode/omnibase-infra/tests/containers"
)

func failedProbe(t *testing.T, adapterID string, at time.Time) *message.Message {
	t.Helper()
	msg, err := events.Encode(events.AdapterHealthReported{
		AdapterID: adapterID, Adapter: events.AdapterPostgres, Target: "x", Healthy: false,
		Error: "connection refused", LatencyMicros: 120, ProbedAt: at,
	}, events.NewOrigin(), at)
	require.NoError(t, err)
	return msg
}

// publish puts msgs on topic straight, signed with db's keys as omni's own producers sign.
func publish(t *testing.T, db *pgxpool.Pool, brokers []string, topic string, msgs ...*message.Message) {
	t.Helper()
	pub, err := bus.NewPublisher(brokers, bus.Security{}, watermill.NopLogger{})
	require.NoError(t, err)
	defer pub.Close()
	require.NoError(t, pub.Publish(topic, signed(t, db, topic, msgs...)...))
}

// stateOf waits until the projection has folded an event probed at last for adapterID.
func stateOf(t *testing.T, db *pgxpool.Pool, adapterID string, last time.Time) infrastate.TargetState {
	t.Helper()
	var s infrastate.TargetState
	eventually(t, 60*time.Second, adapterID+" folded up to "+last.String(), func() (bool, string, error) {
		states, err := infrastate.List(context.Background(), db)
		if err != nil {
			return false, "", err
		}
		for _, st := range states {
			if st.AdapterID == adapterID {
				s = st
				return st.LastProbedAt.Equal(last), fmt.Sprintf("last probe folded %s", st.LastProbedAt), nil
			}
		}
		return false, "no state", nil
	})
	return s
}

// t0 is when the projection tests' probes happened.
var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// startProjection runs the projection role alone on a broker and database of the test's own.
func startProjection(t *testing.T) (*containers.Kafka, *pgxpool.Pool) {
	t.Helper()
	kafka := newKafka(t)
	url, db := newControlDB(t)
	// The relay delivers what the projection publishes through the outbox: intents, poison copies.
	startApp(t, app.Config{DatabaseURL: url, KafkaBrokers: kafka.Brokers(), Roles: []app.Role{app.RoleRelay, app.RoleProjection}})
	return kafka, db
}

func TestProjection_same_event_delivered_twice_changes_nothing(t *testing.T) {
	kafka, db := startProjection(t)
	const id = "postgres/dup"
	first := failedProbe(t, id, t0)
	second := failedProbe(t, id, t0.Add(time.Second))

	// The first event twice (same message id, as a redelivery would be), then a later one.
	publish(t, db, kafka.Brokers(), events.DefaultTopics().Events, first, first.Copy(), second)

	s := stateOf(t, db, id, t0.Add(time.Second))
	require.Equal(t, int64(2), s.Probes, "the duplicate was not folded")
	require.Equal(t, 2, s.ConsecutiveFailures)
	require.Equal(t, infrastate.StatusDegraded, s.Status)
	require.Equal(t, []string{"infrastructure_health_degraded"}, kindsOf(t, db, id), "one intent, raised once")
}

func TestProjection_undecodable_event_goes_to_poison_topic_and_the_next_is_applied(t *testing.T) {
	kafka, db := startProjection(t)
	const id = "postgres/poisoned"

	unknown := failedProbe(t, id, t0)
	unknown.UUID = watermill.NewUUID()
	unknown.Metadata.Set(events.MetaType, "adapter_exploded")
	badVersion := failedProbe(t, id, t0)
	badVersion.UUID = watermill.NewUUID()
	badVersion.Metadata.Set(events.MetaVersion, "9")
	badPayload := failedProbe(t, id, t0)
	badPayload.UUID = watermill.NewUUID()
	badPayload.Payload = []byte(`{"adapter_id": "postgres/poisoned", "healthy": "very"}`)
	good := failedProbe(t, id, t0.Add(time.Second))

	publish(t, db, kafka.Brokers(), events.DefaultTopics().Events, unknown, badVersion, badPayload, good)

	s := stateOf(t, db, id, t0.Add(time.Second))
	require.Equal(t, int64(1), s.Probes, "only the good event was folded")

	poisoned := poisonedBy(t, db, kafka.Brokers(), infrastate.ConsumerName, events.DefaultTopics().Events, 3)
	require.Len(t, poisoned, 3)
	require.Contains(t, poisoned[unknown.UUID], "unknown message type")
	require.Contains(t, poisoned[badVersion.UUID], "unknown schema version")
	require.Contains(t, poisoned[badPayload.UUID], "invalid payload")
}

// kindsOf lists a subject's intents in the order they were raised.
func kindsOf(t *testing.T, db *pgxpool.Pool, subject string) []string {
	t.Helper()
	rows, err := db.Query(context.Background(),
		`SELECT kind FROM infrastructure_intents WHERE subject = $1 ORDER BY raised_at, created_at`, subject)
	require.NoError(t, err)
	var kinds []string
	for rows.Next() {
		var k string
		require.NoError(t, rows.Scan(&k))
		kinds = append(kinds, k)
	}
	require.NoError(t, rows.Err())
	return kinds
}
