package reqsig_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/qiao-exchange/qiao/crypto/reqsig"
	"github.com/qiao-exchange/qiao/crypto/reqsig/noncestoretest"
	"github.com/qiao-exchange/qiao/crypto/sm2"
)

// exampleScalar is the private key of GB/T 32918.2's signature example; the
// worked example in docs/request-signing.md uses it.
const exampleScalar = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"

// exampleTime is the worked example's clock.
var exampleTime = time.Date(2026, 11, 25, 19, 22, 0, 0, time.UTC)

func exampleKey(t testing.TB) *sm2.PrivateKey {
	t.Helper()
	d, err := hex.DecodeString(exampleScalar)
	if err != nil {
		t.Fatal(err)
	}
	k, err := sm2.NewPrivateKey(d)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newKey(t testing.TB) *sm2.PrivateKey {
	t.Helper()
	k, err := sm2.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keyring is a KeyResolver over a fixed set of keys, standing in for the
// gateway's certificate registry.
type keyring map[string]*sm2.PublicKey // principal + " " + key ID → key

func (k keyring) add(principal string, pub *sm2.PublicKey) {
	k[principal+" "+pub.KeyID()] = pub
}

func (k keyring) ResolveKey(_ context.Context, principal, keyID string) (*sm2.PublicKey, error) {
	if pub, ok := k[principal+" "+keyID]; ok {
		return pub, nil
	}
	return nil, fmt.Errorf("%w: no key %s for %s", reqsig.ErrUnknownKey, keyID, principal)
}

// env is a signer for police.411528 and a verifier that knows its key,
// sharing a settable clock.
type env struct {
	clock    *noncestoretest.Clock
	key      *sm2.PrivateKey
	keys     keyring
	signer   *reqsig.Signer
	store    *reqsig.MemoryNonceStore
	verifier *reqsig.Verifier
}

func newEnv(t testing.TB, maxNonces int) *env {
	t.Helper()
	e := &env{clock: noncestoretest.NewClock(exampleTime), key: exampleKey(t), keys: keyring{}}
	e.keys.add("police.411528", e.key.PublicKey())
	var err error
	e.signer, err = reqsig.NewSigner(reqsig.SignerConfig{Principal: "police.411528", Key: e.key, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.store = reqsig.NewMemoryNonceStore(maxNonces, e.clock.Now)
	e.verifier, err = reqsig.NewVerifier(reqsig.VerifierConfig{Keys: e.keys, Nonces: e.store, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// request signs a request as police.411528.
func (e *env) request(t testing.TB, method, path string, body []byte) reqsig.Request {
	t.Helper()
	h, err := e.signer.Sign(method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	return reqsig.Request{Headers: h, Method: method, Path: path, Body: body}
}
