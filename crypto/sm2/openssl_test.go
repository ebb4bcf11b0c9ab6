package sm2

// Interoperability with OpenSSL 3, a second SM2 implementation written in C
// that operators and auditors check our keys and signatures with. These tests
// need the openssl command: CI installs it, and without it they fail rather
// than pass silently.

import (
	"bytes"
	"crypto/rand"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"github.com/qiao-exchange/qiao/internal/openssltest"
)

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpenSSLReadsOurKeys(t *testing.T) {
	dir := t.TempDir()
	for range 5 {
		k, err := GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		p, err := k.MarshalPEM()
		if err != nil {
			t.Fatal(err)
		}
		keyFile := writeFile(t, dir, "key.pem", p)
		pubFile := writeFile(t, dir, "pub.pem", k.PublicKey().MarshalPEM())

		text := openssltest.Run(t, nil, "pkey", "-in", keyFile, "-noout", "-text")
		if !bytes.Contains(text, []byte("ASN1 OID: SM2")) {
			t.Fatalf("openssl does not see an SM2 key:\n%s", text)
		}
		if got := openssltest.Run(t, nil, "pkey", "-in", keyFile, "-pubout"); !bytes.Equal(got, k.PublicKey().MarshalPEM()) {
			t.Fatalf("openssl derives another public key PEM:\n%s\nours:\n%s", got, k.PublicKey().MarshalPEM())
		}
		if got := openssltest.Run(t, nil, "pkey", "-pubin", "-in", pubFile, "-pubout"); !bytes.Equal(got, k.PublicKey().MarshalPEM()) {
			t.Fatalf("openssl re-encodes our public key differently:\n%s", got)
		}
	}
}

func TestWeReadOpenSSLKeys(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "genpkey.pem")
	openssltest.Run(t, nil, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", base)
	sec1DER := openssltest.Run(t, nil, "ec", "-in", base, "-outform", "DER")

	keys := map[string][]byte{
		// PKCS#8 "PRIVATE KEY".
		"genpkey EC SM2": readFile(t, base),
		"genpkey SM2":    openssltest.Run(t, nil, "genpkey", "-algorithm", "SM2"),
		// OpenSSL 3.0 writes an "SM2 PARAMETERS" block and then PKCS#8, not
		// SEC1, for ecparam -genkey.
		"ecparam -genkey": openssltest.Run(t, nil, "ecparam", "-genkey", "-name", "SM2"),
		// SEC1: openssl ec labels it "SM2 PRIVATE KEY"; other tools label
		// the same DER "EC PRIVATE KEY".
		"ec (SM2 PRIVATE KEY)": openssltest.Run(t, nil, "ec", "-in", base),
		"ec DER as EC PRIVATE KEY": pem.EncodeToMemory(&pem.Block{
			Type: "EC PRIVATE KEY", Bytes: sec1DER,
		}),
	}
	for name, p := range keys {
		t.Run(name, func(t *testing.T) {
			k, err := ParsePrivateKeyPEM(p)
			if err != nil {
				t.Fatalf("%v\n%s", err, p)
			}
			keyFile := writeFile(t, dir, "k.pem", p)
			pubPEM := openssltest.Run(t, nil, "pkey", "-in", keyFile, "-pubout")
			if !bytes.Equal(pubPEM, k.PublicKey().MarshalPEM()) {
				t.Fatalf("public key differs:\nopenssl %s\nours    %s", pubPEM, k.PublicKey().MarshalPEM())
			}
			pub, err := ParsePublicKeyPEM(pubPEM)
			if err != nil || !pub.Equal(k.PublicKey()) {
				t.Fatalf("openssl's public key PEM: %v", err)
			}
		})
	}
}

// pkeyutl's SM2 signing: the raw message, SM3, the user ID as distid.
func signArgs(key, uid string) []string {
	return []string{"pkeyutl", "-sign", "-inkey", key, "-rawin", "-digest", "sm3", "-pkeyopt", "distid:" + uid}
}

func verifyArgs(pub, uid, sig string) []string {
	return []string{"pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-digest", "sm3", "-pkeyopt", "distid:" + uid, "-sigfile", sig}
}

