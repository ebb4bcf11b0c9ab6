package merkle_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"testing"

	"github.com/qiao-exchange/qiao/audit/merkle"
)

// fuzzTreeSize is the size of the tree the proof fuzz targets draw from.
const fuzzTreeSize = 300

var fuzzTree = sync.OnceValues(func() (*merkle.MemoryHashes, []merkle.Hash) {
	var tree merkle.Tree
	mem := &merkle.MemoryHashes{}
	roots := []merkle.Hash{tree.Root()}
	for i := range fuzzTreeSize {
		if err := mem.Add(tree.Append(merkle.LeafHash(fuzzLeaf(i)))...); err != nil {
			panic(err)
		}
		roots = append(roots, tree.Root())
	}
	return mem, roots
})

func fuzzLeaf(i int) []byte { return binary.BigEndian.AppendUint32([]byte("entry "), uint32(i)) }

// mutate applies the fuzzer's changes to a proof: flip is XORed into the
// concatenated hashes, then cut hashes are removed from the end (or, if
// negative, -cut copies of the root appended). It reports whether the proof
// changed.
func mutate(proof []merkle.Hash, flip []byte, cut int8, root merkle.Hash) ([]merkle.Hash, bool) {
	out := append([]merkle.Hash(nil), proof...)
	changed := false
	for i, b := range flip {
		if i/merkle.HashSize >= len(out) {
			break
		}
		out[i/merkle.HashSize][i%merkle.HashSize] ^= b
		changed = changed || b != 0
	}
	switch {
	case cut > 0:
		n := min(int(cut), len(out))
		out = out[:len(out)-n]
		changed = changed || n > 0
	case cut < 0:
		for range -int(cut) {
			out = append(out, root)
		}
		changed = true
	}
	return out, changed
}

func isProofError(err error) bool {
	for _, e := range []error{merkle.ErrIndexOutOfRange, merkle.ErrSizeOrder, merkle.ErrProofLength, merkle.ErrRootMismatch} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// FuzzInclusionProof changes real inclusion proofs: a proof verifies if and
// only if it was not changed, and every refusal is a documented error.
func FuzzInclusionProof(f *testing.F) {
	f.Add(uint16(7), uint16(3), []byte{}, int8(0))
	f.Add(uint16(300), uint16(299), []byte{0, 0, 1}, int8(0))
	f.Add(uint16(256), uint16(17), []byte{}, int8(1))
	f.Add(uint16(1), uint16(0), []byte{}, int8(-1))
	f.Fuzz(func(t *testing.T, size, index uint16, flip []byte, cut int8) {
		mem, roots := fuzzTree()
		n := 1 + uint64(size)%fuzzTreeSize
		i := uint64(index) % n
		proof, err := merkle.InclusionProof(context.Background(), mem, i, n)
		if err != nil {
			t.Fatal(err)
		}
		p, changed := mutate(proof, flip, cut, roots[n])
		err = merkle.VerifyInclusion(i, n, merkle.LeafHash(fuzzLeaf(int(i))), p, roots[n])
		if changed && err == nil {
			t.Fatalf("changed proof of leaf %d in %d verified", i, n)
		}
		if !changed && err != nil {
			t.Fatalf("proof of leaf %d in %d: %v", i, n, err)
		}
		if err != nil && !isProofError(err) {
			t.Fatalf("undocumented error %v", err)
		}
	})
}

// FuzzConsistencyProof does the same with consistency proofs.
func FuzzConsistencyProof(f *testing.F) {
	f.Add(uint16(7), uint16(3), []byte{}, int8(0))
	f.Add(uint16(300), uint16(128), []byte{0x80}, int8(0))
	f.Add(uint16(6), uint16(5), []byte{}, int8(1))
	f.Add(uint16(9), uint16(0), []byte{}, int8(-1))
	f.Fuzz(func(t *testing.T, size2, size1 uint16, flip []byte, cut int8) {
		mem, roots := fuzzTree()
		n := uint64(size2) % (fuzzTreeSize + 1)
		m := uint64(size1) % (n + 1)
		proof, err := merkle.ConsistencyProof(context.Background(), mem, m, n)
		if err != nil {
			t.Fatal(err)
		}
		p, changed := mutate(proof, flip, cut, roots[n])
		err = merkle.VerifyConsistency(m, n, p, roots[m], roots[n])
		if changed && err == nil {
			t.Fatalf("changed proof %d to %d verified", m, n)
		}
		if !changed && err != nil {
			t.Fatalf("proof %d to %d: %v", m, n, err)
		}
		if err != nil && !isProofError(err) {
			t.Fatalf("undocumented error %v", err)
		}
	})
}

// FuzzVerify gives the verifiers arbitrary sizes, hashes and proofs, as an
// auditor's tool receives them: they must not panic, and must refuse with a
// documented error anything but the proofs of the fuzz tree.
func FuzzVerify(f *testing.F) {
	f.Add(uint64(3), uint64(7), bytes.Repeat([]byte{1}, 3*merkle.HashSize+5))
	f.Add(uint64(0), uint64(0), []byte{})
	f.Add(uint64(1<<64-1), uint64(1<<64-1), bytes.Repeat([]byte{0xff}, 64*merkle.HashSize))
	f.Fuzz(func(t *testing.T, a, b uint64, data []byte) {
		var h1, h2 merkle.Hash
		data = data[copy(h1[:], data):]
		data = data[copy(h2[:], data):]
		var proof []merkle.Hash
		for len(data) >= merkle.HashSize {
			proof = append(proof, merkle.Hash(data[:merkle.HashSize]))
			data = data[merkle.HashSize:]
		}
		if err := merkle.VerifyInclusion(a, b, h1, proof, h2); err != nil && !isProofError(err) {
			t.Fatalf("undocumented error %v", err)
		}
		if err := merkle.VerifyConsistency(a, b, proof, h1, h2); err != nil && !isProofError(err) {
			t.Fatalf("undocumented error %v", err)
		}
	})
}

// FuzzTreeState reads arbitrary bytes as a persisted tree state: what is
// accepted marshals back to the same bytes, what is refused is ErrTreeState.
func FuzzTreeState(f *testing.F) {
	var tree merkle.Tree
	for i := range 5 {
		tree.Append(merkle.LeafHash(fuzzLeaf(i)))
	}
	state, _ := tree.MarshalBinary()
	f.Add(state)
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var tree merkle.Tree
		if err := tree.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, merkle.ErrTreeState) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		out, err := tree.MarshalBinary()
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("state %x marshals back to %x, %v", data, out, err)
		}
		tree.Root()
		if tree.Size() < 1<<64-1 {
			tree.Append(merkle.LeafHash(data))
		}
	})
}
