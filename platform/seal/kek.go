package seal

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeyWrapper wraps and unwraps data and MAC keys with a key-encryption key that is not in the
// control database. LocalKEK is one (a key from a file or the environment); a Vault transit key
// is another (it has exactly these two methods).
type KeyWrapper interface {
	Wrap(ctx context.Context, dek []byte) ([]byte, error)
	Unwrap(ctx context.Context, wrapped []byte) ([]byte, error)
}

// LocalKEK is a 256-bit key-encryption key held by the process: AES-256-GCM with a random nonce
// (it wraps a handful of keys in its life, far from any nonce bound).
type LocalKEK struct {
	aead cipher.AEAD
	id   string
}

var _ KeyWrapper = (*LocalKEK)(nil)

var kekAD = []byte("omni-kek v1")

// NewLocalKEK makes a LocalKEK of a 32-byte key.
func NewLocalKEK(key []byte) (*LocalKEK, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("key-encryption key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("could not make the key-encryption cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("could not make the key-encryption cipher: %w", err)
	}
	sum := sha256.Sum256(append([]byte("omni-kek id"), key...))
	return &LocalKEK{aead: aead, id: "local:" + hex.EncodeToString(sum[:6])}, nil
}

// ParseKEK reads a key-encryption key written as 64 hex digits or base64 (standard or URL, with
// or without padding) of 32 bytes. The error never repeats the text.
func ParseKEK(text string) (*LocalKEK, error) {
	text = strings.TrimSpace(text)
	for _, dec := range []func(string) ([]byte, error){hex.DecodeString, base64.StdEncoding.DecodeString,
		base64.RawStdEncoding.DecodeString, base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString} {
		if b, err := dec(text); err == nil && len(b) == KeySize {
			return NewLocalKEK(b)
		}
	}
	return nil, errors.New("key-encryption key is not 32 bytes in hex or base64")
}

// ReadKEKFile reads a key-encryption key from a file (see ParseKEK).
func ReadKEKFile(path string) (*LocalKEK, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("could not read the key-encryption key: %w", err)
	}
	k, err := ParseKEK(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// NewKEKText returns a fresh key-encryption key as base64, for `omni keys new-kek` and omni dev.
func NewKEKText() (string, error) {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("could not draw a key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// ID names the key without revealing it (a fingerprint).
func (k *LocalKEK) ID() string { return k.id }

// Wrap encrypts dek.
func (k *LocalKEK) Wrap(_ context.Context, dek []byte) ([]byte, error) {
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("could not draw a nonce: %w", err)
	}
	return k.aead.Seal(nonce, nonce, dek, kekAD), nil
}

// Unwrap decrypts what Wrap made.
func (k *LocalKEK) Unwrap(_ context.Context, wrapped []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(wrapped) < n+k.aead.Overhead() {
		return nil, errors.New("wrapped key is too short")
	}
	dek, err := k.aead.Open(nil, wrapped[:n], wrapped[n:], kekAD)
	if err != nil {
		return nil, fmt.Errorf("could not unwrap a key with key-encryption key %s (another key wrapped it?)", k.id)
	}
	return dek, nil
}
