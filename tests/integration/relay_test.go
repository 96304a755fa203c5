package integration_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// writer commits outbox rows on topic, a few per transaction, keyed over keys, until stopped; it
// keeps, per key, the ids in commit order. While the database is away it tries again.
type writer struct {
	t     *testing.T
	db    *pgxpool.Pool
	topic string
	keys  int

	mu     sync.Mutex
	byKey  map[string][]string
	seq    int
	failed int
}

func newWriter(t *testing.T, db *pgxpool.Pool, topic string, keys int) *writer {
	return &writer{t: t, db: db, topic: topic, keys: keys, byKey: map[string][]string{}}
}

// write commits n rows, in transactions of up to 5, retrying a transaction the database refused.
func (w *writer) write(ctx context.Context, n int) {
	for n > 0 && ctx.Err() == nil {
		var msgs []*message.Message
		w.mu.Lock()
		seq := w.seq
		w.mu.Unlock()
		for i := range min(n, 5) {
			msgs = append(msgs, probeEvent(w.t, fmt.Sprintf("postgres/k%d", (seq+i)%w.keys), seq+i))
		}
		err := pgtx.Run(ctx, w.db, func(tx pgx.Tx) error { return outbox.Publish(ctx, tx, w.topic, msgs...) })
		if err != nil {
			w.mu.Lock()
			w.failed++
			w.mu.Unlock()
			time.Sleep(50 * time.Millisecond)
			continue
		}
		w.mu.Lock()
		for _, m := range msgs {
			key := m.Metadata.Get(events.MetaKey)
			w.byKey[key] = append(w.byKey[key], m.UUID)
		}
		w.seq += len(msgs)
		w.mu.Unlock()
		n -= len(msgs)
	}
}

// run writes rows every few milliseconds until ctx ends.
func (w *writer) run(ctx context.Context) {
	for ctx.Err() == nil {
		w.write(ctx, 5)
		time.Sleep(5 * time.Millisecond)
	}
}

func (w *writer) committed() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seq
}

// delivery is what a plain franz-go consumer reads of a topic: per key, the ids in the order they
// arrived, each arrival counted.
type delivery struct {
	byKey  map[string][]string
	copies map[string]int
	seen   int // records read
}

func readDelivery(t *testing.T, brokers []string, topic string, max int) delivery {
	t.Helper()
	d := delivery{byKey: map[string][]string{}, copies: map[string]int{}}
	for _, r := range consumeAll(t, brokers, topic, 3*time.Second, max) {
		d.add(r)
	}
	return d
}

// add counts record r.
func (d *delivery) add(r *kgo.Record) {
	id := header(r, "_watermill_message_uuid")
	d.copies[id]++
	d.seen++
	if d.copies[id] == 1 {
		d.byKey[string(r.Key)] = append(d.byKey[string(r.Key)], id)
	}
}

// duplicates is how many records were copies of one read before.
func (d delivery) duplicates() int {
	n := 0
	for _, c := range d.copies {
		n += c - 1
	}
	return n
}

// requireEveryRowInOrder checks that every row w committed arrived, none missing, and that per key
// they arrived in commit order.
func requireEveryRowInOrder(t *testing.T, w *writer, d delivery) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for key, ids := range w.byKey {
		require.Equal(t, ids, d.byKey[key], "key %s: every row, in commit order", key)
	}
}

