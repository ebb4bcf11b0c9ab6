package checkpoint_test

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/qiao-exchange/qiao/audit/checkpoint"
	"github.com/qiao-exchange/qiao/audit/merkle"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/internal/openssltest"
)

// docPath is the page that specifies the checkpoint and its signature. Its
// worked example is checked here value by value, and its OpenSSL script is
// run, so the page cannot drift from the code.
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
		blocks[m[1]] = m[2]
	}
	for _, name := range []string{"leaves", "checkpoint", "signing-key", "pub.pem", "key-id", "vkey", "note", "verify.sh"} {
		if _, ok := blocks[name]; !ok {
			t.Fatalf("%s: no block marked <!-- example:%s -->", docPath, name)
		}
	}
	return string(text), blocks
}

// docExample is the page's checkpoint, computed from its leaves, and its key.
type docExample struct {
	c   checkpoint.Checkpoint
	key *sm2.PrivateKey
	v   *checkpoint.Verifier
}

func newDocExample(t *testing.T, b map[string]string) docExample {
	t.Helper()
	var tree merkle.Tree
	for _, l := range strings.Split(b["leaves"], "\n") {
		tree.Append(merkle.LeafHash([]byte(l)))
	}
	d, err := hex.DecodeString(b["signing-key"])
	if err != nil {
		t.Fatal(err)
	}
	key, err := sm2.NewPrivateKey(d)
	if err != nil {
		t.Fatal(err)
	}
	v, err := checkpoint.NewVerifier("qiao.example/audit", key.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return docExample{
		c:   checkpoint.Checkpoint{Origin: "qiao.example/audit", Size: tree.Size(), Hash: tree.Root()},
		key: key,
		v:   v,
	}
}

func TestDocCheckpoint(t *testing.T) {
	_, b := readDoc(t)
	e := newDocExample(t, b)
	text, err := e.c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if string(text) != b["checkpoint"]+"\n" {
		t.Errorf("checkpoint:\n%s\nthe page says:\n%s", text, b["checkpoint"])
	}
	if got := string(e.key.PublicKey().MarshalPEM()); got != b["pub.pem"]+"\n" {
		t.Errorf("public key:\n%s\nthe page says:\n%s", got, b["pub.pem"])
	}
	if got := fmt.Sprintf("%08x", e.v.KeyID()); got != b["key-id"] {
		t.Errorf("key ID %s, the page says %s", got, b["key-id"])
	}
	if got := e.v.String(); got != b["vkey"] {
		t.Errorf("verifier key\n%s\nthe page says\n%s", got, b["vkey"])
	}
	if _, err := checkpoint.ParseVerifier(b["vkey"]); err != nil {
		t.Error(err)
	}

	// The page's note opens with the page's verifier key and carries the
	// page's checkpoint.
	v, err := checkpoint.ParseVerifier(b["vkey"])
	if err != nil {
		t.Fatal(err)
	}
	got, err := checkpoint.Open([]byte(b["note"]+"\n"), v)
	if err != nil {
		t.Fatalf("the page's note: %v", err)
	}
	if got.Origin != e.c.Origin || got.Size != e.c.Size || got.Hash != e.c.Hash {
		t.Errorf("the page's note holds %+v", got)
	}
	if !strings.HasPrefix(b["note"], b["checkpoint"]+"\n\n") {
		t.Error("the page's note does not begin with the page's checkpoint")
	}
	// Its signature: the key ID, then a DER signature of the length stated.
	blob, err := base64.StdEncoding.DecodeString(b["note"][strings.LastIndex(b["note"], " ")+1:])
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(blob[:4]) != b["key-id"] {
		t.Errorf("the note's signature begins %x", blob[:4])
	}
	text2, _ := readDoc(t)
	if claim := fmt.Sprintf("followed by a %d-byte DER", len(blob)-4); !strings.Contains(strings.ReplaceAll(text2, "\n", " "), claim) {
		t.Errorf("the page does not say %q", claim)
	}
}

// TestDocClaims checks what the page states about the signature type and
// the limits.
func TestDocClaims(t *testing.T) {
	text, b := readDoc(t)
	text = strings.ReplaceAll(text, "\n", " ")
	e := newDocExample(t, b)
	id := checkpoint.SignatureType[1:]
	for _, claim := range []string{
		fmt.Sprintf("`0xff` followed by the %d ASCII bytes `%s`", len(id), id),
		fmt.Sprintf("the uncompressed point): %d bytes", len(e.key.PublicKey().DER())),
		fmt.Sprintf("at most %d KiB and %d signature lines", checkpoint.MaxNoteSize>>10, checkpoint.MaxSignatures),
		fmt.Sprintf("signer ID `%s`", sm2.DefaultUID),
	} {
		if !strings.Contains(text, claim) {
			t.Errorf("the page does not say %q", claim)
		}
	}
	if checkpoint.SignatureType[0] != 0xff {
		t.Errorf("signature type begins %#x", checkpoint.SignatureType[0])
	}
}

// TestDocOpenSSL runs the page's script, which checks the key ID and the
// note's signature with OpenSSL 3 alone.
func TestDocOpenSSL(t *testing.T) {
	_, b := readDoc(t)
	openssltest.Path(t) // the script runs openssl
	dir := t.TempDir()
	for name, content := range map[string]string{"pub.pem": b["pub.pem"] + "\n", "verify.sh": b["verify.sh"] + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The script must check the page's checkpoint and note, not copies.
	if !strings.Contains(b["verify.sh"], strings.ReplaceAll(b["checkpoint"], "\n", `\n`)+`\n`) {
		t.Error("verify.sh does not write the page's checkpoint")
	}
	if sig := b["note"][strings.LastIndex(b["note"], " ")+1:]; !strings.Contains(b["verify.sh"], "'"+sig+"'") {
		t.Error("verify.sh does not check the page's signature")
	}
	cmd := exec.Command("sh", "verify.sh")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sh verify.sh: %v\n%s", err, out)
	}
	if want := b["key-id"] + "\nSignature Verified Successfully\n"; string(out) != want {
		t.Errorf("verify.sh printed %q, want %q", out, want)
	}
	written, err := os.ReadFile(filepath.Join(dir, "checkpoint.txt"))
	if err != nil || string(written) != b["checkpoint"]+"\n" {
		t.Errorf("verify.sh wrote checkpoint.txt %q (%v)", written, err)
	}
}
