package audit

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"

	"github.com/omninode/omnibase-infra/platform/merkle"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// Problem kinds: how an entry or a checkpoint is wrong.
const (
	Changed    = "changed"
	Missing    = "missing"
	Reordered  = "reordered"
	Inserted   = "inserted"
	Truncated  = "truncated"
	Rewritten  = "rewritten"
	BadCheck   = "bad checkpoint"
	Contradict = "contradicted"
	// Unrecorded: a witness holds a checkpoint the database does not (deleted from it).
	Unrecorded = "checkpoint missing from the database"
)

// Problem is the first thing Verify found wrong.
type Problem struct {
	Kind string
	// Seq is the first entry that is wrong, when one can be named; From..To the entries a
	// checkpoint no longer matches, when only the range can.
	Seq, From, To int64
	Why           string
}

func (p Problem) Error() string { return p.Kind + ": " + p.Why }

// Report is what Verify found.
type Report struct {
	Entries     int64
	Root        merkle.Hash
	Checkpoints int
	// Verified is the largest checkpoint the log matches; zero when none.
	Verified Checkpoint
	// Problem is the first thing wrong; nil when the log verifies.
	Problem *Problem
}

// Verify recomputes every entry's leaf and the tree, and holds the log to every checkpoint: those
// in audit_checkpoints and those its witnesses hold (witnessed), each signed by pub. It names the
// first entry that is wrong and how:
//   - missing: a seq is absent (a row deleted);
//   - changed: an entry's fields no longer hash to its leaf;
//   - reordered / inserted: an entry's leaf is that of the same fields at another place (rows
//     moved, or an entry inserted and the ones after it renumbered);
//   - truncated: a checkpoint covers more entries than the log holds;
//   - rewritten: the entries and their leaves agree, but not with a signed checkpoint (the log
//     rewritten with every hash recomputed): the entries after the last checkpoint that holds, up
//     to the first that does not;
//   - bad checkpoint: a checkpoint's signature does not verify with pub (forged or replaced);
//   - contradicted: a witness holds another head for a size the database has a checkpoint of;
//   - checkpoint missing from the database: a witness holds a checkpoint the database does not.
func Verify(ctx context.Context, db pgtx.Querier, pub ed25519.PublicKey, witnessed []Checkpoint) (Report, error) {
	entries, err := readEntries(ctx, db)
	if err != nil {
		return Report{}, err
	}
	local, err := readCheckpoints(ctx, db)
	if err != nil {
		return Report{}, err
	}
	r := Report{Entries: int64(len(entries))}
	leaves := make([]merkle.Hash, len(entries))
	for i, e := range entries {
		leaves[i] = e.leaf
	}
	r.Root = merkle.Root(leaves)
	if p := checkEntries(entries); p != nil {
		r.Problem = p
		return r, nil
	}
	all := append(slices.Clone(local), witnessed...)
	slices.SortStableFunc(all, func(a, b Checkpoint) int { return int(a.Size - b.Size) })
	r.Checkpoints = len(all)
	bySize := map[int64]Checkpoint{}
	for _, c := range all {
		if !ed25519.Verify(pub, c.text(), c.Signature) {
			r.Problem = &Problem{Kind: BadCheck, Why: fmt.Sprintf("the checkpoint of %d entries signed %s (%s) does not verify with key %s",
				c.Size, c.SignedAt.Format("2006-01-02T15:04:05Z07:00"), c.From, KeyID(pub))}
			return r, nil
		}
		if o, ok := bySize[c.Size]; ok && o.Root != c.Root {
			r.Problem = &Problem{Kind: Contradict, From: 1, To: c.Size, Why: fmt.Sprintf("the %s and the %s hold different heads for %d entries",
				o.From, c.From, c.Size)}
			return r, nil
		}
		bySize[c.Size] = c
	}
	for _, c := range all {
		if c.Size > r.Entries {
			r.Problem = &Problem{Kind: Truncated, Seq: r.Entries + 1, From: r.Entries + 1, To: c.Size,
				Why: fmt.Sprintf("the checkpoint of %d entries signed %s (%s), but the log holds %d: entries %d to %d are gone",
					c.Size, c.SignedAt.Format("2006-01-02T15:04:05Z07:00"), c.From, r.Entries, r.Entries+1, c.Size)}
			return r, nil
		}
		if merkle.Root(leaves[:c.Size]) != c.Root {
			from := r.Verified.Size + 1
			r.Problem = &Problem{Kind: Rewritten, From: from, To: c.Size,
				Why: fmt.Sprintf("the entries do not match the checkpoint of %d entries signed %s (%s): rewritten between entries %d and %d",
					c.Size, c.SignedAt.Format("2006-01-02T15:04:05Z07:00"), c.From, from, c.Size)}
			return r, nil
		}
		r.Verified = c
	}
	// Every checkpoint a witness holds was stored in the database first.
	for _, c := range witnessed {
		if !slices.ContainsFunc(local, func(l Checkpoint) bool { return l.Size == c.Size }) {
			r.Problem = &Problem{Kind: Unrecorded, From: 1, To: c.Size, Why: fmt.Sprintf("the %s witness holds the checkpoint of %d entries signed %s, which the database does not",
				c.From, c.Size, c.SignedAt.Format("2006-01-02T15:04:05Z07:00"))}
			return r, nil
		}
	}
	return r, nil
}

// checkEntries finds the first entry whose seq or leaf is wrong.
func checkEntries(entries []stored) *Problem {
	for i, e := range entries {
		want := int64(i) + 1
		if e.Seq != want {
			return &Problem{Kind: Missing, Seq: want, Why: fmt.Sprintf("entry %d is missing (the next one is %d)", want, e.Seq)}
		}
		if e.Leaf() == e.leaf {
			continue
		}
		// The same fields at another place? One place down: an entry was inserted before it.
		shifted := e.Entry
		shifted.Seq--
		if shifted.Leaf() == e.leaf {
			return &Problem{Kind: Inserted, Seq: e.Seq, Why: fmt.Sprintf(
				"entry %d holds what was entry %d: an entry was inserted before it and the rest renumbered", e.Seq, e.Seq-1)}
		}
		for j := range entries {
			moved := e.Entry
			moved.Seq = int64(j) + 1
			if moved.Leaf() == e.leaf {
				return &Problem{Kind: Reordered, Seq: e.Seq, Why: fmt.Sprintf("entry %d holds what was entry %d", e.Seq, j+1)}
			}
		}
		return &Problem{Kind: Changed, Seq: e.Seq, Why: fmt.Sprintf("entry %d (%s by %s) no longer hashes to its leaf", e.Seq, e.Action, e.Actor)}
	}
	return nil
}

// Proof is an entry's inclusion proof: its leaf, the head of the tree of Size entries, and the
// path from one to the other.
type Proof struct {
	Seq, Size  int64
	Leaf, Root merkle.Hash
	Path       []merkle.Hash
}

// Prove is the inclusion proof of entry seq in the tree of the first size entries (0: all).
func Prove(ctx context.Context, db pgtx.Querier, seq, size int64) (Proof, error) {
	all, err := readLeaves(ctx, db)
	if err != nil {
		return Proof{}, err
	}
	if size == 0 {
		size = int64(len(all))
	}
	if size > int64(len(all)) || seq < 1 || seq > size {
		return Proof{}, fmt.Errorf("entry %d is not in a log of %d entries", seq, min(size, int64(len(all))))
	}
	leaves := all[:size]
	path, err := merkle.InclusionProof(int(seq-1), leaves)
	return Proof{Seq: seq, Size: size, Leaf: leaves[seq-1], Root: merkle.Root(leaves), Path: path}, err
}