// A relay that dies mid-batch is replaced by the one standing by, again and again: every row is
// delivered, none lost, in commit order per key; the copies delivered twice are counted and stay
// within the documented window (the batch in flight at each death).
func TestRelay_two_relays_the_active_one_SIGKILLed_mid_batch_again_and_again_deliver_every_row(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	topic := "relay-failover." + watermill.NewShortUUID()
	relays := []*omniProcess{
		startOmniProcess(t, url, kafka.Brokers(), "relay"), startOmniProcess(t, url, kafka.Brokers(), "relay"),
	}
	for _, r := range relays {
		r.ready(t)
	}
	w := newWriter(t, db, topic, 8)
	ctx, stop := context.WithCancel(context.Background())
	var writing sync.WaitGroup
	writing.Go(func() { w.run(ctx) })

	const kills = 4
	for i := range kills {
		time.Sleep(1500 * time.Millisecond)
		holder := relayHolder(t, db)
		if i%2 == 1 {
			// Hold the broker's answers, so the relay dies with a produce sent and unacknowledged:
			// its successor sends that batch again.
			require.NoError(t, kafka.Pause(context.Background()))
			time.Sleep(300 * time.Millisecond)
		}
		var victim *omniProcess
		for _, r := range relays {
			if r.cmd.Process.Pid == holder {
				victim = r
			}
		}
		require.NotNil(t, victim, "the relay that holds the outbox (pid %d) is one of ours", holder)
		require.NoError(t, victim.cmd.Process.Signal(syscall.SIGKILL))
		<-victim.exited
		if i%2 == 1 {
			require.NoError(t, kafka.Unpause(context.Background()))
		}
		// The other takes over; a new one stands by.
		fresh := startOmniProcess(t, url, kafka.Brokers(), "relay")
		fresh.ready(t)
		for i, r := range relays {
			if r == victim {
				relays[i] = fresh
			}
		}
	}
	stop()
	writing.Wait()
	total := w.committed()
	var d delivery
	eventually(t, 60*time.Second, "every committed row delivered", func() (bool, string, error) {
		d = readDelivery(t, kafka.Brokers(), topic, 10*total)
		return len(d.copies) >= total, fmt.Sprintf("%d of %d", len(d.copies), total), nil
	})
	requireEveryRowInOrder(t, w, d)
	dups := d.duplicates()
	require.LessOrEqual(t, dups, kills*outbox.DefaultRelayConfig().BatchSize,
		"duplicates within the window: at most the batch in flight at each of %d deaths", kills)
	t.Logf("%d rows committed, %d relays killed, %d delivered twice", total, kills, dups)
}

// relayHolder is the pid of the omni process whose connection holds the relay's advisory lock,
// as its application_name says.
func relayHolder(t *testing.T, db *pgxpool.Pool) int {
	t.Helper()
	var name string
	eventually(t, 30*time.Second, "a relay holding the outbox", func() (bool, string, error) {
		err := db.QueryRow(context.Background(), `SELECT a.application_name FROM pg_locks l
			JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted
			AND a.application_name LIKE 'omni relay %'`).Scan(&name)
		if err == pgx.ErrNoRows {
			return false, "none", nil
		}
		return err == nil, name, err
	})
	m := regexp.MustCompile(`/(\d+)$`).FindStringSubmatch(name)
	require.NotNil(t, m, "application_name %q ends in /PID", name)
	pid, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return pid
}

// A transaction that took its id early and commits late holds back the rows committed after it;
// once it commits, its rows and theirs are all delivered: none skipped.
func TestRelay_rows_of_transactions_committing_out_of_order_are_not_skipped(t *testing.T) {
	kafka := newKafka(t)
	_, db := newControlDB(t)
	topic := "relay-order." + watermill.NewShortUUID()
	startRelay(t, db, kafka.Brokers())
	ctx := context.Background()

	long, err := db.Begin(ctx)
	require.NoError(t, err)
	early := probeEvent(t, "postgres/long", 1)
	require.NoError(t, outbox.Publish(ctx, long, topic, early)) // takes its transaction id now
	var later []string
	for i := range 5 {
		m := probeEvent(t, fmt.Sprintf("postgres/short-%d", i), 2+i)
		require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error { return outbox.Publish(ctx, tx, topic, m) }))
		later = append(later, m.UUID)
	}
	time.Sleep(time.Second)
	require.Empty(t, consumeAll(t, kafka.Brokers(), topic, time.Second, 10),
		"nothing after the open transaction's id is delivered while it is open")
	require.NoError(t, long.Commit(ctx))

	var got []string
	eventually(t, 30*time.Second, "every row delivered", func() (bool, string, error) {
		got = nil
		for _, r := range consumeAll(t, kafka.Brokers(), topic, time.Second, 10) {
			got = append(got, header(r, "_watermill_message_uuid"))
		}
		return len(got) >= 6, fmt.Sprint(got), nil
	})
	require.ElementsMatch(t, append([]string{early.UUID}, later...), got, "none skipped, none twice")
}

