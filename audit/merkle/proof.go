package merkle

import (
	"cmp"
	"context"
	"fmt"
	"math/bits"
	"slices"
)

// HashReader reads stored node hashes: those Tree.Append returned. A SQL
// store can keep the leaf hashes (level 0) beside its entries, keyed by
// sequence number, and the others in a table keyed by (level, index).
type HashReader interface {
	// ReadHashes returns the hash of each node in ids, in the order of ids.
	// The ids are at levels divisible by LevelStride, sorted by level and
	// then index, without duplicates. If any of them is not stored it
	// returns an error wrapping ErrNotStored.
	ReadHashes(ctx context.Context, ids []NodeID) ([]Hash, error)
}

// InclusionProof returns the proof that the leaf at index is in the tree of
// the given size (RFC 9162 section 2.1.3.1): the hashes of the siblings on
// the path from the leaf to the root, nearest the leaf first. The tree at
// that size must be stored in r.
func InclusionProof(ctx context.Context, r HashReader, index, size uint64) ([]Hash, error) {
	return sm3Hasher.inclusionProof(ctx, r, index, size)
}

// ConsistencyProof returns the proof that the tree of size1 is a prefix of
// the tree of size2 (RFC 9162 section 2.1.4.1). The proof is empty when
// size1 is 0 or equal to size2. The tree at size2 must be stored in r.
func ConsistencyProof(ctx context.Context, r HashReader, size1, size2 uint64) ([]Hash, error) {
	return sm3Hasher.consistencyProof(ctx, r, size1, size2)
}

// TreeAt rebuilds the tree state at the given size from the hashes stored in
// r: for example to restore a lost or damaged state, or to compute the root
// of an earlier size. It reads O(log n) hashes.
func TreeAt(ctx context.Context, r HashReader, size uint64) (*Tree, error) {
	return sm3Hasher.treeAt(ctx, r, size)
}

// subtree is a range of leaves [lo, hi) whose hash a proof holds: either a
// complete subtree or the right edge of the tree, which is the hash of the
// complete subtrees that cover it, folded from the right.
type subtree struct{ lo, hi uint64 }

// perfect appends the complete subtrees that cover [lo, hi), left to right.
// For the ranges proofs use they are decreasing in size, and the range's
// hash folds them from the right, as MTH does.
func (s subtree) perfect(dst []NodeID) []NodeID {
	for lo := s.lo; lo < s.hi; {
		level := bits.Len64(s.hi-lo) - 1
		if lo != 0 {
			level = min(level, bits.TrailingZeros64(lo))
		}
		dst = append(dst, NodeID{Level: uint8(level), Index: lo >> level})
		lo += 1 << level
	}
	return dst
}

// inclusionPath returns the subtrees whose hashes form the inclusion proof of
// leaf index in the tree [0, size), nearest the leaf first: PATH(m, D[n]).
func inclusionPath(index, size uint64) []subtree {
	var path []subtree
	lo, hi := uint64(0), size
	for hi-lo > 1 {
		k := lo + splitPoint(hi-lo)
		if index < k {
			path = append(path, subtree{k, hi})
			hi = k
		} else {
			path = append(path, subtree{lo, k})
			lo = k
		}
	}
	slices.Reverse(path)
	return path
}

// consistencyPath returns the subtrees whose hashes form the consistency
// proof from size m to size n, 0 < m < n: SUBPROOF(m, D[n], true).
func consistencyPath(m, n uint64) []subtree {
	return subproof(nil, m, 0, n, true)
}

// subproof appends SUBPROOF(m, D[lo:hi], whole) of RFC 9162 section 2.1.4.1,
// where m counts leaves from lo.
func subproof(dst []subtree, m, lo, hi uint64, whole bool) []subtree {
	if m == hi-lo {
		if whole {
			return dst
		}
		return append(dst, subtree{lo, hi})
	}
	k := splitPoint(hi - lo)
	if m <= k {
		dst = subproof(dst, m, lo, lo+k, whole)
		return append(dst, subtree{lo + k, hi})
	}
	dst = subproof(dst, m-k, lo+k, hi, false)
	return append(dst, subtree{lo, lo + k})
}

