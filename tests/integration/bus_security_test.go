package integration_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/platform/bus"
	"github.com/omninode/omnibase-infra/tests/certs"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// The whole loop runs against a broker that speaks TLS only and takes SCRAM-SHA-256 users only:
// omni run given the CA and the user by flags and environment variables, omni cmd by flags and
// a password file. A wrong password fails with an error that does not repeat it.
func TestBusSecurity_the_loop_runs_over_TLS_with_SASL_SCRAM(t *testing.T) {
	dir := t.TempDir()
	files, err := certs.New(dir)
	require.NoError(t, err)
	const user, password = "omni", "scram-Pa55word-for-the-test"
	client := bus.Security{TLS: bus.TLS{CAFile: files.CA},
		SASL: bus.SASL{Mechanism: bus.MechanismSCRAMSHA256, User: user, Password: password}}
	kafka := started(t, func(ctx context.Context) (*containers.Kafka, error) {
		return containers.StartSecureKafka(ctx, containers.SecureKafka{CertFile: files.Cert, KeyFile: files.Key,
			Mechanism: bus.MechanismSCRAMSHA256, User: user, Password: password, Client: client})
	})
	url, db := newControlDB(t)

	// omni run: the CA and the mechanism from OMNI_ variables, the user as a flag, the password
	// from OMNI_KAFKA_SASL_PASSWORD.
	p := startOmniProcessEnv(t, []string{"OMNI_KAFKA_TLS_CA=" + files.CA, "OMNI_KAFKA_SASL_MECHANISM=SCRAM-SHA-256",
		"OMNI_KAFKA_SASL_PASSWORD=" + password, "OMNI_PROBE_INTERVAL=500ms"},
		url, kafka.Brokers(), "adapters,relay,projection,sagas", "--kafka-sasl-user", user)
	p.ready(t) // /readyz: the brokers answer the readiness client, the projection holds a session
	// The adapters' probes went through the relay's producer to the events topic, and the
	// projection's consumer group folded them.
	waitHealthy(t, db, "kafka/bus")
	waitHealthy(t, db, "postgres/control")

	// omni cmd --wait: the command through the outbox and the relay to the adapter, which acts
	// on the secured cluster as its target "bus"; the outcome read back by omni cmd's own client.
	passwordFile := filepath.Join(dir, "password")
	require.NoError(t, os.WriteFile(passwordFile, []byte(password+"\n"), 0o600))
	env := []string{"DATABASE_URL=" + url, "KAFKA_BROKERS=" + strings.Join(kafka.Brokers(), ",")}
	secFlags := []string{"--kafka-tls-ca", files.CA, "--kafka-sasl-mechanism", "SCRAM-SHA-256", "--kafka-sasl-user", user}
	out, stderr, code := omni(t, env, append([]string{"cmd", "kafka", "describe-cluster", "--target", "bus", "--wait", "-o", "jsonl",
		"--kafka-sasl-password-file", passwordFile}, secFlags...)...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "command_succeeded")
	require.Contains(t, out, `"brokers":[{"id":0,"addr":"`+kafka.Addr+`"}]`)

	// A wrong password: refused, naming what failed, never the password.
	const wrong = "not-the-Pa55word-7731"
	out, stderr, code = omni(t, append(env, "OMNI_KAFKA_SASL_PASSWORD="+wrong),
		append([]string{"cmd", "kafka", "describe-cluster", "--target", "bus", "--wait", "--timeout", "10s"}, secFlags...)...)
	require.Equal(t, 3, code, "Kafka could not be reached: exit 3; %s", out)
	t.Logf("wrong password: %s", stderr)
	require.Contains(t, stderr, "could not reach Kafka at ["+kafka.Addr+"]")
	require.Contains(t, stderr, "closed the connection while connecting: check the TLS and SASL settings")
	require.NotContains(t, stderr+out, wrong)

	// No TLS at all: refused too.
	_, stderr, code = omni(t, append(env, "OMNI_KAFKA_SASL_PASSWORD="+password),
		"cmd", "kafka", "describe-cluster", "--target", "bus", "--wait", "--timeout", "10s",
		"--kafka-sasl-mechanism", "SCRAM-SHA-256", "--kafka-sasl-user", user)
	require.Equal(t, 3, code, "Kafka could not be reached: exit 3")
	require.Contains(t, stderr, "could not reach Kafka at ["+kafka.Addr+"]")

	// Nothing the process logged holds the password.
	require.NotContains(t, p.stderr.String(), password)
}
