package integration_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/hashicorp/consul/api"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/consul"
	"github.com/omninode/omnibase-infra/handlers/effect"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/internal/command"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// consulRig is the Consul adapter running against a real agent: the agent, a commander, a
// client of the agent's own API to check what the commands did, and a reader of infra.events.
type consulRig struct {
	agent  *containers.Consul
	cmd    *commander
	api    *api.Client
	events *eventTail
}

// opened decodes the payload of r, an event omni published, its sealed fields opened with the
// keys of the test database db (the values of KV changes are sealed on the bus).
func opened(t *testing.T, db *pgxpool.Pool, r *kgo.Record) events.Message {
	t.Helper()
	msg := message.NewMessage(header(r, kafka.UUIDHeaderKey), r.Value)
	for _, h := range r.Headers {
		msg.Metadata.Set(h.Key, string(h.Value))
	}
	_, m, err := events.Catalog().WithOpener(sealerOf(t, db)).DecodeFrom(r.Topic, msg)
	require.NoError(t, err, string(r.Value))
	return m
}

// startConsulAdapter starts a Consul agent, a broker and the adapters with the agent as the
// Consul target "agent". configure, when given, adjusts the configuration and may prepare the
// agent through its API before the adapters start.
func startConsulAdapter(t *testing.T, configure func(*app.Config, *api.Client)) consulRig {
	t.Helper()
	agent := started(t, containers.StartConsul)
	kafka := newKafka(t)
	url, db := newControlDB(t)
	client, err := api.NewClient(&api.Config{Address: agent.Addr})
	require.NoError(t, err)
	cfg := adapterConfig(url, kafka.Brokers())
	cfg.Consul.Targets = []consul.Target{{Name: "agent", Addr: agent.Addr}}
	if configure != nil {
		configure(&cfg, client)
	}
	startApp(t, cfg)
	return consulRig{agent: agent, cmd: newCommander(t, db, kafka.Brokers()), api: client, events: tailEvents(t, db, kafka.Brokers())}
}

var onAgent = events.On{Target: "agent"}

// resultOf requires the command to have succeeded and returns its result as plain JSON values.
func resultOf(t *testing.T, caused []command.Caused) map[string]any {
	t.Helper()
	var out map[string]any
	succeeded(t, caused, &out)
	return out
}

// agentCheck is the status of checkID as the agent's own API reports it.
func agentCheck(t *testing.T, client *api.Client, checkID string) string {
	t.Helper()
	checks, err := client.Agent().Checks()
	require.NoError(t, err)
	c, ok := checks[checkID]
	if !ok {
		return "(no such check)"
	}
	return c.Status
}

func TestConsulAdapter_kv_commands_act_on_the_agent(t *testing.T) {
	rig := startConsulAdapter(t, nil)
	kv := rig.api.KV()
	prefix := "it/" + watermill.NewUUID() + "/"
	key := prefix + "mode"

	// put, as Consul stores it
	require.Equal(t, map[string]any{"key": key},
		resultOf(t, rig.cmd.run(events.ConsulKVPut{On: onAgent, KVKey: key, Value: "blue"})))
	stored, _, err := kv.Get(key, nil)
	require.NoError(t, err)
	require.NotNil(t, stored)
	require.Equal(t, "blue", string(stored.Value))

	// get: the value and Consul's modify index
	require.Equal(t, map[string]any{"key": key, "value": "blue", "modify_index": float64(stored.ModifyIndex), "found": true},
		resultOf(t, rig.cmd.run(events.ConsulKVGet{On: onAgent, KVKey: key})))
	// a missing key is a successful get that found nothing
	require.Equal(t, map[string]any{"key": prefix + "none", "value": "", "modify_index": float64(0), "found": false},
		resultOf(t, rig.cmd.run(events.ConsulKVGet{On: onAgent, KVKey: prefix + "none"})))

	// compare-and-set: won at the current index, then lost with the same (now stale) index
	require.Equal(t, map[string]any{"key": key, "swapped": true}, resultOf(t, rig.cmd.run(
		events.ConsulKVCompareAndSet{On: onAgent, KVKey: key, Value: "green", ModifyIndex: stored.ModifyIndex})))
	require.Equal(t, map[string]any{"key": key, "swapped": false}, resultOf(t, rig.cmd.run(
		events.ConsulKVCompareAndSet{On: onAgent, KVKey: key, Value: "red", ModifyIndex: stored.ModifyIndex})))
	now, _, err := kv.Get(key, nil)
	require.NoError(t, err)
	require.Equal(t, "green", string(now.Value), "the lost race wrote nothing")
	// index 0: create only if absent
	require.Equal(t, map[string]any{"key": prefix + "new", "swapped": true}, resultOf(t, rig.cmd.run(
		events.ConsulKVCompareAndSet{On: onAgent, KVKey: prefix + "new", Value: "1"})))
	require.Equal(t, map[string]any{"key": prefix + "new", "swapped": false}, resultOf(t, rig.cmd.run(
		events.ConsulKVCompareAndSet{On: onAgent, KVKey: prefix + "new", Value: "2"})))

	// delete one key, then the rest of the tree
	require.Equal(t, map[string]any{"key": key}, resultOf(t, rig.cmd.run(events.ConsulKVDelete{On: onAgent, KVKey: key})))
	gone, _, err := kv.Get(key, nil)
	require.NoError(t, err)
	require.Nil(t, gone)
	resultOf(t, rig.cmd.run(events.ConsulKVPut{On: onAgent, KVKey: prefix + "sub/a", Value: "x"}))
	require.Equal(t, map[string]any{"key": prefix}, resultOf(t, rig.cmd.run(events.ConsulKVDelete{On: onAgent, KVKey: prefix, Recurse: true})))
	left, _, err := kv.List(prefix, nil)
	require.NoError(t, err)
	require.Empty(t, left)
	// deleting what is not there succeeds: Consul's delete is idempotent
	resultOf(t, rig.cmd.run(events.ConsulKVDelete{On: onAgent, KVKey: key}))
}

