package merkle

import (
	"fmt"
	"math/bits"
)

// VerifyInclusion checks that proof proves the leaf whose hash is leafHash to
// be at index in the tree of the given size whose root is root, by the
// algorithm of RFC 9162 section 2.1.3.2. It returns nil or an error wrapping
// ErrIndexOutOfRange (index ≥ size, which includes every index of the empty
// tree), ErrProofLength (a hash missing or extra for this index and size) or
// ErrRootMismatch (anything else: a changed hash, the wrong leaf, index or
// size).
func VerifyInclusion(index, size uint64, leafHash Hash, proof []Hash, root Hash) error {
	return sm3Hasher.verifyInclusion(index, size, leafHash, proof, root)
}

// VerifyConsistency checks that proof proves the tree of size1 whose root is
// root1 to be a prefix of the tree of size2 whose root is root2, by the
// algorithm of RFC 9162 section 2.1.4.2, extended to the sizes that RFC
// leaves out: between equal sizes the proof is empty and the roots must be
// equal; from size 0 the proof is empty and root1 must be EmptyRoot. It
// returns nil or an error wrapping ErrSizeOrder (size1 > size2),
// ErrProofLength or ErrRootMismatch.
func VerifyConsistency(size1, size2 uint64, proof []Hash, root1, root2 Hash) error {
	return sm3Hasher.verifyConsistency(size1, size2, proof, root1, root2)
}

// inclusionLen returns the length of every inclusion proof for index in a
// tree of size > index: the levels below the point where the paths to the
// leaf and to the last leaf part, plus one hash per left sibling above it.
func inclusionLen(index, size uint64) int {
	inner := bits.Len64(index ^ (size - 1))
	return inner + bits.OnesCount64(index>>inner)
}

// consistencyLen returns the length of every consistency proof from m to n,
// 0 < m < n: the inclusion path of the subtree that ends at m-1, from the
// level of its last complete subtree, plus that subtree's hash unless m is a
// power of two (the verifier then starts from root1).
func consistencyLen(m, n uint64) int {
	shift := bits.TrailingZeros64(m)
	l := inclusionLen((m-1)>>shift, (n-1)>>shift+1)
	if m != 1<<shift {
		l++
	}
	return l
}

func proofLengthError(got, want int) error {
	if got < want {
		return fmt.Errorf("%w: %d hashes, %d missing", ErrProofLength, got, want-got)
	}
	return fmt.Errorf("%w: %d hashes, %d extra", ErrProofLength, got, got-want)
}

func (h hasher) verifyInclusion(index, size uint64, leafHash Hash, proof []Hash, root Hash) error {
	if index >= size {
		return fmt.Errorf("%w: index %d, tree size %d", ErrIndexOutOfRange, index, size)
	}
	if want := inclusionLen(index, size); len(proof) != want {
		return proofLengthError(len(proof), want)
	}
	fn, sn := index, size-1
	r := leafHash
	for _, p := range proof {
		if fn&1 == 1 || fn == sn {
			r = h.node(p, r)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = h.node(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		// The length check above rules this out; kept so that the loop
		// stands on its own as RFC 9162 writes it.
		return fmt.Errorf("%w: path ends below the root", ErrProofLength)
	}
	if r != root {
		return fmt.Errorf("%w: inclusion of leaf %d in tree of size %d", ErrRootMismatch, index, size)
	}
	return nil
}

func (h hasher) verifyConsistency(size1, size2 uint64, proof []Hash, root1, root2 Hash) error {
	switch {
	case size1 > size2:
		return fmt.Errorf("%w: %d > %d", ErrSizeOrder, size1, size2)
	case size1 == 0 || size1 == size2:
		if len(proof) != 0 {
			return proofLengthError(len(proof), 0)
		}
		if size1 == 0 && root1 != h.empty() {
			return fmt.Errorf("%w: root of size 0 is not the empty tree hash", ErrRootMismatch)
		}
		if size1 == size2 && root1 != root2 {
			return fmt.Errorf("%w: two roots for size %d", ErrRootMismatch, size1)
		}
		return nil
	}
	if want := consistencyLen(size1, size2); len(proof) != want {
		return proofLengthError(len(proof), want)
	}
	path := proof
	if size1&(size1-1) == 0 {
		path = append([]Hash{root1}, proof...)
	}
	fn, sn := size1-1, size2-1
	for fn&1 == 1 {
		fn >>= 1
		sn >>= 1
	}
	fr, sr := path[0], path[0]
	for _, c := range path[1:] {
		if sn == 0 {
			return fmt.Errorf("%w: path goes past the root", ErrProofLength)
		}
		if fn&1 == 1 || fn == sn {
			fr = h.node(c, fr)
			sr = h.node(c, sr)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			sr = h.node(sr, c)
		}
		fn >>= 1
		sn >>= 1
	}
	switch {
	case sn != 0:
		return fmt.Errorf("%w: path ends below the root", ErrProofLength)
	case fr != root1:
		return fmt.Errorf("%w: first root, consistency of sizes %d and %d", ErrRootMismatch, size1, size2)
	case sr != root2:
		return fmt.Errorf("%w: second root, consistency of sizes %d and %d", ErrRootMismatch, size1, size2)
	}
	return nil
}