func TestOpenSSLVerifiesOurSignatures(t *testing.T) {
	dir := t.TempDir()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pub := writeFile(t, dir, "pub.pem", k.PublicKey().MarshalPEM())
	for _, n := range []int{0, 1, 64, 1000, 1 << 16} {
		msg := make([]byte, n)
		rand.Read(msg)
		sig, err := k.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		sigFile := writeFile(t, dir, "sig", sig)
		out := openssltest.Run(t, msg, verifyArgs(pub, DefaultUID, sigFile)...)
		if !bytes.Contains(out, []byte("Signature Verified Successfully")) {
			t.Fatalf("%d bytes: openssl says %q", n, out)
		}
		if _, err := openssltest.Try(t, append(bytes.Clone(msg), 'x'), verifyArgs(pub, DefaultUID, sigFile)...); err == nil {
			t.Fatalf("%d bytes: openssl verified an altered message", n)
		}
		if _, err := openssltest.Try(t, msg, verifyArgs(pub, "ALICE123@YAHOO.COM", sigFile)...); err == nil {
			t.Fatalf("%d bytes: openssl verified with another user ID", n)
		}
	}

	uid := "ALICE123@YAHOO.COM"
	msg := []byte("signed as Alice")
	sig, err := k.SignUID(nil, []byte(uid), msg)
	if err != nil {
		t.Fatal(err)
	}
	openssltest.Run(t, msg, verifyArgs(pub, uid, writeFile(t, dir, "sig", sig))...)

	// The GB/T 32918.5 Annex A signature verifies in OpenSSL too.
	std := writeFile(t, dir, "std.pem", stdKey(t).PublicKey().MarshalPEM())
	openssltest.Run(t, []byte(stdSignMsg), verifyArgs(std, DefaultUID, writeFile(t, dir, "std.sig", derSignature(t, stdR, stdS)))...)
}

func TestWeVerifyOpenSSLSignatures(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.pem")
	openssltest.Run(t, nil, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", keyFile)
	k, err := ParsePrivateKeyPEM(readFile(t, keyFile))
	if err != nil {
		t.Fatal(err)
	}
	pub := k.PublicKey()
	for _, n := range []int{0, 1, 64, 1000, 1 << 16} {
		msg := make([]byte, n)
		rand.Read(msg)
		sig := openssltest.Run(t, msg, signArgs(keyFile, DefaultUID)...)
		if err := pub.Verify(msg, sig); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if err := pub.VerifyUID([]byte("ALICE123@YAHOO.COM"), msg, sig); !errors.Is(err, ErrVerify) {
			t.Fatalf("%d bytes, other user ID: got %v, want ErrVerify", n, err)
		}
	}
	uid := "procuratorate.310000"
	msg := []byte("signed with a user ID of our own")
	sig := openssltest.Run(t, msg, signArgs(keyFile, uid)...)
	if err := pub.VerifyUID([]byte(uid), msg, sig); err != nil {
		t.Fatal(err)
	}
	if err := pub.Verify(msg, sig); !errors.Is(err, ErrVerify) {
		t.Fatalf("default user ID: got %v, want ErrVerify", err)
	}
}

// OpenSSL 3.0's pkeyutl -encrypt on an SM2 key uses SM3 and writes the
// GM/T 0009 ASN.1 SEQUENCE { x1, y1, C3, C2 }: the same encoding as ours.
func TestEncryptionWithOpenSSL(t *testing.T) {
	dir := t.TempDir()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	p, err := k.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := writeFile(t, dir, "key.pem", p)
	pubFile := writeFile(t, dir, "pub.pem", k.PublicKey().MarshalPEM())
	for _, n := range []int{2, 16, 32, 33, 1000, 1 << 16} {
		msg := make([]byte, n)
		rand.Read(msg)

		ct, err := k.PublicKey().Encrypt(msg)
		if err != nil {
			t.Fatal(err)
		}
		pt := openssltest.Run(t, nil, "pkeyutl", "-decrypt", "-inkey", keyFile, "-in", writeFile(t, dir, "ct", ct))
		if !bytes.Equal(pt, msg) {
			t.Fatalf("%d bytes: openssl decrypted something else", n)
		}

		oct := openssltest.Run(t, msg, "pkeyutl", "-encrypt", "-pubin", "-inkey", pubFile)
		var c struct {
			X, Y   *big.Int
			C3, C2 []byte
		}
		if rest, err := asn1.Unmarshal(oct, &c); err != nil || len(rest) != 0 || len(c.C3) != 32 || len(c.C2) != n {
			t.Fatalf("%d bytes: openssl's ciphertext is not ASN.1 C1C3C2: %v", n, err)
		}
		pt, err = k.Decrypt(oct)
		if err != nil {
			t.Fatalf("%d bytes: decrypting openssl's ciphertext: %v", n, err)
		}
		if !bytes.Equal(pt, msg) {
			t.Fatalf("%d bytes: decrypted something else", n)
		}
	}

	// The GB/T 32918.5 Annex C ciphertext decrypts in OpenSSL too.
	sp, err := stdKey(t).MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	pt := openssltest.Run(t, nil, "pkeyutl", "-decrypt", "-inkey", writeFile(t, dir, "std.pem", sp), "-in", writeFile(t, dir, "std.ct", unhex(t, stdCiphertext)))
	if string(pt) != stdEncMsg {
		t.Fatalf("openssl decrypts the standard's ciphertext to %q", pt)
	}
}
