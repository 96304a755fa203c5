package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/consumer"
	"github.com/omninode/omnibase-infra/projections/infrastate"
	"github.com/omninode/omnibase-infra/sagas"
)

// orchestrator is one saga process of a test: an engine on a connection pool of its own.
type orchestrator struct {
	db     *pgxpool.Pool
	engine *sagas.Engine
}

func newOrchestrator(t *testing.T, url string, wrap func(*pgxpool.Pool) sagas.DB) orchestrator {
	t.Helper()
	db, err := app.Connect(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	var conn sagas.DB = db
	if wrap != nil {
		conn = wrap(db)
	}
	contract, err := sagas.DefaultContract()
	require.NoError(t, err)
	engine, err := sagas.New(sagas.Config{DB: conn, Registry: events.Catalog(), Targets: infrastate.Targets{},
		Contract: contract}, testLogger(t))
	require.NoError(t, err)
	return orchestrator{db: db, engine: engine}
}

// gate holds the first transaction that writes a saga back, just before its UPDATE, until
// released: a decision read at one version and stored after another decision committed.
type gate struct {
	arrived, release chan struct{}
	once             sync.Once
	updates          atomic.Int32
}

func newGate() *gate { return &gate{arrived: make(chan struct{}), release: make(chan struct{})} }

func (g *gate) pass() {
	g.updates.Add(1)
	g.once.Do(func() {
		close(g.arrived)
		<-g.release
	})
}

// gatedDB is a control database whose transactions stop at the gate before writing a saga.
type gatedDB struct {
	*pgxpool.Pool
	gate *gate
}

func (d gatedDB) Begin(ctx context.Context) (pgx.Tx, error) {
	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return gatedTx{Tx: tx, gate: d.gate}, nil
}

type gatedTx struct {
	pgx.Tx
	gate *gate
}

func (t gatedTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if strings.Contains(sql, "UPDATE saga_instances") {
		t.gate.pass()
	}
	return t.Tx.Exec(ctx, sql, args...)
}

// seedTargets writes healthy targets straight into the projection's state.
func seedTargets(t *testing.T, db *pgxpool.Pool, adapterIDs ...string) {
	t.Helper()
	for i, id := range adapterIDs {
		adapter, target, _ := strings.Cut(id, "/")
		_, err := db.Exec(context.Background(), `INSERT INTO infrastructure_state (adapter_id, adapter, target, status, data, last_event)
			VALUES ($1, $2, $3, 'healthy', '{"status": "healthy"}', $4)`, id, adapter, target, fmt.Sprintf("seed-%d", i))
		require.NoError(t, err)
	}
}

// intentMessage is a health-degraded intent for subject, as the projection publishes it.
func intentMessage(t *testing.T, subject string) *message.Message {
	t.Helper()
	in := events.Intent{ID: watermill.NewUUID(), Subject: subject, Reason: "raised by the test", CausedBy: "test", RaisedAt: time.Now()}
	msg, err := events.EncodeWithID(in.ID, events.InfrastructureHealthDegraded{Intent: in}, events.NewOrigin(), time.Now())
	require.NoError(t, err)
	msg.SetContext(context.Background())
	return msg
}

// probeReply is an adapter's healthy answer to probe command id.
func probeReply(t *testing.T, c sagas.SentCommand) *message.Message {
	t.Helper()
	result, err := json.Marshal(events.ProbeResult{Healthy: true})
	require.NoError(t, err)
	msg, err := events.Encode(events.CommandSucceeded{CommandID: c.ID, Command: c.Kind, AdapterID: c.AdapterID, Result: result,
		Attempts: 1, CompletedAt: time.Now()}, events.NewOrigin(), time.Now())
	require.NoError(t, err)
	msg.SetContext(context.Background())
	return msg
}

// handler is engine's reply handler behind the project's error policy, as the router runs it; it
// records what each attempt returned.
func replyHandler(t *testing.T, db *pgxpool.Pool, engine *sagas.Engine, attempts *[]error, mu *sync.Mutex) message.HandlerFunc {
	t.Helper()
	store, err := outbox.NewPoisonStore(outbox.PoisonStoreConfig{DB: db})
	require.NoError(t, err)
	policy, err := consumer.NewPolicy(consumer.PolicyConfig{Store: store}, testLogger(t))
	require.NoError(t, err)
	return policy.Middleware(sagas.RepliesConsumerName, events.DefaultTopics().Events)(func(msg *message.Message) ([]*message.Message, error) {
		err := engine.HandleEvent(msg)
		mu.Lock()
		*attempts = append(*attempts, err)
		mu.Unlock()
		return nil, err
	})
}

// Two orchestrators decide the same saga at once: the first reads the saga, then stops before
// writing it back while the second stores its own decision. The first's write finds the version
// moved (ErrConcurrency), the policy hands its message again, and it decides from the new state:
// each reply is in the timeline once, none is lost, and the probes were sent once.
func TestSagas_two_orchestrators_deciding_one_saga_at_once_one_retries_on_the_optimistic_lock(t *testing.T) {
	ctx := context.Background()
	url, db := newControlDB(t)
	seedTargets(t, db, "postgres/control", "kafka/bus", "consul/agent")
	g := newGate()
	first := newOrchestrator(t, url, func(p *pgxpool.Pool) sagas.DB { return gatedDB{Pool: p, gate: g} })
	second := newOrchestrator(t, url, nil)

	intent := intentMessage(t, "postgres/control")
	require.NoError(t, second.engine.HandleIntent(intent))
	id := sagaTriggeredBy(t, db, intent.UUID)
	st, err := sagas.Show(ctx, db, id)
	require.NoError(t, err)
	require.Equal(t, "probe_adapters", st.Step)
	require.Len(t, st.Commands, 3)
	version := st.Version

	var mu sync.Mutex
	var firstTries, secondTries []error
	handleFirst := replyHandler(t, first.db, first.engine, &firstTries, &mu)
	handleSecond := replyHandler(t, second.db, second.engine, &secondTries, &mu)

	done := make(chan error, 1)
	go func() {
		_, err := handleFirst(probeReply(t, st.Commands[0]))
		done <- err
	}()
	select {
	case <-g.arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("the first orchestrator never came to write the saga")
	}
	_, err = handleSecond(probeReply(t, st.Commands[1]))
	require.NoError(t, err, "the second decides while the first holds its read")
	close(g.release)
	select {
	case err := <-done:
		require.NoError(t, err, "the first's message is handled again from the new state")
	case <-time.After(30 * time.Second):
		t.Fatal("the first orchestrator did not finish")
	}

	mu.Lock()
	require.Len(t, firstTries, 2, "one retry: %v", firstTries)
	require.ErrorIs(t, firstTries[0], sagas.ErrConcurrency)
	require.NoError(t, firstTries[1])
	require.Equal(t, []error{nil}, secondTries)
	mu.Unlock()
	require.Equal(t, int32(2), g.updates.Load(), "the first wrote the saga twice: refused, then from the new version")

	st, err = sagas.Show(ctx, db, id)
	require.NoError(t, err)
	require.Equal(t, version+2, st.Version, "two decisions stored, one each")
	replies := map[string]int{}
	for _, m := range st.Timeline {
		if m.Event == "reply" {
			replies[m.Note.CommandID]++
		}
	}
	require.Equal(t, map[string]int{st.Commands[0].ID: 1, st.Commands[1].ID: 1}, replies, "%v", events_(st))

	// The last reply ends the step: every probe healthy, reported once.
	_, err = handleSecond(probeReply(t, st.Commands[2]))
	require.NoError(t, err)
	st, err = sagas.Show(ctx, db, id)
	require.NoError(t, err)
	require.Equal(t, sagas.StatusCompleted, st.Status, "%v", events_(st))
	require.Equal(t, 1, strings.Count(strings.Join(events_(st), " "), "probe_adapters:entered"), "%v", events_(st))
	hc, err := sagas.StateOf[sagas.HealthCheckState](st)
	require.NoError(t, err)
	require.Equal(t, events.StatusHealthy, hc.Overall)
	require.Len(t, loggedEvents(t, db, "infrastructure_health_reported", id), 1)
	var sent int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM event_log WHERE kind = 'probe_target'
		AND metadata->>'correlation_id' = $1`, st.Data.Progress.CorrelationID).Scan(&sent))
	require.Equal(t, 3, sent, "each probe sent once")
	var timers int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM saga_timers WHERE saga_id = $1`, id).Scan(&timers))
	require.Zero(t, timers, "an ended saga keeps no timer")
}

