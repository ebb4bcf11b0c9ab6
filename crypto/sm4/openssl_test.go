package sm4

// SM4 against OpenSSL 3. `openssl enc` has no AEAD mode, and OpenSSL 3.0 (the
// version CI installs) has no SM4-GCM at all, GMAC over SM4 neither, so the
// GCM tag cannot be checked against it; TestRFC8998GCM checks the tag against
// the published vector.
// What OpenSSL can check is the block cipher (sm4-ecb) and the GCM ciphertext
// body: GCM encrypts with CTR mode from inc32(J0), that is from the counter
// block nonce || 00000002, which `openssl enc -sm4-ctr` reproduces for
// messages under 2^32 blocks. These tests need the openssl command: CI
// installs it, and without it they fail rather than pass silently.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/qiao-exchange/qiao/internal/openssltest"
)

func TestBlockOpenSSL(t *testing.T) {
	got := openssltest.Run(t, unhex(t, gbtKey), "enc", "-sm4-ecb", "-nopad", "-K", gbtKey)
	if hex.EncodeToString(got) != gbtOnce {
		t.Fatalf("openssl, GB/T 32907 A.1: %x", got)
	}
	for range 10 {
		key := make([]byte, KeySize)
		rand.Read(key)
		data := make([]byte, 64*BlockSize)
		rand.Read(data)
		b, err := NewBlock(key)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]byte, len(data))
		for i := 0; i < len(data); i += BlockSize {
			b.Encrypt(want[i:], data[i:])
		}
		got := openssltest.Run(t, data, "enc", "-sm4-ecb", "-nopad", "-K", hex.EncodeToString(key))
		if !bytes.Equal(got, want) {
			t.Fatalf("key %x: openssl sm4-ecb differs", key)
		}
	}
}

func TestGCMBodyOpenSSL(t *testing.T) {
	for _, n := range []int{1, 15, 16, 17, 64, 1000, 1 << 20} {
		key, err := NewKey()
		if err != nil {
			t.Fatal(err)
		}
		a, err := NewGCM(key)
		if err != nil {
			t.Fatal(err)
		}
		pt := make([]byte, n)
		rand.Read(pt)
		nonce, ct, err := a.Seal(pt, []byte("associated data"))
		if err != nil {
			t.Fatal(err)
		}
		counter := hex.EncodeToString(nonce) + "00000002"
		got := openssltest.Run(t, pt, "enc", "-sm4-ctr", "-K", hex.EncodeToString(key), "-iv", counter)
		if !bytes.Equal(got, ct[:n]) {
			t.Fatalf("%d bytes: GCM body differs from openssl sm4-ctr from nonce||00000002", n)
		}
	}
	// And for the RFC 8998 example.
	got := openssltest.Run(t, unhex(t, rfc8998.plaintext), "enc", "-sm4-ctr", "-K", rfc8998.key, "-iv", rfc8998.iv+"00000002")
	if !bytes.Equal(got, unhex(t, rfc8998.ciphertext)) {
		t.Fatalf("RFC 8998 A.1 body: openssl %X", got)
	}
}
