package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/platform/bus"
)

// execute runs omni with args, the run and dev commands doing nothing but parse, and returns
// the command that ran (its flags as they ended up), what it printed and its error.
func execute(t *testing.T, args ...string) (*cobra.Command, string, error) {
	t.Helper()
	root := newRootCmd()
	for _, c := range root.Commands() {
		if c.Name() == "run" || c.Name() == "dev" {
			c.RunE = func(*cobra.Command, []string) error { return nil }
		}
	}
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	return cmd, out.String(), err
}

func flagValue(t *testing.T, cmd *cobra.Command, name string) string {
	t.Helper()
	f := cmd.Flags().Lookup(name)
	require.NotNil(t, f, name)
	return f.Value.String()
}

func sliceValue(t *testing.T, cmd *cobra.Command, name string) []string {
	t.Helper()
	return cmd.Flags().Lookup(name).Value.(pflag.SliceValue).GetSlice()
}

func TestEnv_sets_every_flag_not_given(t *testing.T) {
	t.Setenv("OMNI_PROBE_INTERVAL", "7s")
	t.Setenv("OMNI_HTTP_ADDR", "127.0.0.1:9999")
	t.Setenv("OMNI_SKIP_MIGRATE", "true")
	t.Setenv("OMNI_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
	t.Setenv("DATABASE_URL", "postgres://u@db/control")
	t.Setenv("KAFKA_BROKERS", "k1:9092,k2:9092")
	for _, sub := range []string{"run", "dev"} {
		t.Run(sub, func(t *testing.T) {
			cmd, _, err := execute(t, sub)
			require.NoError(t, err)
			require.Equal(t, "7s", flagValue(t, cmd, "probe-interval"))
			require.Equal(t, "127.0.0.1:9999", flagValue(t, cmd, "http-addr"))
			require.Equal(t, "true", flagValue(t, cmd, "skip-migrate"))
			require.Equal(t, "SCRAM-SHA-512", flagValue(t, cmd, "kafka-sasl-mechanism"))
			require.Equal(t, "postgres://u@db/control", flagValue(t, cmd, "database-url"))
			require.Equal(t, "k1:9092,k2:9092", flagValue(t, cmd, "kafka-brokers"))
		})
	}
}

func TestEnv_a_flag_on_the_command_line_wins(t *testing.T) {
	t.Setenv("OMNI_PROBE_INTERVAL", "7s")
	t.Setenv("DATABASE_URL", "postgres://u@db/from-env")
	t.Setenv("OMNI_POSTGRES_TARGET", "env=postgres://u@db/env")
	cmd, _, err := execute(t, "run", "--probe-interval", "3s", "--database-url", "postgres://u@db/from-flag",
		"--postgres-target", "flag=postgres://u@db/flag")
	require.NoError(t, err)
	require.Equal(t, "3s", flagValue(t, cmd, "probe-interval"))
	require.Equal(t, "postgres://u@db/from-flag", flagValue(t, cmd, "database-url"))
	require.Equal(t, []string{"flag=postgres://u@db/flag"}, sliceValue(t, cmd, "postgres-target"))
}

func TestEnv_a_bad_value_names_its_variable(t *testing.T) {
	for name, tc := range map[string]struct{ env, value, want string }{
		"duration": {"OMNI_PROBE_INTERVAL", "soon", `OMNI_PROBE_INTERVAL="soon": time: invalid duration "soon" (for --probe-interval)`},
		"integer":  {"OMNI_RELAY_BATCH", "many", `OMNI_RELAY_BATCH="many": `},
		"boolean":  {"OMNI_KAFKA_TLS", "maybe", `OMNI_KAFKA_TLS="maybe": `},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(tc.env, tc.value)
			_, _, err := execute(t, "run")
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestEnv_a_repeatable_flag_takes_values_separated_by_semicolons_or_newlines(t *testing.T) {
	t.Setenv("OMNI_KAFKA_TARGET", "a=k1:9092,k2:9092; b=k3:9092\nc=k4:9092;")
	t.Setenv("OMNI_CONSUL_WATCH_PREFIX", "app/")
	cmd, _, err := execute(t, "run")
	require.NoError(t, err)
	require.Equal(t, []string{"a=k1:9092,k2:9092", "b=k3:9092", "c=k4:9092"}, sliceValue(t, cmd, "kafka-target"))
	require.Equal(t, []string{"app/"}, sliceValue(t, cmd, "consul-watch-prefix"))
}

func TestHelp_names_each_variable_and_shows_no_value_from_the_environment(t *testing.T) {
	const secret = "hunter2-s3cret"
	t.Setenv("DATABASE_URL", "postgres://app:"+secret+"@db/control")
	t.Setenv("KAFKA_BROKERS", secret+":9092")
	t.Setenv("OMNI_KAFKA_SASL_PASSWORD", secret)
	t.Setenv("OMNI_KAFKA_SASL_USER", secret)
	t.Setenv("OMNI_KAFKA_SASL_PASSWORD_FILE", "/run/"+secret)
	t.Setenv("OMNI_HTTP_ADDR", secret)
	for _, args := range [][]string{{"run", "--help"}, {"dev", "--help"}, {"cmd", "--help"}, {"--help"}} {
		t.Run(args[0], func(t *testing.T) {
			_, out, err := execute(t, args...)
			require.NoError(t, err)
			require.NotContains(t, out, secret)
			require.Contains(t, out, "(env DATABASE_URL)")
			require.Contains(t, out, "(env OMNI_KAFKA_SASL_PASSWORD_FILE)")
			if args[0] == "run" || args[0] == "dev" {
				require.Contains(t, out, "(env OMNI_PROBE_INTERVAL)")
				require.Contains(t, out, "(env OMNI_POSTGRES_TARGET, values separated by ';' or newlines)")
			}
		})
	}
}

func TestSecurity_reads_the_password_from_its_variable_or_its_file_and_names_bad_settings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "password")
	require.NoError(t, os.WriteFile(file, []byte("from-file\n"), 0o600))
	scram := bus.SASL{Mechanism: bus.MechanismSCRAMSHA256, User: "omni"}

	t.Setenv(saslPasswordEnv, "from-env")
	sec, err := (&globals{kafka: bus.Security{SASL: scram}}).security()
	require.NoError(t, err)
	require.Equal(t, "from-env", sec.SASL.Password.Reveal())
	_, err = (&globals{kafka: bus.Security{SASL: scram}, saslPasswordFile: file}).security()
	require.ErrorContains(t, err, "OMNI_KAFKA_SASL_PASSWORD and --kafka-sasl-password-file are both set")

	t.Setenv(saslPasswordEnv, "")
	sec, err = (&globals{kafka: bus.Security{SASL: scram}, saslPasswordFile: file}).security()
	require.NoError(t, err)
	require.Equal(t, "from-file", sec.SASL.Password.Reveal())

	for name, tc := range map[string]struct {
		g    globals
		want []string
	}{
		"unknown mechanism": {globals{kafka: bus.Security{SASL: bus.SASL{Mechanism: "GSSAPI", User: "u"}}, saslPasswordFile: file},
			[]string{`--kafka-sasl-mechanism "GSSAPI" is unknown (want one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)`}},
		"no user or password": {globals{kafka: bus.Security{SASL: bus.SASL{Mechanism: "PLAIN"}}},
			[]string{"--kafka-sasl-user is not set", "the SASL password (OMNI_KAFKA_SASL_PASSWORD or --kafka-sasl-password-file) is not set"}},
		"unreadable CA": {globals{kafka: bus.Security{TLS: bus.TLS{CAFile: filepath.Join(dir, "missing.pem")}}},
			[]string{"--kafka-tls-ca: could not read the CA file: ", "no such file"}},
		"CA not PEM": {globals{kafka: bus.Security{TLS: bus.TLS{CAFile: file}}},
			[]string{"--kafka-tls-ca: no PEM certificate in " + file}},
		"cert without key": {globals{kafka: bus.Security{TLS: bus.TLS{CertFile: file}}},
			[]string{"--kafka-tls-cert is given without --kafka-tls-key: give both or neither"}},
		"unreadable password file": {globals{kafka: bus.Security{SASL: scram}, saslPasswordFile: filepath.Join(dir, "none")},
			[]string{"--kafka-sasl-password-file: ", "no such file"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := tc.g.security()
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
			require.NotContains(t, err.Error(), "from-file")
		})
	}
}
