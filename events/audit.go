package events

import "time"

// AuditCheckpointed is a signed checkpoint of the audit log: the head of its Merkle tree at Size
// entries, signed with an Ed25519 key that does not live in the control database. Its copy on
// Kafka is a witness outside the database: a rewritten audit log no longer matches it.
type AuditCheckpointed struct {
	Size int64 `json:"size"`
	// Root is the tree head, hex.
	Root     string    `json:"root"`
	SignedAt time.Time `json:"signed_at"`
	// KeyID names the signing key (the first 8 bytes of its public key's SHA-256, hex).
	KeyID string `json:"key_id"`
	// Signature is Ed25519 over the checkpoint's text, base64.
	Signature string `json:"signature"`
}

func (AuditCheckpointed) Kind() Kind    { return Kind{Name: "audit_checkpointed", Version: 1} }
func (e AuditCheckpointed) Key() string { return "audit" }
func (e AuditCheckpointed) Validate() error {
	var f fields
	f.positive("size", e.Size)
	f.text("root", e.Root)
	f.time("signed_at", e.SignedAt)
	f.text("key_id", e.KeyID)
	f.text("signature", e.Signature)
	return f.err()
}
