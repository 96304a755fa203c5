package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/merkle"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// Checkpoint is a signed statement of the log's size and tree head at a time.
type Checkpoint struct {
	Size      int64
	Root      merkle.Hash
	SignedAt  time.Time
	KeyID     string
	Signature []byte
	// From says where it was found: "database" or "kafka".
	From string
}

// text is what the signature covers.
func (c Checkpoint) text() []byte {
	return fmt.Appendf(nil, "omnibase-infra audit checkpoint v1\n%d\n%s\n%s\n", c.Size, c.Root, c.SignedAt.UTC().Format(time.RFC3339Nano))
}

// Signer signs checkpoints with an Ed25519 key.
type Signer struct {
	key    ed25519.PrivateKey
	id     string
	sealer outbox.Sealer
}

// SealWith makes the checkpoints s publishes carry the process's MAC, as everything on the bus
// does; nil publishes them plain.
func (s *Signer) SealWith(x outbox.Sealer) *Signer {
	s.sealer = x
	return s
}

// KeyID names a public key: the first 8 bytes of its SHA-256, hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// NewSigner signs with the key whose 32-byte seed is given.
func NewSigner(seed []byte) (*Signer, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("an Ed25519 seed is %d bytes, not %d", ed25519.SeedSize, len(seed))
	}
	key := ed25519.NewKeyFromSeed(seed)
	return &Signer{key: key, id: KeyID(key.Public().(ed25519.PublicKey))}, nil
}

// LoadSigner reads the key from file: its seed, base64, on one line (`omni audit keygen` writes
// one). The file should be readable by omni alone; its contents never appear in an error.
func LoadSigner(file string) (*Signer, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("could not read the audit key file: %w", err)
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("audit key file %s: not base64", file)
	}
	s, err := NewSigner(seed)
	if err != nil {
		return nil, fmt.Errorf("audit key file %s: %w", file, err)
	}
	return s, nil
}

// Public is the key checkpoints are verified with.
func (s *Signer) Public() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// KeyID names the signer's key.
func (s *Signer) KeyID() string { return s.id }

