package seal_test

import (
	"context"
	"log/slog"
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

func TestKeyringRefreshedInTheBackgroundNeverReloadsOnACallersPath(t *testing.T) {
	var rotated, stuck atomic.Bool
	gate := make(chan struct{})
	load := func(ctx context.Context) ([]seal.Key, error) {
		if stuck.Load() {
			// The control database is slow: a reload waits for a connection.
			select {
			case <-gate:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		data := map[string][]byte{"d1": key(1)}
		primary := "d1"
		if rotated.Load() {
			data["d2"], primary = key(2), "d2"
		}
		keys := []seal.Key{}
		r, err := seal.StaticKeyring(data, map[string][]byte{"m1": key(3)}, primary, "m1")
		if err != nil {
			return nil, err
		}
		for _, id := range []string{"d1", "d2"} {
			if k, err := r.Lookup(context.Background(), seal.PurposeData, id); err == nil {
				keys = append(keys, k)
			}
		}
		m, _ := r.Primary(context.Background(), seal.PurposeMAC)
		return append(keys, m), nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	ring, err := seal.NewKeyring(ctx, load, 40*time.Millisecond)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ring.Refresh(ctx, slog.New(slog.DiscardHandler))
	}()
	defer func() { cancel(); <-done }()

	// A rotation by another process is picked up by the refresher alone.
	rotated.Store(true)
	require.Eventually(t, func() bool {
		p, err := ring.Primary(ctx, seal.PurposeData)
		return err == nil && p.ID == "d2"
	}, 2*time.Second, 10*time.Millisecond, "the background refresh brings the new primary")

	// With reloads stuck, a caller holding a stale copy is answered at once from it.
	stuck.Store(true)
	time.Sleep(100 * time.Millisecond) // the copy is stale now
	answered := make(chan error, 1)
	go func() {
		_, err := ring.Primary(ctx, seal.PurposeData)
		answered <- err
	}()
	select {
	case err := <-answered:
		require.NoError(t, err)
	case <-time.After(time.Second):
		t.Fatal("Primary waited for a reload although Refresh runs")
	}
	close(gate)
}
