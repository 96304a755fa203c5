package integration_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/bus"
	"github.com/omninode/omnibase-infra/platform/consumer"
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// The one error policy, as each kind of consumer follows it: a router handler, the batch
// consumer and the relay each retry a transient failure until it passes and send a permanent one
// to their group's poison topic with the reason, then go on.

// fastPolicy is the policy with short waits, so retries show within a test, poisoning into db.
func fastPolicy(t *testing.T, db *pgxpool.Pool) *consumer.Policy {
	t.Helper()
	store, err := outbox.NewPoisonStore(outbox.PoisonStoreConfig{DB: db})
	require.NoError(t, err)
	p, err := consumer.NewPolicy(consumer.PolicyConfig{Store: store, Retries: 3,
		Backoff: consumer.Backoff{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond, Multiplier: 2, Jitter: 0.1}},
		testLogger(t))
	require.NoError(t, err)
	return p
}

// attempts counts how often each message was handed to a handler.
type attempts struct {
	mu sync.Mutex
	n  map[string]int
}

func (a *attempts) add(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == nil {
		a.n = map[string]int{}
	}
	a.n[id]++
	return a.n[id]
}

func (a *attempts) of(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n[id]
}

// testMessage is a message marked with what the test's handler should do with it.
func testMessage(what string) *message.Message {
	msg := message.NewMessage(watermill.NewUUID(), []byte(`{"what":"`+what+`"}`))
	msg.Metadata.Set("what", what)
	msg.Metadata.Set(events.MetaKey, "one-partition") // in order, one after the other
	return msg
}

// requirePoisoned checks that group poisoned exactly want, each with its reason, in
// poison_messages and on its poison topic.
func requirePoisoned(t *testing.T, db *pgxpool.Pool, brokers []string, group, topic string, want map[string]string) {
	t.Helper()
	got := poisonedBy(t, db, brokers, group, topic, len(want))
	require.Len(t, got, len(want), "poisoned: %v", got)
	for id, reason := range want {
		require.Contains(t, got, id)
		require.Contains(t, got[id], reason, "the reason of %s", id)
	}
}

func TestPolicy_router_handler_retries_a_transient_failure_and_poisons_a_permanent_one_with_its_reason(t *testing.T) {
	kafka := newKafka(t)
	_, db := newControlDB(t)
	startRelay(t, db, kafka.Brokers()) // the poison copies go through the outbox
	wlog := watermill.NewSlogLogger(testLogger(t))
	pub, err := bus.NewPublisher(kafka.Brokers(), bus.Security{}, wlog)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pub.Close() })
	policy := fastPolicy(t, db)
	topic, group := "policy-router."+watermill.NewShortUUID(), "policy-router-"+watermill.NewShortUUID()

	var tries attempts
	handled := make(chan string, 10)
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, wlog)
	require.NoError(t, err)
	sub, err := bus.NewSubscriber(kafka.Brokers(), bus.Security{}, group, bus.Membership{}, wlog)
	require.NoError(t, err)
	h := router.AddConsumerHandler(group, topic, sub, func(msg *message.Message) error {
		n := tries.add(msg.UUID)
		switch msg.Metadata.Get("what") {
		case "transient":
			if n < 3 {
				return fmt.Errorf("could not reach the control database: connection refused (attempt %d)", n)
			}
		case "never_passes":
			if n < 12 {
				return errors.New("connection refused")
			}
		case "permanent":
			return fmt.Errorf("%w: target %q is not configured", events.ErrRejected, "nope")
		}
		handled <- msg.UUID
		return nil
	})
	h.AddMiddleware(policy.Middleware(group, topic))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- router.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	<-router.Running()

	transient, permanent, stubborn, after := testMessage("transient"), testMessage("permanent"),
		testMessage("never_passes"), testMessage("after")
	require.NoError(t, pub.Publish(topic, transient, permanent, stubborn, after))

	var order []string
	for len(order) < 3 {
		select {
		case id := <-handled:
			order = append(order, id)
		case <-time.After(60 * time.Second):
			t.Fatalf("handled only %v", order)
		}
	}
	require.Equal(t, []string{transient.UUID, stubborn.UUID, after.UUID}, order, "each in order, past the poisoned one")
	require.Equal(t, 3, tries.of(transient.UUID), "the transient failure retried until it passed")
	require.Equal(t, 1, tries.of(permanent.UUID), "a permanent failure is not retried")
	require.Equal(t, 12, tries.of(stubborn.UUID),
		"a message failing transiently past the retries (1+3) is delivered again, never poisoned")
	requirePoisoned(t, db, kafka.Brokers(), group, topic, map[string]string{
		permanent.UUID: `rejected: target "nope" is not configured`,
	})
}