// PostgreSQL restarted while rows are being committed: the relay keeps running, reconnects, and
// delivers every row that committed, in order per key.
func TestRelay_PostgreSQL_restarted_under_load_the_relay_resumes_without_restarting(t *testing.T) {
	kafka := newKafka(t)
	pg := started(t, containers.StartPostgres)
	url := pg.NewDatabase(t)
	ctx := context.Background()
	require.NoError(t, app.Migrate(ctx, url, testLogger(t)))
	db, err := app.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	topic := "relay-pg-restart." + watermill.NewShortUUID()
	relay := startRelay(t, db, kafka.Brokers())
	w := newWriter(t, db, topic, 4)
	wctx, stop := context.WithCancel(ctx)
	var writing sync.WaitGroup
	writing.Go(func() { w.run(wctx) })

	time.Sleep(time.Second)
	require.NoError(t, pg.Stop(ctx))
	time.Sleep(2 * time.Second)
	require.NoError(t, pg.Start(ctx))
	eventually(t, 60*time.Second, "rows committing again", func() (bool, string, error) {
		n := w.committed()
		time.Sleep(500 * time.Millisecond)
		return w.committed() > n, "", nil
	})
	time.Sleep(time.Second)
	stop()
	writing.Wait()
	total := w.committed()
	var d delivery
	eventually(t, 60*time.Second, "every committed row delivered", func() (bool, string, error) {
		d = readDelivery(t, kafka.Brokers(), topic, 10*total)
		return len(d.copies) >= total, fmt.Sprintf("%d of %d", len(d.copies), total), nil
	})
	requireEveryRowInOrder(t, w, d)
	require.NoError(t, relay.Ready(), "the same relay, ready again")
	require.True(t, relay.Active(), "and holding the outbox again")
	t.Logf("%d rows committed (%d transactions refused while PostgreSQL was down), %d delivered twice",
		total, w.failed, d.duplicates())
}

