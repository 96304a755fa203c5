// Package seal encrypts the sensitive fields of messages and authenticates whole messages.
//
// A sealed field is a JSON string "sealed:1:<key id>:<base64url(salt ‖ nonce ‖ ciphertext ‖ tag)>"
// standing where the field's JSON value was. Its ciphertext is AES-256-GCM under a key used for
// that one field only: HKDF-SHA256 of the data key (the key id's) with a random 128-bit salt.
// The associated data binds it to its message — topic, message id, type, schema version — and to
// its field path, key id and envelope version, so a ciphertext moved to another field or message,
// or given another key id, does not open.
//
// Nonces and NIST SP 800-38D: the standard limits a key used with random 96-bit nonces to 2^32
// invocations. Here no derived key is ever used twice (one salt, one key, one encryption), so the
// bound holds by construction; the data key itself never encrypts. Two fields share a derived key
// only if their 128-bit salts collide: after 2^48 fields under one data key that chance is under
// 2^-32 — a data key is rotated long before.
//
// A message's MAC is HMAC-SHA256 over its topic, id, the envelope metadata (events.Meta*), the
// MAC key id and the payload as written (sealed fields included), in metadata "mac" as
// "<key id>:<base64url(tag)>". MAC keys rotate as data keys do.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Version is the envelope version this package writes.
const Version = 1

const (
	prefix    = "sealed:"
	saltSize  = 16
	nonceSize = 12
	// KeySize is the size of every data and MAC key: AES-256, HMAC-SHA256.
	KeySize = 32
)

// Errors of opening and verifying; callers wrap them in events.DecodeError.
var (
	// ErrNotSealed: a field that must be sealed holds a plain value.
	ErrNotSealed = errors.New("field is not sealed")
	// ErrMalformed: the envelope cannot be read.
	ErrMalformed = errors.New("malformed sealed envelope")
	// ErrUnknownKey: no key with the envelope's id (missing or retired).
	ErrUnknownKey = errors.New("unknown key")
	// ErrOpen: the ciphertext does not open under its key and associated data — changed, moved,
	// or sealed under another key.
	ErrOpen = errors.New("ciphertext does not authenticate")
	// ErrBadMAC: the message's MAC is missing, malformed or wrong.
	ErrBadMAC = errors.New("message MAC does not verify")
)

// Binding is what a sealed field is bound to: where it lives.
type Binding struct {
	Topic     string
	MessageID string
	Type      string
	Version   int
	// Path is the field's path in the payload, e.g. "statements[].args".
	Path string
}

// ad is the associated data of one sealed field: every part length-prefixed, so no two
// bindings make the same bytes.
func (b Binding) ad(keyID string) []byte {
	parts := []string{"omni-seal", strconv.Itoa(Version), b.Topic, b.MessageID, b.Type, strconv.Itoa(b.Version), b.Path, keyID}
	return lengthPrefixed(parts...)
}

func lengthPrefixed(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += 4 + len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = binary.BigEndian.AppendUint32(out, uint32(len(p)))
		out = append(out, p...)
	}
	return out
}

// fieldKey derives the one-use key of a field from the data key and the field's salt.
func fieldKey(dek, salt []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, dek, salt, "omni-seal field key v1", KeySize)
}

// SealValue encrypts plain (a JSON value) under the data key dek with id keyID, bound to b, and
// returns the envelope (without JSON quotes).
func SealValue(keyID string, dek, plain []byte, b Binding) (string, error) {
	if len(dek) != KeySize {
		return "", fmt.Errorf("data key %s is %d bytes, want %d", keyID, len(dek), KeySize)
	}
	blob := make([]byte, saltSize+nonceSize, saltSize+nonceSize+len(plain)+16)
	if _, err := rand.Read(blob); err != nil {
		return "", fmt.Errorf("could not draw a salt and nonce: %w", err)
	}
	aead, err := newGCM(dek, blob[:saltSize])
	if err != nil {
		return "", err
	}
	blob = aead.Seal(blob, blob[saltSize:saltSize+nonceSize], plain, b.ad(keyID))
	return prefix + strconv.Itoa(Version) + ":" + keyID + ":" + base64.RawURLEncoding.EncodeToString(blob), nil
}

