package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/handlers/postgres"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/projections/infrastate"
)

// runFlags are the settings of a running node, shared by run and dev.
type runFlags struct {
	roles         string
	httpAddr      string
	probeTargets  []string
	probeInterval time.Duration
	probeTimeout  time.Duration
	thresholds    infrastate.Thresholds
	contract      string
	skipMigrate   bool
}

func (r *runFlags) register(cmd *cobra.Command, defaultProbeInterval time.Duration) {
	f := cmd.Flags()
	def := infrastate.DefaultThresholds()
	f.StringVar(&r.roles, "roles", "adapters,relay,projection,sagas", "roles to run: any of adapters, relay, projection, sagas")
	f.StringVar(&r.httpAddr, "http-addr", envOr("OMNI_HTTP_ADDR", "127.0.0.1:8081"), "address of /healthz, /readyz and /metrics (env OMNI_HTTP_ADDR)")
	f.StringArrayVar(&r.probeTargets, "probe-target", nil, "PostgreSQL target to probe, NAME=URL (repeatable; default: the control database as \"control\")")
	f.DurationVar(&r.probeInterval, "probe-interval", defaultProbeInterval, "time between probes of a target")
	f.DurationVar(&r.probeTimeout, "probe-timeout", 2*time.Second, "timeout of one probe")
	f.IntVar(&r.thresholds.DegradedAfter, "degraded-after", def.DegradedAfter, "consecutive failed probes that make a target degraded")
	f.IntVar(&r.thresholds.CriticalAfter, "critical-after", def.CriticalAfter, "consecutive failed probes that make a target critical")
	f.IntVar(&r.thresholds.HealthyAfter, "healthy-after", def.HealthyAfter, "consecutive successful probes that make a target healthy again")
	f.StringVar(&r.contract, "contract", "", "saga contract file (default: the contract built in)")
	f.BoolVar(&r.skipMigrate, "skip-migrate", false, "do not apply migrations at start")
}

func (r *runFlags) config(g *globals) (app.Config, error) {
	roles, err := app.ParseRoles(r.roles)
	if err != nil {
		return app.Config{}, err
	}
	cfg := app.Config{
		DatabaseURL: g.databaseURL, KafkaBrokers: g.brokers(), ConsulAddr: g.consulAddr, Roles: roles,
		HTTPAddr: r.httpAddr, ProbeInterval: r.probeInterval, ProbeTimeout: r.probeTimeout,
		Thresholds: r.thresholds, ContractPath: r.contract, SkipMigrate: r.skipMigrate,
	}
	for _, s := range r.probeTargets {
		t, err := postgres.ParseTarget(s)
		if err != nil {
			return app.Config{}, err
		}
		cfg.ProbeTargets = append(cfg.ProbeTargets, t)
	}
	return cfg, nil
}

func newRunCmd(g *globals) *cobra.Command {
	var r runFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run roles of omnibase-infra against PostgreSQL and Kafka until SIGINT or SIGTERM",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := g.logger()
			if err != nil {
				return err
			}
			cfg, err := r.config(g)
			if err != nil {
				return err
			}
			return app.Run(cmd.Context(), cfg, logger)
		},
	}
	r.register(cmd, 5*time.Second)
	return cmd
}
