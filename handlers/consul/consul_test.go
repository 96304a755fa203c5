package consul_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/consul"
	"github.com/omninode/omnibase-infra/handlers/effect"
)

func newDriver(t *testing.T, targets ...consul.Target) *consul.Driver {
	t.Helper()
	if len(targets) == 0 {
		targets = []consul.Target{{Name: "agent", Addr: "127.0.0.1:8500"}}
	}
	d, err := consul.New(consul.Config{Targets: targets}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(d.Close)
	return d
}

// urlError is an error as net/http's client returns it, around err.
func urlError(err error) error {
	return &url.Error{Op: "Get", URL: "http://127.0.0.1:8500/v1/kv/a", Err: err}
}

func dialError(errno syscall.Errno) error {
	return urlError(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)})
}

func TestTransient(t *testing.T) {
	d := newDriver(t)
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"no_error", nil, false},
		{"connection_refused", dialError(syscall.ECONNREFUSED), true},
		{"connection_reset", urlError(&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), true},
		{"eof", urlError(io.EOF), true},
		{"unexpected_eof", fmt.Errorf("could not get key %q: %w", "a", urlError(io.ErrUnexpectedEOF)), true},
		{"deadline_exceeded", urlError(context.DeadlineExceeded), true},
		{"no_cluster_leader", api.StatusError{Code: 500, Body: "No cluster leader"}, true},
		{"no_cluster_leader_as_text", errors.New("Unexpected response code: 500 (No cluster leader)"), true},
		{"no_leader_probe", consul.ErrNoLeader, true},
		{"service_unavailable", api.StatusError{Code: 503, Body: "rpc error"}, true},
		{"rate_limited", api.StatusError{Code: 429, Body: "rate limit exceeded"}, true},
		{"bad_request", api.StatusError{Code: 400, Body: `Request decode failed: time: invalid duration "x"`}, false},
		{"permission_denied", api.StatusError{Code: 403, Body: "Permission denied"}, false},
		{"unknown_check", fmt.Errorf("could not mark check: %w", api.StatusError{Code: 404, Body: `Unknown check ID "x"`}), false},
		{"not_a_ttl_check", api.StatusError{Code: 500, Body: `CheckID "service:w" does not have associated TTL`}, false},
		{"cancelled", urlError(context.Canceled), false},
		{"breaker_open", effect.ErrBreakerOpen, false},
		{"anything_else", errors.New("boom"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, d.Transient(tc.err), "%v", tc.err)
		})
	}
}

// An agent that is not there gives the client's real error, which is transient.
func TestTransient_of_an_agent_that_is_not_listening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	d := newDriver(t, consul.Target{Name: "gone", Addr: addr})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = d.Execute(ctx, "gone", events.ConsulKVGet{On: events.On{Target: "gone"}, KVKey: "a"})
	require.Error(t, err)
	require.True(t, d.Transient(err), "%v", err)
	_, err = d.Probe(ctx, "gone")
	require.Error(t, err)
	require.True(t, d.Transient(err), "%v", err)
}

func TestCommands_are_the_eight_consul_commands(t *testing.T) {
	d := newDriver(t)
	var kinds []string
	for _, c := range d.Commands() {
		adapter, _ := c.Addressee()
		require.Equal(t, events.AdapterConsul, adapter)
		kinds = append(kinds, c.Kind().String())
	}
	require.ElementsMatch(t, []string{"consul_kv_get/v1", "consul_kv_put/v1", "consul_kv_delete/v1", "consul_kv_cas/v1",
		"consul_register_service/v1", "consul_deregister_service/v1", "consul_pass_ttl/v1", "consul_fail_ttl/v1"}, kinds)
}

func pairs(kv ...any) api.KVPairs {
	var out api.KVPairs
	for i := 0; i < len(kv); i += 3 {
		out = append(out, &api.KVPair{Key: kv[i].(string), Value: []byte(kv[i+1].(string)), ModifyIndex: uint64(kv[i+2].(int))})
	}
	return out
}

