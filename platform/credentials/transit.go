package credentials

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// TransitWrapper wraps data keys with a named key of Vault's transit engine (envelope
// encryption): the data key is encrypted by Vault and never stored in clear; Vault keeps every
// version of the key, so keys wrapped before a rotation (transit/keys/NAME/rotate) still unwrap.
type TransitWrapper struct {
	v     *Vault
	mount string
	key   string
}

// NewTransitWrapper wraps with key NAME of the transit engine at mount (default "transit").
func NewTransitWrapper(v *Vault, mount, key string) (*TransitWrapper, error) {
	if v == nil || key == "" {
		return nil, errors.New("transit wrapper: a Vault client and a key name are required")
	}
	if mount == "" {
		mount = "transit"
	}
	return &TransitWrapper{v: v, mount: strings.Trim(mount, "/"), key: key}, nil
}

// Wrap encrypts dek with the key's newest version; the result is Vault's ciphertext
// ("vault:vN:…"), which names the version.
func (w *TransitWrapper) Wrap(ctx context.Context, dek []byte) ([]byte, error) {
	s, err := w.v.api().Logical().WriteWithContext(ctx, w.mount+"/encrypt/"+w.key,
		map[string]any{"plaintext": base64.StdEncoding.EncodeToString(dek)})
	if err != nil {
		return nil, fmt.Errorf("could not wrap a data key with transit key %s: %w", w.key, err)
	}
	ct, _ := s.Data["ciphertext"].(string)
	if ct == "" {
		return nil, fmt.Errorf("could not wrap a data key with transit key %s: no ciphertext in Vault's answer", w.key)
	}
	return []byte(ct), nil
}

// Unwrap decrypts what Wrap returned, whichever version of the key wrapped it.
func (w *TransitWrapper) Unwrap(ctx context.Context, wrapped []byte) ([]byte, error) {
	s, err := w.v.api().Logical().WriteWithContext(ctx, w.mount+"/decrypt/"+w.key,
		map[string]any{"ciphertext": string(wrapped)})
	if err != nil {
		return nil, fmt.Errorf("could not unwrap a data key with transit key %s: %w", w.key, err)
	}
	pt, _ := s.Data["plaintext"].(string)
	dek, err := base64.StdEncoding.DecodeString(pt)
	if err != nil || len(dek) == 0 {
		return nil, fmt.Errorf("could not unwrap a data key with transit key %s: Vault's plaintext is not base64", w.key)
	}
	return dek, nil
}
