package merkle

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// The published RFC 6962 test vectors of the Certificate Transparency
// reference implementation (certificate-transparency merkle_tree_test.cc,
// kept in transparency-dev/merkle's proof tests): eight leaves, the roots of
// their first 1…8, and inclusion and consistency proofs. The tests below run
// the package's algorithms with SHA-256 and must reproduce every value.
var (
	rfcLeaves = []string{
		"", "00", "10", "2021", "3031", "40414243",
		"5051525354555657", "606162636465666768696a6b6c6d6e6f",
	}
	rfcEmptyRoot = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	rfcRoots     = []string{
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
	// rfcInclusion holds (0-based leaf index, tree size, proof).
	rfcInclusion = []struct {
		index, size uint64
		proof       []string
	}{
		{0, 1, nil},
		{0, 8, []string{
			"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
			"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
			"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
		}},
		{5, 8, []string{
			"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
			"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
			"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		}},
		{2, 3, []string{
			"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		}},
		{1, 5, []string{
			"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
			"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
			"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
		}},
	}
	rfcConsistency = []struct {
		size1, size2 uint64
		proof        []string
	}{
		{1, 1, nil},
		{1, 8, []string{
			"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
			"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
			"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
		}},
		{6, 8, []string{
			"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
			"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
			"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		}},
		{2, 5, []string{
			"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
			"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
		}},
		{6, 7, []string{
			"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
			"b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
			"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		}},
	}
)

func hexHash(t *testing.T, s string) Hash {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != HashSize {
		t.Fatalf("bad test hash %q", s)
	}
	return Hash(b)
}

func hexProof(t *testing.T, ss []string) []Hash {
	t.Helper()
	p := []Hash{}
	for _, s := range ss {
		p = append(p, hexHash(t, s))
	}
	return p
}

// rfcTree stores the eight RFC 6962 leaves in a SHA-256 tree.
func rfcTree(t *testing.T) (*Tree, *MemoryHashes, [][]byte) {
	t.Helper()
	tree, mem := &Tree{h: sha256Hasher}, &MemoryHashes{}
	var leaves [][]byte
	for _, s := range rfcLeaves {
		leaf, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, leaf)
		if err := mem.Add(tree.Append(sha256Hasher.leaf(leaf))...); err != nil {
			t.Fatal(err)
		}
	}
	return tree, mem, leaves
}

func TestRFC6962Roots(t *testing.T) {
	ctx := context.Background()
	_, mem, leaves := rfcTree(t)
	if got, want := sha256Hasher.empty(), hexHash(t, rfcEmptyRoot); got != want {
		t.Errorf("empty root %v, want %v", got, want)
	}
	if got, want := (&Tree{h: sha256Hasher}).Root(), hexHash(t, rfcEmptyRoot); got != want {
		t.Errorf("empty tree root %v, want %v", got, want)
	}
	tree := &Tree{h: sha256Hasher}
	for i, want := range rfcRoots {
		size := uint64(i + 1)
		tree.Append(sha256Hasher.leaf(leaves[i]))
		if got := tree.Root(); got != hexHash(t, want) {
			t.Errorf("size %d: incremental root %v, want %s", size, got, want)
		}
		if got := sha256Hasher.mth(leaves[:size]); got != hexHash(t, want) {
			t.Errorf("size %d: reference root %v, want %s", size, got, want)
		}
		at, err := sha256Hasher.treeAt(ctx, mem, size)
		if err != nil {
			t.Fatal(err)
		}
		if got := at.Root(); got != hexHash(t, want) {
			t.Errorf("size %d: root of the rebuilt tree %v, want %s", size, got, want)
		}
	}
}

func TestRFC6962InclusionProofs(t *testing.T) {
	ctx := context.Background()
	_, mem, leaves := rfcTree(t)
	for _, v := range rfcInclusion {
		want := hexProof(t, v.proof)
		got, err := sha256Hasher.inclusionProof(ctx, mem, v.index, v.size)
		if err != nil {
			t.Fatalf("leaf %d in %d: %v", v.index, v.size, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("leaf %d in %d: proof %v, want %v", v.index, v.size, got, want)
		}
		root := hexHash(t, rfcRoots[v.size-1])
		if err := sha256Hasher.verifyInclusion(v.index, v.size, sha256Hasher.leaf(leaves[v.index]), want, root); err != nil {
			t.Errorf("leaf %d in %d: %v", v.index, v.size, err)
		}
	}
}

func TestRFC6962ConsistencyProofs(t *testing.T) {
	ctx := context.Background()
	_, mem, _ := rfcTree(t)
	for _, v := range rfcConsistency {
		want := hexProof(t, v.proof)
		got, err := sha256Hasher.consistencyProof(ctx, mem, v.size1, v.size2)
		if err != nil {
			t.Fatalf("%d to %d: %v", v.size1, v.size2, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%d to %d: proof %v, want %v", v.size1, v.size2, got, want)
		}
		root1, root2 := hexHash(t, rfcRoots[v.size1-1]), hexHash(t, rfcRoots[v.size2-1])
		if err := sha256Hasher.verifyConsistency(v.size1, v.size2, want, root1, root2); err != nil {
			t.Errorf("%d to %d: %v", v.size1, v.size2, err)
		}
	}
}

// TestCertificateTransparencyLog verifies proofs a production Certificate
// Transparency log served — a tree of nearly a billion leaves — with the
// package's verifiers run with SHA-256.
func TestCertificateTransparencyLog(t *testing.T) {
	raw, err := os.ReadFile("testdata/ct-argon2020.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		TreeSize         uint64   `json:"tree_size"`
		RootHash         string   `json:"root_hash"`
		LeafIndex        uint64   `json:"leaf_index"`
		LeafInput        []byte   `json:"leaf_input"`
		InclusionProof   []string `json:"inclusion_proof"`
		OldTreeSize      uint64   `json:"old_tree_size"`
		OldRootHash      string   `json:"old_root_hash"`
		ConsistencyProof []string `json:"consistency_proof"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	b64 := func(s string) Hash {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != HashSize {
			t.Fatalf("bad hash %q", s)
		}
		return Hash(b)
	}
	b64s := func(ss []string) []Hash {
		var p []Hash
		for _, s := range ss {
			p = append(p, b64(s))
		}
		return p
	}
	root, oldRoot := b64(v.RootHash), b64(v.OldRootHash)
	incl, cons := b64s(v.InclusionProof), b64s(v.ConsistencyProof)
	leaf := sha256Hasher.leaf(v.LeafInput)

	if err := sha256Hasher.verifyInclusion(v.LeafIndex, v.TreeSize, leaf, incl, root); err != nil {
		t.Errorf("inclusion: %v", err)
	}
	if err := sha256Hasher.verifyConsistency(v.OldTreeSize, v.TreeSize, cons, oldRoot, root); err != nil {
		t.Errorf("consistency: %v", err)
	}
	// And the same proofs are refused when anything changes.
	if err := sha256Hasher.verifyInclusion(v.LeafIndex+1, v.TreeSize, leaf, incl, root); !errors.Is(err, ErrRootMismatch) {
		t.Errorf("inclusion at the next index: %v, want ErrRootMismatch", err)
	}
	if err := sha256Hasher.verifyConsistency(v.OldTreeSize, 2*v.TreeSize, cons, oldRoot, root); err == nil {
		t.Error("consistency with twice the tree size verified")
	}
	incl[7][3] ^= 0x20
	if err := sha256Hasher.verifyInclusion(v.LeafIndex, v.TreeSize, leaf, incl, root); !errors.Is(err, ErrRootMismatch) {
		t.Errorf("modified inclusion proof: %v, want ErrRootMismatch", err)
	}
	cons[len(cons)-1][0] ^= 1
	if err := sha256Hasher.verifyConsistency(v.OldTreeSize, v.TreeSize, cons, oldRoot, root); !errors.Is(err, ErrRootMismatch) {
		t.Errorf("modified consistency proof: %v, want ErrRootMismatch", err)
	}
}

// tlogStore is golang.org/x/mod/sumdb/tlog's storage of a tree: every node
// hash, by tlog.StoredHashIndex.
type tlogStore []tlog.Hash

func (s tlogStore) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = s[x]
	}
	return out, nil
}

// TestAgainstTlog compares every inclusion and consistency proof of trees of
// several sizes, made with SHA-256, with those of golang.org/x/mod/sumdb/tlog,
// an independent implementation of RFC 6962 with another storage layout.
func TestAgainstTlog(t *testing.T) {
	sizes := []uint64{1, 2, 3, 5, 7, 8, 16, 17, 31, 100, 255, 256, 257, 1000}
	n := sizes[len(sizes)-1]
	b := build(t, sha256Hasher, n)
	var store tlogStore
	for i := range int64(n) {
		hs, err := tlog.StoredHashes(i, b.leaves[i], store)
		if err != nil {
			t.Fatal(err)
		}
		store = append(store, hs...)
	}
	toHashes := func(p []tlog.Hash) []Hash {
		out := []Hash{}
		for _, h := range p {
			out = append(out, Hash(h))
		}
		return out
	}
	for _, size := range sizes {
		th, err := tlog.TreeHash(int64(size), store)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.root(size); got != Hash(th) {
			t.Fatalf("size %d: root %v, tlog %v", size, got, Hash(th))
		}
		for i := range size {
			rp, err := tlog.ProveRecord(int64(size), int64(i), store)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := b.inclusion(t, i, size), toHashes(rp); !slices.Equal(got, want) {
				t.Fatalf("leaf %d in %d: proof %v, tlog %v", i, size, got, want)
			}
		}
		for m := uint64(1); m <= size; m++ {
			tp, err := tlog.ProveTree(int64(size), int64(m), store)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := b.consistency(t, m, size), toHashes(tp); !slices.Equal(got, want) {
				t.Fatalf("%d to %d: proof %v, tlog %v", m, size, got, want)
			}
		}
	}
}