func TestKVChanges(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	changed := func(key, value string, index uint64) events.ConsulKVChanged {
		return events.ConsulKVChanged{AdapterID: "consul/agent", KVKey: key, Value: value, ModifyIndex: index, ObservedAt: at}
	}
	deleted := func(key string, index uint64) events.ConsulKVChanged {
		return events.ConsulKVChanged{AdapterID: "consul/agent", KVKey: key, Deleted: true, ModifyIndex: index, ObservedAt: at}
	}
	cases := []struct {
		name       string
		prev, next api.KVPairs
		first      bool
		want       []events.Message
	}{
		{name: "start_reports_every_key_in_key_order", first: true, next: pairs("app/b", "2", 7, "app/a", "1", 5),
			want: []events.Message{changed("app/a", "1", 5), changed("app/b", "2", 7)}},
		{name: "start_with_no_keys_reports_nothing", first: true, next: nil, want: nil},
		{name: "nothing_changed", prev: pairs("app/a", "1", 5), next: pairs("app/a", "1", 5), want: nil},
		{name: "created", prev: pairs("app/a", "1", 5), next: pairs("app/a", "1", 5, "app/c", "3", 9),
			want: []events.Message{changed("app/c", "3", 9)}},
		{name: "changed_value", prev: pairs("app/a", "1", 5), next: pairs("app/a", "2", 8),
			want: []events.Message{changed("app/a", "2", 8)}},
		{name: "written_again_with_the_same_value", prev: pairs("app/a", "1", 5), next: pairs("app/a", "1", 8),
			want: []events.Message{changed("app/a", "1", 8)}},
		{name: "deleted_at_the_query_index", prev: pairs("app/a", "1", 5, "app/b", "2", 6), next: pairs("app/b", "2", 6),
			want: []events.Message{deleted("app/a", 12)}},
		{name: "everything_gone", prev: pairs("app/a", "1", 5, "app/b", "2", 6), next: nil,
			want: []events.Message{deleted("app/a", 12), deleted("app/b", 12)}},
		{name: "created_changed_and_deleted_together", prev: pairs("app/a", "1", 5, "app/b", "2", 6),
			next: pairs("app/b", "3", 10, "app/c", "4", 11),
			want: []events.Message{deleted("app/a", 12), changed("app/b", "3", 10), changed("app/c", "4", 11)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prev := consul.SnapshotOf(tc.prev)
			if tc.first {
				prev = nil
			}
			got := consul.KVChanges("consul/agent", prev, consul.SnapshotOf(tc.next), 12, at)
			require.Equal(t, tc.want, got)
			for _, m := range got {
				require.NoError(t, m.Validate())
			}
		})
	}
}

func entry(node, nodeAddr, id, addr string, port int, statuses ...string) *api.ServiceEntry {
	e := &api.ServiceEntry{Node: &api.Node{Node: node, Address: nodeAddr},
		Service: &api.AgentService{ID: id, Service: "web", Address: addr, Port: port}}
	for i, s := range statuses {
		e.Checks = append(e.Checks, &api.HealthCheck{CheckID: fmt.Sprintf("check-%d", i), Status: s})
	}
	return e
}

func TestInstancesOf(t *testing.T) {
	got := consul.InstancesOf([]*api.ServiceEntry{
		entry("n2", "10.0.0.2", "web-3", "", 80, api.HealthPassing),
		entry("n1", "10.0.0.1", "web-2", "192.168.1.2", 8080, api.HealthPassing, api.HealthCritical),
		entry("n1", "10.0.0.1", "web-1", "", 8080, api.HealthPassing, api.HealthWarning),
		entry("n1", "10.0.0.1", "web-0", "", 0),
	})
	require.Equal(t, []events.ServiceInstance{
		{ServiceID: "web-0", Node: "n1", Address: "10.0.0.1", Status: api.HealthPassing},
		{ServiceID: "web-1", Node: "n1", Address: "10.0.0.1", Port: 8080, Status: api.HealthWarning},
		{ServiceID: "web-2", Node: "n1", Address: "192.168.1.2", Port: 8080, Status: api.HealthCritical},
		{ServiceID: "web-3", Node: "n2", Address: "10.0.0.2", Port: 80, Status: api.HealthPassing},
	}, got)
	require.NotNil(t, consul.InstancesOf(nil), "no instances is an empty list, not null")
}

func TestServiceChanges(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	web1 := events.ServiceInstance{ServiceID: "web-1", Node: "n1", Address: "10.0.0.1", Port: 80, Status: api.HealthPassing}
	web1Critical := web1
	web1Critical.Status = api.HealthCritical
	web2 := events.ServiceInstance{ServiceID: "web-2", Node: "n1", Address: "10.0.0.1", Port: 81, Status: api.HealthPassing}
	none := []events.ServiceInstance{}
	cases := []struct {
		name       string
		prev, next []events.ServiceInstance
		want       []events.ServiceInstance // nil: no event
	}{
		{"start_reports_the_instances", nil, []events.ServiceInstance{web1}, []events.ServiceInstance{web1}},
		{"start_reports_none_as_an_empty_list", nil, none, none},
		{"nothing_changed", []events.ServiceInstance{web1, web2}, []events.ServiceInstance{web1, web2}, nil},
		{"still_none", none, none, nil},
		{"registered", []events.ServiceInstance{web1}, []events.ServiceInstance{web1, web2}, []events.ServiceInstance{web1, web2}},
		{"deregistered", []events.ServiceInstance{web1, web2}, []events.ServiceInstance{web2}, []events.ServiceInstance{web2}},
		{"last_one_gone", []events.ServiceInstance{web1}, none, none},
		{"status_changed", []events.ServiceInstance{web1, web2}, []events.ServiceInstance{web1Critical, web2},
			[]events.ServiceInstance{web1Critical, web2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := consul.ServiceChanges("consul/agent", "web", tc.prev, tc.next, at)
			if tc.want == nil {
				require.Empty(t, got)
				return
			}
			require.Equal(t, []events.Message{events.ConsulServiceChanged{AdapterID: "consul/agent", Service: "web",
				Instances: tc.want, ObservedAt: at}}, got)
			require.NoError(t, got[0].Validate())
		})
	}
}