// Sign checkpoints the log as it is now — its size and tree head — stores the checkpoint in
// audit_checkpoints and publishes it to Topic through the outbox, in one transaction holding the
// log's lock (no entry comes between the head and its signature). A log that has not grown since
// the last checkpoint gets none: it returns the last one.
func Sign(ctx context.Context, db pgtx.Beginner, s *Signer, now time.Time) (Checkpoint, error) {
	var c Checkpoint
	err := pgtx.Run(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(appendLock)); err != nil {
			return fmt.Errorf("could not lock the audit log: %w", err)
		}
		leaves, err := readLeaves(ctx, tx)
		if err != nil {
			return err
		}
		var last int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(size), 0) FROM audit_checkpoints`).Scan(&last); err != nil {
			return fmt.Errorf("could not read the last checkpoint: %w", err)
		}
		if int64(len(leaves)) == last || len(leaves) == 0 {
			c = Checkpoint{Size: last}
			return nil
		}
		c = Checkpoint{Size: int64(len(leaves)), Root: merkle.Root(leaves), SignedAt: now.UTC().Truncate(time.Microsecond), KeyID: s.id}
		c.Signature = ed25519.Sign(s.key, c.text())
		if _, err := tx.Exec(ctx, `INSERT INTO audit_checkpoints (size, root, signed_at, key_id, signature) VALUES ($1, $2, $3, $4, $5)`,
			c.Size, c.Root[:], c.SignedAt, c.KeyID, c.Signature); err != nil {
			return fmt.Errorf("could not store the checkpoint: %w", err)
		}
		msg, err := events.Encode(c.event(), events.NewOrigin(), c.SignedAt)
		if err != nil {
			return err
		}
		return outbox.PublishSealed(ctx, tx, s.sealer, Topic, msg)
	})
	if err != nil {
		return Checkpoint{}, fmt.Errorf("could not checkpoint the audit log: %w", err)
	}
	return c, nil
}

func (c Checkpoint) event() events.AuditCheckpointed {
	return events.AuditCheckpointed{Size: c.Size, Root: c.Root.String(), SignedAt: c.SignedAt, KeyID: c.KeyID,
		Signature: base64.StdEncoding.EncodeToString(c.Signature)}
}

// FromEvent is the checkpoint a witness holds.
func FromEvent(e events.AuditCheckpointed, from string) (Checkpoint, error) {
	root, err := hex.DecodeString(e.Root)
	if err != nil || len(root) != len(merkle.Hash{}) {
		return Checkpoint{}, errors.New("checkpoint root is not a hex SHA-256")
	}
	sig, err := base64.StdEncoding.DecodeString(e.Signature)
	if err != nil {
		return Checkpoint{}, errors.New("checkpoint signature is not base64")
	}
	c := Checkpoint{Size: e.Size, SignedAt: e.SignedAt, KeyID: e.KeyID, Signature: sig, From: from}
	copy(c.Root[:], root)
	return c, nil
}

// readCheckpoints reads audit_checkpoints, by size.
func readCheckpoints(ctx context.Context, db pgtx.Querier) ([]Checkpoint, error) {
	rows, err := db.Query(ctx, `SELECT size, root, signed_at, key_id, signature FROM audit_checkpoints ORDER BY size`)
	if err != nil {
		return nil, fmt.Errorf("could not read the checkpoints: %w", err)
	}
	defer rows.Close()
	var out []Checkpoint
	for rows.Next() {
		c := Checkpoint{From: "database"}
		var root []byte
		if err := rows.Scan(&c.Size, &root, &c.SignedAt, &c.KeyID, &c.Signature); err != nil {
			return nil, fmt.Errorf("could not read the checkpoints: %w", err)
		}
		copy(c.Root[:], root)
		out = append(out, c)
	}
	return out, rows.Err()
}

// Checkpointer signs a checkpoint every Interval while the log grows, until its context ends,
// and hands the newest to each of its Witnesses.
type Checkpointer struct {
	DB       pgtx.Beginner
	Signer   *Signer
	Interval time.Duration
	// Witnesses besides the Kafka topic (which the outbox feeds): Consul KV. Optional.
	Witnesses []Witness
	Logger    *slog.Logger
}

// Run checkpoints the log at once, then every Interval, until ctx ends. A failed checkpoint is
// logged and tried again at the next tick: the entries wait, covered by their leaves meanwhile.
// So is a witness that could not take the newest checkpoint.
func (c Checkpointer) Run(ctx context.Context) error {
	ticker := time.NewTicker(c.Interval)
	defer ticker.Stop()
	witnessed := make([]int64, len(c.Witnesses)) // the size each witness was last given
	for {
		if _, err := Sign(ctx, c.DB, c.Signer, time.Now()); err != nil && ctx.Err() == nil {
			c.Logger.WarnContext(ctx, "could not checkpoint the audit log", "error", err)
		}
		if err := c.witness(ctx, witnessed); err != nil && ctx.Err() == nil {
			c.Logger.WarnContext(ctx, "could not hand the audit log's checkpoint to its witness", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// Latest is the newest checkpoint in the database; a zero one when there is none.
func Latest(ctx context.Context, db pgtx.Querier) (Checkpoint, error) {
	all, err := readCheckpoints(ctx, db)
	if err != nil || len(all) == 0 {
		return Checkpoint{}, err
	}
	return all[len(all)-1], nil
}

// witness hands the newest checkpoint in the database to each witness that does not have it yet.
func (c Checkpointer) witness(ctx context.Context, witnessed []int64) error {
	if len(c.Witnesses) == 0 {
		return nil
	}
	var all []Checkpoint
	err := pgtx.Run(ctx, c.DB, func(tx pgx.Tx) error {
		var err error
		all, err = readCheckpoints(ctx, tx)
		return err
	})
	if err != nil || len(all) == 0 {
		return err
	}
	return WitnessLatest(ctx, all[len(all)-1], c.Witnesses, witnessed)
}

// WitnessLatest hands latest to each witness whose size in witnessed (nil: none known) is
// smaller, and records the size it took.
func WitnessLatest(ctx context.Context, latest Checkpoint, ws []Witness, witnessed []int64) error {
	if latest.Size == 0 {
		return nil
	}
	var errs []error
	for i, w := range ws {
		if witnessed != nil && witnessed[i] >= latest.Size {
			continue
		}
		if err := w.Put(ctx, latest); err != nil {
			errs = append(errs, fmt.Errorf("%s witness: %w", w.Name(), err))
			continue
		}
		if witnessed != nil {
			witnessed[i] = latest.Size
		}
	}
	return errors.Join(errs...)
}

// readLeaves reads the stored leaves, in seq order: all a checkpoint signs, without the entries'
// fields (Verify is what recomputes those).
func readLeaves(ctx context.Context, db pgtx.Querier) ([]merkle.Hash, error) {
	rows, err := db.Query(ctx, `SELECT leaf FROM audit_entries ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("could not read the audit log's leaves: %w", err)
	}
	defer rows.Close()
	var out []merkle.Hash
	for rows.Next() {
		var leaf []byte
		if err := rows.Scan(&leaf); err != nil {
			return nil, fmt.Errorf("could not read the audit log's leaves: %w", err)
		}
		var h merkle.Hash
		copy(h[:], leaf)
		out = append(out, h)
	}
	return out, rows.Err()
}
