package seal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Purpose says what a key is for.
type Purpose string

const (
	// PurposeData keys seal fields (AES-256-GCM, through per-field derived keys).
	PurposeData Purpose = "data"
	// PurposeMAC keys authenticate messages (HMAC-SHA256).
	PurposeMAC Purpose = "mac"
)

// State is where a key is in its life.
type State string

const (
	// StatePrimary: the key new seals and MACs use; one per purpose.
	StatePrimary State = "primary"
	// StateActive: an older key, still read.
	StateActive State = "active"
	// StateRetired: no longer read; its secret is gone from the database.
	StateRetired State = "retired"
)

// Key is one key of the keyring.
type Key struct {
	ID        string
	Purpose   Purpose
	State     State
	CreatedAt time.Time
	// DemotedAt is when the key stopped being primary; zero while it is.
	DemotedAt time.Time
	secret    []byte
}

// Secret is the key's material. WARNING: never log or print it.
func (k Key) Secret() []byte { return k.secret }

// Loader reads every key that is not retired, unwrapped.
type Loader func(ctx context.Context) ([]Key, error)

// Keyring is the keys a process holds: per purpose one primary and older ones for reading. It
// reloads from its Loader when asked for a key id it does not hold (another process rotated) and
// when its copy is older than the refresh interval (so a process stops sealing under a key that
// was rotated away). Safe for concurrent use.
type Keyring struct {
	load    Loader
	refresh time.Duration
	// refreshing is held by the one caller that refreshes a stale copy; the others go on with the
	// copy they have rather than each waiting for a connection (they may hold one in a
	// transaction: a pool full of them waiting would never free one).
	refreshing sync.Mutex
	// background is set while Refresh runs: callers then never reload a stale copy themselves.
	background atomic.Bool

	mu       sync.RWMutex
	keys     map[string]Key
	primary  map[Purpose]string
	loadedAt time.Time
	// missAt rate-limits reloads on unknown ids: a flood of forged key ids costs one read a second.
	missAt time.Time
	// missDone is closed when the reload missAt started ends: a lookup of a key that reload may
	// bring waits for it rather than failing while it runs (two consumers meeting a key added a
	// moment ago: the second would poison a message the first verifies).
	missDone chan struct{}
}

// DefaultRefresh is how old a keyring's copy of the keys may grow.
const DefaultRefresh = 30 * time.Second

// NewKeyring loads the keys with load; refresh 0 means DefaultRefresh.
func NewKeyring(ctx context.Context, load Loader, refresh time.Duration) (*Keyring, error) {
	if refresh == 0 {
		refresh = DefaultRefresh
	}
	k := &Keyring{load: load, refresh: refresh}
	if err := k.reload(ctx); err != nil {
		return nil, err
	}
	for _, p := range []Purpose{PurposeData, PurposeMAC} {
		if _, ok := k.primary[p]; !ok {
			return nil, fmt.Errorf("no primary %s key: run `omni keys rotate` or start a process with a key-encryption key", p)
		}
	}
	return k, nil
}

// StaticKeyring is a keyring of fixed keys (for tests and tools): secrets by id, the first of
// each purpose primary.
func StaticKeyring(data, mac map[string][]byte, dataPrimary, macPrimary string) (*Keyring, error) {
	var keys []Key
	for p, set := range map[Purpose]map[string][]byte{PurposeData: data, PurposeMAC: mac} {
		for id, s := range set {
			st := StateActive
			if (p == PurposeData && id == dataPrimary) || (p == PurposeMAC && id == macPrimary) {
				st = StatePrimary
			}
			keys = append(keys, Key{ID: id, Purpose: p, State: st, secret: s})
		}
	}
	return NewKeyring(context.Background(), func(context.Context) ([]Key, error) { return keys, nil }, time.Hour)
}

func (k *Keyring) reload(ctx context.Context) error {
	keys, err := k.load(ctx)
	if err != nil {
		return fmt.Errorf("could not load the keys: %w", err)
	}
	byID := make(map[string]Key, len(keys))
	primary := make(map[Purpose]string, 2)
	var errs []error
	for _, key := range keys {
		if len(key.secret) != KeySize {
			errs = append(errs, fmt.Errorf("key %s is %d bytes, want %d", key.ID, len(key.secret), KeySize))
			continue
		}
		byID[key.ID] = key
		if key.State == StatePrimary {
			if prev, dup := primary[key.Purpose]; dup {
				errs = append(errs, fmt.Errorf("two primary %s keys: %s and %s", key.Purpose, prev, key.ID))
			}
			primary[key.Purpose] = key.ID
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("could not load the keys: %w", err)
	}
	k.mu.Lock()
	k.keys, k.primary, k.loadedAt = byID, primary, time.Now()
	k.mu.Unlock()
	return nil
}

// Refresh reloads the keys every half refresh interval until ctx ends, so that a caller asking
// for a primary key never reloads on its own path (it may hold a connection in a transaction,
// and the reload wants another). A failed reload is logged and the copy held is kept; callers go
// back to reloading a stale copy themselves once Refresh returns.
func (k *Keyring) Refresh(ctx context.Context, logger *slog.Logger) {
	k.background.Store(true)
	defer k.background.Store(false)
	t := time.NewTicker(k.refresh / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := k.reload(ctx); err != nil && ctx.Err() == nil {
				k.mu.RLock()
				age := time.Since(k.loadedAt)
				k.mu.RUnlock()
				logger.WarnContext(ctx, "could not refresh the keys; sealing goes on with the copy held", "age", age.Round(time.Second), "error", err)
			}
		}
	}
}

// Primary returns the primary key of p, reloading first when the copy is stale and no Refresh
// runs.
func (k *Keyring) Primary(ctx context.Context, p Purpose) (Key, error) {
	k.mu.RLock()
	stale := time.Since(k.loadedAt) > k.refresh
	k.mu.RUnlock()
	if stale && !k.background.Load() && k.refreshing.TryLock() {
		err := k.reload(ctx)
		k.refreshing.Unlock()
		if err != nil {
			return Key{}, err
		}
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	id, ok := k.primary[p]
	if !ok {
		return Key{}, fmt.Errorf("no primary %s key", p)
	}
	return k.keys[id], nil
}

// Lookup returns key id of purpose p, reloading once when it is unknown.
func (k *Keyring) Lookup(ctx context.Context, p Purpose, id string) (Key, error) {
	if key, ok := k.get(p, id); ok {
		return key, nil
	}
	k.mu.Lock()
	again := time.Since(k.missAt) >= time.Second
	if again {
		k.missAt, k.missDone = time.Now(), make(chan struct{})
	}
	done := k.missDone
	k.mu.Unlock()
	if again {
		err := k.reload(ctx)
		close(done)
		if err != nil {
			return Key{}, err
		}
	} else if done != nil {
		// Briefly: the caller may hold a connection the reload waits for.
		select {
		case <-done:
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
	if key, ok := k.get(p, id); ok {
		return key, nil
	}
	return Key{}, fmt.Errorf("%w: no %s key %q (missing or retired)", ErrUnknownKey, p, id)
}

func (k *Keyring) get(p Purpose, id string) (Key, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	key, ok := k.keys[id]
	return key, ok && key.Purpose == p
}