// The broker stopped for 30 s while the adapters keep committing their probes: when it is back,
// every row arrives, none missing, in per-key order, read by a plain franz-go consumer; the
// oldest-row metric showed the outage, and the relay was delivering again within seconds.
func TestRelay_broker_stopped_for_30s_while_adapters_commit_every_row_arrives_in_per_key_order(t *testing.T) {
	kafka := started(t, containers.StartDurableKafka)
	url, db := newControlDB(t)
	cfg := appConfig(url, kafka.Brokers())
	cfg.Roles = []app.Role{app.RoleAdapters, app.RoleRelay}
	addr := startApp(t, cfg)
	ctx := context.Background()
	eventsTopic := events.DefaultTopics().Events
	eventually(t, 30*time.Second, "probes delivered", func() (bool, string, error) {
		n := len(consumeAll(t, kafka.Brokers(), eventsTopic, time.Second, 20))
		return n >= 5, strconv.Itoa(n), nil
	})

	require.NoError(t, kafka.Stop(ctx))
	stoppedAt := time.Now()
	oldest := 0.0
	for time.Since(stoppedAt) < 30*time.Second {
		time.Sleep(2 * time.Second)
		oldest = max(oldest, metric(t, addr, `omni_outbox_oldest_pending_seconds{consumer_group="outbox-relay"}`))
	}
	var logged int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM event_log WHERE topic = $1`, eventsTopic).Scan(&logged))
	require.NoError(t, kafka.Start(ctx))
	back := time.Now()
	require.Greater(t, oldest, 20.0, "the oldest undelivered row's age showed the outage")

	// Every event the adapters committed up to the broker's return, in per-key order.
	rows, err := db.Query(ctx, `SELECT event_id, key FROM event_log WHERE topic = $1 ORDER BY seq LIMIT $2`,
		eventsTopic, logged)
	require.NoError(t, err)
	want := map[string][]string{}
	var id, key string
	_, err = pgx.ForEachRow(rows, []any{&id, &key}, func() error { want[key] = append(want[key], id); return nil })
	require.NoError(t, err)
	d := delivery{byKey: map[string][]string{}, copies: map[string]int{}}
	consumeUntil(t, kafka.Brokers(), eventsTopic, 60*time.Second, func(records []*kgo.Record) (bool, string) {
		for _, r := range records[d.seen:] {
			d.add(r)
		}
		for key, ids := range want {
			if len(d.byKey[key]) < len(ids) {
				return false, fmt.Sprintf("%s: %d of %d", key, len(d.byKey[key]), len(ids))
			}
		}
		return true, ""
	})
	resumedAfter := time.Since(back)
	for key, ids := range want {
		require.Equal(t, ids, d.byKey[key][:len(ids)], "key %s: every event, in commit order", key)
	}
	require.Less(t, resumedAfter, 20*time.Second, "the relay's backoff is capped: it delivers soon after the broker is back")
	t.Logf("outage 30s: oldest row %.1fs old, %d events committed, all delivered %s after the broker was back, %d twice",
		oldest, logged, resumedAfter.Round(100*time.Millisecond), d.duplicates())
}

// metric reads one sample of name from /metrics.
func metric(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			return f
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// A row too large for any broker goes to poison with its reason, and the rows after it are
// delivered.
func TestRelay_a_row_Kafka_refuses_for_good_is_poisoned_and_the_rows_after_it_delivered(t *testing.T) {
	kafka := newKafka(t)
	_, db := newControlDB(t)
	topic := "relay-oversized." + watermill.NewShortUUID()
	startRelay(t, db, kafka.Brokers())
	ctx := context.Background()

	before, after := probeEvent(t, "postgres/a", 1), probeEvent(t, "postgres/a", 3)
	huge := probeEvent(t, "postgres/a", 2)
	huge.Payload = []byte(`{"blob":"` + strings.Repeat("x", 3<<20) + `"}`)
	for _, m := range []*message.Message{before, huge, after} {
		require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error { return outbox.Publish(ctx, tx, topic, m) }))
	}
	var got []string
	eventually(t, 30*time.Second, "the rows around the huge one delivered", func() (bool, string, error) {
		got = nil
		for _, r := range consumeAll(t, kafka.Brokers(), topic, time.Second, 10) {
			got = append(got, header(r, "_watermill_message_uuid"))
		}
		return len(got) >= 2, fmt.Sprint(got), nil
	})
	require.Equal(t, []string{before.UUID, after.UUID}, got)

	var row int64
	require.NoError(t, db.QueryRow(ctx, `SELECT "offset" FROM watermill_outbox WHERE payload::jsonb->>'uuid' = $1`,
		huge.UUID).Scan(&row))
	poisoned := poisonedBy(t, db, kafka.Brokers(), "outbox-relay", outbox.ForwarderTopic, 1)
	require.Contains(t, poisoned[huge.UUID], "larger than the")
	var stored, bytes int64
	var truncated bool
	var where *int64
	require.NoError(t, db.QueryRow(ctx, `SELECT length(payload), payload_bytes, truncated, "offset" FROM poison_messages
		WHERE message_id = $1`, huge.UUID).Scan(&stored, &bytes, &truncated, &where))
	require.False(t, truncated, "3 MiB is kept whole")
	require.Equal(t, bytes, stored)
	require.NotNil(t, where)
	require.Equal(t, row, *where, "the poison record names the outbox row")
	copies := consumeAll(t, kafka.Brokers(), events.DefaultTopics().Poison("outbox-relay"), 2*time.Second, 10)
	require.Len(t, copies, 1)
	require.Empty(t, copies[0].Value, "the copy on the poison topic goes without the payload no broker takes")
	require.Equal(t, "true", header(copies[0], "poisoned_payload_truncated"))
}
