// Package merkle is the SM3 Merkle tree of the audit log: RFC 9162 hashing,
// the incremental tree state an append updates in O(log n), inclusion and
// consistency proofs generated from stored node hashes, and their
// verification.
//
// Hashing is that of RFC 9162 (Certificate Transparency v2) section 2.1 with
// SM3 in place of SHA-256:
//
//	empty tree   MTH({})   = SM3()
//	leaf         MTH({d})  = SM3(0x00 || d)
//	node         MTH(D[n]) = SM3(0x01 || MTH(D[0:k]) || MTH(D[k:n]))
//
// where k is the largest power of two smaller than n. Proofs are those of
// RFC 9162 sections 2.1.3 (inclusion) and 2.1.4 (consistency): lists of
// hashes, nearest the leaf first.
//
// A store persists what Tree.Append returns — every leaf hash and the hash
// of every complete subtree at a level divisible by LevelStride — and the
// serialized Tree; proofs for any tree size up to the stored one are then
// generated from that store through a HashReader, reading O(log n) hashes.
// See docs/audit.md for the layout and the formats.
//
// This package is not the log: it knows nothing of entries, their encoding,
// transactions or checkpoints (audit/checkpoint signs tree heads). It uses
// SM3 only; the tests run the same code with SHA-256 against the published
// RFC 6962 vectors.
package merkle

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"math/bits"

	"github.com/qiao-exchange/qiao/crypto/sm3"
)

// HashSize is the size of every hash in the tree: an SM3 digest.
const HashSize = sm3.Size

// Hash is a leaf, node or root hash.
type Hash [HashSize]byte

// String returns h as lower-case hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Prefixes of RFC 9162 section 2.1.1 that separate leaf hashes from node
// hashes, so that no leaf can be passed off as an inner node.
const (
	leafPrefix = 0x00
	nodePrefix = 0x01
)

var (
	// ErrIndexOutOfRange means a leaf index is not below the tree size (every
	// index is, for a tree of size 0). An entry cannot be proven in a tree
	// that does not yet contain it: ask for a proof against a later
	// checkpoint.
	ErrIndexOutOfRange = errors.New("merkle: leaf index out of range")
	// ErrSizeOrder means the first tree of a consistency proof is larger than
	// the second. Logs only grow: a verifier handed such a pair of tree heads
	// holds evidence of a rollback and must refuse them; a caller generating
	// the proof passed its sizes in the wrong order.
	ErrSizeOrder = errors.New("merkle: first tree size larger than second")
	// ErrProofLength means a proof has more or fewer hashes than every proof
	// for the given index and sizes has: a hash was removed or added, or the
	// proof was made for another index or size. Refuse the proof.
	ErrProofLength = errors.New("merkle: wrong number of proof hashes")
	// ErrRootMismatch means the proof has the right length but does not lead
	// to the given root. A proof hash was changed, or the leaf, index or tree
	// size is not the one the proof was made for, or — for a consistency
	// proof — the two tree heads do not describe one append-only log. These
	// cannot be told apart; refuse the proof, and treat two validly signed
	// tree heads that fail as evidence that the log was altered.
	ErrRootMismatch = errors.New("merkle: proof does not match root")
	// ErrNotStored is what a HashReader wraps when a requested node hash is
	// not stored, typically because the proof was asked for a tree size the
	// store has not reached. Ask for a size no larger than the stored tree.
	ErrNotStored = errors.New("merkle: node hash not stored")
	// ErrTreeState means bytes given to Tree.UnmarshalBinary are not a tree
	// state written by MarshalBinary. The persisted state is damaged: rebuild
	// it from the stored hashes with TreeAt.
	ErrTreeState = errors.New("merkle: malformed tree state")
)

// hasher computes RFC 9162 hashes. Its zero value, the one the package
// uses, hashes with SM3; the tests set sha256 to check the algorithms against
// the published RFC 6962 vectors and an independent implementation.
type hasher struct{ sha256 bool }

var sm3Hasher = hasher{}

// sum is called directly, not through a function value, so that the buffers
// it hashes stay on the stack.
func (h hasher) sum(b []byte) Hash {
	if h.sha256 {
		return sha256.Sum256(b)
	}
	return sm3.Sum(b)
}

func (h hasher) digest() hash.Hash {
	if h.sha256 {
		return sha256.New()
	}
	return sm3.New()
}

func (h hasher) empty() Hash { return h.sum(nil) }

func (h hasher) leaf(data []byte) Hash {
	if len(data) <= 256 {
		var buf [257]byte
		buf[0] = leafPrefix
		n := copy(buf[1:], data)
		return h.sum(buf[:1+n])
	}
	var out Hash
	d := h.digest()
	d.Write([]byte{leafPrefix})
	d.Write(data)
	d.Sum(out[:0])
	return out
}

func (h hasher) node(left, right Hash) Hash {
	var buf [1 + 2*HashSize]byte
	buf[0] = nodePrefix
	copy(buf[1:], left[:])
	copy(buf[1+HashSize:], right[:])
	return h.sum(buf[:])
}

// LeafHash returns the hash of a leaf: SM3(0x00 || leaf).
func LeafHash(leaf []byte) Hash { return sm3Hasher.leaf(leaf) }

// NodeHash returns the hash of an inner node: SM3(0x01 || left || right).
func NodeHash(left, right Hash) Hash { return sm3Hasher.node(left, right) }

// EmptyRoot returns the root hash of the tree of size 0: SM3 of nothing.
func EmptyRoot() Hash { return sm3Hasher.empty() }

// RootFromLeaves returns the root hash of the tree over leaves by the
// recursive definition of RFC 9162 section 2.1.1. It takes time O(n) and
// stack O(log n), and serves as the reference the tests hold the incremental
// Tree and the proofs to; a log appends to a Tree instead.
func RootFromLeaves(leaves [][]byte) Hash { return sm3Hasher.mth(leaves) }

func (h hasher) mth(leaves [][]byte) Hash {
	switch n := len(leaves); n {
	case 0:
		return h.empty()
	case 1:
		return h.leaf(leaves[0])
	default:
		k := splitPoint(uint64(n))
		return h.node(h.mth(leaves[:k]), h.mth(leaves[k:]))
	}
}

// splitPoint returns k, the largest power of two smaller than n, for n > 1.
func splitPoint(n uint64) uint64 { return 1 << (bits.Len64(n-1) - 1) }