// Two orchestrators take due timers side by side: with one holding a timer (its transaction open,
// the row locked), the other still takes the next ones. Together they fire every timer once.
func TestSagas_two_orchestrators_take_due_timers_in_parallel_and_fire_each_once(t *testing.T) {
	ctx := context.Background()
	url, db := newControlDB(t)
	seedTargets(t, db, "consul/ghost") // no adapter answers: every health check waits for its timeout
	starter := newOrchestrator(t, url, nil)
	const n = 20
	ids := make([]string, n)
	for i := range ids {
		intent := intentMessage(t, fmt.Sprintf("postgres/t%02d", i))
		require.NoError(t, starter.engine.HandleIntent(intent))
		ids[i] = sagaTriggeredBy(t, db, intent.UUID)
	}
	var pending int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM saga_timers`).Scan(&pending))
	require.Equal(t, n, pending, "one timeout per waiting saga")
	_, err := db.Exec(ctx, `UPDATE saga_timers SET due_at = now() - interval '1 second'`)
	require.NoError(t, err)

	var mu sync.Mutex
	fired := map[string][]string{} // timer id → orchestrators that handled it
	counts := [2]int{}
	secondTook := make(chan struct{})
	var secondOnce sync.Once
	var wg sync.WaitGroup
	var subs []*sagas.TimersSubscriber
	t.Cleanup(func() {
		for _, sub := range subs {
			_ = sub.Close()
		}
		wg.Wait()
	})
	for i := range 2 {
		o := newOrchestrator(t, url, nil)
		sub, err := sagas.NewTimersSubscriber(sagas.TimersConfig{DB: o.db, PollInterval: 50 * time.Millisecond}, testLogger(t))
		require.NoError(t, err)
		msgs, err := sub.Subscribe(ctx, sagas.TimersTopic)
		require.NoError(t, err)
		subs = append(subs, sub)
		wg.Add(1)
		go func() {
			defer wg.Done()
			held := false
			for msg := range msgs {
				if i == 0 && !held {
					// The first holds its first timer until the second has fired one.
					held = true
					select {
					case <-secondTook:
					case <-time.After(30 * time.Second):
						t.Errorf("the second orchestrator took no timer while the first held one")
					}
				}
				if err := o.engine.HandleTimer(msg); err != nil {
					t.Errorf("orchestrator %d: %v", i, err)
					msg.Nack()
					continue
				}
				mu.Lock()
				fired[msg.UUID] = append(fired[msg.UUID], fmt.Sprint(i))
				counts[i]++
				mu.Unlock()
				msg.Ack()
				if i == 1 {
					secondOnce.Do(func() { close(secondTook) })
				}
			}
		}()
	}

	for _, id := range ids {
		st := waitSaga(t, db, id, 60*time.Second, "the health check timing out and ending", ended)
		require.Equal(t, sagas.StatusCompleted, st.Status, "%v", events_(st))
		require.Equal(t, 1, strings.Count(strings.Join(events_(st), " "), "probe_adapters:timed_out"), "%v", events_(st))
		require.Len(t, loggedEvents(t, db, "infrastructure_health_reported", id), 1)
	}
	eventually(t, 10*time.Second, "every timer gone", func() (bool, string, error) {
		var left int
		err := db.QueryRow(ctx, `SELECT count(*) FROM saga_timers`).Scan(&left)
		return left == 0, fmt.Sprintf("%d left", left), err
	})
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, fired, n)
	for id, by := range fired {
		require.Len(t, by, 1, "timer %s handled by %v", id, by)
	}
	require.Positive(t, counts[0], "the first orchestrator fired timers")
	require.Positive(t, counts[1], "the second orchestrator fired timers")
	t.Logf("timers fired: %d by the first, %d by the second", counts[0], counts[1])
}
