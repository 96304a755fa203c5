package events_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
)

func TestControlCommands_Validate(t *testing.T) {
	tests := []struct {
		name     string
		cmd      events.Command
		wantErrs []string
	}{
		{name: "open_breaker", cmd: events.OpenBreaker{Adapter: events.AdapterConsul, Target: "agent", Reason: "failover"}},
		{name: "open_breaker_without_reason", cmd: events.OpenBreaker{Adapter: events.AdapterPostgres, Target: "orders"}},
		{name: "close_breaker", cmd: events.CloseBreaker{Adapter: events.AdapterKafka, Target: "bus"}},
		{name: "recover_target", cmd: events.RecoverTarget{Adapter: events.AdapterConsul, Target: "agent"}},
		{name: "initialize_target", cmd: events.InitializeTarget{Adapter: events.AdapterPostgres, Target: "control"}},
		{
			name:     "open_breaker_of_an_unknown_adapter",
			cmd:      events.OpenBreaker{Adapter: "redis", Target: "cache"},
			wantErrs: []string{`field "adapter" is "redis", want one of ["postgres" "kafka" "consul"]`},
		},
		{
			name:     "close_breaker_without_target",
			cmd:      events.CloseBreaker{Adapter: events.AdapterKafka},
			wantErrs: []string{`missing field "target"`},
		},
		{
			name:     "recover_target_with_nothing",
			cmd:      events.RecoverTarget{},
			wantErrs: []string{`field "adapter" is ""`, `missing field "target"`},
		},
		{
			name:     "initialize_target_without_adapter",
			cmd:      events.InitializeTarget{Target: "bus"},
			wantErrs: []string{`field "adapter" is ""`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cmd.Validate()
			if len(tt.wantErrs) == 0 {
				require.NoError(t, err)
				return
			}
			for _, want := range tt.wantErrs {
				require.ErrorContains(t, err, want)
			}
		})
	}
}

func TestControlCommands_are_addressed_to_their_adapter_target(t *testing.T) {
	tests := []struct {
		name     string
		cmd      events.Command
		wantKind string
	}{
		{name: "open_breaker", cmd: events.OpenBreaker{Adapter: events.AdapterConsul, Target: "agent"}, wantKind: "open_breaker/v1"},
		{name: "close_breaker", cmd: events.CloseBreaker{Adapter: events.AdapterConsul, Target: "agent"}, wantKind: "close_breaker/v1"},
		{name: "recover_target", cmd: events.RecoverTarget{Adapter: events.AdapterConsul, Target: "agent"}, wantKind: "recover_target/v1"},
		{name: "initialize_target", cmd: events.InitializeTarget{Adapter: events.AdapterConsul, Target: "agent"}, wantKind: "initialize_target/v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.wantKind, tt.cmd.Kind().String())
			require.Equal(t, "consul/agent", tt.cmd.Key(), "keyed like the target's other messages, so they stay in order")
			adapter, target := tt.cmd.Addressee()
			require.Equal(t, [2]string{events.AdapterConsul, "agent"}, [2]string{adapter, target})
			var kinds []events.Kind
			for _, c := range events.Commands() {
				kinds = append(kinds, c.Kind())
			}
			require.Contains(t, kinds, tt.cmd.Kind(), "listed among the commands")
		})
	}
}

func TestIsControl_names_what_a_forced_open_breaker_lets_through(t *testing.T) {
	tests := []struct {
		name string
		cmd  events.Command
		want bool
	}{
		{name: "probe_target", cmd: events.ProbeTarget{}, want: true},
		{name: "open_breaker", cmd: events.OpenBreaker{}, want: true},
		{name: "close_breaker", cmd: events.CloseBreaker{}, want: true},
		{name: "recover_target", cmd: events.RecoverTarget{}, want: true},
		{name: "initialize_target", cmd: events.InitializeTarget{}, want: true},
		{name: "postgres_query", cmd: events.PostgresQuery{}, want: false},
		{name: "kafka_publish", cmd: events.KafkaPublish{}, want: false},
		{name: "consul_kv_put", cmd: events.ConsulKVPut{}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, events.IsControl(tt.cmd))
		})
	}
}
