package merkle_test

import (
	"context"
	"fmt"

	"github.com/qiao-exchange/qiao/audit/merkle"
)

// A log appends each entry's leaf hash to its tree, stores the nodes Append
// returns, and persists the tree state with the entries.
func ExampleTree() {
	var tree merkle.Tree // an empty SM3 tree
	stored := &merkle.MemoryHashes{}
	for _, entry := range []string{"entry 0", "entry 1", "entry 2"} {
		nodes := tree.Append(merkle.LeafHash([]byte(entry)))
		if err := stored.Add(nodes...); err != nil {
			panic(err)
		}
	}
	state, _ := tree.MarshalBinary()
	fmt.Println("size:", tree.Size())
	fmt.Println("root:", tree.Root())
	fmt.Println("state bytes:", len(state))
	fmt.Println("root equals the reference:", tree.Root() == merkle.RootFromLeaves([][]byte{
		[]byte("entry 0"), []byte("entry 1"), []byte("entry 2"),
	}))
	// Output:
	// size: 3
	// root: 59b7d3934b8366252225460e3c72f9ed4e9b4baeae13a31ff90c8fa5d6e7af0b
	// state bytes: 73
	// root equals the reference: true
}

// The log proves an entry to an auditor who holds only a signed tree head
// (size and root) and the entry.
func ExampleVerifyInclusion() {
	ctx := context.Background()
	var tree merkle.Tree
	stored := &merkle.MemoryHashes{}
	for i := range 1000 {
		stored.Add(tree.Append(merkle.LeafHash(fmt.Appendf(nil, "entry %d", i)))...)
	}
	size, root := tree.Size(), tree.Root()

	proof, err := merkle.InclusionProof(ctx, stored, 417, size)
	if err != nil {
		panic(err)
	}
	fmt.Println("proof hashes:", len(proof))

	// The auditor's side.
	leaf := merkle.LeafHash([]byte("entry 417"))
	fmt.Println("entry 417:", merkle.VerifyInclusion(417, size, leaf, proof, root))
	forged := merkle.LeafHash([]byte("entry 417, altered"))
	fmt.Println("altered entry:", merkle.VerifyInclusion(417, size, forged, proof, root))
	// Output:
	// proof hashes: 10
	// entry 417: <nil>
	// altered entry: merkle: proof does not match root: inclusion of leaf 417 in tree of size 1000
}

// An auditor who kept an earlier tree head checks that the log only grew.
func ExampleVerifyConsistency() {
	ctx := context.Background()
	var tree merkle.Tree
	stored := &merkle.MemoryHashes{}
	var oldSize uint64
	var oldRoot merkle.Hash
	for i := range 1000 {
		stored.Add(tree.Append(merkle.LeafHash(fmt.Appendf(nil, "entry %d", i)))...)
		if i == 599 {
			oldSize, oldRoot = tree.Size(), tree.Root()
		}
	}
	proof, err := merkle.ConsistencyProof(ctx, stored, oldSize, tree.Size())
	if err != nil {
		panic(err)
	}
	fmt.Println(merkle.VerifyConsistency(oldSize, tree.Size(), proof, oldRoot, tree.Root()))
	// Output:
	// <nil>
}

// A lost or damaged tree state is rebuilt from the stored hashes.
func ExampleTreeAt() {
	var tree merkle.Tree
	stored := &merkle.MemoryHashes{}
	for i := range 100 {
		stored.Add(tree.Append(merkle.LeafHash(fmt.Appendf(nil, "entry %d", i)))...)
	}
	rebuilt, err := merkle.TreeAt(context.Background(), stored, 100)
	if err != nil {
		panic(err)
	}
	fmt.Println(rebuilt.Root() == tree.Root())
	// Output:
	// true
}
