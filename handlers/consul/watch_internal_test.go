package consul

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
)

// answer is what one poll of scriptedQuery returns.
type answer struct {
	msgs []events.Message
	last uint64
	err  error
}

// scriptedQuery answers polls from its script, then blocks until the context ends, as a
// blocking query with nothing new would.
type scriptedQuery struct {
	mu      sync.Mutex
	script  []answer
	indexes []uint64
	at      []time.Time
	commits int
	idle    chan struct{} // closed when the script is used up
}

func (q *scriptedQuery) poll(ctx context.Context, index uint64) ([]events.Message, uint64, error) {
	q.mu.Lock()
	q.indexes, q.at = append(q.indexes, index), append(q.at, time.Now())
	if len(q.script) == 0 {
		close(q.idle)
		q.mu.Unlock()
		<-ctx.Done()
		return nil, 0, ctx.Err()
	}
	a := q.script[0]
	q.script = q.script[1:]
	q.mu.Unlock()
	return a.msgs, a.last, a.err
}

func (q *scriptedQuery) commit() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.commits++
}

// flakyRecorder fails its first failures calls.
type flakyRecorder struct {
	mu       sync.Mutex
	failures int
	recorded [][]events.Message
}

func (r *flakyRecorder) Record(_ context.Context, _ events.Origin, msgs ...events.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failures > 0 {
		r.failures--
		return errors.New("control database down")
	}
	r.recorded = append(r.recorded, msgs)
	return nil
}

// runScript runs a watch loop over script until the script is used up, then ends its context
// and requires the loop to stop.
func runScript(t *testing.T, rec *flakyRecorder, script ...answer) *scriptedQuery {
	t.Helper()
	q := &scriptedQuery{script: script, idle: make(chan struct{})}
	l := &watchLoop{q: q, rec: rec, min: 20 * time.Millisecond, max: 40 * time.Millisecond,
		logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.run(ctx)
	}()
	select {
	case <-q.idle:
	case <-time.After(5 * time.Second):
		t.Fatal("the loop did not use up its script")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("the loop did not stop when its context ended")
	}
	return q
}

var change = []events.Message{events.ConsulKVChanged{AdapterID: "consul/agent", KVKey: "k", ObservedAt: time.Now()}}

func TestWatchLoop_waits_on_each_answers_index(t *testing.T) {
	rec := &flakyRecorder{}
	q := runScript(t, rec, answer{msgs: change, last: 10}, answer{last: 10}, answer{msgs: change, last: 12})
	require.Equal(t, []uint64{0, 10, 10, 12}, q.indexes)
	require.Equal(t, 3, q.commits)
	require.Len(t, rec.recorded, 2, "answers without changes record nothing")
}

func TestWatchLoop_backs_off_while_the_agent_is_down_and_starts_over_at_index_0(t *testing.T) {
	down := errors.New("connection refused")
	rec := &flakyRecorder{}
	q := runScript(t, rec, answer{msgs: change, last: 10},
		answer{err: down}, answer{err: down}, answer{err: down}, answer{err: down}, answer{last: 3})
	require.Equal(t, []uint64{0, 10, 0, 0, 0, 0, 3}, q.indexes)
	waits := []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 40 * time.Millisecond, 40 * time.Millisecond}
	for i, want := range waits {
		require.GreaterOrEqual(t, q.at[i+2].Sub(q.at[i+1]), want, "wait after failure %d", i+1)
	}
	require.Equal(t, 2, q.commits, "failed answers are not committed")
}

func TestWatchLoop_keeps_what_it_could_not_record_and_asks_again(t *testing.T) {
	rec := &flakyRecorder{failures: 2}
	q := runScript(t, rec, answer{msgs: change, last: 10}, answer{msgs: change, last: 10}, answer{msgs: change, last: 11})
	require.Equal(t, []uint64{0, 0, 0, 11}, q.indexes)
	require.Equal(t, 1, q.commits, "only the recorded answer is committed")
	require.Len(t, rec.recorded, 1)
}
