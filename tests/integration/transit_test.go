package integration_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/platform/credentials"
	"github.com/omninode/omnibase-infra/tests/containers"
)

func TestVaultTransit_wrapped_data_keys_unwrap_across_a_key_rotation(t *testing.T) {
	ctx := context.Background()
	v := started(t, containers.StartVault)
	require.NoError(t, v.EnableTransit(ctx, "transit"))
	_, err := v.Client.Logical().Write("transit/keys/omni-keyring", map[string]any{"type": "aes256-gcm96"})
	require.NoError(t, err)
	client, err := credentials.NewVault(credentials.VaultConfig{Addr: v.Addr, Token: v.RootToken})
	require.NoError(t, err)
	w, err := credentials.NewTransitWrapper(client, "transit", "omni-keyring")
	require.NoError(t, err)

	dek := make([]byte, 32)
	_, _ = rand.Read(dek)
	before, err := w.Wrap(ctx, dek)
	require.NoError(t, err)
	require.False(t, bytes.Contains(before, dek), "the wrapped key does not hold the key")
	require.True(t, bytes.HasPrefix(before, []byte("vault:v1:")), "wrapped by version 1: %s", before)
	got, err := w.Unwrap(ctx, before)
	require.NoError(t, err)
	require.Equal(t, dek, got)

	_, err = v.Client.Logical().Write("transit/keys/omni-keyring/rotate", nil)
	require.NoError(t, err)
	after, err := w.Wrap(ctx, dek)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(after, []byte("vault:v2:")), "new keys are wrapped by the new version: %s", after)
	for _, wrapped := range [][]byte{before, after} {
		got, err := w.Unwrap(ctx, wrapped)
		require.NoError(t, err)
		require.Equal(t, dek, got)
	}

	tampered := bytes.Clone(before)
	tampered[len(tampered)-2] ^= 'A' ^ 'B'
	_, err = w.Unwrap(ctx, tampered)
	require.Error(t, err, "a tampered wrapped key does not unwrap")
	require.NotContains(t, err.Error(), string(dek))
}
