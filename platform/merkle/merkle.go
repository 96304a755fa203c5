// Package merkle is the Merkle tree of RFC 6962 (and RFC 9162, section 2.1) over SHA-256: leaf and
// node hashes with distinct prefixes, the tree head of n leaves, inclusion proofs (an entry is in
// the tree) and consistency proofs (a tree is an append-only extension of an older one), and
// their verification. The audit log is built on it: whoever kept an old tree head can check that
// the log only grew since, without trusting the database that holds it.
package merkle

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math/bits"
)

// Hash is a SHA-256 hash of a leaf, a node or a tree head.
type Hash [sha256.Size]byte

func (h Hash) String() string { return fmt.Sprintf("%x", h[:]) }

// EmptyRoot is the tree head of no leaves: SHA-256 of the empty string.
var EmptyRoot = Hash(sha256.Sum256(nil))

// LeafHash is the hash of a leaf's data: SHA-256(0x00 || data).
func LeafHash(data []byte) Hash {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(data)
	var out Hash
	h.Sum(out[:0])
	return out
}

// NodeHash is the hash of an inner node: SHA-256(0x01 || left || right).
func NodeHash(left, right Hash) Hash {
	var buf [1 + 2*sha256.Size]byte
	buf[0] = 1
	copy(buf[1:], left[:])
	copy(buf[1+sha256.Size:], right[:])
	return Hash(sha256.Sum256(buf[:]))
}

// split is k of RFC 6962: the largest power of two smaller than n (n > 1).
func split(n int) int {
	return 1 << (bits.Len(uint(n-1)) - 1)
}

// Root is the tree head of the leaves whose hashes are given, in order.
func Root(leaves []Hash) Hash {
	if len(leaves) == 0 {
		return EmptyRoot
	}
	return root(leaves)
}

func root(leaves []Hash) Hash {
	if len(leaves) == 1 {
		return leaves[0]
	}
	k := split(len(leaves))
	return NodeHash(root(leaves[:k]), root(leaves[k:]))
}

// InclusionProof is the audit path of leaf index in the tree of leaves: the hashes that, with the
// leaf's, recompute the tree head.
func InclusionProof(index int, leaves []Hash) ([]Hash, error) {
	if index < 0 || index >= len(leaves) {
		return nil, fmt.Errorf("leaf %d is not in a tree of %d", index, len(leaves))
	}
	return path(index, leaves), nil
}

func path(m int, leaves []Hash) []Hash {
	if len(leaves) == 1 {
		return nil
	}
	k := split(len(leaves))
	if m < k {
		return append(path(m, leaves[:k]), root(leaves[k:]))
	}
	return append(path(m-k, leaves[k:]), root(leaves[:k]))
}

// ErrProof is wrapped by every verification failure.
var ErrProof = errors.New("proof does not verify")

// VerifyInclusion checks that leaf is leaf index of the tree of size leaves whose head is root.
func VerifyInclusion(index, size int, leaf Hash, proof []Hash, want Hash) error {
	if index < 0 || index >= size {
		return fmt.Errorf("%w: leaf %d is not in a tree of %d", ErrProof, index, size)
	}
	fn, sn := index, size-1
	r := leaf
	for _, p := range proof {
		if sn == 0 {
			return fmt.Errorf("%w: the path is longer than the tree is deep", ErrProof)
		}
		if fn&1 == 1 || fn == sn {
			r = NodeHash(p, r)
			for fn&1 == 0 && fn != 0 {
				fn, sn = fn>>1, sn>>1
			}
		} else {
			r = NodeHash(r, p)
		}
		fn, sn = fn>>1, sn>>1
	}
	if sn != 0 {
		return fmt.Errorf("%w: the path is shorter than the tree is deep", ErrProof)
	}
	if r != want {
		return fmt.Errorf("%w: it leads to %s, not the tree head %s", ErrProof, r, want)
	}
	return nil
}

// ConsistencyProof proves that the tree of the first m leaves is a prefix of the tree of all the
// leaves.
func ConsistencyProof(m int, leaves []Hash) ([]Hash, error) {
	if m < 0 || m > len(leaves) {
		return nil, fmt.Errorf("a tree of %d is not a prefix of a tree of %d", m, len(leaves))
	}
	if m == 0 || m == len(leaves) {
		return nil, nil
	}
	return subproof(m, leaves, true), nil
}

func subproof(m int, leaves []Hash, whole bool) []Hash {
	n := len(leaves)
	if m == n {
		if whole {
			return nil
		}
		return []Hash{root(leaves)}
	}
	k := split(n)
	if m <= k {
		return append(subproof(m, leaves[:k], whole), root(leaves[k:]))
	}
	return append(subproof(m-k, leaves[k:], false), root(leaves[:k]))
}

// VerifyConsistency checks that the tree of size first with head firstRoot is a prefix of the
// tree of size second with head secondRoot.
func VerifyConsistency(first, second int, firstRoot, secondRoot Hash, proof []Hash) error {
	switch {
	case first < 0 || first > second:
		return fmt.Errorf("%w: a tree of %d cannot grow into a tree of %d", ErrProof, first, second)
	case first == second:
		if len(proof) != 0 || firstRoot != secondRoot {
			return fmt.Errorf("%w: two trees of %d leaves with different heads", ErrProof, first)
		}
		return nil
	case first == 0:
		if len(proof) != 0 {
			return fmt.Errorf("%w: the empty tree needs no proof", ErrProof)
		}
		return nil
	case len(proof) == 0:
		return fmt.Errorf("%w: empty proof", ErrProof)
	}
	if first&(first-1) == 0 { // a power of two: its head is a node of the second tree
		proof = append([]Hash{firstRoot}, proof...)
	}
	fn, sn := first-1, second-1
	for fn&1 == 1 {
		fn, sn = fn>>1, sn>>1
	}
	fr, sr := proof[0], proof[0]
	for _, c := range proof[1:] {
		if sn == 0 {
			return fmt.Errorf("%w: the proof is longer than the tree is deep", ErrProof)
		}
		if fn&1 == 1 || fn == sn {
			fr, sr = NodeHash(c, fr), NodeHash(c, sr)
			for fn&1 == 0 && fn != 0 {
				fn, sn = fn>>1, sn>>1
			}
		} else {
			sr = NodeHash(sr, c)
		}
		fn, sn = fn>>1, sn>>1
	}
	switch {
	case sn != 0:
		return fmt.Errorf("%w: the proof is shorter than the tree is deep", ErrProof)
	case fr != firstRoot:
		return fmt.Errorf("%w: it leads to %s, not the first tree's head %s", ErrProof, fr, firstRoot)
	case sr != secondRoot:
		return fmt.Errorf("%w: it leads to %s, not the second tree's head %s", ErrProof, sr, secondRoot)
	}
	return nil
}
