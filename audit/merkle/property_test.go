package merkle

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// propertySizes are the tree sizes the property tests run at: every size up
// to 40 and a few random ones up to 4000 (fixed seed, so that a failure
// reproduces).
func propertySizes(rng *rand.Rand) []uint64 {
	var sizes []uint64
	for n := uint64(1); n <= 40; n++ {
		sizes = append(sizes, n)
	}
	for range 4 {
		sizes = append(sizes, 41+rng.Uint64N(4000-41))
	}
	return append(sizes, 1024, 4000)
}

// sample returns every value in [lo, hi) when there are at most max of them,
// else max of them at random, always with lo and hi-1.
func sample(rng *rand.Rand, lo, hi uint64, max int) []uint64 {
	var out []uint64
	if hi-lo <= uint64(max) {
		for i := lo; i < hi; i++ {
			out = append(out, i)
		}
		return out
	}
	out = append(out, lo, hi-1)
	for len(out) < max {
		out = append(out, lo+rng.Uint64N(hi-lo))
	}
	return out
}

// inclusionShape is what the RFC 9162 verifier's computation depends on
// besides the hashes: the side of each proof hash. Two (index, size) pairs
// with the same shape accept the same proofs, so a wrong size can only be
// detected when it changes the shape; the signed checkpoint binds the size
// to the root.
func inclusionShape(index, size uint64) (left []bool) {
	if index >= size {
		return nil
	}
	fn, sn := index, size-1
	for range inclusionLen(index, size) {
		l := fn&1 == 1 || fn == sn
		left = append(left, l)
		if l {
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		}
		fn >>= 1
		sn >>= 1
	}
	return left
}

func sameShape(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// flipBits yields the proof with one bit changed, for every bit of every
// hash (all) or for one random bit of every hash.
func flipBits(rng *rand.Rand, proof []Hash, all bool, yield func(i, bit int, p []Hash)) {
	for i := range proof {
		bitsToFlip := []int{rng.IntN(8 * HashSize)}
		if all {
			bitsToFlip = bitsToFlip[:0]
			for b := range 8 * HashSize {
				bitsToFlip = append(bitsToFlip, b)
			}
		}
		for _, b := range bitsToFlip {
			p := copyProof(proof)
			p[i][b/8] ^= 1 << (b % 8)
			yield(i, b, p)
		}
	}
}

// TestInclusionProperties: every inclusion proof verifies, and every change
// to it — any single bit of any hash, a missing or extra hash, the wrong
// leaf, index or size — is refused with the documented error.
func TestInclusionProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 9162))
	for _, hs := range hashers {
		t.Run(hs.name, func(t *testing.T) {
			sizes := propertySizes(rng)
			b := build(t, hs.h, sizes[len(sizes)-1])
			h := hs.h
			for _, size := range sizes {
				root := b.root(size)
				for k, index := range sample(rng, 0, size, 64) {
					leaf := h.leaf(b.leaves[index])
					proof := b.inclusion(t, index, size)
					if err := h.verifyInclusion(index, size, leaf, proof, root); err != nil {
						t.Fatalf("leaf %d in %d: %v", index, size, err)
					}
					// Every bit of every hash of small trees' proofs and of one random
					// proof per tree above 40; one random bit per hash of the others.
					all := size <= 12 || size > 40 && k == 2
					flipBits(rng, proof, all, func(i, bit int, p []Hash) {
						if err := h.verifyInclusion(index, size, leaf, p, root); !errors.Is(err, ErrRootMismatch) {
							t.Fatalf("leaf %d in %d, bit %d of hash %d flipped: %v", index, size, bit, i, err)
						}
					})
					// A changed leaf or root.
					other := h.leaf([]byte("not the leaf"))
					if err := h.verifyInclusion(index, size, other, proof, root); !errors.Is(err, ErrRootMismatch) {
						t.Fatalf("leaf %d in %d, wrong leaf: %v", index, size, err)
					}
					if err := h.verifyInclusion(index, size, leaf, proof, other); !errors.Is(err, ErrRootMismatch) {
						t.Fatalf("leaf %d in %d, wrong root: %v", index, size, err)
					}
					// A hash missing or extra, anywhere.
					for i := range proof {
						short := append(copyProof(proof[:i]), proof[i+1:]...)
						if err := h.verifyInclusion(index, size, leaf, short, root); !errors.Is(err, ErrProofLength) {
							t.Fatalf("leaf %d in %d, hash %d removed: %v", index, size, i, err)
						}
					}
					for i := 0; i <= len(proof); i++ {
						long := append(append(copyProof(proof[:i]), root), proof[i:]...)
						if err := h.verifyInclusion(index, size, leaf, long, root); !errors.Is(err, ErrProofLength) {
							t.Fatalf("leaf %d in %d, hash inserted at %d: %v", index, size, i, err)
						}
					}
					// Any other index of the tree.
					for _, j := range sample(rng, 0, size, 16) {
						if j == index {
							continue
						}
						err := h.verifyInclusion(j, size, leaf, proof, root)
						if !errors.Is(err, ErrRootMismatch) && !errors.Is(err, ErrProofLength) {
							t.Fatalf("leaf %d in %d verified at index %d: %v", index, size, j, err)
						}
					}
					for _, j := range []uint64{size, size + 1, 1<<64 - 1} {
						if err := h.verifyInclusion(j, size, leaf, proof, root); !errors.Is(err, ErrIndexOutOfRange) {
							t.Fatalf("index %d in %d: %v", j, size, err)
						}
					}
					// Other sizes: refused unless the shape is the same.
					for _, s := range []uint64{size - 1, size + 1, size * 2, size / 2, size + 7, 1<<64 - 1} {
						if s == size {
							continue
						}
						err := h.verifyInclusion(index, s, leaf, proof, root)
						switch {
						case index >= s:
							if !errors.Is(err, ErrIndexOutOfRange) {
								t.Fatalf("leaf %d in %d claimed for size %d: %v", index, size, s, err)
							}
						case sameShape(inclusionShape(index, size), inclusionShape(index, s)):
							if err != nil {
								t.Fatalf("leaf %d in %d, size %d of the same shape: %v", index, size, s, err)
							}
						case err == nil:
							t.Fatalf("leaf %d in %d verified for size %d", index, size, s)
						}
					}
				}
			}
		})
	}
}

