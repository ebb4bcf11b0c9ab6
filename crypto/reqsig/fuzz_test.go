package reqsig_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/qiao-exchange/qiao/crypto/reqsig"
)

// FuzzVerify feeds arbitrary header values, methods, paths and bodies to a
// verifier that knows the worked example's key. Whatever comes in, Verify
// must not panic, must classify every refusal with a sentinel error, and may
// accept only a request whose body matches its digest, and only once.
func FuzzVerify(f *testing.F) {
	e := newEnv(f, 0)
	nonce := bytes.Repeat([]byte{7}, reqsig.NonceSize)
	signer, err := reqsig.NewSigner(reqsig.SignerConfig{
		Principal: "police.411528", Key: e.key, Now: e.clock.Now, Rand: bytes.NewReader(nonce),
	})
	if err != nil {
		f.Fatal(err)
	}
	add := func(method, path string, body []byte) {
		h, err := signer.Sign(method, path, body)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(h.Principal, h.KeyID, h.Timestamp, h.Nonce, h.ContentSM3, h.Signature, method, path, body)
		signer, _ = reqsig.NewSigner(reqsig.SignerConfig{
			Principal: "police.411528", Key: e.key, Now: e.clock.Now, Rand: bytes.NewReader(nonce),
		})
	}
	add("POST", "/v1/datasets/police.deaths/batches?region=411528", []byte(`{"rows":2}`))
	add("POST", "/qiao.exchange.v1.Datasets/PushBatch", []byte{0x0a, 0x03, 'a', 'b', 'c'})
	add("GET", "/v1/catalogue", nil)
	f.Add("", "", "", "", "", "", "", "", []byte(nil))
	f.Add("police.411528", "00000000000000000000000000000000", "2026-11-25T19:27:01Z", "BwcHBwcHBwcHBwcHBwcHBw",
		reqsig.ContentSM3(nil), "MAYCAQECAQE=", "GET", "/", []byte(nil))

	sentinels := []error{
		reqsig.ErrMissingHeader, reqsig.ErrMalformedHeader, reqsig.ErrStaleTimestamp, reqsig.ErrReplay,
		reqsig.ErrUnknownKey, reqsig.ErrKeyMismatch, reqsig.ErrContentMismatch, reqsig.ErrBadSignature,
		reqsig.ErrNonceStoreFull,
	}
	f.Fuzz(func(t *testing.T, principal, keyID, timestamp, nonce, contentSM3, signature, method, path string, body []byte) {
		v, err := reqsig.NewVerifier(reqsig.VerifierConfig{
			Keys: e.keys, Nonces: reqsig.NewMemoryNonceStore(8, e.clock.Now), Now: e.clock.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		req := reqsig.Request{
			Headers: reqsig.Headers{
				Principal: principal, KeyID: keyID, Timestamp: timestamp,
				Nonce: nonce, ContentSM3: contentSM3, Signature: signature,
			},
			Method: method, Path: path, Body: body,
		}
		got, err := v.Verify(t.Context(), req)
		if err != nil {
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("unclassified error: %v", err)
		}
		if got.Principal != principal || got.KeyID != keyID || got.Nonce != nonce ||
			got.ContentSM3 != reqsig.ContentSM3(body) || got.Time.Format(reqsig.TimestampLayout) != timestamp {
			t.Fatalf("accepted %+v for %+v", got, req.Headers)
		}
		if _, err := v.Verify(t.Context(), req); !errors.Is(err, reqsig.ErrReplay) {
			t.Fatalf("accepted twice: %v", err)
		}
	})
}