func TestConsulAdapter_service_commands_register_and_drive_ttl_checks(t *testing.T) {
	rig := startConsulAdapter(t, nil)
	id := "web-" + watermill.NewUUID()[:8]
	checkID := "service:" + id

	register := events.ConsulRegisterService{On: onAgent, ServiceID: id, Name: "web", Address: "10.1.2.3", Port: 8080,
		Tags: []string{"blue"}, Meta: map[string]string{"version": "1"},
		Check: &events.ServiceCheck{Type: events.CheckTTL, TTL: "5m"}}
	require.Equal(t, map[string]any{"service_id": id, "check_id": checkID}, resultOf(t, rig.cmd.run(register)))
	services, err := rig.api.Agent().Services()
	require.NoError(t, err)
	require.Contains(t, services, id)
	require.Equal(t, "web", services[id].Service)
	require.Equal(t, "10.1.2.3", services[id].Address)
	require.Equal(t, 8080, services[id].Port)
	require.Equal(t, []string{"blue"}, services[id].Tags)
	require.Equal(t, api.HealthCritical, agentCheck(t, rig.api, checkID), "a TTL check starts critical")
	// registering again converges on the same registration
	require.Equal(t, map[string]any{"service_id": id, "check_id": checkID}, resultOf(t, rig.cmd.run(register)))

	require.Equal(t, map[string]any{"check_id": checkID, "status": "passing"},
		resultOf(t, rig.cmd.run(events.ConsulPassTTL{On: onAgent, CheckID: checkID, Note: "all good"})))
	require.Equal(t, api.HealthPassing, agentCheck(t, rig.api, checkID))
	require.Equal(t, map[string]any{"check_id": checkID, "status": "critical"},
		resultOf(t, rig.cmd.run(events.ConsulFailTTL{On: onAgent, CheckID: checkID, Note: "disk full"})))
	require.Equal(t, api.HealthCritical, agentCheck(t, rig.api, checkID))

	// an unknown check is a permanent failure with Consul's own message, tried once
	f := failed(t, rig.cmd.run(events.ConsulPassTTL{On: onAgent, CheckID: "service:nope"}))
	require.False(t, f.Transient)
	require.Equal(t, 1, f.Attempts)
	require.Contains(t, f.Error, `Unknown check ID "service:nope"`)
	require.Equal(t, "consul/agent", f.AdapterID)

	// a tcp check with its own id, against the agent's own port: Consul runs it and it passes
	tcp := events.ConsulRegisterService{On: onAgent, ServiceID: id + "-tcp", Name: "web-tcp",
		Check: &events.ServiceCheck{ID: id + "-port", Type: events.CheckTCP, TCP: rig.agent.Addr, Interval: "1s", Timeout: "1s"}}
	require.Equal(t, map[string]any{"service_id": id + "-tcp", "check_id": id + "-port"}, resultOf(t, rig.cmd.run(tcp)))
	eventually(t, 20*time.Second, "the tcp check passing", func() (bool, string, error) {
		s := agentCheck(t, rig.api, id+"-port")
		return s == api.HealthPassing, s, nil
	})

	// an http check against the agent's own API: Consul calls it and it passes
	web := events.ConsulRegisterService{On: onAgent, ServiceID: id + "-http", Name: "web-http",
		Check: &events.ServiceCheck{ID: id + "-http", Type: events.CheckHTTP, HTTP: "http://" + rig.agent.Addr + "/v1/status/leader",
			Interval: "1s", Timeout: "1s"}}
	require.Equal(t, map[string]any{"service_id": id + "-http", "check_id": id + "-http"}, resultOf(t, rig.cmd.run(web)))
	eventually(t, 20*time.Second, "the http check passing", func() (bool, string, error) {
		s := agentCheck(t, rig.api, id+"-http")
		return s == api.HealthPassing, s, nil
	})

	// deregister, and again: an instance already gone is a success
	for range 2 {
		require.Equal(t, map[string]any{"service_id": id}, resultOf(t, rig.cmd.run(events.ConsulDeregisterService{On: onAgent, ServiceID: id})))
	}
	services, err = rig.api.Agent().Services()
	require.NoError(t, err)
	require.NotContains(t, services, id)
	require.Equal(t, "(no such check)", agentCheck(t, rig.api, checkID))
}

