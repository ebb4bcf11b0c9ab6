package merkle

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// LevelStride sets which node hashes are stored: leaf hashes (level 0) and
// the hashes of complete subtrees at levels 4, 8, 12, … A node at any other
// level is recomputed, when a proof needs it, from at most 2^(LevelStride-1)
// = 8 stored descendants at the nearest stored level below it. The store then
// holds about n·(1 + 1/15) hashes for n leaves, and a proof in a tree of a
// million leaves reads at most a few hundred hashes, in one HashReader call.
//
// It is part of the storage format: stored hashes are a cache of the leaves,
// and a store built with another stride must be rebuilt from its leaves.
const LevelStride = 4

// NodeID names a node of the tree: the root of the complete subtree over the
// 2^Level leaves [Index·2^Level, (Index+1)·2^Level). Level 0 names leaves.
type NodeID struct {
	Level uint8
	Index uint64
}

// String returns id as "level/index".
func (id NodeID) String() string { return fmt.Sprintf("%d/%d", id.Level, id.Index) }

// Node is a node and its hash, as a store persists it.
type Node struct {
	ID   NodeID
	Hash Hash
}

// Tree is the state of an append-only Merkle tree: its size and the hashes of
// the complete subtrees that cover its leaves, one per bit set in the size,
// largest (leftmost) first — the right edge of the tree, O(log n) hashes. It
// is what an append needs and all a root needs; proofs need the stored hashes
// Append returns.
//
// The zero Tree is an empty SM3 tree. A Tree is not safe for concurrent use.
type Tree struct {
	h     hasher
	size  uint64
	edges []Hash
}

// Size returns the number of leaves.
func (t *Tree) Size() uint64 { return t.size }

// Root returns the root hash, EmptyRoot for the empty tree. It costs one node
// hash per bit set in the size after the first.
func (t *Tree) Root() Hash {
	h := t.h
	if t.size == 0 {
		return h.empty()
	}
	r := t.edges[len(t.edges)-1]
	for i := len(t.edges) - 2; i >= 0; i-- {
		r = h.node(t.edges[i], r)
	}
	return r
}

// Append adds a leaf, given its leaf hash (LeafHash of the entry), at index
// Size(). It returns the nodes to store so that proofs can later be generated
// through a HashReader: the leaf itself, and every complete subtree the leaf
// completes at a level divisible by LevelStride, lowest level first. It
// computes one node hash per complete subtree the leaf completes: one on
// average, log2(n) at most.
//
// Append panics when the tree already holds 2^64-1 leaves.
func (t *Tree) Append(leafHash Hash) []Node {
	if t.size == 1<<64-1 {
		panic("merkle: tree full")
	}
	h := t.h
	index := t.size
	nodes := []Node{{ID: NodeID{Level: 0, Index: index}, Hash: leafHash}}
	cur := leafHash
	level := uint8(0)
	for ; index&1 == 1; index >>= 1 {
		left := t.edges[len(t.edges)-1]
		t.edges = t.edges[:len(t.edges)-1]
		cur = h.node(left, cur)
		level++
		if level%LevelStride == 0 {
			nodes = append(nodes, Node{ID: NodeID{Level: level, Index: index >> 1}, Hash: cur})
		}
	}
	t.edges = append(t.edges, cur)
	t.size++
	return nodes
}

// Clone returns an independent copy of t, for example to append tentatively
// inside a transaction and keep t if the transaction rolls back.
func (t *Tree) Clone() *Tree {
	return &Tree{h: t.h, size: t.size, edges: append([]Hash(nil), t.edges...)}
}

// treeStateVersion is the first byte of a serialized tree state.
const treeStateVersion = 1

// MarshalBinary encodes the tree state as the version byte 0x01, the size as
// 8 bytes big-endian, and the right-edge hashes, leftmost first: 9 + 32·k
// bytes, where k is the number of bits set in the size.
func (t *Tree) MarshalBinary() ([]byte, error) {
	b := make([]byte, 9, 9+HashSize*len(t.edges))
	b[0] = treeStateVersion
	binary.BigEndian.PutUint64(b[1:], t.size)
	for _, e := range t.edges {
		b = append(b, e[:]...)
	}
	return b, nil
}

// UnmarshalBinary replaces t with the state MarshalBinary encoded in b.
// Anything else — another version, a length that does not match the size —
// is refused with ErrTreeState and leaves t unchanged.
func (t *Tree) UnmarshalBinary(b []byte) error {
	if len(b) < 9 {
		return fmt.Errorf("%w: %d bytes, want at least 9", ErrTreeState, len(b))
	}
	if b[0] != treeStateVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrTreeState, b[0], treeStateVersion)
	}
	size := binary.BigEndian.Uint64(b[1:9])
	k := bits.OnesCount64(size)
	if want := 9 + HashSize*k; len(b) != want {
		return fmt.Errorf("%w: %d bytes for size %d, want %d", ErrTreeState, len(b), size, want)
	}
	edges := make([]Hash, k)
	for i := range edges {
		copy(edges[i][:], b[9+HashSize*i:])
	}
	t.size, t.edges = size, edges
	return nil
}