// TestConsistencyProperties: every consistency proof verifies, and every
// change to it is refused with the documented error.
func TestConsistencyProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 9162))
	for _, hs := range hashers {
		t.Run(hs.name, func(t *testing.T) {
			sizes := propertySizes(rng)
			b := build(t, hs.h, sizes[len(sizes)-1])
			h := hs.h
			other := h.leaf([]byte("not a root"))
			for _, size2 := range sizes {
				root2 := b.root(size2)
				for k, size1 := range sample(rng, 0, size2+1, 64) {
					root1 := b.root(size1)
					proof := b.consistency(t, size1, size2)
					if err := h.verifyConsistency(size1, size2, proof, root1, root2); err != nil {
						t.Fatalf("%d to %d: %v", size1, size2, err)
					}
					if size1 > 0 {
						if err := h.verifyConsistency(size2, size1, proof, root2, root1); size1 != size2 && !errors.Is(err, ErrSizeOrder) {
							t.Fatalf("%d to %d: %v, want ErrSizeOrder", size2, size1, err)
						}
					}
					all := size2 <= 12 || size2 > 40 && k == 2
					flipBits(rng, proof, all, func(i, bit int, p []Hash) {
						if err := h.verifyConsistency(size1, size2, p, root1, root2); !errors.Is(err, ErrRootMismatch) {
							t.Fatalf("%d to %d, bit %d of hash %d flipped: %v", size1, size2, bit, i, err)
						}
					})
					if err := h.verifyConsistency(size1, size2, proof, other, root2); !errors.Is(err, ErrRootMismatch) {
						t.Fatalf("%d to %d, wrong first root: %v", size1, size2, err)
					}
					if size1 > 0 || size2 == 0 {
						if err := h.verifyConsistency(size1, size2, proof, root1, other); !errors.Is(err, ErrRootMismatch) {
							t.Fatalf("%d to %d, wrong second root: %v", size1, size2, err)
						}
					}
					if size1 != size2 && size1 > 0 {
						if err := h.verifyConsistency(size1, size2, proof, root2, root1); !errors.Is(err, ErrRootMismatch) {
							t.Fatalf("%d to %d, roots swapped: %v", size1, size2, err)
						}
					}
					for i := range proof {
						short := append(copyProof(proof[:i]), proof[i+1:]...)
						if err := h.verifyConsistency(size1, size2, short, root1, root2); !errors.Is(err, ErrProofLength) {
							t.Fatalf("%d to %d, hash %d removed: %v", size1, size2, i, err)
						}
					}
					for i := 0; i <= len(proof); i++ {
						long := append(append(copyProof(proof[:i]), root1), proof[i:]...)
						if err := h.verifyConsistency(size1, size2, long, root1, root2); !errors.Is(err, ErrProofLength) {
							t.Fatalf("%d to %d, hash inserted at %d: %v", size1, size2, i, err)
						}
					}
					// Another first size, with its own root: refused.
					for _, s := range sample(rng, 1, size2+1, 8) {
						if s == size1 || size1 == 0 {
							continue
						}
						if err := h.verifyConsistency(s, size2, proof, b.root(s), root2); err == nil {
							t.Fatalf("proof %d to %d verified from %d", size1, size2, s)
						}
					}
				}
			}
		})
	}
}