// eventTail reads infra.events from its start, a little more at each read. Unlike consumeAll it
// does not wait for the topic to go quiet, which it never does while targets are probed fast.
type eventTail struct {
	cl   *kgo.Client
	db   *pgxpool.Pool // whose keys open the events' sealed fields
	seen []*kgo.Record
}

func tailEvents(t *testing.T, db *pgxpool.Pool, brokers []string) *eventTail {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(events.DefaultTopics().Events),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.MetadataMinAge(250*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return &eventTail{cl: cl, db: db}
}

// read adds what arrived since the last read (waiting up to half a second for something) and
// returns every record read so far.
func (e *eventTail) read(t *testing.T) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	fetches := e.cl.PollFetches(ctx)
	for _, err := range fetches.Errors() {
		if !errors.Is(err.Err, context.DeadlineExceeded) {
			require.NoError(t, err.Err, "reading %s", err.Topic)
		}
	}
	fetches.EachRecord(func(r *kgo.Record) { e.seen = append(e.seen, r) })
	return e.seen
}

// consulEvents are the events of kind (a name such as "consul_kv_changed") about consul/agent
// read so far, in the order they were recorded.
func consulEvents[T events.Message](t *testing.T, tail *eventTail, kind string) []T {
	t.Helper()
	var out []T
	for _, r := range tail.read(t) {
		if header(r, events.MetaType) != kind || string(r.Key) != "consul/agent" {
			continue
		}
		e, ok := opened(t, tail.db, r).(T)
		require.True(t, ok, "%s is a %s", string(r.Value), kind)
		out = append(out, e)
	}
	return out
}

