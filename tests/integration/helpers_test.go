package integration_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/omninode/omnibase-infra/handlers/effect"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/projections/infrastate"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// started runs start for the test and terminates what it started when the test ends, even when
// start-up failed half-way.
func started[T interface {
	comparable
	Terminate(context.Context) error
}](t *testing.T, start func(context.Context) (T, error)) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := start(ctx)
	t.Cleanup(func() {
		var none T
		if s != none {
			_ = s.Terminate(context.Background())
		}
	})
	require.NoError(t, err)
	return s
}

// newKafka starts a broker of the test's own, so topics and consumer groups never meet another test's.
func newKafka(t *testing.T) *containers.Kafka { return started(t, containers.StartKafka) }

// newControlDB makes a fresh, migrated control database and a pool on it.
func newControlDB(t *testing.T) (string, *pgxpool.Pool) {
	t.Helper()
	url := control.NewDatabase(t)
	ctx := context.Background()
	require.NoError(t, app.Migrate(ctx, url, testLogger(t)))
	db, err := app.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	return url, db
}

// eventually polls cond until it holds or timeout passes, failing with what cond last said.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ok, state, err := cond()
		if err == nil && ok {
			return
		}
		if err != nil {
			last = "error: " + err.Error()
		} else {
			last = state
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last seen: %s", timeout, what, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// appConfig runs every role against the test's database and broker, probing fast.
func appConfig(databaseURL string, brokers []string) app.Config {
	return app.Config{DatabaseURL: databaseURL, KafkaBrokers: brokers, Roles: app.AllRoles,
		Adapters: effect.Config{ProbeInterval: 200 * time.Millisecond, ProbeTimeout: time.Second}}
}

// waitHealthy waits until the projection shows adapterID healthy.
func waitHealthy(t *testing.T, db *pgxpool.Pool, adapterID string) {
	t.Helper()
	eventually(t, 60*time.Second, adapterID+" healthy", func() (bool, string, error) {
		states, err := infrastate.List(context.Background(), db)
		if err != nil {
			return false, "", err
		}
		for _, s := range states {
			if s.AdapterID == adapterID {
				return s.Status == infrastate.StatusHealthy, string(s.Status), nil
			}
		}
		return false, "no state yet", nil
	})
}

// startApp runs app.Run in the background until the test ends, and fails the test if it stops
// with an error before that. It returns the address of its HTTP endpoints.
func startApp(t *testing.T, cfg app.Config) string {
	t.Helper()
	port, err := containers.FreePort()
	require.NoError(t, err)
	cfg.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", port)
	withTestKey(&cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, cfg, testLogger(t)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("omni stopped with: %v", err)
			}
		case <-time.After(45 * time.Second):
			t.Errorf("omni did not stop within 45s of its context ending")
		}
	})
	return cfg.HTTPAddr
}

// consumeAll reads topic from its start with franz-go's own client (not the project's code path)
// until no record arrives for quiet, or max records were read.
func consumeAll(t *testing.T, brokers []string, topic string, quiet time.Duration, max int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	var out []*kgo.Record
	for len(out) < max {
		ctx, cancel := context.WithTimeout(context.Background(), quiet)
		fetches := cl.PollFetches(ctx)
		cancel()
		if errs := fetches.Errors(); len(errs) > 0 {
			if errors.Is(errs[0].Err, context.DeadlineExceeded) {
				break
			}
			require.NoError(t, errs[0].Err, "consuming %s", topic)
		}
		fetches.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// consumeUntil reads topic from its start with franz-go's own client until done says the records
// read so far are enough, or timeout passes (then the test fails with what done last said).
func consumeUntil(t *testing.T, brokers []string, topic string, timeout time.Duration, done func([]*kgo.Record) (bool, string)) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(timeout)
	for {
		ok, why := done(out)
		if ok {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s reading %s: %s", timeout, topic, why)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fetches := cl.PollFetches(ctx)
		cancel()
		if errs := fetches.Errors(); len(errs) > 0 && !errors.Is(errs[0].Err, context.DeadlineExceeded) {
			require.NoError(t, errs[0].Err, "consuming %s", topic)
		}
		fetches.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
}
