package merkle_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/qiao-exchange/qiao/audit/merkle"
	"github.com/qiao-exchange/qiao/internal/openssltest"
)

// docPath is the page that specifies the tree. Its worked example is checked
// here value by value, and its OpenSSL script is run, so the page cannot
// drift from the code.
const docPath = "../../docs/audit.md"

var docBlock = regexp.MustCompile("(?s)<!-- example:([a-z0-9.-]+) -->\n```[a-z]*\n(.*?)\n```")

func readDoc(t *testing.T) (string, map[string]string) {
	t.Helper()
	text, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[string]string{}
	for _, m := range docBlock.FindAllStringSubmatch(string(text), -1) {
		if _, dup := blocks[m[1]]; dup {
			t.Fatalf("%s: block %q twice", docPath, m[1])
		}
		blocks[m[1]] = m[2]
	}
	for _, name := range []string{"leaves", "hashes", "stored", "state", "proofs", "hashes.sh"} {
		if _, ok := blocks[name]; !ok {
			t.Fatalf("%s: no block marked <!-- example:%s -->", docPath, name)
		}
	}
	return string(text), blocks
}

// docTree is the worked example computed from its leaves.
type docTree struct {
	leaves [][]byte
	hashes map[string]merkle.Hash // by the names the page uses
	names  map[merkle.Hash]string
	nodes  []merkle.Node
	tree   merkle.Tree
	mem    merkle.MemoryHashes
}

func newDocTree(t *testing.T, b map[string]string) *docTree {
	t.Helper()
	d := &docTree{hashes: map[string]merkle.Hash{}, names: map[merkle.Hash]string{}}
	for _, l := range strings.Split(b["leaves"], "\n") {
		d.leaves = append(d.leaves, []byte(l))
	}
	if len(d.leaves) != 3 {
		t.Fatalf("the example has %d leaves, want 3", len(d.leaves))
	}
	for _, l := range d.leaves {
		nodes := d.tree.Append(merkle.LeafHash(l))
		d.nodes = append(d.nodes, nodes...)
		if err := d.mem.Add(nodes...); err != nil {
			t.Fatal(err)
		}
	}
	l0, l1, l2 := merkle.LeafHash(d.leaves[0]), merkle.LeafHash(d.leaves[1]), merkle.LeafHash(d.leaves[2])
	n01 := merkle.NodeHash(l0, l1)
	d.hashes = map[string]merkle.Hash{
		"E": merkle.EmptyRoot(), "L0": l0, "L1": l1, "L2": l2, "N01": n01, "root": merkle.NodeHash(n01, l2),
	}
	for name, h := range d.hashes {
		d.names[h] = name
	}
	return d
}

func (d *docTree) nameAll(hs []merkle.Hash) string {
	var out []string
	for _, h := range hs {
		name, ok := d.names[h]
		if !ok {
			name = h.String()
		}
		out = append(out, name)
	}
	return strings.Join(out, " ")
}

func TestDocHashes(t *testing.T) {
	_, b := readDoc(t)
	d := newDocTree(t, b)

	seen := map[string]bool{}
	for _, line := range strings.Split(b["hashes"], "\n") {
		parts := strings.Split(line, " = ")
		if len(parts) != 3 {
			t.Fatalf("hashes line %q is not NAME = DEFINITION = HEX", line)
		}
		name, value := strings.TrimSpace(parts[0]), parts[2]
		want, ok := d.hashes[name]
		if !ok {
			t.Fatalf("hashes line names %q", name)
		}
		seen[name] = true
		if value != want.String() {
			t.Errorf("%s: the page says %s, the code gives %v", name, value, want)
		}
	}
	if len(seen) != len(d.hashes) {
		t.Errorf("the page shows %d hashes, want %d", len(seen), len(d.hashes))
	}

	// The page says the roots of sizes 0, 1, 2 and 3 are E, L0, N01 and root.
	for size, name := range []string{"E", "L0", "N01", "root"} {
		if got := merkle.RootFromLeaves(d.leaves[:size]); got != d.hashes[name] {
			t.Errorf("root of size %d is %v, the page says %s", size, got, name)
		}
	}
	if d.tree.Root() != d.hashes["root"] {
		t.Errorf("the tree's root is %v", d.tree.Root())
	}
}