// Envelope is a sealed field's envelope, read but not opened.
type Envelope struct {
	Version int
	KeyID   string
	blob    []byte
}

// ParseEnvelope reads a sealed field's envelope (without JSON quotes).
func ParseEnvelope(s string) (Envelope, error) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return Envelope{}, ErrNotSealed
	}
	parts := strings.SplitN(rest, ":", 3)
	if len(parts) != 3 {
		return Envelope{}, fmt.Errorf("%w: want version, key id and ciphertext", ErrMalformed)
	}
	v, err := strconv.Atoi(parts[0])
	if err != nil || v != Version {
		return Envelope{}, fmt.Errorf("%w: version %q, this build reads %d", ErrMalformed, parts[0], Version)
	}
	if parts[1] == "" {
		return Envelope{}, fmt.Errorf("%w: empty key id", ErrMalformed)
	}
	blob, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(blob) < saltSize+nonceSize+16 {
		return Envelope{}, fmt.Errorf("%w: ciphertext is not base64url of salt, nonce and tag", ErrMalformed)
	}
	return Envelope{Version: v, KeyID: parts[1], blob: blob}, nil
}

// Open decrypts e with the data key dek, bound to b.
func (e Envelope) Open(dek []byte, b Binding) ([]byte, error) {
	if len(dek) != KeySize {
		return nil, fmt.Errorf("data key %s is %d bytes, want %d", e.KeyID, len(dek), KeySize)
	}
	aead, err := newGCM(dek, e.blob[:saltSize])
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, e.blob[saltSize:saltSize+nonceSize], e.blob[saltSize+nonceSize:], b.ad(e.KeyID))
	if err != nil {
		return nil, fmt.Errorf("%w: field %q under key %s", ErrOpen, b.Path, e.KeyID)
	}
	return plain, nil
}

func newGCM(dek, salt []byte) (cipher.AEAD, error) {
	k, err := fieldKey(dek, salt)
	if err != nil {
		return nil, fmt.Errorf("could not derive a field key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("could not make a cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("could not make a cipher: %w", err)
	}
	return aead, nil
}

// MACInput is what a message's MAC covers, besides the key id.
type MACInput struct {
	Topic     string
	MessageID string
	// Meta are the envelope's metadata values in a fixed order (see events.MACKeys).
	Meta    []string
	Payload []byte
}

func (in MACInput) sum(keyID string, key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(lengthPrefixed("omni-mac", strconv.Itoa(Version), in.Topic, in.MessageID, keyID))
	m.Write(lengthPrefixed(in.Meta...))
	m.Write(binary.BigEndian.AppendUint64(nil, uint64(len(in.Payload))))
	m.Write(in.Payload)
	return m.Sum(nil)
}

// Sign returns the MAC of in under key keyID: the metadata value "<key id>:<tag>".
func Sign(keyID string, key []byte, in MACInput) string {
	return keyID + ":" + base64.RawURLEncoding.EncodeToString(in.sum(keyID, key))
}

// MACKeyID returns the key id a MAC names.
func MACKeyID(mac string) (string, error) {
	id, _, ok := strings.Cut(mac, ":")
	if !ok || id == "" {
		return "", fmt.Errorf("%w: want <key id>:<tag>", ErrBadMAC)
	}
	return id, nil
}

// Verify checks mac over in with key (the key mac names).
func Verify(mac string, key []byte, in MACInput) error {
	id, tag, ok := strings.Cut(mac, ":")
	if !ok || id == "" {
		return fmt.Errorf("%w: want <key id>:<tag>", ErrBadMAC)
	}
	got, err := base64.RawURLEncoding.DecodeString(tag)
	if err != nil {
		return fmt.Errorf("%w: tag is not base64url", ErrBadMAC)
	}
	if !hmac.Equal(got, in.sum(id, key)) {
		return fmt.Errorf("%w under key %s", ErrBadMAC, id)
	}
	return nil
}