func TestConsulAdapter_watches_record_kv_and_service_changes(t *testing.T) {
	prefix := "watched/" + watermill.NewUUID() + "/"
	service := "api-" + watermill.NewUUID()[:8]
	rig := startConsulAdapter(t, func(cfg *app.Config, client *api.Client) {
		cfg.Consul.Watch = consul.Watch{KeyPrefixes: []string{prefix}, Services: []string{service}}
		_, err := client.KV().Put(&api.KVPair{Key: prefix + "start", Value: []byte("0")}, nil)
		require.NoError(t, err)
	})
	kvChanges := func() []events.ConsulKVChanged {
		return consulEvents[events.ConsulKVChanged](t, rig.events, "consul_kv_changed")
	}
	serviceChanges := func() []events.ConsulServiceChanged {
		return consulEvents[events.ConsulServiceChanged](t, rig.events, "consul_service_changed")
	}
	waitFor := func(what string, n int, got func() int) {
		t.Helper()
		eventually(t, 30*time.Second, what, func() (bool, string, error) {
			k := got()
			return k >= n, fmt.Sprintf("%d events", k), nil
		})
	}

	// Each watch starts by recording the state it starts from: the key there before the adapter
	// started, and the service's instances, none yet.
	waitFor("the starting points", 2, func() int { return min(len(kvChanges()), 1) + min(len(serviceChanges()), 1) })
	start := kvChanges()[0]
	require.Equal(t, events.ConsulKVChanged{AdapterID: "consul/agent", KVKey: prefix + "start", Value: "0",
		ModifyIndex: start.ModifyIndex, ObservedAt: start.ObservedAt}, start)
	require.NotZero(t, start.ModifyIndex)
	require.Equal(t, service, serviceChanges()[0].Service)
	require.Empty(t, serviceChanges()[0].Instances)

	// a key put through the adapter, then deleted behind its back through Consul's own API
	resultOf(t, rig.cmd.run(events.ConsulKVPut{On: onAgent, KVKey: prefix + "color", Value: "blue"}))
	waitFor("ConsulKVChanged for the put", 2, func() int { return len(kvChanges()) })
	put := kvChanges()[1]
	pair, _, err := rig.api.KV().Get(prefix+"color", nil)
	require.NoError(t, err)
	require.Equal(t, events.ConsulKVChanged{AdapterID: "consul/agent", KVKey: prefix + "color", Value: "blue",
		ModifyIndex: pair.ModifyIndex, ObservedAt: put.ObservedAt}, put)

	_, err = rig.api.KV().Delete(prefix+"color", nil)
	require.NoError(t, err)
	waitFor("ConsulKVChanged for the delete", 3, func() int { return len(kvChanges()) })
	deleted := kvChanges()[2]
	require.Equal(t, prefix+"color", deleted.KVKey)
	require.True(t, deleted.Deleted)
	require.Empty(t, deleted.Value)
	require.Greater(t, deleted.ModifyIndex, put.ModifyIndex, "the index at which the key was seen gone")

	// a registration, then its TTL check passing: the whole instance list each time
	id := service + "-1"
	resultOf(t, rig.cmd.run(events.ConsulRegisterService{On: onAgent, ServiceID: id, Name: service, Address: "10.0.0.7",
		Port: 9000, Check: &events.ServiceCheck{Type: events.CheckTTL, TTL: "5m"}}))
	waitFor("ConsulServiceChanged for the registration", 2, func() int { return len(serviceChanges()) })
	resultOf(t, rig.cmd.run(events.ConsulPassTTL{On: onAgent, CheckID: "service:" + id}))
	waitFor("ConsulServiceChanged for the passing check", 3, func() int { return len(serviceChanges()) })
	for i, want := range []string{api.HealthCritical, api.HealthPassing} {
		changed := serviceChanges()[i+1]
		require.Equal(t, service, changed.Service)
		require.Len(t, changed.Instances, 1)
		in := changed.Instances[0]
		require.NotEmpty(t, in.Node)
		require.Equal(t, events.ServiceInstance{ServiceID: id, Node: in.Node, Address: "10.0.0.7", Port: 9000, Status: want}, in)
	}

	// nothing was recorded twice
	time.Sleep(time.Second)
	require.Len(t, kvChanges(), 3)
	require.Len(t, serviceChanges(), 3)
}

// A watch survives its agent's restart: it retries until the agent is back, then records only
// what differs from what it saw last — here that the restarted dev agent forgot its keys.
func TestConsulAdapter_watch_catches_up_after_the_agent_restarts(t *testing.T) {
	prefix := "watched/" + watermill.NewUUID() + "/"
	rig := startConsulAdapter(t, func(cfg *app.Config, client *api.Client) {
		cfg.Consul.Watch = consul.Watch{KeyPrefixes: []string{prefix}}
		_, err := client.KV().Put(&api.KVPair{Key: prefix + "a", Value: []byte("1")}, nil)
		require.NoError(t, err)
	})
	kvChanges := func() []events.ConsulKVChanged {
		return consulEvents[events.ConsulKVChanged](t, rig.events, "consul_kv_changed")
	}
	waitFor := func(what string, n int) {
		t.Helper()
		eventually(t, 60*time.Second, what, func() (bool, string, error) {
			got := kvChanges()
			return len(got) >= n, fmt.Sprint(got), nil
		})
	}
	waitFor("the starting point", 1)

	ctx := context.Background()
	require.NoError(t, rig.agent.Stop(ctx))
	time.Sleep(time.Second) // long enough for the watch to fail and back off
	require.NoError(t, rig.agent.Start(ctx))
	restarted := time.Now()
	waitFor("the key seen gone", 2)
	t.Logf("the watch caught up %s after the agent was back", time.Since(restarted))
	resultOf(t, rig.cmd.run(events.ConsulKVPut{On: onAgent, KVKey: prefix + "b", Value: "2"}))
	waitFor("the new key", 3)

	got := kvChanges()
	require.Len(t, got, 3)
	require.Equal(t, prefix+"a", got[0].KVKey)
	require.False(t, got[0].Deleted)
	require.Equal(t, prefix+"a", got[1].KVKey)
	require.True(t, got[1].Deleted, "the restarted dev agent forgot the key")
	require.Equal(t, prefix+"b", got[2].KVKey)
	require.Equal(t, "2", got[2].Value)
}

