package merkle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"testing"

	"github.com/qiao-exchange/qiao/crypto/sm3"
)

func TestHashDefinitions(t *testing.T) {
	// SM3 of nothing, GB/T 32905.
	if got, want := EmptyRoot().String(), "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"; got != want {
		t.Errorf("EmptyRoot = %s, want %s", got, want)
	}
	if got := RootFromLeaves(nil); got != EmptyRoot() {
		t.Errorf("RootFromLeaves(nil) = %v, want the empty root", got)
	}
	for _, n := range []int{0, 1, 255, 256, 257, 4096} {
		leaf := bytes.Repeat([]byte{0xa5}, n)
		if got, want := LeafHash(leaf), Hash(sm3.Sum(append([]byte{0x00}, leaf...))); got != want {
			t.Errorf("LeafHash of %d bytes = %v, want SM3(0x00 || leaf) = %v", n, got, want)
		}
		if got := RootFromLeaves([][]byte{leaf}); got != LeafHash(leaf) {
			t.Errorf("root of one leaf of %d bytes is not its leaf hash", n)
		}
	}
	l, r := LeafHash([]byte("l")), LeafHash([]byte("r"))
	want := Hash(sm3.Sum(slices.Concat([]byte{0x01}, l[:], r[:])))
	if got := NodeHash(l, r); got != want {
		t.Errorf("NodeHash = %v, want SM3(0x01 || l || r) = %v", got, want)
	}
	if NodeHash(l, r) == NodeHash(r, l) {
		t.Error("NodeHash is symmetric")
	}
	// A leaf whose content is two hashes is not the node over them.
	if LeafHash(slices.Concat(l[:], r[:])) == NodeHash(l, r) {
		t.Error("leaf and node hashes are not separated")
	}
}

// TestTreeMatchesReference checks the incremental root against the
// recursive definition, size by size.
func TestTreeMatchesReference(t *testing.T) {
	for _, hs := range hashers {
		t.Run(hs.name, func(t *testing.T) {
			b := build(t, hs.h, 0)
			tree := &Tree{h: hs.h}
			for size := uint64(0); size <= 600; size++ {
				if got, want := tree.Root(), b.h.mth(b.leaves); got != want {
					t.Fatalf("size %d: root %v, reference %v", size, got, want)
				}
				if tree.Size() != size {
					t.Fatalf("Size() = %d, want %d", tree.Size(), size)
				}
				if got, want := len(tree.edges), bits.OnesCount64(size); got != want {
					t.Fatalf("size %d: %d edge hashes, want %d", size, got, want)
				}
				leaf := testLeaf(size)
				b.leaves = append(b.leaves, leaf)
				tree.Append(hs.h.leaf(leaf))
			}
		})
	}
}

