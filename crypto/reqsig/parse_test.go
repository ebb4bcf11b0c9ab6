package reqsig

import (
	"encoding/base64"
	"math/rand/v2"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add("police.411528", "d94a2fcb88a63e824c32120f09f84377", "2026-11-25T19:22:00Z", "AAECAwQFBgcICQoLDA0ODw",
		"d0ee1804babbdbba32e2ca9533f3aaa219e41c0eb4b622bdfc268170ba505e01",
		"MEUCIC0w4K8Vs3YtWOBRUZgMdENo5O44I3xtDqovJW9kRLqnAiEAwcn1DrbMwwWGBJgY9MkFOdbjOHhXO5oK2tN9h7C4W7I=")
	f.Add("user:alice", "D94A2FCB88A63E824C32120F09F84377", "2026-11-25T19:22:00.999Z", "AAECAwQFBgcICQoLDA0ODw==",
		"", "MEUCIQ")
	f.Add("police.411528, court.411528", "d94a2fcb88a63e824c32120f09f84377", "2026-11-26T03:22:00+08:00",
		"AAECAwQFBgcICQoLDA0ODx", strings.Repeat("0", 64), "AAAA")
	f.Fuzz(func(t *testing.T, principal, keyID, timestamp, nonce, contentSM3, signature string) {
		h := Headers{Principal: principal, KeyID: keyID, Timestamp: timestamp, Nonce: nonce, ContentSM3: contentSM3, Signature: signature}
		p, err := parse(h)
		if err != nil {
			if _, ok := err.(*HeaderError); !ok {
				t.Fatalf("error %v is not a HeaderError", err)
			}
			for _, v := range []string{keyID, nonce, contentSM3, signature} {
				if len(v) >= 8 && strings.Contains(err.Error(), v) {
					t.Fatalf("error %q echoes a value", err)
				}
			}
			return
		}
		// Accepted values are in one canonical form: decoding and encoding
		// again gives back what was sent.
		if got := p.time.Format(TimestampLayout); got != timestamp {
			t.Errorf("timestamp %q re-encodes as %q", timestamp, got)
		}
		if got := base64.StdEncoding.EncodeToString(p.sig); got != signature {
			t.Errorf("signature %q re-encodes as %q", signature, got)
		}
		n, err := base64.RawURLEncoding.DecodeString(nonce)
		if err != nil || len(n) < NonceSize || len(n) > MaxNonceSize || base64.RawURLEncoding.EncodeToString(n) != nonce {
			t.Errorf("nonce %q accepted (%d bytes, %v)", nonce, len(n), err)
		}
		// No value can break the canonical string's lines or hide a second
		// value of a header sent twice.
		for _, v := range []string{principal, keyID, timestamp, nonce, contentSM3, signature} {
			if strings.ContainsAny(v, "\n\r, ") {
				t.Errorf("accepted %q", v)
			}
		}
		if lines := strings.Split(CanonicalString(h, "POST", "/p"), "\n"); len(lines) != 8 {
			t.Errorf("canonical string has %d lines", len(lines))
		}
	})
}

func TestExpiryHeap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 100 {
		var h expiryHeap
		n := r.IntN(200)
		for i := range n {
			h.push(expiry{exp: r.Int64N(50), key: nonceKey{uint64(i)}})
		}
		last := int64(-1)
		for len(h) > 0 {
			e := h.pop()
			if e.exp < last {
				t.Fatalf("round %d: popped %d after %d", round, e.exp, last)
			}
			last = e.exp
		}
	}
}
