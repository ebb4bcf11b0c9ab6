package fieldcrypt

// Tokens and sealed values of an 18-character ID number, each beside the
// same operation with the standard library's primitives (HMAC-SHA256,
// AES-128-GCM) so that a ratio can be read on a noisy machine:
//
//	go test -run '^$' -bench . ./crypto/fieldcrypt/

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

const benchID = "11010519491231002X"

var benchAAD = []byte("medins.settlements|2024-11-25T19:22:00Z-0001|1000|id_number")

func BenchmarkToken(b *testing.B) {
	k := testKeys(b)
	for b.Loop() {
		k.Token(DomainIDNumber, benchID)
	}
}

func BenchmarkTokenParallel(b *testing.B) {
	k := testKeys(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k.Token(DomainIDNumber, benchID)
		}
	})
}

// BenchmarkHMACSHA256Reference computes the same construction with
// HMAC-SHA256, reusing the keyed hash as Token does.
func BenchmarkHMACSHA256Reference(b *testing.B) {
	m := hmac.New(sha256.New, make([]byte, 32))
	in := append([]byte(DomainIDNumber+"\x00"), benchID...)
	var sum [sha256.Size]byte
	var out [2 * sha256.Size]byte
	for b.Loop() {
		m.Reset()
		m.Write(in)
		hex.Encode(out[:], m.Sum(sum[:0]))
		_ = string(out[:])
	}
}

func BenchmarkSeal(b *testing.B) {
	k := testKeys(b)
	pt := []byte(benchID)
	for b.Loop() {
		if _, err := k.Seal(pt, benchAAD); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	k := testKeys(b)
	sealed, err := k.Seal([]byte(benchID), benchAAD)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := k.Open(sealed, benchAAD); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAESGCMSealReference seals the same value the same way (random
// nonce, nonce || ciphertext) with AES-128-GCM.
func BenchmarkAESGCMSealReference(b *testing.B) {
	block, err := aes.NewCipher(make([]byte, 16))
	if err != nil {
		b.Fatal(err)
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		b.Fatal(err)
	}
	pt := []byte(benchID)
	for b.Loop() {
		var nonce [12]byte
		rand.Read(nonce[:])
		out := make([]byte, 12, 12+len(pt)+16)
		copy(out, nonce[:])
		g.Seal(out, nonce[:], pt, benchAAD)
	}
}
