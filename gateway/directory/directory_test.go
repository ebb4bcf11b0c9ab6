package directory_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/qiao-exchange/qiao/audit"
	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/gateway/authn"
	"github.com/qiao-exchange/qiao/gateway/directory"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/store"
)

// env is a Directory service over a real store in a temporary file, with
// the real audit log over the same store.
type env struct {
	db   *store.DB
	log  *audit.Log
	dir  *directory.Service
	root *ca.Root
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	db, err := store.Open(ctx, store.Config{DSN: filepath.Join(t.TempDir(), "state.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	gk, err := sm2.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.New(audit.Config{DB: db, Key: gk, Origin: "gateway.example.gov.cn/qiao/audit"})
	if err != nil {
		t.Fatal(err)
	}
	rk, err := sm2.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	root, err := ca.NewRoot(rk, ca.RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := directory.New(directory.Config{Store: db, Roots: []*ca.Certificate{root.Certificate()}, Audit: l, Self: "gateway"})
	if err != nil {
		t.Fatal(err)
	}
	return &env{db: db, log: l, dir: dir, root: root}
}

// request returns a registration of an agency with a double certificate
// from the test root.
func (e *env) request(t *testing.T, name string) *exchangev1.RegisterPrincipalRequest {
	t.Helper()
	sk, err := sm2.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ek, err := sm2.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pair, err := e.root.IssuePair(ca.Request{Principal: name, Kind: ca.KindAgency}, sk.PublicKey(), ek.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return &exchangev1.RegisterPrincipalRequest{
		Name:                     name,
		Kind:                     exchangev1.PrincipalKind_PRINCIPAL_KIND_AGENCY,
		Agency:                   name,
		DisplayName:              "Test agency",
		SigningCertificatePem:    string(pair.Sign.PEM()),
		EncryptionCertificatePem: string(pair.Enc.PEM()),
	}
}

// asAdmin returns a context carrying an authenticated admin.
func asAdmin(ctx context.Context) context.Context {
	return authn.NewContext(ctx, &authn.Caller{
		Principal: "ops.admin", Kind: store.KindServer, Agency: "ops",
		Roles: []store.Role{store.RoleAdmin, store.RoleAuditor},
	})
}

func (e *env) entries(t *testing.T) []audit.Entry {
	t.Helper()
	got, err := e.log.Query(t.Context(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRegisterIsAudited(t *testing.T) {
	e := newEnv(t)
	resp, err := e.dir.RegisterPrincipal(asAdmin(t.Context()), e.request(t, "police.411528"))
	if err != nil {
		t.Fatal(err)
	}
	got := e.entries(t)
	want := []string{audit.ActionPrincipalRegister, audit.ActionCertificateAdd, audit.ActionCertificateAdd}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(got), len(want), got)
	}
	fps := map[string]bool{}
	for _, c := range resp.GetPrincipal().GetCertificates() {
		fps["fingerprint "+c.GetFingerprint()] = true
	}
	for i, en := range got {
		if en.Action != want[i] {
			t.Errorf("entry %d: action %s, want %s", i, en.Action, want[i])
		}
		wantActor := audit.Actor{Principal: "ops.admin", Agency: "ops", Roles: []string{"admin", "auditor"}}
		if en.Actor.Principal != wantActor.Principal || en.Actor.Agency != wantActor.Agency || !slices.Equal(en.Actor.Roles, wantActor.Roles) {
			t.Errorf("entry %d: actor %+v, want %+v", i, en.Actor, wantActor)
		}
		if en.Resource != (audit.Resource{Kind: audit.KindPrincipal, ID: "police.411528"}) {
			t.Errorf("entry %d: resource %+v", i, en.Resource)
		}
		if en.Decision.Effect != audit.Allow || en.Result.Status != audit.StatusOK {
			t.Errorf("entry %d: decision %+v, result %+v", i, en.Decision, en.Result)
		}
		if en.Action == audit.ActionCertificateAdd && !slices.ContainsFunc(en.Decision.Reasons, func(r string) bool { return fps[r] }) {
			t.Errorf("entry %d names no registered certificate: %v", i, en.Decision.Reasons)
		}
	}
}

func TestRegisterOutsideACallIsAuditedAsTheGateway(t *testing.T) {
	e := newEnv(t)
	req := e.request(t, "court.411528")
	p := store.Principal{Name: req.Name, Kind: store.KindAgency, Agency: req.Agency}
	if _, _, err := e.dir.Register(t.Context(), p, []byte(req.SigningCertificatePem), []byte(req.EncryptionCertificatePem)); err != nil {
		t.Fatal(err)
	}
	got := e.entries(t)
	if len(got) != 3 {
		t.Fatalf("%d entries, want 3", len(got))
	}
	for _, en := range got {
		if en.Actor.Principal != "gateway" || en.Actor.Agency != "" || len(en.Actor.Roles) != 0 {
			t.Errorf("actor %+v, want the gateway", en.Actor)
		}
	}
}

// TestRegisterFailsClosed breaks the audit log's entry table in the real
// store: the append fails after the principal and its certificates were
// written in the same transaction, and none of them may remain.
func TestRegisterFailsClosed(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if err := e.db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, "DROP TABLE audit_entries")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.RegisterPrincipal(asAdmin(ctx), e.request(t, "police.411528")); err == nil {
		t.Fatal("registered though its audit entry could not be appended")
	}
	if _, err := e.db.GetPrincipal(ctx, "police.411528"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("principal after a failed audit append: %v, want ErrNotFound", err)
	}
	certs, err := e.db.CertificatesFor(ctx, "police.411528")
	if err != nil || len(certs) != 0 {
		t.Fatalf("certificates after a failed audit append: %v, %v", certs, err)
	}
}

func TestSetStatusIsAudited(t *testing.T) {
	e := newEnv(t)
	ctx := asAdmin(t.Context())
	if _, err := e.dir.RegisterPrincipal(ctx, e.request(t, "hrss.411528")); err != nil {
		t.Fatal(err)
	}
	for _, s := range []exchangev1.PrincipalStatus{exchangev1.PrincipalStatus_PRINCIPAL_STATUS_DISABLED, exchangev1.PrincipalStatus_PRINCIPAL_STATUS_ACTIVE} {
		if _, err := e.dir.SetPrincipalStatus(ctx, &exchangev1.SetPrincipalStatusRequest{Name: "hrss.411528", Status: s}); err != nil {
			t.Fatal(err)
		}
	}
	got := e.entries(t)
	if len(got) != 5 {
		t.Fatalf("%d entries, want 5", len(got))
	}
	for i, want := range []string{audit.ActionPrincipalDisable, audit.ActionPrincipalEnable} {
		en := got[3+i]
		if en.Action != want || en.Actor.Principal != "ops.admin" || en.Resource.ID != "hrss.411528" {
			t.Errorf("entry %d: %s by %s on %s, want %s by ops.admin on hrss.411528", en.Seq, en.Action, en.Actor.Principal, en.Resource.ID, want)
		}
	}

	// A failed append leaves the status as it was.
	if err := e.db.InTx(t.Context(), func(tx *store.Tx) error {
		_, err := tx.ExecContext(t.Context(), "DROP TABLE audit_entries")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.SetPrincipalStatus(ctx, &exchangev1.SetPrincipalStatusRequest{Name: "hrss.411528", Status: exchangev1.PrincipalStatus_PRINCIPAL_STATUS_DISABLED}); err == nil {
		t.Fatal("status set though its audit entry could not be appended")
	}
	p, err := e.db.GetPrincipal(t.Context(), "hrss.411528")
	if err != nil || p.Status != store.StatusActive {
		t.Fatalf("status after a failed audit append: %v, %v; want active", p.Status, err)
	}
}
