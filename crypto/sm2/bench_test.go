package sm2

// Each SM2 figure has the standard library's P-256 figure for the same work
// beside it, so that a ratio can be read on a noisy machine:
//
//	go test -run '^$' -bench . ./crypto/sm2/
//
// Signing and verifying include hashing the 256-byte message (SM3 over ZA and
// the message for SM2, SHA-256 for ECDSA). SM2 encryption of a 16-byte key
// costs one fixed-base and one variable-base scalar multiplication, as does an
// ephemeral P-256 ECDH (key generation and agreement); SM2 decryption costs one
// variable-base multiplication, as does a static P-256 ECDH.

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

var benchMsg = make([]byte, 256)

func BenchmarkSM2Sign(b *testing.B) {
	k, err := GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := k.Sign(benchMsg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkECDSAP256Sign(b *testing.B) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		d := sha256.Sum256(benchMsg)
		if _, err := ecdsa.SignASN1(rand.Reader, k, d[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSM2Verify(b *testing.B) {
	k, err := GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	sig, err := k.Sign(benchMsg)
	if err != nil {
		b.Fatal(err)
	}
	pub := k.PublicKey()
	for b.Loop() {
		if err := pub.Verify(benchMsg, sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkECDSAP256Verify(b *testing.B) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	d := sha256.Sum256(benchMsg)
	sig, err := ecdsa.SignASN1(rand.Reader, k, d[:])
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		d := sha256.Sum256(benchMsg)
		if !ecdsa.VerifyASN1(&k.PublicKey, d[:], sig) {
			b.Fatal("ECDSA verification failed")
		}
	}
}

func BenchmarkSM2Encrypt16B(b *testing.B) {
	k, err := GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	pub, key := k.PublicKey(), make([]byte, 16)
	for b.Loop() {
		if _, err := pub.Encrypt(key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkP256ECDHEphemeral(b *testing.B) {
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		e, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.ECDH(peer.PublicKey()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSM2Decrypt16B(b *testing.B) {
	k, err := GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	ct, err := k.PublicKey().Encrypt(make([]byte, 16))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := k.Decrypt(ct); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkP256ECDH(b *testing.B) {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := k.ECDH(peer.PublicKey()); err != nil {
			b.Fatal(err)
		}
	}
}
