package kafka_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/effect"
	"github.com/omninode/omnibase-infra/handlers/kafka"
)

// silentBroker accepts connections and never answers: a broker that hangs.
func silentBroker(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = conn.Close() })
		}
	}()
	return ln.Addr().String()
}

// Sarama's requests take no context; each call still returns at its deadline, as a transient
// timeout, and Close waits for what Sarama is still doing in the background.
func TestDriver_calls_return_at_their_deadline_on_a_broker_that_hangs(t *testing.T) {
	const saramaTimeout = 300 * time.Millisecond
	d, err := kafka.New(kafka.Config{Targets: []kafka.Target{{Name: "hung", Brokers: []string{silentBroker(t)}}},
		Timeout: saramaTimeout}, nil)
	require.NoError(t, err)
	on := events.On{Target: "hung"}
	deadline := 100 * time.Millisecond
	for name, call := range map[string]func(ctx context.Context) error{
		"describe-cluster": func(ctx context.Context) error {
			_, err := d.Execute(ctx, "hung", events.KafkaDescribeCluster{On: on})
			return err
		},
		"publish": func(ctx context.Context) error {
			_, err := d.Execute(ctx, "hung", events.KafkaPublish{On: on, Topic: "t", Payload: "x"})
			return err
		},
		"probe": func(ctx context.Context) error {
			_, err := d.Probe(ctx, "hung")
			return err
		},
		"initialize": func(ctx context.Context) error {
			_, err := d.Initialize(ctx, "hung")
			return err
		},
		"recover": func(ctx context.Context) error {
			_, err := d.Recover(ctx, "hung")
			return err
		},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		start := time.Now()
		err := call(ctx)
		took := time.Since(start)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded, name)
		require.ErrorContains(t, err, `kafka target "hung" did not answer in time`, name)
		require.True(t, d.Transient(err), "%s: a timeout is transient: %v", name, err)
		require.Less(t, took, deadline+500*time.Millisecond, "%s returns at its deadline, not at Sarama's timeout", name)
	}

	start := time.Now()
	d.Close()
	require.Greater(t, time.Since(start), saramaTimeout-deadline,
		"Close waits for the calls Sarama still runs after their deadline, until its own timeout ends them")
	_, err = d.Execute(context.Background(), "hung", events.KafkaDescribeCluster{On: on})
	require.ErrorIs(t, err, effect.ErrDriverClosed)
	_, err = d.Probe(context.Background(), "hung")
	require.ErrorIs(t, err, effect.ErrDriverClosed)
}

// Calls that come while the connection is being made wait for that dial instead of queueing for
// dials of their own, which on a broker that hangs would last Sarama's timeouts each.
func TestDriver_calls_during_a_dial_share_it(t *testing.T) {
	const saramaTimeout = 300 * time.Millisecond
	d, err := kafka.New(kafka.Config{Targets: []kafka.Target{{Name: "hung", Brokers: []string{silentBroker(t)}}},
		Timeout: saramaTimeout}, nil)
	require.NoError(t, err)
	const calls = 8
	var wg sync.WaitGroup
	for range calls {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_, err := d.Execute(ctx, "hung", events.KafkaDescribeCluster{On: events.On{Target: "hung"}})
			require.ErrorIs(t, err, context.DeadlineExceeded)
		})
	}
	wg.Wait()
	start := time.Now()
	d.Close()
	// One dial is two metadata attempts of saramaTimeout each, with a backoff between: Close
	// waits for about one, not for eight in a row.
	require.Less(t, time.Since(start), 2*time.Second, "one dial for the %d calls, not one each", calls)
}
