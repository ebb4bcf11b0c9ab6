package merkle

// SM3 beside SHA-256 for every operation, so that a ratio can be read:
//
//	go test -run '^$' -bench . -benchmem ./audit/merkle/
//
// BenchmarkAppend is the per-entry cost of the tree; BenchmarkRoot sets an
// append and a new root beside recomputing the root from all leaf hashes;
// BenchmarkBuild1M is the time to build an in-memory hash source of a
// million leaves (one op = the whole build), and the proof benchmarks use
// such a source.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

const million = 1_000_000

// rootFromLeafHashes is MTH over leaf hashes already computed: the work a
// log without a tree state would redo for every new root.
func (h hasher) rootFromLeafHashes(leaves []Hash) Hash {
	switch n := len(leaves); n {
	case 0:
		return h.empty()
	case 1:
		return leaves[0]
	default:
		k := splitPoint(uint64(n))
		return h.node(h.rootFromLeafHashes(leaves[:k]), h.rootFromLeafHashes(leaves[k:]))
	}
}

func leafHashes(h hasher, n int) []Hash {
	out := make([]Hash, n)
	for i := range out {
		out[i] = h.leaf(testLeaf(uint64(i)))
	}
	return out
}

func BenchmarkAppend(b *testing.B) {
	for _, hs := range hashers {
		b.Run(hs.name, func(b *testing.B) {
			leaves := leafHashes(hs.h, 1<<16)
			tree := &Tree{h: hs.h}
			i := 0
			for b.Loop() {
				tree.Append(leaves[i&(1<<16-1)])
				i++
			}
		})
	}
}

func BenchmarkRoot(b *testing.B) {
	for _, hs := range hashers {
		for _, n := range []int{1_000, 10_000, 100_000} {
			leaves := leafHashes(hs.h, n+1)
			b.Run(fmt.Sprintf("%s/n=%d/append+root", hs.name, n), func(b *testing.B) {
				base := &Tree{h: hs.h}
				for _, l := range leaves[:n] {
					base.Append(l)
				}
				// Every op appends leaf n to a copy of the tree of size n.
				work := &Tree{h: hs.h}
				for b.Loop() {
					work.size, work.edges = base.size, append(work.edges[:0], base.edges...)
					work.Append(leaves[n])
					work.Root()
				}
			})
			b.Run(fmt.Sprintf("%s/n=%d/recompute", hs.name, n), func(b *testing.B) {
				for b.Loop() {
					hs.h.rootFromLeafHashes(leaves)
				}
			})
		}
	}
}

// buildMillion hashes a million leaves and builds their tree and stored
// hashes.
func buildMillion(h hasher) (*Tree, *MemoryHashes) {
	tree, mem := &Tree{h: h}, &MemoryHashes{}
	for i := range uint64(million) {
		if err := mem.Add(tree.Append(h.leaf(testLeaf(i)))...); err != nil {
			panic(err)
		}
	}
	return tree, mem
}

var millionTrees = map[string]func() (*Tree, *MemoryHashes){
	"sm3":    sync.OnceValues(func() (*Tree, *MemoryHashes) { return buildMillion(sm3Hasher) }),
	"sha256": sync.OnceValues(func() (*Tree, *MemoryHashes) { return buildMillion(sha256Hasher) }),
}

func BenchmarkBuild1M(b *testing.B) {
	for _, hs := range hashers {
		b.Run(hs.name, func(b *testing.B) {
			for b.Loop() {
				buildMillion(hs.h)
			}
		})
	}
}

func BenchmarkInclusionProof1M(b *testing.B) {
	ctx := context.Background()
	for _, hs := range hashers {
		b.Run(hs.name, func(b *testing.B) {
			tree, mem := millionTrees[hs.name]()
			rng := rand.New(rand.NewPCG(1, 2))
			r := &countingReader{r: mem}
			for b.Loop() {
				if _, err := hs.h.inclusionProof(ctx, r, rng.Uint64N(million), tree.Size()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(r.read)/float64(r.calls), "hashes-read/op")
		})
	}
}

func BenchmarkConsistencyProof1M(b *testing.B) {
	ctx := context.Background()
	for _, hs := range hashers {
		b.Run(hs.name, func(b *testing.B) {
			tree, mem := millionTrees[hs.name]()
			rng := rand.New(rand.NewPCG(1, 2))
			r := &countingReader{r: mem}
			for b.Loop() {
				if _, err := hs.h.consistencyProof(ctx, r, 1+rng.Uint64N(million-1), tree.Size()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(r.read)/float64(r.calls), "hashes-read/op")
		})
	}
}

func BenchmarkVerifyInclusion1M(b *testing.B) {
	ctx := context.Background()
	for _, hs := range hashers {
		b.Run(hs.name, func(b *testing.B) {
			tree, mem := millionTrees[hs.name]()
			const index = 765_432
			proof, err := hs.h.inclusionProof(ctx, mem, index, tree.Size())
			if err != nil {
				b.Fatal(err)
			}
			leaf, root := hs.h.leaf(testLeaf(index)), tree.Root()
			for b.Loop() {
				if err := hs.h.verifyInclusion(index, tree.Size(), leaf, proof, root); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerifyConsistency1M(b *testing.B) {
	ctx := context.Background()
	for _, hs := range hashers {
		b.Run(hs.name, func(b *testing.B) {
			tree, mem := millionTrees[hs.name]()
			const size1 = 765_433
			old, err := hs.h.treeAt(ctx, mem, size1)
			if err != nil {
				b.Fatal(err)
			}
			proof, err := hs.h.consistencyProof(ctx, mem, size1, tree.Size())
			if err != nil {
				b.Fatal(err)
			}
			root1, root2 := old.Root(), tree.Root()
			for b.Loop() {
				if err := hs.h.verifyConsistency(size1, tree.Size(), proof, root1, root2); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
