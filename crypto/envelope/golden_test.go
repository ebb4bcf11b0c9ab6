package envelope

// The documented example: an envelope sealed once with the fixed keys of
// docs/envelope.md and kept in testdata, so that a change to the format shows
// as a failure here, and so that implementations in other languages have a
// real envelope to open. OpenSSL 3, a second SM2 implementation, checks its
// signature and decrypts its data key; the tests need the openssl command
// (CI installs it) and fail without it rather than pass silently.

import (
	"bytes"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/internal/openssltest"
)

var update = flag.Bool("update", false, "rewrite testdata/example.envelope")

const goldenFile = "testdata/example.envelope"

// exampleAADHex is the header encoding of the example (docs/envelope.md).
const exampleAADHex = "00000001" +
	"00000020" + "3333306636396261326365343730313663636462623763636536363037346265" +
	"00000020" + "3031313532363136386530666332656566303062333439326665376561383131" +
	"0000000d" + "706f6c6963652e646561746873" +
	"0000000d" + "32303236313132352d30303031" +
	"000000006b073558" + "00000000" +
	"00000014" + "6170706c69636174696f6e2f782d6e646a736f6e"

func TestGolden(t *testing.T) {
	k := exampleKeys(t)
	if *update {
		if err := os.WriteFile(goldenFile, mustMarshal(t, k.seal(t, examplePlaintext)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wire, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	ad, pt, err := k.open(wire)
	if err != nil {
		t.Fatal(err)
	}
	if ad != exampleAD || !bytes.Equal(pt, examplePlaintext) {
		t.Fatalf("opened to %+v %q", ad, pt)
	}
	env, err := Parse(wire)
	if err != nil {
		t.Fatal(err)
	}
	c := content(t, env)
	if got := hex.EncodeToString(headerAAD(c)); got != exampleAADHex {
		t.Fatalf("header encoding\n got %s\nwant %s", got, exampleAADHex)
	}
}

// The example keys' scalars and key IDs, as docs/envelope.md lists them;
// the key IDs were also computed with OpenSSL (SM3 over the public key DER).
func TestExampleKeys(t *testing.T) {
	k := exampleKeys(t)
	for _, tt := range []struct {
		name          string
		key           *sm2.PrivateKey
		scalar, keyID string
	}{
		{"sender", k.sender, "2a2da4295e910ce4c3efacd27b7f2c897ddf2fe00d77317590853b265ae9bd99", "330f69ba2ce47016ccdbb7cce66074be"},
		{"recipient", k.recipient, "c29c9563e6a05bbbeac1a512cc0ca5f4a1c166511df01cd9c035fa1dca8ec5b3", "011526168e0fc2eef00b3492fe7ea811"},
	} {
		if got := hex.EncodeToString(tt.key.Scalar()); got != tt.scalar {
			t.Errorf("%s scalar %s, want %s", tt.name, got, tt.scalar)
		}
		if got := tt.key.PublicKey().KeyID(); got != tt.keyID {
			t.Errorf("%s key ID %s, want %s", tt.name, got, tt.keyID)
		}
	}
}

// OpenSSL verifies the signature over the content bytes exactly as they
// travel, and decrypts the data key to the same 16 bytes, which open the
// payload.
func TestGoldenWithOpenSSL(t *testing.T) {
	k := exampleKeys(t)
	wire, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	env, err := Parse(wire)
	if err != nil {
		t.Fatal(err)
	}
	c := content(t, env)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pub := write("sender.pub.pem", k.sender.PublicKey().MarshalPEM())
	pemKey, err := k.recipient.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	priv := write("recipient.pem", pemKey)

	openssltest.Run(t, nil, "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-digest", "sm3",
		"-pkeyopt", "distid:1234567812345678", "-in", write("content", env.Content), "-sigfile", write("sig", env.Signature))
	flipped := bytes.Clone(env.Content)
	flipped[len(flipped)-1] ^= 1
	if _, err := openssltest.Try(t, nil, "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-digest", "sm3",
		"-pkeyopt", "distid:1234567812345678", "-in", write("flipped", flipped), "-sigfile", write("sig", env.Signature)); err == nil {
		t.Fatal("openssl verifies the signature over altered content")
	}

	key := openssltest.Run(t, nil, "pkeyutl", "-decrypt", "-inkey", priv, "-in", write("key.ct", c.EncryptedKey))
	pt, err := decryptPayload(c, key)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pt, examplePlaintext) {
		t.Fatalf("payload %q", pt)
	}
}