// TestSizeZeroAndEqualSizes covers the sizes RFC 9162 leaves out.
func TestSizeZeroAndEqualSizes(t *testing.T) {
	b := build(t, sm3Hasher, 5)
	e, r3, r5, x := EmptyRoot(), b.root(3), b.root(5), LeafHash([]byte("x"))
	tests := []struct {
		name         string
		size1, size2 uint64
		proof        []Hash
		root1, root2 Hash
		want         error
	}{
		{"0 to 0", 0, 0, nil, e, e, nil},
		{"0 to 0, empty proof slice", 0, 0, []Hash{}, e, e, nil},
		{"0 to 0, other second root", 0, 0, nil, e, x, ErrRootMismatch},
		{"0 to 0, both roots not empty", 0, 0, nil, x, x, ErrRootMismatch},
		{"0 to 0, a proof hash", 0, 0, []Hash{e}, e, e, ErrProofLength},
		{"0 to 5", 0, 5, nil, e, r5, nil},
		{"0 to 5, first root not empty", 0, 5, nil, r3, r5, ErrRootMismatch},
		{"0 to 5, a proof hash", 0, 5, []Hash{r5}, e, r5, ErrProofLength},
		{"3 to 3", 3, 3, nil, r3, r3, nil},
		{"3 to 3, two roots", 3, 3, nil, r3, r5, ErrRootMismatch},
		{"3 to 3, a proof hash", 3, 3, []Hash{r3}, r3, r3, ErrProofLength},
		{"3 to 5, no proof", 3, 5, nil, r3, r5, ErrProofLength},
		{"1 to 0", 1, 0, nil, r3, e, ErrSizeOrder},
		{"5 to 3", 5, 3, nil, r5, r3, ErrSizeOrder},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyConsistency(tc.size1, tc.size2, tc.proof, tc.root1, tc.root2)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("VerifyConsistency = %v, want %v", err, tc.want)
			}
		})
	}
	for _, c := range [][2]uint64{{0, 0}, {1, 0}, {5, 5}, {1<<64 - 1, 1<<64 - 1}} {
		if err := VerifyInclusion(c[0], c[1], x, nil, e); !errors.Is(err, ErrIndexOutOfRange) {
			t.Errorf("inclusion of %d in %d: %v, want ErrIndexOutOfRange", c[0], c[1], err)
		}
	}
	// The single leaf of a tree of size 1 is its root, with an empty proof.
	l := LeafHash(b.leaves[0])
	if err := VerifyInclusion(0, 1, l, nil, l); err != nil {
		t.Errorf("size 1: %v", err)
	}
	if err := VerifyInclusion(0, 1, l, []Hash{l}, l); !errors.Is(err, ErrProofLength) {
		t.Errorf("size 1 with a proof hash: %v, want ErrProofLength", err)
	}
}
