package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/omninode/omnibase-infra/events"
)

// HMACPrefix starts every secret value the audit log keeps: "hmac-sha256:<hex>".
const HMACPrefix = "hmac-sha256:"

// withheld is what an entry keeps of a secret value when no HMAC key is configured.
const withheld = "withheld (no audit HMAC key)"

// Hasher keys the HMACs of secret values, as Vault's audit devices do: the audit log never holds
// a secret in clear, and whoever holds the key can tell whether an entry holds a given value
// (omni audit hash). The key lives outside the control database.
type Hasher struct {
	key []byte
}

// NewHasher keys HMAC-SHA256 with key, at least 32 bytes.
func NewHasher(key []byte) (*Hasher, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("an audit HMAC key is at least 32 bytes, not %d", len(key))
	}
	return &Hasher{key: key}, nil
}

// LoadHasher reads the key from file: at least 32 bytes, base64, on one line
// (`head -c 32 /dev/urandom | base64`). Its contents never appear in an error.
func LoadHasher(file string) (*Hasher, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("could not read the audit HMAC key file: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("audit HMAC key file %s: not base64", file)
	}
	h, err := NewHasher(key)
	if err != nil {
		return nil, fmt.Errorf("audit HMAC key file %s: %w", file, err)
	}
	return h, nil
}

// Hash is value's HMAC: "hmac-sha256:<hex>".
func (h *Hasher) Hash(value string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(value))
	return HMACPrefix + hex.EncodeToString(m.Sum(nil))
}

// hashed is value's HMAC, or that it was withheld when h is nil.
func (h *Hasher) hashed(value string) string {
	if h == nil {
		return withheld
	}
	return h.Hash(value)
}

// Secrets are the secret values cmd carries — SQL statement arguments, Kafka payloads and
// headers, Consul values — each as its HMAC under a name of its own ("arg.0", "statement.1.arg.0",
// "payload", "header.h", "value"); with no hasher each is withheld. Nothing else of a command is
// a secret: its target, SQL text, topic, key and KV key are kept as they are, elsewhere.
func Secrets(h *Hasher, cmd events.Command) map[string]string {
	out := map[string]string{}
	args := func(prefix string, s events.Statement) {
		for i, a := range s.Args {
			out[prefix+"arg."+strconv.Itoa(i)] = h.hashed(string(a))
		}
	}
	switch c := cmd.(type) {
	case events.PostgresExecute:
		args("", c.Statement)
	case events.PostgresQuery:
		args("", c.Statement)
	case events.PostgresTransaction:
		for i, s := range c.Statements {
			args("statement."+strconv.Itoa(i)+".", s)
		}
	case events.KafkaPublish:
		out["payload"] = h.hashed(c.Payload)
		for k, v := range c.Headers {
			out["header."+k] = h.hashed(v)
		}
	case events.ConsulKVPut:
		out["value"] = h.hashed(c.Value)
	case events.ConsulKVCompareAndSet:
		out["value"] = h.hashed(c.Value)
	}
	return out
}
