package checkpoint_test

// Signing and opening a checkpoint with SM2 beside the same note signed with
// Ed25519 by golang.org/x/mod/sumdb/note, the signature of most public
// transparency logs, so that a ratio can be read:
//
//	go test -run '^$' -bench . -benchmem ./audit/checkpoint/

import (
	"crypto/rand"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/qiao-exchange/qiao/audit/checkpoint"
)

func BenchmarkSign(b *testing.B) {
	k := testKey(b, "log key")
	c := testCheckpoint()
	b.Run("sm2", func(b *testing.B) {
		for b.Loop() {
			if _, err := checkpoint.Sign(c, origin, k); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ed25519-sumdb-note", func(b *testing.B) {
		s, _ := ed25519Note(b)
		text, _ := c.Marshal()
		for b.Loop() {
			if _, err := note.Sign(&note.Note{Text: string(text)}, s); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkOpen(b *testing.B) {
	k := testKey(b, "log key")
	v := testVerifier(b, origin, k)
	c := testCheckpoint()
	b.Run("sm2", func(b *testing.B) {
		n := sign(b, c, origin, k)
		for b.Loop() {
			if _, err := checkpoint.Open(n, v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ed25519-sumdb-note", func(b *testing.B) {
		s, ev := ed25519Note(b)
		text, _ := c.Marshal()
		n, err := note.Sign(&note.Note{Text: string(text)}, s)
		if err != nil {
			b.Fatal(err)
		}
		known := note.VerifierList(ev)
		for b.Loop() {
			nn, err := note.Open(n, known)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := checkpoint.Parse([]byte(nn.Text)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func ed25519Note(b *testing.B) (note.Signer, note.Verifier) {
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		b.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		b.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		b.Fatal(err)
	}
	return s, v
}
