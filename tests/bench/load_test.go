package bench_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/projections/infrastate"
	"github.com/omninode/omnibase-infra/sagas"
)

// healthLoad commits health reports the way adapters record their probes — through
// outbox.Publish on the events topic, PerTx reports per transaction — at a steady rate, over
// Targets targets of Adapter in turn.
//
// Each target's reports are healthy except one in every Period: that failed probe makes the
// healthy target degraded, which raises infrastructure_health_degraded (intents fire on
// transitions only), and the two healthy reports after it make it healthy again (the default
// hysteresis: degraded after 1 failure, healthy after 2 successes). The targets fail in turn,
// spread over the period. A degraded intent starts a health_check saga for its target, whose
// first step sends probe_target to every target the projection knows, through the outbox: the
// saga commands the end-to-end latency ends at. Nothing answers those probes, so a health check
// lasts its probe step's timeout (10s) plus a poll of the timer queue (1s); a Period longer than
// that lets each failure find no health check running for its target, and start one rather than
// join it.
type healthLoad struct {
	DB      *pgxpool.Pool
	Topic   string
	Adapter string
	Targets int
	// Rate is how many reports per second are committed, on a schedule: report k is due k/Rate
	// seconds after the start.
	Rate int
	// PerTx is how many reports each transaction commits. Default 1: a probe's record.
	PerTx int
	// Period between two failed probes of one target.
	Period time.Duration
	// Workers commit the transactions, as concurrent adapters do.
	Workers int
}

// run commits reports for d and returns how many committed, when the load started and how long
// it took to the last commit. If the workers fall behind the schedule, reports wait for them (at
// most a second's worth) and the load runs slower than Rate: the rate it reached says so.
func (l healthLoad) run(ctx context.Context, d time.Duration) (committed int, started time.Time, took time.Duration, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	perTx := max(1, l.PerTx)
	jobs := make(chan []*message.Message, max(1, l.Rate/perTx))
	var done atomic.Int64
	var wg sync.WaitGroup
	for range l.Workers {
		wg.Go(func() {
			for msgs := range jobs {
				if err := pgtx.Run(ctx, l.DB, func(tx pgx.Tx) error { return outboxPublish(l.Topic)(ctx, tx, msgs) }); err != nil {
					cancel(fmt.Errorf("could not commit health reports: %w", err))
					return
				}
				done.Add(int64(len(msgs)))
			}
		})
	}
	started = time.Now()
	ticker := time.NewTicker(time.Millisecond)
	defer ticker.Stop()
	var tx []*message.Message
schedule:
	for k := 0; time.Since(started) < d; {
		for due := int(time.Since(started).Seconds()*float64(l.Rate)) + 1; k < due; k++ {
			msg, err := l.report(k)
			if err != nil {
				cancel(err)
				break schedule
			}
			if tx = append(tx, msg); len(tx) < perTx {
				continue
			}
			select {
			case jobs <- tx:
				tx = nil
			case <-ctx.Done():
				break schedule
			}
		}
		select {
		case <-ticker.C:
		case <-ctx.Done():
			break schedule
		}
	}
	close(jobs)
	wg.Wait()
	took = time.Since(started)
	// Cause is nil unless a worker failed or the caller's ctx ended.
	return int(done.Load()), started, took, context.Cause(ctx)
}

// report is the k-th report: target k mod Targets, its (k div Targets)-th probe.
func (l healthLoad) report(k int) (*message.Message, error) {
	t, probe := k%l.Targets, k/l.Targets
	perPeriod := max(3, int(l.Period.Seconds()*float64(l.Rate)/float64(l.Targets)))
	// At least two healthy reports before a target's first failure: the first makes it healthy.
	failsAt := 2 + t*(perPeriod-2)/l.Targets
	target := fmt.Sprintf("t%d", t)
	now := time.Now()
	h := events.AdapterHealthReported{AdapterID: events.AdapterID(l.Adapter, target), Adapter: l.Adapter, Target: target,
		Healthy: probe%perPeriod != failsAt, LatencyMicros: int64(100 + k%900), ProbedAt: now}
	if !h.Healthy {
		h.Error = "connection refused"
	}
	return events.Encode(h, events.NewOrigin(), now)
}

// caughtUp waits until the projection has applied every report of the load's topic committed so
// far and the saga intake has taken every intent the projection raised.
func caughtUp(b *testing.B, db *pgxpool.Pool, topic string, stopped <-chan error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for {
		var reports, applied, intents, taken int
		require.NoError(b, db.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM event_log WHERE topic = $1 AND kind = 'adapter_health_reported'),
			(SELECT count(*) FROM processed_messages p JOIN event_log e ON e.event_id = p.message_id
				WHERE p.consumer = $2 AND e.topic = $1 AND e.kind = 'adapter_health_reported'),
			(SELECT count(*) FROM infrastructure_intents),
			(SELECT count(*) FROM processed_messages WHERE consumer = $3)`,
			topic, infrastate.ConsumerName, sagas.IntakeConsumerName).Scan(&reports, &applied, &intents, &taken))
		if applied >= reports && taken >= intents {
			return
		}
		select {
		case <-ctx.Done():
			b.Fatalf("the loop did not catch up: %d of %d reports applied, %d of %d intents taken", applied, reports, taken, intents)
		case err := <-stopped:
			b.Fatalf("the loop stopped before it caught up (%d of %d reports applied, %d of %d intents taken): %v",
				applied, reports, taken, intents, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitReady waits until the process serving addr answers /readyz with 200: its router runs, its
// projection holds a consumer-group session and its database answers.
func waitReady(b *testing.B, addr string, stopped <-chan error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
		require.NoError(b, err)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			b.Fatalf("%s never became ready", addr)
		case err := <-stopped:
			b.Fatalf("the process stopped before it was ready: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// once runs measure a single time, however many iterations -benchtime asks for: the benchmarks
// that use it hold a load for a fixed time, and repeating it would only make `make bench` longer.
func once(b *testing.B, measure func()) {
	ran := false
	for b.Loop() {
		if !ran {
			measure()
			ran = true
		}
	}
}
