package authn_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/reqsig"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/gateway/authn"
	"github.com/qiao-exchange/qiao/gateway/rpcerr"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/store"
)

// registered is a principal with a signing certificate as the store keeps
// it, and the key it certifies.
type registered struct {
	name string
	key  *sm2.PrivateKey
	cert *ca.Certificate
}

func issue(t *testing.T, root *ca.Root, name string, kind ca.Kind, req ca.Request) registered {
	t.Helper()
	sk, err := sm2.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ek, err := sm2.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	req.Principal, req.Kind = name, kind
	pair, err := root.IssuePair(req, sk.PublicKey(), ek.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return registered{name: name, key: sk, cert: pair.Sign}
}

// add registers r in the store directly, as a store with a bad record
// would hold it: nothing checks the certificate on the way in.
func add(t *testing.T, db *store.DB, r registered, kind store.PrincipalKind) store.Certificate {
	t.Helper()
	var c store.Certificate
	err := db.InTx(t.Context(), func(tx *store.Tx) error {
		if _, err := tx.GetPrincipal(t.Context(), r.name); errors.Is(err, store.ErrNotFound) {
			if _, err := tx.RegisterPrincipal(t.Context(), store.Principal{Name: r.name, Kind: kind, Roles: []store.Role{}}); err != nil {
				return err
			}
		}
		var err error
		c, err = tx.AddCertificate(t.Context(), store.Certificate{
			Principal: r.name, Purpose: store.PurposeSign, KeyID: r.key.PublicKey().KeyID(),
			Serial: r.cert.SerialNumber().Text(16), PEM: r.cert.PEM(),
			NotBefore: r.cert.NotBefore(), NotAfter: r.cert.NotAfter(),
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newRoot(t *testing.T) *ca.Root {
	t.Helper()
	k, err := sm2.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	r, err := ca.NewRoot(k, ca.RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAuthenticate(t *testing.T) {
	ctx := t.Context()
	db, err := store.Open(ctx, store.Config{DSN: filepath.Join(t.TempDir(), "state.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	root, foreign := newRoot(t), newRoot(t)

	police := issue(t, root, "police.411528", ca.KindAgency, ca.Request{})
	add(t, db, police, store.KindAgency)
	// A certificate from another root, registered by mistake.
	rogue := issue(t, foreign, "court.411528", ca.KindAgency, ca.Request{})
	add(t, db, rogue, store.KindAgency)
	// A certificate that expired yesterday.
	expired := issue(t, root, "medins.411528", ca.KindAgency, ca.Request{Now: time.Now().Add(-48 * time.Hour), Validity: 24 * time.Hour})
	add(t, db, expired, store.KindAgency)
	// A revoked certificate.
	revoked := issue(t, root, "hrss.411528", ca.KindAgency, ca.Request{})
	rc := add(t, db, revoked, store.KindAgency)
	// A disabled principal.
	disabled := issue(t, root, "user:mallory", ca.KindUser, ca.Request{})
	add(t, db, disabled, store.KindUser)
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.RevokeCertificate(ctx, rc.Fingerprint); err != nil {
			return err
		}
		return tx.SetPrincipalStatus(ctx, "user:mallory", store.StatusDisabled)
	}); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	a, err := authn.New(authn.Config{
		Store: db, Roots: []*ca.Certificate{root.Certificate()}, Nonces: reqsig.NewMemoryNonceStore(1000, nil),
		ClockSkew: time.Minute, Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	call := func(r registered, at time.Time) (*authn.Caller, error) {
		s, err := reqsig.NewSigner(reqsig.SignerConfig{Principal: r.name, Key: r.key, Now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		body := []byte(`{"dataset":"police.deaths"}`)
		h, err := s.Sign("POST", "/v1/datasets/police.deaths/batches", body)
		if err != nil {
			t.Fatal(err)
		}
		return a.Authenticate(ctx, authn.TransportREST, "POST", reqsig.Request{Headers: h, Method: "POST", Path: "/v1/datasets/police.deaths/batches", Body: body})
	}

	c, err := call(police, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c.Principal != "police.411528" || c.Kind != store.KindAgency || c.KeyID != police.key.PublicKey().KeyID() {
		t.Errorf("caller %+v", c)
	}
	for _, tc := range []struct {
		name string
		r    registered
		at   time.Time
		want error
	}{
		{"foreign root", rogue, time.Now(), reqsig.ErrUnknownKey},
		{"expired", expired, time.Now(), reqsig.ErrUnknownKey},
		{"revoked", revoked, time.Now(), reqsig.ErrUnknownKey},
		{"disabled", disabled, time.Now(), reqsig.ErrUnknownKey},
		// Within reqsig's 300 s window, outside the configured minute.
		{"skew", police, time.Now().Add(-2 * time.Minute), reqsig.ErrStaleTimestamp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := call(tc.r, tc.at)
			var ae *authn.Error
			if !errors.Is(err, tc.want) || !errors.As(err, &ae) || ae.Reason == "" {
				t.Errorf("%v, want %v", err, tc.want)
			}
		})
	}

	// The store failing is not an unknown key: the call is refused as
	// UNAVAILABLE, not let through.
	db.Close()
	_, err = call(police, time.Now())
	var ae *authn.Error
	if !errors.As(err, &ae) || ae.Reason != "unavailable" || !errors.Is(err, rpcerr.ErrUnavailable) {
		t.Errorf("closed store: %v", err)
	}
}

func TestAuthenticatorConfig(t *testing.T) {
	if _, err := authn.New(authn.Config{}); err == nil {
		t.Error("empty config accepted")
	}
	_, err := authn.New(authn.Config{
		Store: &store.DB{}, Roots: []*ca.Certificate{newRoot(t).Certificate()}, Nonces: reqsig.NewMemoryNonceStore(1000, nil),
		Registerer: prometheus.NewRegistry(), ClockSkew: 10 * time.Minute,
	})
	if err == nil {
		t.Error("a clock skew over reqsig.Window accepted")
	}
}

// The codec keeps exactly the bytes received, even where they are not the
// encoding proto.Marshal would produce (fields out of order, a field
// repeated): the signature is checked over what the client sent.
func TestCodecKeepsBytes(t *testing.T) {
	var raw []byte
	raw = protowire.AppendTag(raw, 2, protowire.BytesType)
	raw = protowire.AppendString(raw, "b-1")
	raw = protowire.AppendTag(raw, 1, protowire.BytesType)
	raw = protowire.AppendString(raw, "police.deaths")
	raw = protowire.AppendTag(raw, 2, protowire.BytesType)
	raw = protowire.AppendString(raw, "b-2")

	var c authn.Codec
	msg := &exchangev1.GetBatchRequest{}
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(raw)}, msg); err != nil {
		t.Fatal(err)
	}
	if msg.GetBatchId() != "b-2" || msg.GetDataset() != "police.deaths" {
		t.Errorf("decoded %v", msg)
	}
	again, _ := proto.Marshal(msg)
	got, ok := c.Take(msg)
	if !ok || string(got) != string(raw) || string(again) == string(raw) {
		t.Errorf("kept %x, want %x (re-encoded %x)", got, raw, again)
	}
	if _, ok := c.Take(msg); ok {
		t.Error("bytes kept after Take")
	}
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer([]byte{0xff})}, &exchangev1.GetBatchRequest{}); err == nil {
		t.Error("garbage decoded")
	}
	if c.Name() != "proto" {
		t.Errorf("Name %q", c.Name())
	}
	out, err := c.Marshal(msg)
	if err != nil || out.Len() != len(again) {
		t.Errorf("Marshal: %d bytes, %v", out.Len(), err)
	}
}

func TestLogName(t *testing.T) {
	for in, want := range map[string]string{"police.411528": "police.411528", "user:alice": "user:*", "model:x": "model:x"} {
		if got := authn.LogName(in); got != want {
			t.Errorf("LogName(%q) = %q", in, got)
		}
	}
	ctx := authn.NewContext(context.Background(), &authn.Caller{Principal: "user:erin", Roles: []store.Role{store.RoleAdmin}})
	c, ok := authn.FromContext(ctx)
	if !ok || !c.HasRole(store.RoleAdmin) || c.HasRole(store.RoleApprover) {
		t.Errorf("caller from context: %+v %v", c, ok)
	}
	if _, ok := authn.FromContext(context.Background()); ok {
		t.Error("caller in an empty context")
	}
}
