package kafka_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/kafka"
	"github.com/omninode/omnibase-infra/internal/devkafka"
)

// The producer pool against the in-process Kafka-protocol broker of `omni dev` (no Docker):
// concurrent publishes share the pool, the probe counts them, and Close waits for the publishes
// in flight instead of pulling producers out from under them.
func TestDriver_pool_serves_concurrent_publishes_and_close_waits_for_them(t *testing.T) {
	broker, err := devkafka.Start(devkafka.Config{}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(broker.Close)
	d, err := kafka.New(kafka.Config{Targets: []kafka.Target{{Name: "bus", Brokers: broker.Addrs()}}, Producers: 2}, nil)
	require.NoError(t, err)
	publish := events.KafkaPublish{On: events.On{Target: "bus"}, Topic: "pool", Payload: "x"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const workers, each = 8, 5
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		landed = map[events.KafkaPublishResult]bool{}
		errs   []error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				res, err := d.Execute(ctx, "bus", publish)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					landed[res.(events.KafkaPublishResult)] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Empty(t, errs)
	require.Len(t, landed, workers*each, "every publish has a partition and offset of its own")

	h, err := d.Probe(ctx, "bus")
	require.NoError(t, err)
	require.Equal(t, "40", h.Details["producer_publishes"])
	require.Equal(t, "0", h.Details["producer_errors"])
	require.Equal(t, "0.000", h.Details["producer_error_rate"])
	require.Equal(t, "1", h.Details["brokers"])
	require.NotEmpty(t, h.Details["controller_id"])
	require.NotEmpty(t, h.Details["metadata_latency_us"])
	require.NotEqual(t, "0", h.Details["topics"])

	// Close while publishes run: none panics, each ends, and nothing is published after Close.
	stop := make(chan struct{})
	var after sync.WaitGroup
	for range workers {
		after.Add(1)
		go func() {
			defer after.Done()
			for {
				pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
				_, err := d.Execute(pctx, "bus", publish)
				pcancel()
				if err != nil {
					return
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	d.Close()
	close(stop)
	after.Wait()
	_, err = d.Execute(ctx, "bus", publish)
	require.ErrorContains(t, err, "kafka driver closed")
}