func TestPolicy_batch_consumer_retries_a_transient_failure_poisons_what_it_rejects_and_finishes_its_batch_on_close(t *testing.T) {
	kafka := newKafka(t)
	_, db := newControlDB(t)
	startRelay(t, db, kafka.Brokers())
	wlog := watermill.NewSlogLogger(testLogger(t))
	pub, err := bus.NewPublisher(kafka.Brokers(), bus.Security{}, wlog)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pub.Close() })
	topic, group := "policy-batch."+watermill.NewShortUUID(), "policy-batch-"+watermill.NewShortUUID()

	good1, bad, good2 := testMessage("good"), testMessage("bad"), testMessage("good")
	require.NoError(t, pub.Publish(topic, good1, bad, good2))

	var (
		mu      sync.Mutex
		batches [][]string // the ids of each batch handed over
		applied []string
	)
	hold := make(chan struct{}) // the fourth batch waits on it
	holding := make(chan struct{})
	handle := func(ctx context.Context, msgs []*message.Message) ([]consumer.Rejected, error) {
		mu.Lock()
		var ids []string
		for _, m := range msgs {
			ids = append(ids, m.UUID)
		}
		batches = append(batches, ids)
		n := len(batches)
		mu.Unlock()
		if n <= 2 {
			return nil, errors.New("could not begin transaction: connection refused")
		}
		if msgs[0].Metadata.Get("what") == "held" {
			close(holding)
			<-hold
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("the batch in flight was cancelled: %w", err)
			}
		}
		var rejected []consumer.Rejected
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			if m.Metadata.Get("what") == "bad" {
				rejected = append(rejected, consumer.Rejected{Msg: m, Reason: fmt.Errorf("%w: field \"x\" is missing", events.ErrInvalidPayload)})
				continue
			}
			applied = append(applied, m.UUID)
		}
		return rejected, nil
	}
	c, err := consumer.NewBatch(consumer.BatchConfig{Brokers: kafka.Brokers(), Group: group, Topic: topic,
		Handle: handle, Policy: fastPolicy(t, db)}, testLogger(t))
	require.NoError(t, err)
	require.ErrorContains(t, c.Ready(), "not joined yet")
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background()) }()
	t.Cleanup(func() { _ = c.Close() })

	eventually(t, 60*time.Second, "both good messages applied", func() (bool, string, error) {
		mu.Lock()
		defer mu.Unlock()
		return len(applied) == 2, fmt.Sprintf("applied %v after %d batches", applied, len(batches)), nil
	})
	require.NoError(t, c.Ready(), "consuming")
	mu.Lock()
	require.Equal(t, []string{good1.UUID, good2.UUID}, applied)
	require.GreaterOrEqual(t, len(batches), 3)
	require.Equal(t, batches[0], batches[1], "a failed batch is handed again whole")
	require.Equal(t, batches[0], batches[2][:len(batches[0])], "and again, until it is applied")
	mu.Unlock()
	requirePoisoned(t, db, kafka.Brokers(), group, topic, map[string]string{bad.UUID: `invalid payload: field "x" is missing`})

	// Close while a batch is in flight: the batch finishes, uncancelled, and its offset is committed.
	held := testMessage("held")
	require.NoError(t, pub.Publish(topic, held))
	select {
	case <-holding:
	case <-time.After(30 * time.Second):
		t.Fatal("the held batch never came")
	}
	closed := make(chan struct{})
	go func() { _ = c.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while the batch was in flight")
	case <-time.After(500 * time.Millisecond):
	}
	close(hold)
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return after the batch finished")
	}
	require.NoError(t, <-done)
	require.ErrorContains(t, c.Ready(), "stopped")
	mu.Lock()
	require.Equal(t, []string{good1.UUID, good2.UUID, held.UUID}, applied, "the batch in flight was applied")
	mu.Unlock()
	require.Equal(t, int64(4), committedOffset(t, kafka.Brokers(), group, topic),
		"every message's offset committed, the held one's included")
}

