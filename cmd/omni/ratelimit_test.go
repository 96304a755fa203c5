package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/internal/app"
)

func TestRateLimits_from_the_flags_the_environment_and_the_config_file(t *testing.T) {
	path := writeConfig(t, "rate-limit:\n  - client=*:50/s,burst=10\n  - http=10.0.0.0/8:100/s\nrate-limit-shadow: true\n")
	cmd, _, err := execute(t, "run", "--config", path)
	require.NoError(t, err)
	cfg := app.DefaultConfig().Limits
	require.NoError(t, rateLimitRules(sliceValue(t, cmd, "rate-limit"), &cfg))
	require.Len(t, cfg.Rules, 2)
	require.Equal(t, "client=*:50/s,burst=10", cfg.Rules[0].String())
	require.Equal(t, "http=10.0.0.0/8:100/s,burst=100", cfg.Rules[1].String())
	require.Equal(t, "true", flagValue(t, cmd, "rate-limit-shadow"))
	require.Equal(t, "1h0m0s", flagValue(t, cmd, "rate-limit-retention"), "the component's default")

	t.Setenv("OMNI_RATE_LIMIT", "target=postgres/*:5/min;endpoint=*:0")
	cmd, _, err = execute(t, "run")
	require.NoError(t, err)
	require.Equal(t, []string{"target=postgres/*:5/min", "endpoint=*:0"}, sliceValue(t, cmd, "rate-limit"))
}

func TestRateLimits_a_bad_rule_is_a_usage_error_naming_it(t *testing.T) {
	var cfg = app.DefaultConfig().Limits
	err := rateLimitRules([]string{"client=*:5/s", "clients=*:5/s", "http=*:5/s,burst=x"}, &cfg)
	require.Equal(t, exitUsage, exitCode(err))
	require.ErrorContains(t, err, `rate limit "clients=*:5/s,burst=5": unknown scope "clients"`)
	require.ErrorContains(t, err, `rate limit "http=*:5/s,burst=x": burst "x"`)
}
