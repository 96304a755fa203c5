package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/platform/credentials"
)

// newCredentials builds the process's one credentials cache, with a Vault client when a
// reference needs one.
func newCredentials(cfg Config, logger *slog.Logger) (*credentials.Cache, error) {
	cc := cfg.Credentials
	if cc.Vault == nil && cfg.needsVault() {
		v, err := credentials.NewVault(cfg.Vault)
		if err != nil {
			return nil, err
		}
		cc.Vault = v
	}
	return credentials.New(cc, logger.With("component", "credentials"))
}

// needsVault reports whether a credentials reference of the process is in Vault.
func (c Config) needsVault() bool {
	refs := []string{c.DatabaseCredentials}
	for _, t := range c.Postgres.Targets {
		refs = append(refs, t.Credentials)
	}
	for _, s := range refs {
		if r, err := credentials.ParseRef(s); err == nil && (r.Scheme == credentials.SchemeVaultKV || r.Scheme == credentials.SchemeVaultDB) {
			return true
		}
	}
	return false
}

// databaseConnect is what the control database's connections are given: the credentials of
// DatabaseCredentials, or nothing (nil) when it is not set.
func databaseConnect(cfg Config, creds credentials.Source) (func(context.Context, *pgx.ConnConfig) error, credentials.Ref, error) {
	if cfg.DatabaseCredentials == "" {
		return nil, credentials.Ref{}, nil
	}
	ref, err := credentials.ParseRef(cfg.DatabaseCredentials)
	if err != nil {
		return nil, ref, fmt.Errorf("--database-credentials: %w", err)
	}
	return credentials.BeforeConnect(creds, ref), ref, nil
}

// runCredentials runs the cache (renewals, rotations, watched files) until stop is called.
func runCredentials(ctx context.Context, c *credentials.Cache, logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := c.Run(ctx); err != nil {
			logger.ErrorContext(ctx, "credentials cache stopped", "error", err)
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}
