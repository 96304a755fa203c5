package integration_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
)

// omni cmd sends a command as an operator would, through the outbox of the control database, and
// prints what it caused, its outcome last.
func TestCLI_cmd_sends_a_command_and_waits_for_its_outcome(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	startApp(t, adapterConfig(url, kafka.Brokers()))
	env := []string{"DATABASE_URL=" + url, "KAFKA_BROKERS=" + strings.Join(kafka.Brokers(), ",")}

	out, stderr, code := omni(t, env, "cmd", "postgres", "probe", "--target", "control", "--wait", "--json")
	require.Equal(t, 0, code, stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var last struct {
		Type    string `json:"type"`
		Key     string `json:"key"`
		Payload struct {
			Result struct {
				Healthy bool `json:"healthy"`
			} `json:"result"`
		} `json:"payload"`
	}
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &last), out)
	require.Equal(t, "command_succeeded/v1", last.Type)
	require.Equal(t, "postgres/control", last.Key)
	require.True(t, last.Payload.Result.Healthy)
	require.Contains(t, lines[0], "adapter_health_reported/v2")

	// a command for a target the adapter does not have, with no projection to check it against
	// (this process runs no projection role): rejected by the adapter, exit status 1
	out, stderr, code = omni(t, env, "cmd", "postgres", "probe", "--target", "orders", "--wait")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "command_rejected")
	require.Contains(t, stderr, `rejected: postgres target "orders" is not configured`)

	// --data from a file
	file := filepath.Join(t.TempDir(), "probe.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"target":"control"}`), 0o600))
	out, stderr, code = omni(t, env, "cmd", "postgres", "probe", "--data", "@"+file, "--wait")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "command_succeeded")

	// without --wait: the command's id, and no brokers needed (the command goes to the outbox)
	out, stderr, code = omni(t, []string{"DATABASE_URL=" + url}, "cmd", "postgres", "probe", "--target", "control")
	require.Equal(t, 0, code, stderr)
	require.Regexp(t, `^[0-9a-f-]{36}\n$`, out)

	// every command sent is in the audit log with who sent it, in the transaction that sent it
	var actor, action, subject string
	require.NoError(t, db.QueryRow(context.Background(), `SELECT actor, action, subject FROM audit_entries
		WHERE detail->>'command_id' = $1`, strings.TrimSpace(out)).Scan(&actor, &action, &subject))
	require.Regexp(t, `^.+@.+ \(omni cmd\)$`, actor)
	require.Equal(t, "command.sent", action)
	require.Equal(t, "postgres/control", subject)
	var sent int
	require.NoError(t, db.QueryRow(context.Background(), `SELECT count(*) FROM audit_entries WHERE action = 'command.sent'`).Scan(&sent))
	require.Equal(t, 4, sent, "four commands sent, four entries")
}

func TestCLI_cmd_refuses_a_bad_command_before_sending_it(t *testing.T) {
	env := []string{"DATABASE_URL=postgres://u@127.0.0.1:1/db", "KAFKA_BROKERS=127.0.0.1:1"} // never reached
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"unknown adapter":          {[]string{"cmd", "redis", "get"}, `unknown adapter "redis"`},
		"unknown command":          {[]string{"cmd", "consul", "kv-gte"}, `the consul adapter has no command "kv-gte"`},
		"not JSON":                 {[]string{"cmd", "consul", "kv-get", "--data", "{"}, "--data is not a JSON object"},
		"missing fields":           {[]string{"cmd", "consul", "kv-put", "--data", `{"value":"x"}`}, `missing field "target"; missing field "key"`},
		"unknown field":            {[]string{"cmd", "kafka", "publish", "--target", "bus", "--data", `{"topic":"t","value":"x"}`}, `unknown field "value"`},
		"bad check":                {[]string{"cmd", "consul", "register-service", "--target", "a", "--data", `{"service_id":"w","name":"w","check":{"type":"ttl","ttl":"soon"}}`}, `field "check.ttl" is "soon"`},
		"no brokers given to wait": {[]string{"cmd", "kafka", "describe-cluster", "--wait", "--kafka-brokers", ""}, "KAFKA_BROKERS (--kafka-brokers) is not set"},
		"no database given":        {[]string{"cmd", "kafka", "describe-cluster", "--database-url", ""}, "DATABASE_URL (--database-url) is not set"},
	} {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			e := env
			switch name {
			case "no brokers given to wait":
				e = []string{env[0]}
			case "no database given":
				e = nil
			}
			_, stderr, code := omni(t, e, tc.args...)
			require.Equal(t, 2, code, "a bad command is a usage error")
			require.Contains(t, stderr, tc.want)
			require.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, "one line: %s", stderr)
		})
	}
}

// A command sent with omni cmd goes through the outbox like every message of the loop: its row is
// in the event log, on its adapter's command topic, under the id its outcome names.
func TestCLI_cmd_writes_the_command_into_the_event_log(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	startApp(t, adapterConfig(url, kafka.Brokers()))
	env := []string{"DATABASE_URL=" + url, "KAFKA_BROKERS=" + strings.Join(kafka.Brokers(), ",")}

	for _, tc := range []struct {
		name    string
		args    []string
		adapter string
		kind    string
	}{
		{"postgres_probe", []string{"cmd", "postgres", "probe", "--target", "control"}, "postgres", "probe_target"},
		{"kafka_describe_cluster", []string{"cmd", "kafka", "describe-cluster", "--target", "bus"}, "kafka", "kafka_describe_cluster"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := omni(t, env, append(tc.args, "--wait", "--json")...)
			require.Equal(t, 0, code, stderr)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			var last struct {
				Type    string `json:"type"`
				Payload struct {
					CommandID string `json:"command_id"`
				} `json:"payload"`
			}
			require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &last), out)
			require.Equal(t, "command_succeeded/v1", last.Type)
			require.NotEmpty(t, last.Payload.CommandID)

			var topic, kind string
			require.NoError(t, db.QueryRow(context.Background(),
				`SELECT topic, kind FROM event_log WHERE event_id = $1`, last.Payload.CommandID).
				Scan(&topic, &kind), "the command %s is in the event log", last.Payload.CommandID)
			require.Equal(t, events.DefaultTopics().Commands(tc.adapter), topic)
			require.Equal(t, tc.kind, kind)

			var outcomeTopic string
			require.NoError(t, db.QueryRow(context.Background(),
				`SELECT topic FROM event_log WHERE kind = 'command_succeeded' AND metadata->>'causation_id' = $1`,
				last.Payload.CommandID).Scan(&outcomeTopic), "and so is the outcome it caused")
			require.Equal(t, events.DefaultTopics().Events, outcomeTopic)
		})
	}
}
