package kafka_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/handlers/kafka"
	"github.com/omninode/omnibase-infra/platform/bus"
)

func TestParseTarget_reads_the_security_parameters(t *testing.T) {
	t.Setenv("ORDERS_KAFKA_PASSWORD", "pw-from-env")
	tgt, err := kafka.ParseTarget("orders=k1:9093,k2:9093?tls_ca=/etc/ca.pem&tls_server_name=kafka.internal" +
		"&sasl_mechanism=SCRAM-SHA-512&sasl_user=ops&sasl_password_env=ORDERS_KAFKA_PASSWORD")
	require.NoError(t, err)
	require.Equal(t, kafka.Target{Name: "orders", Brokers: []string{"k1:9093", "k2:9093"}, Security: bus.Security{
		TLS:  bus.TLS{CAFile: "/etc/ca.pem", ServerName: "kafka.internal"},
		SASL: bus.SASL{Mechanism: bus.MechanismSCRAMSHA512, User: "ops", Password: "pw-from-env"}}}, tgt)

	_, err = kafka.ParseTarget("orders=k1:9093?tls=perhaps&sasl_password_env=NOT_SET_ANYWHERE&colour=blue")
	require.ErrorContains(t, err, `kafka target "orders": unknown parameter "colour"`)
	require.ErrorContains(t, err, `tls="perhaps": want true or false`)
	require.ErrorContains(t, err, "sasl_password_env: environment variable NOT_SET_ANYWHERE is not set or empty")

	err = kafka.Config{Targets: []kafka.Target{{Name: "orders", Brokers: []string{"k1:9093"},
		Security: bus.Security{SASL: bus.SASL{Mechanism: "KERBEROS", User: "ops", Password: "pw-from-env"}}}}}.Validate()
	require.ErrorContains(t, err, `kafka adapter: target "orders": sasl_mechanism "KERBEROS" is unknown`)
	require.NotContains(t, err.Error(), "pw-from-env")
}