// committedOffset sums the offsets group committed on topic's partitions.
func committedOffset(t *testing.T, brokers []string, group, topic string) int64 {
	t.Helper()
	client, err := bus.NewClient(brokers, bus.Security{}, "omni-test")
	require.NoError(t, err)
	defer client.Close()
	admin, err := sarama.NewClusterAdminFromClient(client)
	require.NoError(t, err)
	partitions, err := client.Partitions(topic)
	require.NoError(t, err)
	res, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: partitions})
	require.NoError(t, err)
	var sum int64
	for _, b := range res.Blocks[topic] {
		if b.Offset > 0 {
			sum += b.Offset
		}
	}
	return sum
}

func TestPolicy_relay_retries_while_Kafka_is_down_and_poisons_an_undeliverable_row_with_its_reason(t *testing.T) {
	kafka := started(t, containers.StartDurableKafka)
	_, db := newControlDB(t)
	topic := "policy-relay." + watermill.NewShortUUID()
	ctx := context.Background()
	startRelay(t, db, kafka.Brokers())

	// The relay delivers; then Kafka goes away and rows keep committing.
	first := probeEvent(t, "postgres/a", 1)
	require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error { return outbox.Publish(ctx, tx, topic, first) }))
	require.Len(t, consumeAll(t, kafka.Brokers(), topic, 3*time.Second, 1), 1)
	require.NoError(t, kafka.Stop(ctx))

	before := probeEvent(t, "postgres/a", 2)
	require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error { return outbox.Publish(ctx, tx, topic, before) }))
	malformed := watermill.NewUUID()
	_, err := db.Exec(ctx, `INSERT INTO watermill_outbox (uuid, payload, metadata, transaction_id)
		VALUES ($1, '{"uuid": "x", "payload": "e30=", "metadata": {}}', '{}', pg_current_xact_id())`, malformed)
	require.NoError(t, err)
	after := probeEvent(t, "postgres/a", 3)
	require.NoError(t, pgtx.Run(ctx, db, func(tx pgx.Tx) error { return outbox.Publish(ctx, tx, topic, after) }))
	time.Sleep(3 * time.Second) // the relay tries, and fails, while Kafka is down
	require.NoError(t, kafka.Start(ctx))

	var got []string
	eventually(t, 90*time.Second, "the rows committed while Kafka was down delivered", func() (bool, string, error) {
		got = nil
		for _, r := range consumeAll(t, kafka.Brokers(), topic, 2*time.Second, 10) {
			got = append(got, header(r, "_watermill_message_uuid"))
		}
		return len(got) >= 3, fmt.Sprintf("%d delivered", len(got)), nil
	})
	require.Equal(t, []string{first.UUID, before.UUID, after.UUID}, got,
		"what the broker had kept, then the rows committed while it was down: nothing dropped, in commit order, past the bad row")
	requirePoisoned(t, db, kafka.Brokers(), "outbox-relay", outbox.ForwarderTopic, map[string]string{malformed: "envelope is invalid"})
}
