package main

import (
	"github.com/spf13/pflag"

	"github.com/omninode/omnibase-infra/platform/ratelimit"
)

// registerRateLimits binds --rate-limit (rules, read by rateLimitRules) and --rate-limit-shadow
// to cfg.
func registerRateLimits(f *pflag.FlagSet, specs *[]string, cfg *ratelimit.Config) {
	f.StringArrayVar(specs, "rate-limit", nil, "a rate limit, SCOPE=MATCH:RATE[,burst=N][,shadow] (repeatable): scope client (who sent a command), "+
		"endpoint (ADAPTER/COMMAND), target (ADAPTER/TARGET) or http (client address, or a CIDR); MATCH a pattern where * is any text; "+
		"RATE like 100/s, 10/min, 0 (refuse all) or -1 (unlimited); burst default: the rate's count. E.g. client=*:50/s,burst=10")
	f.BoolVar(&cfg.Shadow, "rate-limit-shadow", cfg.Shadow, "shadow mode for every rate limit: log and count (omni_rate_limited_total{shadow=\"true\"}) what would be refused, refuse nothing")
	f.DurationVar(&cfg.Retention, "rate-limit-retention", cfg.Retention, "how long a command's rate-limit charge is remembered, so that its redelivery is not charged again")
}

// rateLimitRules reads --rate-limit's rules into cfg; the error names every bad one.
func rateLimitRules(specs []string, cfg *ratelimit.Config) error {
	rules, err := ratelimit.ParseRules(specs)
	if err != nil {
		return usageError("--rate-limit: %w", err)
	}
	cfg.Rules = append(cfg.Rules, rules...)
	return nil
}
