package merkle_test

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/omninode/omnibase-infra/platform/merkle"
)

// oracle is Go's checksum-database tree (golang.org/x/mod/sumdb/tlog), an independent
// implementation of the same RFC 6962 hashing: every head and proof here is held to it.
type oracle struct {
	stored []tlog.Hash
	n      int64
}

func (o *oracle) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = o.stored[x]
	}
	return out, nil
}

func (o *oracle) add(t *testing.T, data []byte) {
	hs, err := tlog.StoredHashes(o.n, data, o)
	require.NoError(t, err)
	o.stored = append(o.stored, hs...)
	o.n++
}

func leafData(i int) []byte { return []byte(fmt.Sprintf("audit entry %d", i)) }

const maxLeaves = 70

// build returns the leaf hashes of the first n entries and the oracle's tree of them.
func build(t *testing.T, n int) ([]merkle.Hash, *oracle) {
	o := &oracle{}
	leaves := make([]merkle.Hash, n)
	for i := range n {
		leaves[i] = merkle.LeafHash(leafData(i))
		o.add(t, leafData(i))
	}
	return leaves, o
}

func TestHashes_are_RFC_6962s(t *testing.T) {
	require.Equal(t, merkle.Hash(sha256.Sum256(nil)), merkle.Root(nil), "the empty tree's head is SHA-256 of nothing")
	require.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", merkle.EmptyRoot.String())
	data := []byte("x")
	require.Equal(t, merkle.Hash(tlog.RecordHash(data)), merkle.LeafHash(data))
	a, b := merkle.LeafHash([]byte("a")), merkle.LeafHash([]byte("b"))
	require.Equal(t, merkle.Hash(tlog.NodeHash(tlog.Hash(a), tlog.Hash(b))), merkle.NodeHash(a, b))
	require.NotEqual(t, merkle.LeafHash(append(a[:], b[:]...)), merkle.NodeHash(a, b),
		"a leaf can never pass for a node: the prefixes differ")
}

func TestRoot_equals_the_oracles_for_every_size(t *testing.T) {
	leaves, o := build(t, maxLeaves)
	for n := 1; n <= maxLeaves; n++ {
		want, err := tlog.TreeHash(int64(n), o)
		require.NoError(t, err)
		require.Equal(t, merkle.Hash(want), merkle.Root(leaves[:n]), "tree of %d", n)
	}
}

func TestInclusion_every_leaf_of_every_size_proves_and_nothing_else_does(t *testing.T) {
	leaves, _ := build(t, maxLeaves)
	for n := 1; n <= maxLeaves; n++ {
		head := merkle.Root(leaves[:n])
		for i := range n {
			proof, err := merkle.InclusionProof(i, leaves[:n])
			require.NoError(t, err)
			require.NoError(t, merkle.VerifyInclusion(i, n, leaves[i], proof, head), "leaf %d of %d", i, n)
			rp := make(tlog.RecordProof, len(proof))
			for j, p := range proof {
				rp[j] = tlog.Hash(p)
			}
			require.NoError(t, tlog.CheckRecord(rp, int64(n), tlog.Hash(head), int64(i), tlog.Hash(leaves[i])),
				"the oracle accepts our proof of leaf %d of %d", i, n)

			other := merkle.LeafHash([]byte("forged"))
			require.ErrorIs(t, merkle.VerifyInclusion(i, n, other, proof, head), merkle.ErrProof, "another leaf")
			if n > 1 {
				require.ErrorIs(t, merkle.VerifyInclusion((i+1)%n, n, leaves[i], proof, head), merkle.ErrProof, "another index")
				bad := append([]merkle.Hash(nil), proof...)
				bad[len(bad)-1][0] ^= 1
				require.ErrorIs(t, merkle.VerifyInclusion(i, n, leaves[i], bad, head), merkle.ErrProof, "a changed proof")
				require.ErrorIs(t, merkle.VerifyInclusion(i, n, leaves[i], proof[:len(proof)-1], head), merkle.ErrProof, "a short proof")
			}
			require.ErrorIs(t, merkle.VerifyInclusion(i, n, leaves[i], append(proof, head), head), merkle.ErrProof, "a long proof")
		}
	}
	_, err := merkle.InclusionProof(3, leaves[:3])
	require.Error(t, err)
}

func TestConsistency_every_prefix_proves_and_a_rewritten_history_does_not(t *testing.T) {
	leaves, _ := build(t, maxLeaves)
	for n := 1; n <= maxLeaves; n++ {
		second := merkle.Root(leaves[:n])
		for m := 0; m <= n; m++ {
			first := merkle.Root(leaves[:m])
			proof, err := merkle.ConsistencyProof(m, leaves[:n])
			require.NoError(t, err)
			require.NoError(t, merkle.VerifyConsistency(m, n, first, second, proof), "%d → %d", m, n)
			if m == 0 || m == n {
				continue
			}
			tp := make(tlog.TreeProof, len(proof))
			for j, p := range proof {
				tp[j] = tlog.Hash(p)
			}
			require.NoError(t, tlog.CheckTree(tp, int64(n), tlog.Hash(second), int64(m), tlog.Hash(first)),
				"the oracle accepts our proof %d → %d", m, n)

			// The same first tree with one of its entries changed: no proof from the real
			// history makes it a prefix.
			rewritten := append([]merkle.Hash(nil), leaves[:n]...)
			rewritten[m-1] = merkle.LeafHash([]byte("rewritten"))
			require.ErrorIs(t, merkle.VerifyConsistency(m, n, first, merkle.Root(rewritten), proof), merkle.ErrProof,
				"%d → %d with entry %d rewritten", m, n, m-1)
			require.ErrorIs(t, merkle.VerifyConsistency(m, n, merkle.Root(rewritten[:m]), second, proof), merkle.ErrProof)
			bad := append([]merkle.Hash(nil), proof...)
			bad[0][5] ^= 1
			require.ErrorIs(t, merkle.VerifyConsistency(m, n, first, second, bad), merkle.ErrProof)
		}
	}
	require.ErrorIs(t, merkle.VerifyConsistency(5, 4, merkle.EmptyRoot, merkle.EmptyRoot, nil), merkle.ErrProof)
	require.ErrorIs(t, merkle.VerifyConsistency(3, 3, leaves[0], leaves[1], nil), merkle.ErrProof)
}

func BenchmarkRoot_1M_leaves(b *testing.B) {
	leaves := make([]merkle.Hash, 1_000_000)
	for i := range leaves {
		leaves[i] = merkle.LeafHash(leafData(i))
	}
	b.ResetTimer()
	for range b.N {
		merkle.Root(leaves)
	}
}
