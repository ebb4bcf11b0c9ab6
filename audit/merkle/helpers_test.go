package merkle

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
)

// sha256Hasher runs the package's algorithms with SHA-256, the hash of
// RFC 6962, so that they can be checked against its published vectors and
// against golang.org/x/mod/sumdb/tlog.
var sha256Hasher = hasher{sha256: true}

// hashers are the two hash functions every algorithm is tested with.
var hashers = []struct {
	name string
	h    hasher
}{{"sm3", sm3Hasher}, {"sha256", sha256Hasher}}

// testLeaf returns the i-th leaf of the test trees.
func testLeaf(i uint64) []byte {
	b := make([]byte, 8, 16)
	binary.BigEndian.PutUint64(b, i)
	return append(b, "leaf"...)
}

// built is a tree and its stored hashes.
type built struct {
	h      hasher
	leaves [][]byte
	tree   *Tree
	mem    *MemoryHashes
	roots  []Hash // roots[size], from the incremental tree
}

// build appends n test leaves to a tree hashed with h.
func build(tb testing.TB, h hasher, n uint64) *built {
	tb.Helper()
	b := &built{h: h, tree: &Tree{h: h}, mem: &MemoryHashes{}, roots: []Hash{h.empty()}}
	for i := range n {
		leaf := testLeaf(i)
		b.leaves = append(b.leaves, leaf)
		if err := b.mem.Add(b.tree.Append(h.leaf(leaf))...); err != nil {
			tb.Fatal(err)
		}
		b.roots = append(b.roots, b.tree.Root())
	}
	if got, want := b.tree.Root(), h.mth(b.leaves); got != want {
		tb.Fatalf("size %d: root %v, reference %v", n, got, want)
	}
	return b
}

// root returns the root of the first size leaves. The incremental roots it
// returns are held to the reference by TestTreeMatchesReference, by build
// at the full size, and by the comparison with tlog.
func (b *built) root(size uint64) Hash { return b.roots[size] }

func (b *built) inclusion(tb testing.TB, index, size uint64) []Hash {
	tb.Helper()
	p, err := b.h.inclusionProof(context.Background(), b.mem, index, size)
	if err != nil {
		tb.Fatalf("inclusion proof %d in %d: %v", index, size, err)
	}
	return p
}

func (b *built) consistency(tb testing.TB, size1, size2 uint64) []Hash {
	tb.Helper()
	p, err := b.h.consistencyProof(context.Background(), b.mem, size1, size2)
	if err != nil {
		tb.Fatalf("consistency proof %d to %d: %v", size1, size2, err)
	}
	return p
}

// countingReader counts the hashes read through it.
type countingReader struct {
	r     HashReader
	calls int
	read  int
}

func (c *countingReader) ReadHashes(ctx context.Context, ids []NodeID) ([]Hash, error) {
	c.calls++
	c.read += len(ids)
	return c.r.ReadHashes(ctx, ids)
}

// anyHashes returns an arbitrary hash for any node at a stored level, as if
// a tree of any size were stored; it checks what is asked, not what is read.
type anyHashes struct{ ids [][]NodeID }

func (a *anyHashes) ReadHashes(_ context.Context, ids []NodeID) ([]Hash, error) {
	a.ids = append(a.ids, ids)
	out := make([]Hash, len(ids))
	for i, id := range ids {
		if id.Level%LevelStride != 0 {
			return nil, fmt.Errorf("node %v is not at a stored level", id)
		}
		if i > 0 {
			p := ids[i-1]
			if p.Level > id.Level || p.Level == id.Level && p.Index >= id.Index {
				return nil, fmt.Errorf("ids not sorted and unique: %v then %v", p, id)
			}
		}
		out[i][0] = id.Level
		binary.BigEndian.PutUint64(out[i][1:], id.Index)
	}
	return out, nil
}

func copyProof(p []Hash) []Hash { return append([]Hash(nil), p...) }