func TestBuildCheck(t *testing.T) {
	cases := []struct {
		name  string
		check events.ServiceCheck
		want  api.AgentServiceCheck
	}{
		{"ttl_with_consuls_default_id", events.ServiceCheck{Type: events.CheckTTL, TTL: "30s", DeregisterAfter: "1m"},
			api.AgentServiceCheck{CheckID: "service:web-1", TTL: "30s", DeregisterCriticalServiceAfter: "1m"}},
		{"http", events.ServiceCheck{Type: events.CheckHTTP, HTTP: "http://10.0.0.1/health", Interval: "10s", Timeout: "2s"},
			api.AgentServiceCheck{CheckID: "service:web-1", HTTP: "http://10.0.0.1/health", Interval: "10s", Timeout: "2s"}},
		{"tcp_with_its_own_id", events.ServiceCheck{ID: "web-1-port", Type: events.CheckTCP, TCP: "10.0.0.1:80", Interval: "5s"},
			api.AgentServiceCheck{CheckID: "web-1-port", TCP: "10.0.0.1:80", Interval: "5s"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, &tc.want, consul.BuildCheck("web-1", tc.check))
		})
	}
}

func TestNextIndex(t *testing.T) {
	cases := []struct {
		name             string
		prev, last, want uint64
	}{
		{"first_answer", 0, 42, 42},
		{"moved_on", 42, 50, 50},
		{"unchanged", 42, 42, 42},
		{"went_backwards_starts_over", 42, 7, 0},
		{"zero_is_never_waited_on", 0, 0, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, consul.NextIndex(tc.prev, tc.last))
		})
	}
}

func TestConfig(t *testing.T) {
	agent := consul.Target{Name: "agent", Addr: "127.0.0.1:8500"}
	cases := []struct {
		name    string
		cfg     consul.Config
		wantErr []string
	}{
		{"one_target", consul.Config{Targets: []consul.Target{agent}}, nil},
		{"with_watches", consul.Config{Targets: []consul.Target{agent},
			Watch: consul.Watch{KeyPrefixes: []string{"app/", ""}, Services: []string{"web"}}}, nil},
		{"no_targets", consul.Config{}, []string{"no targets"}},
		{"every_problem_at_once", consul.Config{
			Targets:   []consul.Target{{Name: "a/b", Addr: "x"}, {Addr: "y"}, agent, {Name: "agent"}},
			Watch:     consul.Watch{KeyPrefixes: []string{"app/", "app/"}, Services: []string{"web", "web", ""}},
			WatchWait: 11 * time.Minute, WatchRetryMin: time.Minute, WatchRetryMax: time.Second,
		}, []string{`consul target "a/b": the name contains "/"`, "target 1 has no name", `consul target "agent": given twice`,
			`target "agent" has no address`, `watched key prefix "app/" given twice`, `watched service "web" given twice`,
			"a watched service has no name", "WatchWait is 11m0s", "watch retry waits 1m0s to 1s"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := consul.New(tc.cfg, slog.New(slog.DiscardHandler))
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, "invalid config")
			for _, want := range tc.wantErr {
				require.ErrorContains(t, err, want)
			}
		})
	}
}

func TestParseTarget(t *testing.T) {
	got, err := consul.ParseTarget("agent=127.0.0.1:8500")
	require.NoError(t, err)
	require.Equal(t, consul.Target{Name: "agent", Addr: "127.0.0.1:8500"}, got)
	for _, bad := range []string{"", "agent", "=127.0.0.1:8500", "agent="} {
		_, err := consul.ParseTarget(bad)
		require.Error(t, err, bad)
		require.True(t, strings.Contains(err.Error(), "want NAME=HOST:PORT"), err.Error())
	}
}