// TestAppendNodes checks that Append returns exactly the leaf and the
// completed subtrees at stored levels, with their hashes.
func TestAppendNodes(t *testing.T) {
	b := build(t, sm3Hasher, 0)
	tree := &Tree{}
	for i := range uint64(1100) {
		leaf := testLeaf(i)
		b.leaves = append(b.leaves, leaf)
		nodes := tree.Append(LeafHash(leaf))
		var want []NodeID
		for level := uint8(0); level < 64; level += LevelStride {
			// Leaf i completes the subtree at level l when i+1 is a
			// multiple of 2^l.
			if (i+1)%(1<<level) == 0 {
				want = append(want, NodeID{Level: level, Index: i >> level})
			}
		}
		var got []NodeID
		for _, n := range nodes {
			got = append(got, n.ID)
			lo := n.ID.Index << n.ID.Level
			if ref := RootFromLeaves(b.leaves[lo : lo+1<<n.ID.Level]); n.Hash != ref {
				t.Fatalf("leaf %d: node %v hash %v, reference %v", i, n.ID, n.Hash, ref)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("leaf %d: Append returned %v, want %v", i, got, want)
		}
	}
}

func TestTreeState(t *testing.T) {
	var empty Tree
	b, err := empty.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{1, 0, 0, 0, 0, 0, 0, 0, 0}; !bytes.Equal(b, want) {
		t.Errorf("empty state %x, want %x", b, want)
	}

	ref := &Tree{}
	for size := range uint64(300) {
		state, err := ref.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if want := 9 + HashSize*bits.OnesCount64(size); len(state) != want {
			t.Fatalf("size %d: state of %d bytes, want %d", size, len(state), want)
		}
		var restored Tree
		if err := restored.UnmarshalBinary(state); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if restored.Size() != size || restored.Root() != ref.Root() {
			t.Fatalf("size %d: restored size %d root %v, want %v", size, restored.Size(), restored.Root(), ref.Root())
		}
		// The restored tree carries on as the original does.
		next := LeafHash(testLeaf(size))
		if !slices.Equal(restored.Append(next), ref.Append(next)) || restored.Root() != ref.Root() {
			t.Fatalf("size %d: restored tree diverges after an append", size)
		}
	}

	good, _ := ref.MarshalBinary() // size 300: four bits set
	bad := map[string][]byte{
		"empty":         nil,
		"short header":  good[:8],
		"version 0":     append([]byte{0}, good[1:]...),
		"version 2":     append([]byte{2}, good[1:]...),
		"missing hash":  good[:len(good)-HashSize],
		"truncated":     good[:len(good)-1],
		"extra byte":    append(slices.Clone(good), 0),
		"extra hash":    append(slices.Clone(good), make([]byte, HashSize)...),
		"size mismatch": append([]byte{1, 0, 0, 0, 0, 0, 0, 1, 0x2d}, good[9:]...),
	}
	for name, state := range bad {
		t.Run(name, func(t *testing.T) {
			tree := ref.Clone()
			err := tree.UnmarshalBinary(state)
			if !errors.Is(err, ErrTreeState) {
				t.Fatalf("UnmarshalBinary = %v, want ErrTreeState", err)
			}
			if tree.Size() != ref.Size() || tree.Root() != ref.Root() {
				t.Error("a refused state changed the tree")
			}
		})
	}
}

func TestClone(t *testing.T) {
	a := &Tree{}
	for i := range uint64(7) {
		a.Append(LeafHash(testLeaf(i)))
	}
	root := a.Root()
	c := a.Clone()
	c.Append(LeafHash(testLeaf(7)))
	if a.Size() != 7 || a.Root() != root {
		t.Error("appending to a clone changed the original")
	}
	if c.Size() != 8 || c.Root() == root {
		t.Error("the clone did not append")
	}
}

func TestTreeAt(t *testing.T) {
	ctx := context.Background()
	const n = 700
	b := build(t, sm3Hasher, n)
	inc := &Tree{}
	for size := uint64(0); size <= n; size++ {
		at, err := TreeAt(ctx, b.mem, size)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		got, _ := at.MarshalBinary()
		want, _ := inc.MarshalBinary()
		if !bytes.Equal(got, want) {
			t.Fatalf("size %d: rebuilt state %x, want %x", size, got, want)
		}
		if size < n {
			inc.Append(LeafHash(b.leaves[size]))
		}
	}
	if _, err := TreeAt(ctx, b.mem, n+1); !errors.Is(err, ErrNotStored) {
		t.Errorf("TreeAt beyond the stored size: %v, want ErrNotStored", err)
	}
}

func TestMemoryHashes(t *testing.T) {
	ctx := context.Background()
	var m MemoryHashes
	h := LeafHash([]byte("x"))
	if err := m.Add(Node{ID: NodeID{Level: 0, Index: 0}, Hash: h}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []Node{
		{ID: NodeID{Level: 0, Index: 0}, Hash: h}, // again
		{ID: NodeID{Level: 0, Index: 2}, Hash: h}, // gap
		{ID: NodeID{Level: 4, Index: 1}, Hash: h}, // gap at a new level
		{ID: NodeID{Level: 1, Index: 0}, Hash: h}, // level not stored
	} {
		if err := m.Add(n); err == nil {
			t.Errorf("Add(%v) accepted", n.ID)
		}
	}
	got, err := m.ReadHashes(ctx, []NodeID{{Level: 0, Index: 0}})
	if err != nil || len(got) != 1 || got[0] != h {
		t.Errorf("ReadHashes = %v, %v", got, err)
	}
	for _, id := range []NodeID{{Level: 0, Index: 1}, {Level: 4, Index: 0}, {Level: 2, Index: 0}, {Level: 255, Index: 0}} {
		if _, err := m.ReadHashes(ctx, []NodeID{id}); !errors.Is(err, ErrNotStored) {
			t.Errorf("ReadHashes(%v) = %v, want ErrNotStored", id, err)
		}
	}
}

func TestGenerationErrors(t *testing.T) {
	ctx := context.Background()
	b := build(t, sm3Hasher, 20)
	if _, err := InclusionProof(ctx, b.mem, 0, 0); !errors.Is(err, ErrIndexOutOfRange) {
		t.Errorf("inclusion in size 0: %v", err)
	}
	if _, err := InclusionProof(ctx, b.mem, 20, 20); !errors.Is(err, ErrIndexOutOfRange) {
		t.Errorf("inclusion of index = size: %v", err)
	}
	if _, err := InclusionProof(ctx, b.mem, 3, 21); !errors.Is(err, ErrNotStored) {
		t.Errorf("inclusion in a size not stored: %v", err)
	}
	if _, err := ConsistencyProof(ctx, b.mem, 5, 4); !errors.Is(err, ErrSizeOrder) {
		t.Errorf("consistency 5 to 4: %v", err)
	}
	if _, err := ConsistencyProof(ctx, b.mem, 5, 21); !errors.Is(err, ErrNotStored) {
		t.Errorf("consistency to a size not stored: %v", err)
	}
	for _, c := range [][2]uint64{{0, 0}, {0, 20}, {20, 20}, {7, 7}} {
		p, err := ConsistencyProof(ctx, b.mem, c[0], c[1])
		if err != nil || p == nil || len(p) != 0 {
			t.Errorf("consistency %d to %d = %v, %v; want an empty proof", c[0], c[1], p, err)
		}
	}
	p, err := InclusionProof(ctx, b.mem, 0, 1)
	if err != nil || p == nil || len(p) != 0 {
		t.Errorf("inclusion in size 1 = %v, %v; want an empty proof", p, err)
	}
	short := readerFunc(func(_ context.Context, ids []NodeID) ([]Hash, error) { return make([]Hash, len(ids)-1), nil })
	if _, err := InclusionProof(ctx, short, 3, 20); err == nil {
		t.Error("a reader that returns too few hashes went unnoticed")
	}
	failing := readerFunc(func(context.Context, []NodeID) ([]Hash, error) { return nil, errors.New("disk on fire") })
	if _, err := ConsistencyProof(ctx, failing, 3, 20); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("reader error not passed on: %v", err)
	}
}

type readerFunc func(context.Context, []NodeID) ([]Hash, error)

func (f readerFunc) ReadHashes(ctx context.Context, ids []NodeID) ([]Hash, error) { return f(ctx, ids) }

// readBound is the most node hashes a proof in a tree of the given size may
// read: each proof hash covers complete subtrees at no more than two per
// level, each of which is computed from at most 2^(LevelStride-1) stored
// hashes.
func readBound(size uint64) int {
	levels := bits.Len64(size)
	perStride := 1<<LevelStride - 1 // 1 + 2 + 4 + 8
	return 2 * perStride * ((levels + LevelStride - 1) / LevelStride)
}

// TestProofReadsAreLogarithmic shows that a proof reads O(log n) hashes in
// one call, whatever the tree size, so that a tree of a million entries
// never reads a million rows.
func TestProofReadsAreLogarithmic(t *testing.T) {
	ctx := context.Background()
	for _, size := range []uint64{1_000_000, 1_000_001, 1 << 20, 1<<20 - 1, 123_456_789, 1 << 40, 1<<63 + 12345} {
		for _, index := range []uint64{0, 1, size / 3, size / 2, size - 2, size - 1} {
			r := &anyHashes{}
			if _, err := InclusionProof(ctx, r, index, size); err != nil {
				t.Fatalf("inclusion %d in %d: %v", index, size, err)
			}
			if len(r.ids) != 1 || len(r.ids[0]) > readBound(size) {
				t.Errorf("inclusion %d in %d: %d calls, %d hashes, bound %d", index, size, len(r.ids), len(r.ids[0]), readBound(size))
			}
			r = &anyHashes{}
			if _, err := ConsistencyProof(ctx, r, index+1, size); err != nil {
				t.Fatalf("consistency %d to %d: %v", index+1, size, err)
			}
			if index+1 < size && (len(r.ids) != 1 || len(r.ids[0]) > readBound(size)) {
				t.Errorf("consistency %d to %d: %d calls, %d hashes, bound %d", index+1, size, len(r.ids), len(r.ids[0]), readBound(size))
			}
		}
	}

	// The bound holds for every proof of every tree up to 150 leaves.
	for size := uint64(1); size <= 150; size++ {
		for x := range size {
			for _, p := range []struct {
				what string
				make func(HashReader) error
			}{
				{"inclusion", func(r HashReader) error { _, err := InclusionProof(ctx, r, x, size); return err }},
				{"consistency", func(r HashReader) error { _, err := ConsistencyProof(ctx, r, x+1, size); return err }},
			} {
				r := &anyHashes{}
				if err := p.make(r); err != nil {
					t.Fatal(err)
				}
				if len(r.ids) > 1 || len(r.ids) == 1 && len(r.ids[0]) > readBound(size) {
					t.Fatalf("%s %d, size %d: %d calls, bound %d", p.what, x, size, len(r.ids), readBound(size))
				}
			}
		}
	}

	// The same holds of a real tree.
	b := build(t, sm3Hasher, 5000)
	for _, c := range [][2]uint64{{0, 5000}, {4999, 5000}, {2500, 4097}, {1234, 4321}} {
		r := &countingReader{r: b.mem}
		p, err := InclusionProof(ctx, r, c[0], c[1])
		if err != nil {
			t.Fatal(err)
		}
		if r.calls != 1 || r.read > readBound(c[1]) {
			t.Errorf("inclusion %d in %d: %d calls, %d hashes, bound %d", c[0], c[1], r.calls, r.read, readBound(c[1]))
		}
		if err := VerifyInclusion(c[0], c[1], LeafHash(b.leaves[c[0]]), p, b.root(c[1])); err != nil {
			t.Error(err)
		}
	}
}

func TestNodeIDString(t *testing.T) {
	if got := fmt.Sprint(NodeID{Level: 4, Index: 17}); got != "4/17" {
		t.Errorf("NodeID prints as %q", got)
	}
}
