package checkpoint_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/qiao-exchange/qiao/audit/checkpoint"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/crypto/sm3"
)

const origin = "qiao.example/audit"

// testKey derives a fixed SM2 key from seed, so that failures reproduce.
func testKey(t testing.TB, seed string) *sm2.PrivateKey {
	t.Helper()
	d := sm3.Sum([]byte(seed))
	k, err := sm2.NewPrivateKey(d[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testVerifier(t testing.TB, name string, k *sm2.PrivateKey) *checkpoint.Verifier {
	t.Helper()
	v, err := checkpoint.NewVerifier(name, k.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func testCheckpoint() checkpoint.Checkpoint {
	return checkpoint.Checkpoint{Origin: origin, Size: 1234, Hash: rootOf("root at 1234")}
}

func sign(t testing.TB, c checkpoint.Checkpoint, name string, k *sm2.PrivateKey) []byte {
	t.Helper()
	n, err := checkpoint.Sign(c, name, k)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// sigLine returns a signature line for name carrying key ID id and sig.
func sigLine(name string, id uint32, sig []byte) string {
	blob := binary.BigEndian.AppendUint32(nil, id)
	return "— " + name + " " + base64.StdEncoding.EncodeToString(append(blob, sig...)) + "\n"
}

func TestSignOpen(t *testing.T) {
	k := testKey(t, "log key")
	v := testVerifier(t, origin, k)
	c := testCheckpoint()
	n := sign(t, c, origin, k)

	text, _ := c.Marshal()
	re := regexp.MustCompile("^" + regexp.QuoteMeta(string(text)) + "\n— " + regexp.QuoteMeta(origin) + ` ([A-Za-z0-9+/]+=*)` + "\n$")
	m := re.FindSubmatch(n)
	if m == nil {
		t.Fatalf("note %q is not text, blank line, one signature line", n)
	}
	blob, _ := base64.StdEncoding.DecodeString(string(m[1]))
	if id := binary.BigEndian.Uint32(blob); id != v.KeyID() {
		t.Errorf("signature carries key ID %08x, want %08x", id, v.KeyID())
	}
	// The rest is a DER SM2 signature over the note text, default user ID.
	if err := k.PublicKey().Verify(text, blob[4:]); err != nil {
		t.Errorf("signature is not SM2 over the note text: %v", err)
	}

	got, err := checkpoint.Open(n, v)
	if err != nil {
		t.Fatal(err)
	}
	if got.Origin != c.Origin || got.Size != c.Size || got.Hash != c.Hash || got.Extensions != nil {
		t.Errorf("Open = %+v, want %+v", got, c)
	}

	// Signing again gives another valid note: SM2 signatures are randomized.
	n2 := sign(t, c, origin, k)
	if bytes.Equal(n, n2) {
		t.Error("two signatures are identical")
	}
	if _, err := checkpoint.Open(n2, v); err != nil {
		t.Error(err)
	}
}

// TestOpenRefuses holds Open to the signed-note rules: each way a note can
// be wrong is refused with its own documented error.
func TestOpenRefuses(t *testing.T) {
	k, other := testKey(t, "log key"), testKey(t, "another key")
	v := testVerifier(t, origin, k)
	c := testCheckpoint()
	good := sign(t, c, origin, k)
	text, _ := c.Marshal()
	goodLine := string(good[len(text)+1:])
	sigOver := func(msg string) []byte {
		s, err := k.Sign([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	otherV := testVerifier(t, origin, other)
	ed := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	edLine := sigLine("witness.example", 0x01020304, ed25519.Sign(ed, text))

	tests := []struct {
		name string
		note string
		want error
	}{
		// Signatures that do not verify.
		{"signature bit flipped", flipSigBit(t, good), checkpoint.ErrSignature},
		{"tree size changed", strings.Replace(string(good), "\n1234\n", "\n1235\n", 1), checkpoint.ErrSignature},
		{"origin changed", strings.Replace(string(good), origin+"\n", origin+"2\n", 1), checkpoint.ErrSignature},
		{"signature over other text", string(text) + "\n" + sigLine(origin, v.KeyID(), sigOver("other text\n")), checkpoint.ErrSignature},
		{"signature by another key under this key's name and ID", string(text) + "\n" + sigLine(origin, v.KeyID(), mustSign(t, other, text)), checkpoint.ErrSignature},
		{"a good and a forged signature by the key", string(good) + sigLine(origin, v.KeyID(), sigOver("x\n")), checkpoint.ErrSignature},
		{"extra line in the text", string(text) + "extra\n\n" + goodLine, checkpoint.ErrSignature},
		{"line missing from the text", strings.Replace(string(good), "\n1234\n", "\n", 1), checkpoint.ErrSignature},
		// No signature by the key.
		{"signed by another key", string(sign(t, c, origin, other)), checkpoint.ErrUnverified},
		{"signed under another name", string(sign(t, c, "other.example/audit", k)), checkpoint.ErrUnverified},
		{"signed by a witness only", string(text) + "\n" + edLine, checkpoint.ErrUnverified},
		{"key ID of another key", string(text) + "\n" + sigLine(origin, otherV.KeyID(), sigOver(string(text))), checkpoint.ErrUnverified},
		// Not a signed note.
		{"empty", "", checkpoint.ErrMalformedNote},
		{"text only", string(text), checkpoint.ErrMalformedNote},
		{"no blank line", string(text) + goodLine, checkpoint.ErrMalformedNote},
		{"blank line, no signature", string(text) + "\n", checkpoint.ErrMalformedNote},
		{"blank line after the signatures", string(good) + "\n", checkpoint.ErrMalformedNote},
		{"no final newline", strings.TrimSuffix(string(good), "\n"), checkpoint.ErrMalformedNote},
		{"hyphen for the em dash", string(text) + "\n-" + strings.TrimPrefix(goodLine, "—"), checkpoint.ErrMalformedNote},
		{"no space after the dash", string(text) + "\n—" + strings.TrimPrefix(goodLine, "— "), checkpoint.ErrMalformedNote},
		{"two spaces after the name", string(text) + "\n" + strings.Replace(goodLine, origin+" ", origin+"  ", 1), checkpoint.ErrMalformedNote},
		{"no signature after the name", string(text) + "\n— " + origin + "\n", checkpoint.ErrMalformedNote},
		{"plus in the key name", string(text) + "\n" + strings.Replace(goodLine, origin, "qiao+audit", 1), checkpoint.ErrMalformedNote},
		{"signature not base64", string(text) + "\n— " + origin + " !!!!\n", checkpoint.ErrMalformedNote},
		{"signature too short", string(text) + "\n" + sigLine(origin, v.KeyID(), nil), checkpoint.ErrMalformedNote},
		{"base64 without padding", string(text) + "\n" + strings.TrimRight(sigLine(origin, v.KeyID(), make([]byte, 72)), "=\n") + "\n", checkpoint.ErrMalformedNote},
		{"space after the signature", string(text) + "\n" + strings.TrimSuffix(goodLine, "\n") + " \n", checkpoint.ErrMalformedNote},
		{"CRLF", strings.ReplaceAll(string(good), "\n", "\r\n"), checkpoint.ErrMalformedNote},
		{"NUL in the text", strings.Replace(string(good), origin, origin+"\x00", 1), checkpoint.ErrMalformedNote},
		{"invalid UTF-8", strings.Replace(string(good), origin+"\n", origin+"\xff\n", 1), checkpoint.ErrMalformedNote},
		{"too many signatures", string(good) + strings.Repeat(edLine, checkpoint.MaxSignatures), checkpoint.ErrMalformedNote},
		{"too large", string(text) + strings.Repeat("x", checkpoint.MaxNoteSize) + "\n\n" + goodLine, checkpoint.ErrMalformedNote},
		// Signed, but not a checkpoint.
		{"signed text that is not a checkpoint", string(mustNote(t, k, "hello\n")), checkpoint.ErrMalformed},
		{"signed checkpoint with a leading zero", string(mustNote(t, k, strings.Replace(string(text), "\n1234\n", "\n01234\n", 1))), checkpoint.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := checkpoint.Open([]byte(tc.note), v)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open = %+v, %v; want %v", got, err, tc.want)
			}
			for _, other := range []error{checkpoint.ErrSignature, checkpoint.ErrUnverified, checkpoint.ErrMalformedNote, checkpoint.ErrMalformed} {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("error %v is also %v", err, other)
				}
			}
		})
	}
}

// TestOpenAccepts: signatures by other keys are ignored, wherever they are.
func TestOpenAccepts(t *testing.T) {
	k := testKey(t, "log key")
	v := testVerifier(t, origin, k)
	c := testCheckpoint()
	c.Extensions = []string{"an extension line"}
	good := sign(t, c, origin, k)
	text, _ := c.Marshal()
	goodLine := string(good[len(text)+1:])
	ed := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	edLine := sigLine("witness.example", 0x01020304, ed25519.Sign(ed, text))
	otherKeyLine := string(sign(t, c, origin, testKey(t, "rotated-out key"))[len(text)+1:])
	for name, n := range map[string]string{
		"witness after":                       string(good) + edLine,
		"witness before":                      string(text) + "\n" + edLine + goodLine,
		"rotated-out key under the same name": string(text) + "\n" + otherKeyLine + goodLine,
		"the same signature twice":            string(good) + goodLine,
		"sixteen signatures":                  string(text) + "\n" + strings.Repeat(edLine, 15) + goodLine,
	} {
		t.Run(name, func(t *testing.T) {
			got, err := checkpoint.Open([]byte(n), v)
			if err != nil {
				t.Fatal(err)
			}
			if got.Size != c.Size || got.Hash != c.Hash || len(got.Extensions) != 1 {
				t.Errorf("Open = %+v", got)
			}
		})
	}
}

func mustSign(t *testing.T, k *sm2.PrivateKey, msg []byte) []byte {
	t.Helper()
	s, err := k.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mustNote signs arbitrary text the way Sign signs checkpoints.
func mustNote(t *testing.T, k *sm2.PrivateKey, text string) []byte {
	t.Helper()
	v := testVerifier(t, origin, k)
	return []byte(text + "\n" + sigLine(origin, v.KeyID(), mustSign(t, k, []byte(text))))
}

// flipSigBit flips a bit inside the DER signature of a one-signature note.
func flipSigBit(t *testing.T, n []byte) string {
	t.Helper()
	i := bytes.LastIndex(n, []byte(" "))
	blob, err := base64.StdEncoding.DecodeString(string(n[i+1 : len(n)-1]))
	if err != nil {
		t.Fatal(err)
	}
	blob[len(blob)-5] ^= 0x10
	return string(n[:i+1]) + base64.StdEncoding.EncodeToString(blob) + "\n"
}

func TestKeyNames(t *testing.T) {
	k := testKey(t, "log key")
	for _, name := range []string{"", "qiao example", "qiao+audit", "tab\there", "nl\n", "nul\x00", "\xff", "nbsp\u00a0", "ideographic\u3000space"} {
		if _, err := checkpoint.NewVerifier(name, k.PublicKey()); !errors.Is(err, checkpoint.ErrKeyName) {
			t.Errorf("NewVerifier(%q) = %v, want ErrKeyName", name, err)
		}
		if _, err := checkpoint.Sign(testCheckpoint(), name, k); !errors.Is(err, checkpoint.ErrKeyName) {
			t.Errorf("Sign(%q) = %v, want ErrKeyName", name, err)
		}
	}
	for _, name := range []string{"qiao.example/audit", "审计.example/日志", "a"} {
		if _, err := checkpoint.NewVerifier(name, k.PublicKey()); err != nil {
			t.Errorf("NewVerifier(%q) = %v", name, err)
		}
	}
	bad := testCheckpoint()
	bad.Origin = ""
	if _, err := checkpoint.Sign(bad, origin, k); !errors.Is(err, checkpoint.ErrMalformed) {
		t.Errorf("Sign of a malformed checkpoint = %v, want ErrMalformed", err)
	}
}

func TestVerifierKey(t *testing.T) {
	k := testKey(t, "log key")
	v := testVerifier(t, origin, k)

	// The key ID, computed here from the definition.
	h := sha256.Sum256(bytes.Join([][]byte{[]byte(origin), {'\n'}, {0xff}, []byte("github.com/qiao-exchange/qiao/sm2-sm3"), k.PublicKey().DER()}, nil))
	if want := binary.BigEndian.Uint32(h[:4]); v.KeyID() != want {
		t.Fatalf("KeyID = %08x, want %08x", v.KeyID(), want)
	}
	vkey := v.String()
	wantPrefix := fmt.Sprintf("%s+%08x+", origin, v.KeyID())
	if !strings.HasPrefix(vkey, wantPrefix) {
		t.Fatalf("verifier key %q does not begin %q", vkey, wantPrefix)
	}
	blob, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(vkey, wantPrefix))
	if want := append([]byte(checkpoint.SignatureType), k.PublicKey().DER()...); !bytes.Equal(blob, want) {
		t.Fatalf("verifier key holds %x, want %x", blob, want)
	}
	back, err := checkpoint.ParseVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if back.Name() != v.Name() || back.KeyID() != v.KeyID() || !back.PublicKey().Equal(v.PublicKey()) || back.String() != vkey {
		t.Fatalf("ParseVerifier(%q) = %v", vkey, back)
	}
	if _, err := checkpoint.Open(sign(t, testCheckpoint(), origin, k), back); err != nil {
		t.Fatal(err)
	}

	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p256DER, _ := x509.MarshalPKIXPublicKey(&p256.PublicKey)
	der := k.PublicKey().DER()
	withType := func(typ string, der []byte) string {
		return base64.StdEncoding.EncodeToString(append([]byte(typ), der...))
	}
	idFor := func(name, typ string, der []byte) string {
		h := sha256.Sum256(append([]byte(name+"\n"+typ), der...))
		return fmt.Sprintf("%x", h[:4])
	}
	id := fmt.Sprintf("%08x", v.KeyID())
	tests := []struct {
		name, vkey string
		want       error
	}{
		{"empty", "", checkpoint.ErrVerifierKey},
		{"name only", origin, checkpoint.ErrVerifierKey},
		{"no key", origin + "+" + id, checkpoint.ErrVerifierKey},
		{"empty name", "+" + id + "+" + withType(checkpoint.SignatureType, der), checkpoint.ErrKeyName},
		{"space in name", "qiao audit+" + id + "+" + withType(checkpoint.SignatureType, der), checkpoint.ErrKeyName},
		{"upper-case key ID", origin + "+" + strings.ToUpper(id) + "+" + withType(checkpoint.SignatureType, der), checkpoint.ErrVerifierKey},
		{"short key ID", origin + "+" + id[:7] + "+" + withType(checkpoint.SignatureType, der), checkpoint.ErrVerifierKey},
		{"wrong key ID", origin + "+00000000+" + withType(checkpoint.SignatureType, der), checkpoint.ErrVerifierKey},
		{"key ID of another name", origin + "+" + idFor("other", checkpoint.SignatureType, der) + "+" + withType(checkpoint.SignatureType, der), checkpoint.ErrVerifierKey},
		{"Ed25519 type", origin + "+" + idFor(origin, "\x01", der) + "+" + withType("\x01", der), checkpoint.ErrVerifierKey},
		{"no type", origin + "+" + idFor(origin, "", der) + "+" + withType("", der), checkpoint.ErrVerifierKey},
		{"key not base64", origin + "+" + id + "+!!!!", checkpoint.ErrVerifierKey},
		{"key in base64url", origin + "+" + id + "+" + base64.URLEncoding.EncodeToString(append([]byte(checkpoint.SignatureType), der...)), checkpoint.ErrVerifierKey},
		{"key with a line break", origin + "+" + id + "+" + withType(checkpoint.SignatureType, der)[:40] + "\n" + withType(checkpoint.SignatureType, der)[40:], checkpoint.ErrVerifierKey},
		{"P-256 key", origin + "+" + idFor(origin, checkpoint.SignatureType, p256DER) + "+" + withType(checkpoint.SignatureType, p256DER), checkpoint.ErrVerifierKey},
		{"bytes after the key", origin + "+" + idFor(origin, checkpoint.SignatureType, append(der, 0)) + "+" + withType(checkpoint.SignatureType, append(der, 0)), checkpoint.ErrVerifierKey},
		{"truncated key", origin + "+" + idFor(origin, checkpoint.SignatureType, der[:len(der)-1]) + "+" + withType(checkpoint.SignatureType, der[:len(der)-1]), checkpoint.ErrVerifierKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := checkpoint.ParseVerifier(tc.vkey); !errors.Is(err, tc.want) {
				t.Errorf("ParseVerifier(%q) = %v, %v; want %v", tc.vkey, got, err, tc.want)
			}
		})
	}
}

// noteVerifier and noteSigner adapt an SM2 key to golang.org/x/mod/sumdb/
// note, an independent implementation of signed notes, which accepts any
// signature algorithm through these interfaces.
type noteVerifier struct{ v *checkpoint.Verifier }

func (n noteVerifier) Name() string    { return n.v.Name() }
func (n noteVerifier) KeyHash() uint32 { return n.v.KeyID() }
func (n noteVerifier) Verify(msg, sig []byte) bool {
	return n.v.PublicKey().Verify(msg, sig) == nil
}

type noteSigner struct {
	noteVerifier
	k *sm2.PrivateKey
}

func (n noteSigner) Sign(msg []byte) ([]byte, error) { return n.k.Sign(msg) }

// TestSumdbNoteInterop: golang.org/x/mod/sumdb/note opens the notes Sign
// writes, and Open opens the notes it writes, witness cosignatures included.
func TestSumdbNoteInterop(t *testing.T) {
	k := testKey(t, "log key")
	v := testVerifier(t, origin, k)
	c := testCheckpoint()
	text, _ := c.Marshal()

	n, err := note.Open(sign(t, c, origin, k), note.VerifierList(noteVerifier{v}))
	if err != nil {
		t.Fatalf("sumdb/note cannot open our note: %v", err)
	}
	if n.Text != string(text) || len(n.Sigs) != 1 || n.Sigs[0].Hash != v.KeyID() {
		t.Fatalf("sumdb/note read %+v", n)
	}

	skey, _, err := note.GenerateKey(rand.Reader, "witness.example")
	if err != nil {
		t.Fatal(err)
	}
	witness, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := note.Sign(&note.Note{Text: string(text)}, witness, noteSigner{noteVerifier{v}, k})
	if err != nil {
		t.Fatal(err)
	}
	got, err := checkpoint.Open(signed, v)
	if err != nil {
		t.Fatalf("cannot open sumdb/note's note %q: %v", signed, err)
	}
	if got.Size != c.Size || got.Hash != c.Hash {
		t.Errorf("Open = %+v", got)
	}
}

// TestTlogTreeFormat: a checkpoint is the generalisation of the Go checksum
// database's tree note; with that origin the two texts agree.
func TestTlogTreeFormat(t *testing.T) {
	h := rootOf("root")
	want := tlog.FormatTree(tlog.Tree{N: 20852163, Hash: tlog.Hash(h)})
	got, err := checkpoint.Checkpoint{Origin: "go.sum database tree", Size: 20852163, Hash: h}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Marshal = %q, tlog.FormatTree = %q", got, want)
	}
}

// TestC2SPExamples reads the examples of the C2SP specifications: the
// checkpoint of tlog-checkpoint, and the signed note of signed-note, whose
// Ed25519 signatures are ignored as those of unknown keys.
func TestC2SPExamples(t *testing.T) {
	cp := "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
	c, err := checkpoint.Parse([]byte(cp))
	if err != nil {
		t.Fatal(err)
	}
	if c.Origin != "example.com/behind-the-sofa" || c.Size != 20852163 || b64(c.Hash) != "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=" {
		t.Errorf("Parse = %+v", c)
	}
	v := testVerifier(t, origin, testKey(t, "log key"))
	for _, n := range []string{
		cp + "\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n",
		"Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n",
	} {
		if _, err := checkpoint.Open([]byte(n), v); !errors.Is(err, checkpoint.ErrUnverified) {
			t.Errorf("Open = %v, want ErrUnverified", err)
		}
	}
	// The same checkpoint, signed by our key beside the example's signature.
	k := testKey(t, "log key")
	ours := sign(t, c, origin, k)
	both := cp + "\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n" + string(ours[len(cp)+1:])
	if got, err := checkpoint.Open([]byte(both), v); err != nil || got.Size != 20852163 {
		t.Errorf("Open = %+v, %v", got, err)
	}
}
