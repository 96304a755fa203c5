package audit_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/audit"
	"github.com/omninode/omnibase-infra/events"
)

func TestSecrets_are_the_commands_secret_values_as_keyed_HMACs(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	h, err := audit.NewHasher(key)
	require.NoError(t, err)
	want := func(v string) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(v))
		return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))
	}
	on := events.On{Target: "t"}
	for _, tt := range []struct {
		name string
		cmd  events.Command
		want map[string]string
	}{
		{"sql_arguments", events.PostgresExecute{On: on, Statement: events.Statement{SQL: "UPDATE u SET pw = $1", Args: []json.RawMessage{json.RawMessage(`"pw"`)}}},
			map[string]string{"arg.0": want(`"pw"`)}},
		{"a_transactions_arguments", events.PostgresTransaction{On: on, Statements: []events.Statement{{SQL: "SELECT 1"},
			{SQL: "SELECT $1", Args: []json.RawMessage{json.RawMessage(`7`)}}}}, map[string]string{"statement.1.arg.0": want(`7`)}},
		{"a_kafka_payload_and_headers", events.KafkaPublish{On: on, Topic: "o", Payload: "p", Headers: map[string]string{"auth": "tok"}},
			map[string]string{"payload": want("p"), "header.auth": want("tok")}},
		{"a_consul_value", events.ConsulKVPut{On: on, KVKey: "k", Value: "v"}, map[string]string{"value": want("v")}},
		{"a_consul_cas_value", events.ConsulKVCompareAndSet{On: on, KVKey: "k", Value: "v2"}, map[string]string{"value": want("v2")}},
		{"nothing_secret_in_a_probe", events.ProbeTarget{Adapter: "postgres", Target: "t"}, map[string]string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, audit.Secrets(h, tt.cmd))
		})
	}
	require.Equal(t, map[string]string{"value": "withheld (no audit HMAC key)"}, audit.Secrets(nil, events.ConsulKVPut{On: on, KVKey: "k", Value: "v"}))
	_, err = audit.NewHasher([]byte("short"))
	require.ErrorContains(t, err, "at least 32 bytes, not 5")
}
