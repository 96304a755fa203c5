package integration_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/postgres"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/projections/infrastate"
	"github.com/omninode/omnibase-infra/sagas"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// The README's claim, "nothing is published except through a transactional outbox", checked on
// the broker: the whole loop runs — probes, a fault that raises intents, the sagas' commands and
// their outcomes, omni cmd and omni sagas start — then every record of every loop topic on the
// control bus is read back with a plain franz-go consumer, and each one's message id has its
// event-log row, on the same topic.
//
// Topics that are not the loop's (the configured events, intents, commands and poison topics) are
// skipped: what the Kafka adapter publishes to its targets' topics is an effect of a command, not
// a message of the loop, and it is not written through the outbox.
func TestLoop_every_message_on_the_control_bus_has_its_event_log_row(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	target := newTarget(t)
	cfg := appConfig(url, kafka.Brokers())
	cfg.Postgres.Targets = []postgres.Target{{Name: "control", URL: url}, {Name: "target", URL: target.URL}}
	stop := runLoop(t, cfg)
	ctx := context.Background()
	waitStatus(t, db, infrastate.StatusHealthy, 60*time.Second)

	// An operator's commands and a saga started by hand, through the CLI.
	env := []string{"DATABASE_URL=" + url, "KAFKA_BROKERS=" + strings.Join(kafka.Brokers(), ",")}
	for _, args := range [][]string{
		{"cmd", "postgres", "probe", "--target", "control", "--wait"},
		{"cmd", "kafka", "publish", "--target", "bus", "--wait", "--data", `{"topic":"orders","key":"order-7","payload":"x"}`},
		{"sagas", "start", "initialization", "--subject", "loop"},
	} {
		_, stderr, code := omni(t, env, args...)
		require.Equal(t, 0, code, "omni %v: %s", args, stderr)
	}
	// And one the adapter rejects: it is poisoned, and its poison copy travels the loop too.
	_, _, code := omni(t, env, "cmd", "postgres", "probe", "--target", "nowhere", "--any-target", "--wait")
	require.Equal(t, 1, code, "a command for a target that is not configured is rejected")

	// A fault: the target goes critical, the intents start a health check and a failover, whose
	// commands and outcomes travel the loop; started again, it recovers.
	require.NoError(t, target.Stop(ctx))
	waitStatus(t, db, infrastate.StatusCritical, 60*time.Second)
	eventually(t, 60*time.Second, "a completed health check of the target", func() (bool, string, error) {
		list, err := sagas.List(ctx, db, sagas.Filter{Workflow: "health_check", Subject: targetID, Status: sagas.StatusCompleted})
		return len(list) > 0, fmt.Sprintf("%d completed", len(list)), err
	})
	require.NoError(t, target.Start(ctx))
	waitStatus(t, db, infrastate.StatusHealthy, 60*time.Second)
	eventually(t, 90*time.Second, "every saga ended", func() (bool, string, error) {
		running, err := sagas.List(ctx, db, sagas.Filter{Status: sagas.StatusRunning})
		var names []string
		for _, s := range running {
			names = append(names, s.Workflow+" of "+s.Subject+" at "+s.Step)
		}
		return len(running) == 0, fmt.Sprint(names), err
	})
	all, err := sagas.List(ctx, db, sagas.Filter{})
	require.NoError(t, err)
	workflows := map[string]int{}
	for _, s := range all {
		workflows[s.Workflow]++
	}
	t.Logf("sagas run: %v", workflows)
	require.Positive(t, workflows["health_check"])
	require.Positive(t, workflows["initialization"])

	// Stopped, so the topics stop growing and can be read to their end.
	stop()

	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka.Brokers()...))
	require.NoError(t, err)
	defer cl.Close()
	topics := events.DefaultTopics()
	var loop, skipped []string
	for name := range metadata(t, cl) {
		if topics.IsControl(name) {
			loop = append(loop, name)
		} else {
			skipped = append(skipped, name)
		}
	}
	slices.Sort(loop)
	slices.Sort(skipped)
	t.Logf("not loop topics, skipped: %v", skipped)
	require.Contains(t, skipped, "orders", "the Kafka adapter's publish is an effect on its target, not a loop message")

	counts := map[string]int{}
	var missing []string
	for _, topic := range loop {
		records := consumeAll(t, kafka.Brokers(), topic, 3*time.Second, 1<<20)
		counts[topic] = len(records)
		logged := loggedTopics(t, db, records)
		for _, r := range records {
			id := header(r, "_watermill_message_uuid")
			if got, ok := logged[id]; !ok || got != topic {
				missing = append(missing, fmt.Sprintf("%s/%d@%d id %q (%s, key %q): logged on %q",
					topic, r.Partition, r.Offset, id, header(r, events.MetaType), r.Key, got))
			}
		}
	}
	t.Logf("records read per loop topic: %v", counts)
	for _, topic := range []string{topics.Events, topics.Intents, topics.Commands(events.AdapterPostgres),
		topics.Commands(events.AdapterKafka), topics.Poison("adapter-postgres")} {
		require.Positive(t, counts[topic], "the run wrote to %s", topic)
	}
	require.Empty(t, missing, "%d of the records on the control bus have no event-log row on their topic", len(missing))
}

// loggedTopics returns the event-log topic of each record's message id that the log holds.
func loggedTopics(t *testing.T, db *pgxpool.Pool, records []*kgo.Record) map[string]string {
	t.Helper()
	ids := make([]string, 0, len(records))
	for _, r := range records {
		ids = append(ids, header(r, "_watermill_message_uuid"))
	}
	rows, err := db.Query(context.Background(), `SELECT event_id, topic FROM event_log WHERE event_id = ANY($1)`, ids)
	require.NoError(t, err)
	out := map[string]string{}
	var id, topic string
	_, err = pgx.ForEachRow(rows, []any{&id, &topic}, func() error {
		out[id] = topic
		return nil
	})
	require.NoError(t, err)
	return out
}

// runLoop runs app.Run in the background and returns a stop that ends it and waits for it to
// return; the test's end stops it too when stop was not called.
func runLoop(t *testing.T, cfg app.Config) (stop func()) {
	t.Helper()
	port, err := containers.FreePort()
	require.NoError(t, err)
	cfg.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", port)
	withTestKey(&cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, cfg, testLogger(t)) }()
	stopped := false
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("omni stopped with: %v", err)
			}
		case <-time.After(45 * time.Second):
			t.Errorf("omni did not stop within 45s of its context ending")
		}
	}
	t.Cleanup(stop)
	return stop
}
