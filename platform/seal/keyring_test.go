package seal_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/platform/seal"
)

func TestKeyringReloadsOnAnUnknownIDAndWhenStale(t *testing.T) {
	var loads atomic.Int32
	rotated := atomic.Bool{}
	// the loader of a store whose keys another process rotates half way
	load := func(context.Context) ([]seal.Key, error) {
		loads.Add(1)
		data := map[string][]byte{"d1": key(1)}
		primary := "d1"
		if rotated.Load() {
			data["d2"], primary = key(2), "d2"
		}
		r, err := seal.StaticKeyring(data, map[string][]byte{"m1": key(3)}, primary, "m1")
		if err != nil {
			return nil, err
		}
		var keys []seal.Key
		for _, id := range []string{"d1", "d2"} {
			if k, err := r.Lookup(context.Background(), seal.PurposeData, id); err == nil {
				keys = append(keys, k)
			}
		}
		m, _ := r.Primary(context.Background(), seal.PurposeMAC)
		return append(keys, m), nil
	}
	ctx := context.Background()
	ring, err := seal.NewKeyring(ctx, load, 50*time.Millisecond)
	require.NoError(t, err)
	p, err := ring.Primary(ctx, seal.PurposeData)
	require.NoError(t, err)
	require.Equal(t, "d1", p.ID)

	rotated.Store(true)
	k, err := ring.Lookup(ctx, seal.PurposeData, "d2")
	require.NoError(t, err, "an unknown id makes the keyring reload")
	require.Equal(t, "d2", k.ID)
	_, err = ring.Lookup(ctx, seal.PurposeData, "d9")
	require.ErrorIs(t, err, seal.ErrUnknownKey)
	n := loads.Load()
	_, err = ring.Lookup(ctx, seal.PurposeData, "d9")
	require.ErrorIs(t, err, seal.ErrUnknownKey)
	require.Equal(t, n, loads.Load(), "unknown ids reload at most once a second")
	_, err = ring.Lookup(ctx, seal.PurposeMAC, "d2")
	require.ErrorIs(t, err, seal.ErrUnknownKey, "a data key is no MAC key")

	time.Sleep(60 * time.Millisecond)
	p, err = ring.Primary(ctx, seal.PurposeData)
	require.NoError(t, err)
	require.Equal(t, "d2", p.ID, "a stale copy is refreshed: the new primary seals")
}

func TestKeyringRefusesKeysWithoutAPrimary(t *testing.T) {
	_, err := seal.StaticKeyring(map[string][]byte{"d1": key(1)}, map[string][]byte{"m1": key(2)}, "", "m1")
	require.ErrorContains(t, err, "no primary data key")
	_, err = seal.StaticKeyring(map[string][]byte{"d1": []byte("short")}, map[string][]byte{"m1": key(2)}, "d1", "m1")
	require.ErrorContains(t, err, "want 32")
}
