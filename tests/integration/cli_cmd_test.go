package integration_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// omni cmd sends a command as an operator would and prints what it caused, its outcome last.
func TestCLI_cmd_sends_a_command_and_waits_for_its_outcome(t *testing.T) {
	kafka := newKafka(t)
	url, _ := newControlDB(t)
	startApp(t, adapterConfig(url, kafka.Brokers()))
	env := []string{"KAFKA_BROKERS=" + strings.Join(kafka.Brokers(), ",")}

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

	// a command for a target the adapter does not have: rejected by the adapter, exit status 1
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

	// without --wait: the command's id
	out, stderr, code = omni(t, env, "cmd", "postgres", "probe", "--target", "control")
	require.Equal(t, 0, code, stderr)
	require.Regexp(t, `^[0-9a-f-]{36}\n$`, out)
}

func TestCLI_cmd_refuses_a_bad_command_before_sending_it(t *testing.T) {
	env := []string{"KAFKA_BROKERS=127.0.0.1:1"} // never reached
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"unknown adapter":  {[]string{"cmd", "redis", "get"}, `unknown adapter "redis"`},
		"unknown command":  {[]string{"cmd", "consul", "kv-gte"}, `the consul adapter has no command "kv-gte"`},
		"not JSON":         {[]string{"cmd", "consul", "kv-get", "--data", "{"}, "--data is not a JSON object"},
		"missing fields":   {[]string{"cmd", "consul", "kv-put", "--data", `{"value":"x"}`}, `missing field "target"; missing field "key"`},
		"unknown field":    {[]string{"cmd", "kafka", "publish", "--target", "bus", "--data", `{"topic":"t","value":"x"}`}, `unknown field "value"`},
		"bad check":        {[]string{"cmd", "consul", "register-service", "--target", "a", "--data", `{"service_id":"w","name":"w","check":{"type":"ttl","ttl":"soon"}}`}, `field "check.ttl" is "soon"`},
		"no brokers given": {[]string{"cmd", "kafka", "describe-cluster", "--kafka-brokers", ""}, "KAFKA_BROKERS (--kafka-brokers) is not set"},
	} {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			e := env
			if name == "no brokers given" {
				e = nil
			}
			_, stderr, code := omni(t, e, tc.args...)
			require.Equal(t, 1, code)
			require.Contains(t, stderr, tc.want)
			require.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, "one line: %s", stderr)
		})
	}
}
