package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "omni.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

func TestConfig_precedence_is_flag_then_environment_then_file_then_default(t *testing.T) {
	path := writeConfig(t, `
probe-interval: 9s
probe-timeout: 4s
http-addr: 127.0.0.1:7000
database-url: postgres://u@db/from-file
postgres-target:
  - a=postgres://u@db/a
  - b=postgres://u@db/b
degraded-after: 2
`)
	t.Setenv("OMNI_PROBE_TIMEOUT", "3s")
	t.Setenv("OMNI_HTTP_ADDR", "127.0.0.1:7001")
	cmd, _, err := execute(t, "run", "--config", path, "--http-addr", "127.0.0.1:7002")
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:7002", flagValue(t, cmd, "http-addr"), "the flag wins over the environment and the file")
	require.Equal(t, "3s", flagValue(t, cmd, "probe-timeout"), "the environment wins over the file")
	require.Equal(t, "9s", flagValue(t, cmd, "probe-interval"), "the file wins over the default")
	require.Equal(t, "postgres://u@db/from-file", flagValue(t, cmd, "database-url"))
	require.Equal(t, []string{"a=postgres://u@db/a", "b=postgres://u@db/b"}, sliceValue(t, cmd, "postgres-target"))
	require.Equal(t, "2", flagValue(t, cmd, "degraded-after"))
	require.Equal(t, "1000", flagValue(t, cmd, "relay-batch"), "what nobody gives keeps its default")
}

func TestConfig_file_from_OMNI_CONFIG(t *testing.T) {
	t.Setenv("OMNI_CONFIG", writeConfig(t, "probe-interval: 11s\n"))
	cmd, _, err := execute(t, "dev")
	require.NoError(t, err)
	require.Equal(t, "11s", flagValue(t, cmd, "probe-interval"))
}

func TestConfig_a_file_for_several_commands_leaves_other_commands_flags_alone(t *testing.T) {
	// relay-batch is run's; --status is state's: one file may hold both.
	path := writeConfig(t, "relay-batch: 50\nstatus: healthy\n")
	cmd, _, err := execute(t, "run", "--config", path)
	require.NoError(t, err)
	require.Equal(t, "50", flagValue(t, cmd, "relay-batch"))
}

func TestConfig_refuses_what_is_not_a_setting_naming_it_and_its_line(t *testing.T) {
	for name, tc := range map[string]struct{ text, want string }{
		"unknown_key":       {"probe-intervall: 5s\n", `"probe-intervall" is not a setting of omni`},
		"the_sasl_password": {"kafka-sasl-password: hunter2\n", `"kafka-sasl-password" is not a setting of omni`},
		"bad_value":         {"\nprobe-interval: soon\n", `probe-interval (line 2): time: invalid duration "soon"`},
		"list_for_a_value":  {"probe-interval: [1s, 2s]\n", "probe-interval (line 1): want one value, not a list"},
		"not_a_mapping":     {"- a\n- b\n", "not a YAML mapping"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := execute(t, "run", "--config", writeConfig(t, tc.text))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			require.Equal(t, exitUsage, exitCode(err))
			require.NotContains(t, err.Error(), "hunter2", "a value is never echoed where it may be a secret")
		})
	}
}
