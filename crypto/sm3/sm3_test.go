package sm3

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
)

// Examples 1 and 2 of GB/T 32905-2016 (SM3), Annex A: a one-block and a
// two-block message.
var gbtVectors = []struct {
	name, msg, want string
}{
	{"A.1 abc", "abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"},
	{"A.2 abcd x16", strings.Repeat("abcd", 16), "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"},
}

func TestGBT32905(t *testing.T) {
	for _, v := range gbtVectors {
		t.Run(v.name, func(t *testing.T) {
			if got := SumHex([]byte(v.msg)); got != v.want {
				t.Fatalf("SumHex = %s, want %s", got, v.want)
			}
			d := Sum([]byte(v.msg))
			if hex.EncodeToString(d[:]) != v.want {
				t.Fatalf("Sum = %x", d)
			}
			// Streaming, one byte at a time, crossing the block boundary.
			h := New()
			for i := range len(v.msg) {
				h.Write([]byte{v.msg[i]})
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != v.want {
				t.Fatalf("New().Write byte by byte = %s", got)
			}
		})
	}
}

// HMAC-SM3 examples of GM/T 0042-2015 (certificate-authentication
// cryptographic protocols), Annex D.3, as OpenSSL's
// test/recipes/30-test_evp_data/evpmac_sm3.txt carries them. The second is
// also Intel ipsec-mb's test/kat-app/hmac_sm3.json.c. Keys longer than the
// 64-byte block are not among them: TestHMACOpenSSL covers those.
var hmacVectors = []struct {
	name, key, msg, want string
}{
	{
		"D.3 32-byte key",
		"0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
		hex.EncodeToString([]byte("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopqabcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
		"ca05e144ed05d1857840d1f318a4a8669e559fc8391f414485bfdf7bb408963a",
	},
	{
		"D.3 37-byte key",
		"0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425",
		strings.Repeat("cd", 50),
		"220bf579ded555393f0159f66c99877822a3ecf610d1552154b41d44b94db3ae",
	},
	{
		"D.3 Hi There",
		strings.Repeat("0b", 32),
		hex.EncodeToString([]byte("Hi There")),
		"c0ba18c68b90c88bc07de794bfc7d2c8d19ec31ed8773bc2b390c9604e0be11e",
	},
	{
		"D.3 Jefe",
		hex.EncodeToString([]byte("Jefe Jeferson Jr")),
		hex.EncodeToString([]byte("what do ya want for nothing?")),
		"ce791a34c59adef472997a249600f3f244d59e875be04055ba2ae12fc845e78c",
	},
}

func TestHMACGMT0042(t *testing.T) {
	for _, v := range hmacVectors {
		t.Run(v.name, func(t *testing.T) {
			key, _ := hex.DecodeString(v.key)
			msg, _ := hex.DecodeString(v.msg)
			if got := hex.EncodeToString(HMAC(key, msg)); got != v.want {
				t.Fatalf("HMAC = %s, want %s", got, v.want)
			}
			m := NewHMAC(key)
			m.Write(msg[:len(msg)/2])
			m.Write(msg[len(msg)/2:])
			if got := hex.EncodeToString(m.Sum(nil)); got != v.want {
				t.Fatalf("NewHMAC = %s, want %s", got, v.want)
			}
		})
	}
}

func TestSizes(t *testing.T) {
	if Size != 32 || BlockSize != 64 || New().Size() != Size || New().BlockSize() != BlockSize {
		t.Fatalf("Size %d BlockSize %d", Size, BlockSize)
	}
	if NewHMAC([]byte("k")).Size() != Size {
		t.Fatal("HMAC size")
	}
}

func TestStreamingMatchesSum(t *testing.T) {
	data := make([]byte, 3*BlockSize+17)
	rand.Read(data)
	for split := range len(data) + 1 {
		h := New()
		h.Write(data[:split])
		h.Write(data[split:])
		d := Sum(data)
		if !bytes.Equal(h.Sum(nil), d[:]) {
			t.Fatalf("split at %d differs", split)
		}
	}
}
