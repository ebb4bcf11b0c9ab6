package sm4

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// GB/T 32907-2016 (SM4), Annex A: example 1 encrypts the plaintext
// 0123456789abcdeffedcba9876543210 under the same value as key once; example 2
// encrypts it 1,000,000 times.
const (
	gbtKey       = "0123456789abcdeffedcba9876543210"
	gbtOnce      = "681edf34d206965e86b3e94f536e4246"
	gbtMillion   = "595298c7c6fd271f0402f804c33d3f66"
	gbtRoundsBig = 1000000
)

func TestGBT32907(t *testing.T) {
	b, err := NewBlock(unhex(t, gbtKey))
	if err != nil {
		t.Fatal(err)
	}
	if b.BlockSize() != BlockSize || BlockSize != 16 {
		t.Fatalf("block size %d", b.BlockSize())
	}
	buf := unhex(t, gbtKey)
	b.Encrypt(buf, buf)
	if got := hex.EncodeToString(buf); got != gbtOnce {
		t.Fatalf("A.1: got %s, want %s", got, gbtOnce)
	}
	b.Decrypt(buf, buf)
	if got := hex.EncodeToString(buf); got != gbtKey {
		t.Fatalf("A.1 decrypted: %s", got)
	}

	for range gbtRoundsBig {
		b.Encrypt(buf, buf)
	}
	if got := hex.EncodeToString(buf); got != gbtMillion {
		t.Fatalf("A.2 (1,000,000 encryptions): got %s, want %s", got, gbtMillion)
	}
	for range gbtRoundsBig {
		b.Decrypt(buf, buf)
	}
	if got := hex.EncodeToString(buf); got != gbtKey {
		t.Fatalf("A.2 decrypted 1,000,000 times: %s", got)
	}
}

// RFC 8998 (ShangMi cipher suites for TLS 1.3), Appendix A.1: SM4-GCM with a
// 12-byte IV and a 16-byte tag. GB/T 38636-2020 defines the mode but gives no
// SM4-GCM example; this is the published known answer.
var rfc8998 = struct {
	key, iv, aad, plaintext, ciphertext, tag string
}{
	key:       "0123456789ABCDEFFEDCBA9876543210",
	iv:        "00001234567800000000ABCD",
	aad:       "FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2",
	plaintext: "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDDEEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
	ciphertext: "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735" +
		"D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D",
	tag: "83DE3541E4C2B58177E065A9BF7B62EC",
}

func TestRFC8998GCM(t *testing.T) {
	a, err := NewGCM(unhex(t, rfc8998.key))
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, rfc8998.ciphertext+rfc8998.tag)
	got, err := a.SealWithNonce(unhex(t, rfc8998.iv), unhex(t, rfc8998.plaintext), unhex(t, rfc8998.aad))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("SM4-GCM:\n got %X\nwant %X", got, want)
	}
	pt, err := a.Open(unhex(t, rfc8998.iv), want, unhex(t, rfc8998.aad))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pt, unhex(t, rfc8998.plaintext)) {
		t.Fatal("opened something else")
	}
}

func TestSealOpen(t *testing.T) {
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != KeySize {
		t.Fatalf("key of %d bytes", len(key))
	}
	a, err := NewGCM(key)
	if err != nil {
		t.Fatal(err)
	}
	aad := []byte("envelope header")
	for _, n := range []int{0, 1, 15, 16, 17, 1000, 1 << 20} {
		pt := bytes.Repeat([]byte{0x5a}, n)
		nonce, ct, err := a.Seal(pt, aad)
		if err != nil {
			t.Fatal(err)
		}
		if len(nonce) != NonceSize || len(ct) != n+TagSize {
			t.Fatalf("%d bytes: nonce %d, ciphertext %d", n, len(nonce), len(ct))
		}
		got, err := a.Open(nonce, ct, aad)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("%d bytes: opened something else", n)
		}
		if n >= BlockSize && bytes.Equal(ct[:n], pt) {
			t.Fatalf("%d bytes: ciphertext equals plaintext", n)
		}
	}

	n1, c1, _ := a.Seal([]byte("same"), nil)
	n2, c2, _ := a.Seal([]byte("same"), nil)
	if bytes.Equal(n1, n2) || bytes.Equal(c1, c2) {
		t.Fatal("two seals of the same message share a nonce or a ciphertext")
	}
	k2, _ := NewKey()
	if bytes.Equal(key, k2) {
		t.Fatal("NewKey returned the same key twice")
	}
}

func TestOpenRefuses(t *testing.T) {
	a, err := NewGCM(unhex(t, rfc8998.key))
	if err != nil {
		t.Fatal(err)
	}
	iv, aad := unhex(t, rfc8998.iv), unhex(t, rfc8998.aad)
	ct := unhex(t, rfc8998.ciphertext+rfc8998.tag)
	for i := range len(ct) * 8 {
		bad := bytes.Clone(ct)
		bad[i/8] ^= 1 << (i % 8)
		if _, err := a.Open(iv, bad, aad); !errors.Is(err, ErrOpen) {
			t.Fatalf("ciphertext bit %d flipped: got %v, want ErrOpen", i, err)
		}
	}
	for i := range len(iv) * 8 {
		bad := bytes.Clone(iv)
		bad[i/8] ^= 1 << (i % 8)
		if _, err := a.Open(bad, ct, aad); !errors.Is(err, ErrOpen) {
			t.Fatalf("nonce bit %d flipped: got %v, want ErrOpen", i, err)
		}
	}
	for i := range len(aad) * 8 {
		bad := bytes.Clone(aad)
		bad[i/8] ^= 1 << (i % 8)
		if _, err := a.Open(iv, ct, bad); !errors.Is(err, ErrOpen) {
			t.Fatalf("associated data bit %d flipped: got %v, want ErrOpen", i, err)
		}
	}
	for n := range len(ct) {
		if _, err := a.Open(iv, ct[:n], aad); !errors.Is(err, ErrOpen) {
			t.Fatalf("truncated to %d bytes: got %v, want ErrOpen", n, err)
		}
	}
	if _, err := a.Open(iv, append(bytes.Clone(ct), 0), aad); !errors.Is(err, ErrOpen) {
		t.Fatalf("trailing byte: got %v, want ErrOpen", err)
	}
	if _, err := a.Open(iv, ct, nil); !errors.Is(err, ErrOpen) {
		t.Fatalf("missing associated data: got %v, want ErrOpen", err)
	}
	for _, nonce := range [][]byte{nil, iv[:11], append(bytes.Clone(iv), 0)} {
		if _, err := a.Open(nonce, ct, aad); !errors.Is(err, ErrOpen) {
			t.Fatalf("%d-byte nonce: got %v, want ErrOpen", len(nonce), err)
		}
	}
	other, err := NewGCM(bytes.Repeat([]byte{1}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Open(iv, ct, aad); !errors.Is(err, ErrOpen) {
		t.Fatalf("wrong key: got %v, want ErrOpen", err)
	}
}

func TestBadSizes(t *testing.T) {
	for _, n := range []int{0, 15, 17, 24, 32} {
		if _, err := NewBlock(make([]byte, n)); err == nil {
			t.Fatalf("NewBlock accepted a %d-byte key", n)
		}
		if _, err := NewGCM(make([]byte, n)); err == nil {
			t.Fatalf("NewGCM accepted a %d-byte key", n)
		}
	}
	a, err := NewGCM(make([]byte, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 8, 11, 13, 16} {
		if _, err := a.SealWithNonce(make([]byte, n), []byte("x"), nil); err == nil {
			t.Fatalf("SealWithNonce accepted a %d-byte nonce", n)
		}
	}
}
