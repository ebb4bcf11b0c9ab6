package sm4

// SM4-GCM beside AES-128-GCM (the standard library's, with AES-NI where the
// CPU has it) on the same 1 MiB, so that a ratio can be read:
//
//	go test -run '^$' -bench . ./crypto/sm4/

import (
	"crypto/aes"
	"crypto/cipher"
	"testing"
)

var benchData = make([]byte, 1<<20)

func BenchmarkSM4GCMSeal1MiB(b *testing.B) {
	a, err := NewGCM(make([]byte, KeySize))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchData)))
	for b.Loop() {
		if _, _, err := a.Seal(benchData, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAESGCMSeal1MiB(b *testing.B) {
	g := aesGCM(b)
	nonce := make([]byte, g.NonceSize())
	b.SetBytes(int64(len(benchData)))
	for b.Loop() {
		g.Seal(nil, nonce, benchData, nil)
	}
}

func BenchmarkSM4GCMOpen1MiB(b *testing.B) {
	a, err := NewGCM(make([]byte, KeySize))
	if err != nil {
		b.Fatal(err)
	}
	nonce, ct, err := a.Seal(benchData, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchData)))
	for b.Loop() {
		if _, err := a.Open(nonce, ct, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAESGCMOpen1MiB(b *testing.B) {
	g := aesGCM(b)
	nonce := make([]byte, g.NonceSize())
	ct := g.Seal(nil, nonce, benchData, nil)
	b.SetBytes(int64(len(benchData)))
	for b.Loop() {
		if _, err := g.Open(nil, nonce, ct, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func aesGCM(b *testing.B) cipher.AEAD {
	blk, err := aes.NewCipher(make([]byte, 16))
	if err != nil {
		b.Fatal(err)
	}
	g, err := cipher.NewGCM(blk)
	if err != nil {
		b.Fatal(err)
	}
	return g
}
