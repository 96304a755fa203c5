package bus_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/omninode/omnibase-infra/platform/bus"
	"github.com/omninode/omnibase-infra/tests/certs"
)

// secureBroker is an in-process broker that speaks TLS only and takes one user per mechanism.
func secureBroker(t *testing.T) (addrs []string, ca string) {
	t.Helper()
	files, err := certs.New(t.TempDir())
	require.NoError(t, err)
	cert, err := tls.LoadX509KeyPair(files.Cert, files.Key)
	require.NoError(t, err)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}),
		kfake.EnableSASL(),
		kfake.Superuser(bus.MechanismPlain, "plain-user", "plain-pass"),
		kfake.Superuser(bus.MechanismSCRAMSHA256, "scram256-user", "scram256-pass"),
		kfake.Superuser(bus.MechanismSCRAMSHA512, "scram512-user", "scram512-pass"),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, "127.0.0.1:0") }))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c.ListenAddrs(), files.CA
}

// Every client of the bus — Sarama's (Watermill publisher, plain client) and franz-go's (the
// relay's producer) — connects with TLS and each SASL mechanism, and a wrong password is refused
// without being repeated.
func TestSecurity_every_client_connects_with_TLS_and_SASL(t *testing.T) {
	brokers, ca := secureBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, mech := range []string{bus.MechanismPlain, bus.MechanismSCRAMSHA256, bus.MechanismSCRAMSHA512} {
		t.Run(mech, func(t *testing.T) {
			user := map[string]string{bus.MechanismPlain: "plain", bus.MechanismSCRAMSHA256: "scram256", bus.MechanismSCRAMSHA512: "scram512"}[mech]
			sec := bus.Security{TLS: bus.TLS{CAFile: ca}, SASL: bus.SASL{Mechanism: mech, User: user + "-user", Password: bus.Secret(user + "-pass")}}

			producer, err := bus.NewProducer(brokers, sec, "test")
			require.NoError(t, err)
			defer producer.Close()
			topic := "secure." + user
			require.NoError(t, producer.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("hello")}).FirstErr())

			client, err := bus.NewClient(brokers, sec, "test")
			require.NoError(t, err)
			defer client.Close()
			parts, err := client.Partitions(topic)
			require.NoError(t, err)
			var total int64
			for _, p := range parts {
				end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
				require.NoError(t, err)
				total += end
			}
			require.Equal(t, int64(1), total, "the Sarama client reads what the franz-go producer wrote")

			wrong := sec
			wrong.SASL.Password = "not-the-password-42"
			_, err = bus.NewClient(brokers, wrong, "test")
			require.Error(t, err)
			t.Log(err)
			require.NotContains(t, err.Error(), "not-the-password-42")
		})
	}

	t.Run("no_TLS_to_a_TLS_listener", func(t *testing.T) {
		_, err := bus.NewClient(brokers, bus.Security{SASL: bus.SASL{Mechanism: bus.MechanismPlain, User: "plain-user", Password: "plain-pass"}}, "test")
		require.Error(t, err)
	})
}

func TestSecurity_Validate_names_every_problem(t *testing.T) {
	err := bus.Security{TLS: bus.TLS{CAFile: "/nonexistent/ca.pem", KeyFile: "k.pem"}, SASL: bus.SASL{Mechanism: "OAUTHBEARER", Password: "pw-1234"}}.Validate()
	require.ErrorContains(t, err, "TLS.CAFile: could not read the CA file")
	err = bus.Security{TLS: bus.TLS{KeyFile: "k.pem"}}.Validate()
	require.ErrorContains(t, err, "TLS.KeyFile is given without TLS.CertFile: give both or neither")
	err = bus.Security{SASL: bus.SASL{Mechanism: "OAUTHBEARER", Password: "pw-1234"}}.Validate()
	require.ErrorContains(t, err, `SASL.Mechanism "OAUTHBEARER" is unknown (want one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)`)
	require.NotContains(t, err.Error(), "pw-1234")
	err = bus.Security{SASL: bus.SASL{User: "u"}}.ValidateAs(map[string]string{"SASL.Mechanism": "--kafka-sasl-mechanism"})
	require.ErrorContains(t, err, "--kafka-sasl-mechanism is not set, but a SASL user or password is given")
	require.NoError(t, bus.Security{}.Validate())
}

func TestSecret_never_prints_its_value(t *testing.T) {
	sec := bus.Security{SASL: bus.SASL{Mechanism: bus.MechanismPlain, User: "u", Password: "pw-1234"}}
	for _, s := range []string{fmt.Sprint(sec), fmt.Sprintf("%+v", sec), fmt.Sprintf("%#v", sec), sec.SASL.Password.String()} {
		require.NotContains(t, s, "pw-1234")
	}
	var buf testWriter
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "password", sec.SASL.Password, "sec", sec)
	require.NotContains(t, string(buf), "pw-1234")
	require.Equal(t, "pw-1234", sec.SASL.Password.Reveal())
}

type testWriter []byte

func (w *testWriter) Write(p []byte) (int, error) { *w = append(*w, p...); return len(p), nil }
