package consul_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/consul"
	"github.com/omninode/omnibase-infra/handlers/effect"
)

// Close called while a command is in flight returns only after the command got its answer;
// calls after it are refused. (The same runs against a real agent in effecttest's suite.)
func TestClose_waits_for_the_call_in_flight_then_refuses_calls(t *testing.T) {
	arrived, answer := make(chan struct{}), make(chan struct{})
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-answer
		w.Header().Set("X-Consul-Index", "7")
		_, _ = w.Write([]byte(`[{"Key":"app/mode","Value":"Ymx1ZQ==","ModifyIndex":7}]`)) // "blue"
	}))
	t.Cleanup(agent.Close)
	var answered sync.Once
	release := func() { answered.Do(func() { close(answer) }) }
	t.Cleanup(release) // before agent.Close, which waits for the handler, when the test fails early
	d := newDriver(t, consul.Target{Name: "agent", Addr: strings.TrimPrefix(agent.URL, "http://")})
	on := events.On{Target: "agent"}

	type outcome struct {
		res events.Result
		err error
		at  time.Time
	}
	call := make(chan outcome, 1)
	go func() {
		res, err := d.Execute(context.Background(), "agent", events.ConsulKVGet{On: on, KVKey: "app/mode"})
		call <- outcome{res, err, time.Now()}
	}()
	<-arrived
	closed := make(chan time.Time, 1)
	go func() { d.Close(); closed <- time.Now() }()
	select {
	case <-closed:
		t.Fatal("Close returned while a command was in flight")
	case <-time.After(200 * time.Millisecond):
	}
	release()
	c := <-call
	require.NoError(t, c.err)
	require.Equal(t, events.ConsulKVGetResult{Key: "app/mode", Value: "blue", ModifyIndex: 7, Found: true}, c.res)
	require.False(t, (<-closed).Before(c.at), "Close returned before the command did")

	_, err := d.Execute(context.Background(), "agent", events.ConsulKVGet{On: on, KVKey: "app/mode"})
	require.ErrorIs(t, err, effect.ErrDriverClosed)
	require.EqualError(t, err, "consul driver closed")
	_, err = d.Probe(context.Background(), "agent")
	require.ErrorIs(t, err, effect.ErrDriverClosed)
	_, err = d.Initialize(context.Background(), "agent")
	require.ErrorIs(t, err, effect.ErrDriverClosed)
	_, err = d.Recover(context.Background(), "agent")
	require.ErrorIs(t, err, effect.ErrDriverClosed)
}

// A target that is not configured is an error for every call, the probe included (it used to
// panic on the missing client).
func TestCalls_on_a_target_not_configured_fail(t *testing.T) {
	d := newDriver(t)
	ctx := context.Background()
	_, err := d.Probe(ctx, "elsewhere")
	require.EqualError(t, err, `consul target "elsewhere" is not configured`)
	_, err = d.Execute(ctx, "elsewhere", events.ConsulKVGet{On: events.On{Target: "elsewhere"}, KVKey: "a"})
	require.EqualError(t, err, `consul target "elsewhere" is not configured`)
	_, err = d.Initialize(ctx, "elsewhere")
	require.Error(t, err)
	_, err = d.Recover(ctx, "elsewhere")
	require.Error(t, err)
}
