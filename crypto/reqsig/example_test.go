package reqsig_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/qiao-exchange/qiao/crypto/reqsig"
	"github.com/qiao-exchange/qiao/crypto/sm2"
)

// A client signs a REST call; the gateway verifies it, and refuses the same
// request sent again.
func Example() {
	// The caller, police.411528, and its registered signing key.
	key, err := sm2.GenerateKey()
	if err != nil {
		panic(err)
	}
	signer, err := reqsig.NewSigner(reqsig.SignerConfig{Principal: "police.411528", Key: key})
	if err != nil {
		panic(err)
	}

	// The gateway resolves keys from its registry and remembers nonces.
	registry := reqsig.KeyResolverFunc(func(_ context.Context, principal, keyID string) (*sm2.PublicKey, error) {
		if pub := key.PublicKey(); principal == "police.411528" && keyID == pub.KeyID() {
			return pub, nil
		}
		return nil, reqsig.ErrUnknownKey
	})
	verifier, err := reqsig.NewVerifier(reqsig.VerifierConfig{
		Keys:   registry,
		Nonces: reqsig.NewMemoryNonceStore(0, nil),
	})
	if err != nil {
		panic(err)
	}
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		v, err := verifier.Verify(r.Context(), reqsig.RequestFromHTTP(r, body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "accepted from %s", v.Principal)
	}))
	defer gateway.Close()

	body := []byte(`{"dataset":"police.deaths","batch_id":"police.411528-20261125-0001"}`)
	req, err := http.NewRequest(http.MethodPost, gateway.URL+"/v1/datasets/police.deaths/batches?region=411528", bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	if err := signer.SignHTTP(req, body); err != nil {
		panic(err)
	}
	send := func(req *http.Request) {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		fmt.Printf("%d %s", resp.StatusCode, msg)
	}
	send(req)
	fmt.Println()

	replay, _ := http.NewRequest(http.MethodPost, req.URL.String(), bytes.NewReader(body))
	replay.Header = req.Header
	send(replay)
	// Output:
	// 200 accepted from police.411528
	// 401 reqsig: X-Qiao-Nonce already used
}

func ExampleCanonicalString() {
	h := reqsig.Headers{
		Principal:  "police.411528",
		KeyID:      "d94a2fcb88a63e824c32120f09f84377",
		Timestamp:  "2026-11-25T19:22:00Z",
		Nonce:      "AAECAwQFBgcICQoLDA0ODw",
		ContentSM3: reqsig.ContentSM3(nil),
	}
	fmt.Println(reqsig.CanonicalString(h, reqsig.GRPCMethod, "/qiao.exchange.v1.Datasets/GetBatch"))
	// Output:
	// QIAO-SM2-SM3
	// police.411528
	// d94a2fcb88a63e824c32120f09f84377
	// 2026-11-25T19:22:00Z
	// AAECAwQFBgcICQoLDA0ODw
	// POST
	// /qiao.exchange.v1.Datasets/GetBatch
	// 1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b
}
