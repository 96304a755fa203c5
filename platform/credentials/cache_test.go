package credentials_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/platform/credentials"
)

// slowProvider is a fake source for the cache's own logic: each read takes a while and gives a
// new password.
type slowProvider struct{ reads atomic.Int64 }

func (p *slowProvider) Read(ctx context.Context, _ credentials.Ref) (credentials.Secret, error) {
	n := p.reads.Add(1)
	select {
	case <-time.After(50 * time.Millisecond):
	case <-ctx.Done():
		return credentials.Secret{}, ctx.Err()
	}
	return credentials.Secret{Username: "u", Password: fmt.Sprintf("pw-%d", n)}, nil
}

func newCache(t *testing.T, p credentials.Provider) *credentials.Cache {
	t.Helper()
	c, err := credentials.New(credentials.Config{Providers: map[string]credentials.Provider{credentials.SchemeEnv: p}},
		slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return c
}

func TestCacheCoalescesConcurrentReaders(t *testing.T) {
	p := &slowProvider{}
	c := newCache(t, p)
	ref, err := credentials.ParseRef("env:DB_PASSWORD")
	require.NoError(t, err)
	var wg sync.WaitGroup
	got := make([]credentials.Secret, 50)
	for i := range got {
		wg.Go(func() {
			s, err := c.Get(t.Context(), ref)
			require.NoError(t, err)
			got[i] = s
		})
	}
	wg.Wait()
	require.EqualValues(t, 1, p.reads.Load(), "one read for fifty readers")
	for _, s := range got {
		require.Equal(t, "pw-1", s.Password)
		require.EqualValues(t, 1, s.Version)
	}
}

func TestCacheInvalidateReadsOnceAnew(t *testing.T) {
	p := &slowProvider{}
	c := newCache(t, p)
	ref, _ := credentials.ParseRef("env:DB_PASSWORD")
	changes := atomic.Int64{}
	stop := c.Watch(ref, func() { changes.Add(1) })
	defer stop()
	first, err := c.Get(t.Context(), ref)
	require.NoError(t, err)
	// Several connections refused with the same credentials: one new read.
	c.Invalidate(ref, first.Version)
	c.Invalidate(ref, first.Version)
	second, err := c.Get(t.Context(), ref)
	require.NoError(t, err)
	c.Invalidate(ref, first.Version) // stale: the cache already moved on
	third, err := c.Get(t.Context(), ref)
	require.NoError(t, err)
	require.EqualValues(t, 2, p.reads.Load())
	require.Equal(t, "pw-2", second.Password)
	require.EqualValues(t, 2, second.Version)
	require.Equal(t, second, third)
	require.EqualValues(t, 1, changes.Load(), "the watcher hears of the new credentials")
}

func TestSecretPrintsRedacted(t *testing.T) {
	s := credentials.Secret{Username: "v-app-1", Password: "hunter2-very-secret", LeaseID: "database/creds/app/abc"}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("got", "secret", s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), logged.String()} {
		require.NotContains(t, out, "hunter2")
		require.NotContains(t, out, "v-app-1")
	}
}

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want credentials.Ref
		bad  bool
	}{
		{in: "env:PGPASSWORD", want: credentials.Ref{Scheme: "env", Path: "PGPASSWORD"}},
		{in: "file:/var/run/secrets/db/password", want: credentials.Ref{Scheme: "file", Path: "/var/run/secrets/db/password"}},
		{in: "vault-kv:secret/omni/kafka#password", want: credentials.Ref{Scheme: "vault-kv", Path: "secret/omni/kafka", Field: "password"}},
		{in: "vault-kv:secret/omni/db", want: credentials.Ref{Scheme: "vault-kv", Path: "secret/omni/db"}},
		{in: "vault-db:database/creds/omni", want: credentials.Ref{Scheme: "vault-db", Path: "database/creds/omni"}},
		{in: "vault-db:database/roles/omni", bad: true},
		{in: "vault-kv:secret", bad: true},
		{in: "consul:x", bad: true},
		{in: "PGPASSWORD", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := credentials.ParseRef(tc.in)
			if tc.bad {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.in, got.String())
		})
	}
}

func TestNew_from_the_default_config_with_a_vault_reads_vault_references(t *testing.T) {
	v, err := credentials.NewVault(credentials.VaultConfig{Addr: "http://127.0.0.1:1", Token: "t"})
	require.NoError(t, err)
	cfg := credentials.DefaultConfig()
	cfg.Vault = v
	c, err := credentials.New(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	for _, s := range []string{"env:X", "file:/x", "vault-kv:kv/a#b", "vault-db:database/creds/app"} {
		ref, err := credentials.ParseRef(s)
		require.NoError(t, err)
		require.NoError(t, c.Supports(ref), s)
	}
	without, err := credentials.New(credentials.DefaultConfig(), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ref, _ := credentials.ParseRef("vault-db:database/creds/app")
	require.ErrorContains(t, without.Supports(ref), "no Vault is configured")
}
