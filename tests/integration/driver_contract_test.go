package integration_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/hashicorp/consul/api"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/consul"
	"github.com/omninode/omnibase-infra/handlers/effect/effecttest"
	"github.com/omninode/omnibase-infra/handlers/kafka"
	"github.com/omninode/omnibase-infra/handlers/postgres"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// slowFor is how long each harness's slow call stays in flight on its server.
const slowFor = 3 * time.Second

// pausing stalls server by pausing its container: the kernel still accepts what the driver sends
// on its open connections, and the frozen server answers all of it once unpaused. This is how a
// real Kafka-protocol broker or Consul agent is held mid-call, having no slow call of its own.
func pausing(server *containers.Server) func(ctx context.Context) (func(ctx context.Context) error, error) {
	return func(ctx context.Context) (func(ctx context.Context) error, error) {
		if err := server.Pause(ctx); err != nil {
			return nil, err
		}
		return server.Unpause, nil
	}
}

// The PostgreSQL driver, on a server of its own: pg_sleep is its slow call, a syntax error what
// the server refuses.
func TestDriverContract_postgres(t *testing.T) {
	on := events.On{Target: "orders"}
	effecttest.RunDriverSuite(t, func(t *testing.T) effecttest.Harness {
		server := started(t, containers.StartPostgres)
		_, db := newControlDB(t)
		d, err := postgres.New(postgres.Config{Targets: []postgres.Target{{Name: on.Target, URL: server.URL}}}, testLogger(t))
		require.NoError(t, err)
		return effecttest.Harness{
			Driver: d, Target: on.Target, Server: server, Control: db, Logger: testLogger(t),
			Permanent: events.PostgresExecute{On: on, Statement: events.Statement{SQL: "SELEC 1"}},
			Slow: events.PostgresQuery{On: on, Statement: events.Statement{
				SQL: fmt.Sprintf("SELECT 'slept' AS done FROM pg_sleep(%g)", slowFor.Seconds())}},
			SlowFor: slowFor,
			CheckSlow: func(t *testing.T, result events.Result) {
				res, ok := result.(*events.PostgresQueryResult)
				require.True(t, ok, "%T", result)
				require.Equal(t, []string{"done"}, res.Columns)
				require.Equal(t, 1, res.RowCount)
				require.JSONEq(t, `["slept"]`, string(res.Rows[0]))
			},
		}
	})
}

// The Kafka driver, on a broker of its own: describe-cluster held mid-call by pausing the
// broker is its slow call; a replication factor a single broker cannot hold is what the broker
// refuses (INVALID_REPLICATION_FACTOR).
func TestDriverContract_kafka(t *testing.T) {
	on := events.On{Target: "bus"}
	effecttest.RunDriverSuite(t, func(t *testing.T) effecttest.Harness {
		broker := newKafka(t)
		_, db := newControlDB(t)
		// Sarama's own timeouts outlast the slow call: what ends it is the broker answering, or
		// the call's deadline.
		d, err := kafka.New(kafka.Config{Targets: []kafka.Target{{Name: on.Target, Brokers: broker.Brokers()}},
			Timeout: 4 * slowFor}, testLogger(t))
		require.NoError(t, err)
		return effecttest.Harness{
			Driver: d, Target: on.Target, Server: broker, Control: db, Logger: testLogger(t),
			Permanent: events.KafkaEnsureTopic{On: on, Topic: "contract-" + watermill.NewShortUUID(), Partitions: 1, ReplicationFactor: 3},
			Slow:      events.KafkaDescribeCluster{On: on},
			SlowFor:   slowFor,
			Stall:     pausing(broker.Server),
			CheckSlow: func(t *testing.T, result events.Result) {
				res, ok := result.(events.KafkaClusterResult)
				require.True(t, ok, "%T", result)
				require.Equal(t, []events.KafkaBroker{{ID: res.ControllerID, Addr: broker.Addr}}, res.Brokers)
			},
		}
	})
}

// The Consul driver, on an agent of its own: kv-get of a key put beforehand, held mid-call by
// pausing the agent, is its slow call; pass-ttl of a check the agent does not know is what it
// refuses.
func TestDriverContract_consul(t *testing.T) {
	on := events.On{Target: "agent"}
	effecttest.RunDriverSuite(t, func(t *testing.T) effecttest.Harness {
		agent := started(t, containers.StartConsul)
		_, db := newControlDB(t)
		key, value := "contract/"+watermill.NewShortUUID(), "blue"
		client, err := api.NewClient(&api.Config{Address: agent.Addr})
		require.NoError(t, err)
		_, err = client.KV().Put(&api.KVPair{Key: key, Value: []byte(value)}, nil)
		require.NoError(t, err)
		d, err := consul.New(consul.Config{Targets: []consul.Target{{Name: on.Target, Addr: agent.Addr}}}, testLogger(t))
		require.NoError(t, err)
		return effecttest.Harness{
			Driver: d, Target: on.Target, Server: agent, Control: db, Logger: testLogger(t),
			Permanent: events.ConsulPassTTL{On: on, CheckID: "no-such-check-" + watermill.NewShortUUID()},
			Slow:      events.ConsulKVGet{On: on, KVKey: key},
			SlowFor:   slowFor,
			Stall:     pausing(agent.Server),
			CheckSlow: func(t *testing.T, result events.Result) {
				res, ok := result.(events.ConsulKVGetResult)
				require.True(t, ok, "%T", result)
				require.True(t, res.Found, "the key put before the call")
				require.Equal(t, value, res.Value)
			},
		}
	})
}
