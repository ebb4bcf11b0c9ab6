package reqsig_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qiao-exchange/qiao/crypto/reqsig"
)

// BenchmarkRequestSignature measures signing and verifying a request with a
// 1 KiB body (verification includes the body's SM3 and the in-memory nonce
// store), beside ECDSA P-256 with SHA-256 signing and verifying the same
// canonical string: the reference for a ratio on a noisy machine.
func BenchmarkRequestSignature(b *testing.B) {
	e := newEnv(b, 0)
	body := make([]byte, 1024)
	const path = "/qiao.exchange.v1.Datasets/PushBatch"

	b.Run("sign", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.signer.Sign(reqsig.GRPCMethod, path, body); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("verify", func(b *testing.B) {
		// Each verification needs a fresh nonce: sign a batch ahead, and
		// start a new store when it is used up, off the clock.
		reqs := make([]reqsig.Request, 2048)
		for i := range reqs {
			reqs[i] = e.request(b, reqsig.GRPCMethod, path, body)
		}
		ctx := context.Background()
		var v *reqsig.Verifier
		next := len(reqs)
		b.ResetTimer()
		for range b.N {
			if next == len(reqs) {
				b.StopTimer()
				v, _ = reqsig.NewVerifier(reqsig.VerifierConfig{Keys: e.keys, Nonces: reqsig.NewMemoryNonceStore(0, e.clock.Now), Now: e.clock.Now})
				next = 0
				b.StartTimer()
			}
			if _, err := v.Verify(ctx, reqs[next]); err != nil {
				b.Fatal(err)
			}
			next++
		}
	})

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte(reqsig.CanonicalString(e.request(b, reqsig.GRPCMethod, path, body).Headers, reqsig.GRPCMethod, path))
	b.Run("reference-ecdsa-p256-sign", func(b *testing.B) {
		for b.Loop() {
			d := sha256.Sum256(msg)
			if _, err := ecdsa.SignASN1(rand.Reader, key, d[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	d := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, key, d[:])
	if err != nil {
		b.Fatal(err)
	}
	b.Run("reference-ecdsa-p256-verify", func(b *testing.B) {
		for b.Loop() {
			d := sha256.Sum256(msg)
			if !ecdsa.VerifyASN1(&key.PublicKey, d[:], sig) {
				b.Fatal("ECDSA verify failed")
			}
		}
	})
}

// BenchmarkMemoryNonceStore measures Remember with fresh nonces, from one
// goroutine and from all of them at once.
func BenchmarkMemoryNonceStore(b *testing.B) {
	now := func() time.Time { return exampleTime }
	until := exampleTime.Add(reqsig.NonceLifetime)
	ctx := context.Background()
	nonces := make([]string, 1<<20)
	for i := range nonces {
		nonces[i] = fmt.Sprintf("%022d", i)
	}
	b.Run("serial", func(b *testing.B) {
		s := reqsig.NewMemoryNonceStore(len(nonces), now)
		i := 0
		for b.Loop() {
			if i == len(nonces) {
				b.StopTimer()
				s, i = reqsig.NewMemoryNonceStore(len(nonces), now), 0
				b.StartTimer()
			}
			if err := s.Remember(ctx, "police.411528", nonces[i], until); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		// Each goroutine uses its own principal, so nonces never collide;
		// the store is large enough for every call.
		s := reqsig.NewMemoryNonceStore(b.N+1, now)
		var g atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			principal := fmt.Sprint("p", g.Add(1))
			for i := 0; pb.Next(); i++ {
				if err := s.Remember(ctx, principal, nonces[i%len(nonces)], until); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