// storedBase returns the stored nodes a node's hash is computed from: its
// descendants at the nearest level at or below it that is divisible by
// LevelStride.
func storedBase(id NodeID) (level uint8, first, count uint64) {
	level = id.Level - id.Level%LevelStride
	shift := id.Level - level
	return level, id.Index << shift, 1 << shift
}

// hashSubtrees reads what the subtrees' hashes need from r, in one call, and
// returns their hashes.
func (h hasher) hashSubtrees(ctx context.Context, r HashReader, subs []subtree) ([]Hash, error) {
	if len(subs) == 0 {
		return []Hash{}, nil
	}
	parts := make([][]NodeID, len(subs))
	var want []NodeID
	for i, s := range subs {
		parts[i] = s.perfect(nil)
		for _, id := range parts[i] {
			level, first, count := storedBase(id)
			for j := range count {
				want = append(want, NodeID{Level: level, Index: first + j})
			}
		}
	}
	cmpID := func(a, b NodeID) int {
		return cmp.Or(cmp.Compare(a.Level, b.Level), cmp.Compare(a.Index, b.Index))
	}
	slices.SortFunc(want, cmpID)
	want = slices.Compact(want)
	got, err := r.ReadHashes(ctx, want)
	if err != nil {
		return nil, fmt.Errorf("merkle: reading %d node hashes: %w", len(want), err)
	}
	if len(got) != len(want) {
		return nil, fmt.Errorf("merkle: hash reader returned %d hashes for %d nodes", len(got), len(want))
	}
	lookup := func(id NodeID) Hash {
		i, _ := slices.BinarySearchFunc(want, id, cmpID)
		return got[i]
	}
	out := make([]Hash, len(subs))
	var buf []Hash
	for i, ids := range parts {
		var acc Hash
		for j := len(ids) - 1; j >= 0; j-- {
			level, first, count := storedBase(ids[j])
			buf = buf[:0]
			for k := range count {
				buf = append(buf, lookup(NodeID{Level: level, Index: first + k}))
			}
			for len(buf) > 1 {
				for k := 0; k < len(buf)/2; k++ {
					buf[k] = h.node(buf[2*k], buf[2*k+1])
				}
				buf = buf[:len(buf)/2]
			}
			if j == len(ids)-1 {
				acc = buf[0]
			} else {
				acc = h.node(buf[0], acc)
			}
		}
		out[i] = acc
	}
	return out, nil
}

func (h hasher) inclusionProof(ctx context.Context, r HashReader, index, size uint64) ([]Hash, error) {
	if index >= size {
		return nil, fmt.Errorf("%w: index %d, tree size %d", ErrIndexOutOfRange, index, size)
	}
	return h.hashSubtrees(ctx, r, inclusionPath(index, size))
}

func (h hasher) consistencyProof(ctx context.Context, r HashReader, size1, size2 uint64) ([]Hash, error) {
	switch {
	case size1 > size2:
		return nil, fmt.Errorf("%w: %d > %d", ErrSizeOrder, size1, size2)
	case size1 == 0 || size1 == size2:
		return []Hash{}, nil
	}
	return h.hashSubtrees(ctx, r, consistencyPath(size1, size2))
}

func (h hasher) treeAt(ctx context.Context, r HashReader, size uint64) (*Tree, error) {
	var subs []subtree
	for _, id := range (subtree{0, size}).perfect(nil) {
		lo := id.Index << id.Level
		subs = append(subs, subtree{lo, lo + 1<<id.Level})
	}
	edges, err := h.hashSubtrees(ctx, r, subs)
	if err != nil {
		return nil, err
	}
	return &Tree{h: h, size: size, edges: edges}, nil
}