func TestDocStoredAndState(t *testing.T) {
	_, b := readDoc(t)
	d := newDocTree(t, b)
	var got []string
	for _, n := range d.nodes {
		got = append(got, n.ID.String()+" "+d.nameAll([]merkle.Hash{n.Hash}))
	}
	if strings.Join(got, "\n") != b["stored"] {
		t.Errorf("stored nodes:\n%s\nthe page says:\n%s", strings.Join(got, "\n"), b["stored"])
	}
	state, err := d.tree.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.ReplaceAll(b["state"], " ", ""); hex.EncodeToString(state) != want {
		t.Errorf("state %x, the page says %s", state, want)
	}
}

func TestDocProofs(t *testing.T) {
	ctx := context.Background()
	_, b := readDoc(t)
	d := newDocTree(t, b)
	root := func(size uint64) merkle.Hash { return merkle.RootFromLeaves(d.leaves[:size]) }
	re := regexp.MustCompile(`^(inclusion|consistency) (\d+) (?:in|to) (\d+):((?: \w+)*)$`)
	lines := strings.Split(b["proofs"], "\n")
	if len(lines) != 8 {
		t.Fatalf("%d proofs on the page, want 8", len(lines))
	}
	for _, line := range lines {
		m := re.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("proofs line %q", line)
		}
		x, _ := strconv.ParseUint(m[2], 10, 64)
		n, _ := strconv.ParseUint(m[3], 10, 64)
		want := strings.TrimSpace(m[4])
		var proof []merkle.Hash
		var err error
		if m[1] == "inclusion" {
			proof, err = merkle.InclusionProof(ctx, &d.mem, x, n)
			if err == nil {
				err = merkle.VerifyInclusion(x, n, merkle.LeafHash(d.leaves[x]), proof, root(n))
			}
		} else {
			proof, err = merkle.ConsistencyProof(ctx, &d.mem, x, n)
			if err == nil {
				err = merkle.VerifyConsistency(x, n, proof, root(x), root(n))
			}
		}
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if got := d.nameAll(proof); got != want {
			t.Errorf("%s: the code gives %q", line, got)
		}
	}
}

// TestDocClaims checks the figures the page states about the layout.
func TestDocClaims(t *testing.T) {
	text, _ := readDoc(t)
	stored := uint64(0)
	for level := uint(0); level < 64; level += merkle.LevelStride {
		stored += 1_000_000 >> level
	}
	for _, claim := range []string{
		fmt.Sprintf("`merkle.LevelStride`, which is %d", merkle.LevelStride),
		fmt.Sprintf("= %s (", commas(stored)),
	} {
		if !strings.Contains(strings.ReplaceAll(text, "\n", " "), claim) {
			t.Errorf("the page does not say %q", claim)
		}
	}
}

func commas(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// TestDocOpenSSL runs the page's script, which recomputes the hashes with
// OpenSSL 3 alone.
func TestDocOpenSSL(t *testing.T) {
	_, b := readDoc(t)
	d := newDocTree(t, b)
	openssltest.Path(t) // the script runs openssl
	dir := t.TempDir()
	script := filepath.Join(dir, "hashes.sh")
	if err := os.WriteFile(script, []byte(b["hashes.sh"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sh hashes.sh: %v\n%s", err, out)
	}
	var want []string
	for _, name := range []string{"L0", "L1", "L2", "N01", "root"} {
		want = append(want, name+" "+d.hashes[name].String())
	}
	r := d.hashes["root"]
	want = append(want, base64.StdEncoding.EncodeToString(r[:]))
	if got := strings.Split(strings.TrimSpace(string(out)), "\n"); !slices.Equal(got, want) {
		t.Errorf("hashes.sh printed\n%s\nwant\n%s", out, strings.Join(want, "\n"))
	}
}