func transitions(changes []events.CircuitBreakerStateChanged) []string {
	var out []string
	for _, c := range changes {
		out = append(out, string(c.From)+"→"+string(c.To))
	}
	return out
}

func TestConsulAdapter_breaker_opens_when_the_agent_stops_and_closes_when_it_is_back(t *testing.T) {
	rig := startConsulAdapter(t, func(cfg *app.Config, _ *api.Client) {
		cfg.Adapters.Breaker = effect.Breaker{Failures: 3, OpenFor: 2 * time.Second}
		cfg.Adapters.ProbeInterval = 200 * time.Millisecond
	})
	breakerChanges := func() []events.CircuitBreakerStateChanged {
		return consulEvents[events.CircuitBreakerStateChanged](t, rig.events, "circuit_breaker_state_changed")
	}
	ctx := context.Background()
	key := "breaker/" + watermill.NewUUID()
	resultOf(t, rig.cmd.run(events.ConsulKVPut{On: onAgent, KVKey: key, Value: "before"}))

	start := time.Now()
	require.NoError(t, rig.agent.Stop(ctx))
	t.Logf("agent stopped in %s", time.Since(start))
	eventually(t, 30*time.Second, "the breaker opening", func() (bool, string, error) {
		got := breakerChanges()
		return len(got) > 0, fmt.Sprint(transitions(got)), nil
	})
	require.Equal(t, events.CircuitBreakerStateChanged{AdapterID: "consul/agent", From: events.BreakerClosed,
		To: events.BreakerOpen, ConsecutiveFailures: 3, ChangedAt: breakerChanges()[0].ChangedAt}, breakerChanges()[0],
		"the first transition: opened after the configured failures")
	t.Logf("breaker open %s after the stop", time.Since(start))

	// While the breaker is open a command fails at once, without reaching the agent. It may land
	// on the trial call of a half-open breaker instead (every OpenFor): then try again.
	var refused events.CommandFailed
	for try := 1; try <= 5; try++ {
		refused = failed(t, rig.cmd.run(events.ConsulKVGet{On: onAgent, KVKey: key}))
		if strings.Contains(refused.Error, "circuit breaker") && refused.Attempts == 1 {
			t.Logf("refused by the open breaker at try %d: %s", try, refused.Error)
			break
		}
	}
	require.Contains(t, refused.Error, "circuit breaker open")
	require.True(t, refused.Transient)
	require.Equal(t, 1, refused.Attempts, "a refused call is not retried")
	require.Less(t, refused.DurationMicros, int64(100_000), "it fails fast")

	// Each OpenFor the breaker lets one trial probe through; while the agent is down it fails and
	// the breaker opens again.
	eventually(t, 30*time.Second, "a failed trial", func() (bool, string, error) {
		got := transitions(breakerChanges())
		return slices.Contains(got, "half_open→open"), fmt.Sprint(got), nil
	})

	restart := time.Now()
	require.NoError(t, rig.agent.Start(ctx))
	t.Logf("agent back with a leader %s after the restart began", time.Since(restart))
	eventually(t, 60*time.Second, "the breaker closing", func() (bool, string, error) {
		got := transitions(breakerChanges())
		return got[len(got)-1] == "half_open→closed", fmt.Sprint(got), nil
	})
	changes := breakerChanges()
	got := transitions(changes)
	t.Logf("breaker closed %s after the restart began (%s after the stop): %v", time.Since(restart), time.Since(start), got)
	require.Equal(t, []string{"open→half_open", "half_open→closed"}, got[len(got)-2:], "%v", got)
	for i := 1; i < len(changes); i++ {
		require.Equal(t, changes[i-1].To, changes[i].From, "each transition starts where the last ended: %v", got)
	}
	for _, between := range got[1 : len(got)-2] {
		require.Contains(t, []string{"open→half_open", "half_open→open"}, between, "only failed trials in between: %v", got)
	}

	// and commands reach the agent again (a dev agent forgets its data when it stops)
	resultOf(t, rig.cmd.run(events.ConsulKVPut{On: onAgent, KVKey: key, Value: "after"}))
	after := resultOf(t, rig.cmd.run(events.ConsulKVGet{On: onAgent, KVKey: key}))
	require.Equal(t, "after", after["value"])
	require.Equal(t, true, after["found"])
}
