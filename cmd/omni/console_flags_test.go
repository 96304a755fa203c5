package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The console is off in run unless asked for and on in dev; its flags read OMNI_* as every flag.
func TestConsoleFlags_off_in_run_on_in_dev_and_read_from_the_environment(t *testing.T) {
	cmd, _, err := execute(t, "run")
	require.NoError(t, err)
	require.Empty(t, flagValue(t, cmd, "console-addr"), "run serves no console unless asked")
	cmd, _, err = execute(t, "dev")
	require.NoError(t, err)
	require.Equal(t, devConsoleAddr, flagValue(t, cmd, "console-addr"))

	t.Setenv("OMNI_CONSOLE_ADDR", "127.0.0.1:9443")
	t.Setenv("OMNI_CONSOLE_TOKEN_FILE", "/etc/omni/console-tokens")
	t.Setenv("OMNI_CONSOLE_TRACE_URL", "http://jaeger:16686/trace/{trace_id}")
	cmd, _, err = execute(t, "run")
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9443", flagValue(t, cmd, "console-addr"))
	require.Equal(t, "/etc/omni/console-tokens", flagValue(t, cmd, "console-token-file"))
	require.Equal(t, "http://jaeger:16686/trace/{trace_id}", flagValue(t, cmd, "console-trace-url"))
}
