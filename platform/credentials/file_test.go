package credentials_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/platform/credentials"
)

// mountSecret lays out dir as the kubelet mounts a secret volume: dir/password is a symlink to
// ..data/password, ..data a symlink to a timestamped folder holding the files. Called again, it
// writes a new folder and swaps ..data to it atomically, as an update of the secret does.
func mountSecret(t *testing.T, dir, version, password string) {
	t.Helper()
	data := filepath.Join(dir, "..2026_12_02_"+version)
	require.NoError(t, os.Mkdir(data, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(data, "password"), []byte(password+"\n"), 0o600))
	tmp := filepath.Join(dir, "..data_tmp")
	require.NoError(t, os.Symlink(filepath.Base(data), tmp))
	require.NoError(t, os.Rename(tmp, filepath.Join(dir, "..data")))
	if _, err := os.Lstat(filepath.Join(dir, "password")); os.IsNotExist(err) {
		require.NoError(t, os.Symlink(filepath.Join("..data", "password"), filepath.Join(dir, "password")))
	}
}

func TestFileProvider_follows_a_swapped_kubernetes_secret(t *testing.T) {
	dir := t.TempDir()
	mountSecret(t, dir, "01", "first-password")
	c, err := credentials.New(credentials.Config{CheckInterval: 20 * time.Millisecond}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ref, err := credentials.ParseRef("file:" + filepath.Join(dir, "password"))
	require.NoError(t, err)
	changed := make(chan struct{}, 1)
	defer c.Watch(ref, func() { changed <- struct{}{} })()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()

	s, err := c.Get(t.Context(), ref)
	require.NoError(t, err)
	require.Equal(t, "first-password", s.Password)

	mountSecret(t, dir, "02", "second-password")
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("the cache did not notice the swapped secret")
	}
	s, err = c.Get(t.Context(), ref)
	require.NoError(t, err)
	require.Equal(t, "second-password", s.Password)
	require.EqualValues(t, 2, s.Version)
}
