package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/credentials"
	"github.com/omninode/omnibase-infra/platform/seal"
)

// SealFlags names the settings of SealConfig, for messages.
const SealFlags = "--seal-kek-file, OMNI_SEAL_KEK or --seal-vault-transit-key (or, for tests only, --seal-disabled)"

// Validate reports a configuration without a key-encryption key.
func (c SealConfig) Validate() error {
	if c.Disabled || c.Wrapper != nil || c.KEKFile != "" || c.KEK != "" || c.VaultTransit != "" {
		return nil
	}
	return fmt.Errorf("no key-encryption key: set %s", SealFlags)
}

// KeyWrapper returns the configured key-encryption key.
func (c SealConfig) KeyWrapper() (seal.KeyWrapper, error) {
	switch {
	case c.Wrapper != nil:
		return c.Wrapper, nil
	case c.VaultTransit != "":
		mount, key := "transit", c.VaultTransit
		if i := strings.LastIndex(key, "/"); i >= 0 {
			mount, key = key[:i], key[i+1:]
		}
		v, err := credentials.NewVault(c.Vault)
		if err != nil {
			return nil, fmt.Errorf("--seal-vault-transit-key: %w", err)
		}
		w, err := credentials.NewTransitWrapper(v, mount, key)
		if err != nil {
			return nil, fmt.Errorf("--seal-vault-transit-key: %w", err)
		}
		return w, nil
	case c.KEKFile != "":
		return seal.ReadKEKFile(c.KEKFile)
	case c.KEK != "":
		k, err := seal.ParseKEK(c.KEK)
		if err != nil {
			return nil, fmt.Errorf("OMNI_SEAL_KEK: %w", err)
		}
		return k, nil
	}
	return nil, errors.New(c.Validate().Error())
}

// OpenSeal builds the process's sealer: the KEK, the keys in the control database (the first
// data and MAC keys made when there are none), a keyring that refreshes. Nil when sealing is
// disabled.
func OpenSeal(ctx context.Context, c SealConfig, db seal.DB) (*seal.Sealer, error) {
	if c.Disabled {
		return nil, nil
	}
	kek, err := c.KeyWrapper()
	if err != nil {
		return nil, err
	}
	store := seal.NewStore(db, kek)
	if err := store.Ensure(ctx); err != nil {
		return nil, err
	}
	ring, err := seal.NewKeyring(ctx, store.Load, c.Refresh)
	if err != nil {
		return nil, err
	}
	return seal.NewSealer(ring, events.Catalog()), nil
}
