package access

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/qiao-exchange/qiao/audit"
	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/envelope"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/gateway/authn"
	"github.com/qiao-exchange/qiao/gateway/rpcerr"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/policy"
	"github.com/qiao-exchange/qiao/schema"
	"github.com/qiao-exchange/qiao/store"
	"github.com/qiao-exchange/qiao/store/warehouse"
)

func TestPartial(t *testing.T) {
	reg, err := schema.Load("")
	if err != nil {
		t.Fatal(err)
	}
	ds, _ := reg.Get("court.enforcement_cases")
	id, _ := ds.Field("respondent_id")
	name, _ := ds.Field("respondent")
	for _, tc := range []struct {
		f    *schema.Field
		v    string
		want string
	}{
		{id, "41152819580101123X", "411528********123X"},
		{id, "91411528MA44XXXX0K", "914115********XX0K"},
		{id, "", ""},
		{name, "张三", "张*"},
		{name, "欧阳小明", "欧***"},
		{name, "李", "李*"},
		{id, "short", "s****"},
	} {
		if got := Partial(tc.f, tc.v); got != tc.want {
			t.Errorf("Partial(%s, %q) = %q, want %q", tc.f.Name, tc.v, got, tc.want)
		}
	}
}

func TestFilterFromProto(t *testing.T) {
	reg, err := schema.Load("")
	if err != nil {
		t.Fatal(err)
	}
	ds, _ := reg.Get("medins.settlements")
	for _, tc := range []struct {
		name  string
		f     *exchangev1.RowFilter
		field string // the violation expected, "" for none
	}{
		{"none", nil, ""},
		{"range", &exchangev1.RowFilter{DateField: "admission_date", FromDate: "2026/1/1", ToDate: "2026-03-31"}, ""},
		{"not a date field", &exchangev1.RowFilter{DateField: "hospital"}, "filter.date_field"},
		{"bad date", &exchangev1.RowFilter{DateField: "admission_date", FromDate: "2026-02-30"}, "filter.from_date"},
		{"range without field", &exchangev1.RowFilter{ToDate: "2026-01-01"}, "filter.to_date"},
		{"reversed", &exchangev1.RowFilter{DateField: "admission_date", FromDate: "2026-02-01", ToDate: "2026-01-01"}, "filter.to_date"},
		{"plaintext ID as token", &exchangev1.RowFilter{SubjectTokens: []string{"41152819580101123X"}}, "filter.subject_tokens[0]"},
	} {
		got, vs := filterFromProto(ds, tc.f)
		switch {
		case tc.field == "" && len(vs) > 0:
			t.Errorf("%s: violations %v", tc.name, vs)
		case tc.field != "" && (len(vs) == 0 || vs[0].Field != tc.field):
			t.Errorf("%s: violations %v, want one of %s", tc.name, vs, tc.field)
		case tc.name == "range" && (got.FromDate != "2026-01-01" || got.ToDate != "2026-03-31"):
			t.Errorf("range normalised to %+v", got)
		}
	}
}

// failingAudit fails every append once armed.
type failingAudit struct {
	log  *audit.Log
	fail bool
}

var errAppend = errors.New("append failed on purpose")

func (f *failingAudit) Append(ctx context.Context, tx audit.Tx, e audit.Entry) (uint64, error) {
	if f.fail {
		return 0, errAppend
	}
	return f.log.Append(ctx, tx, e)
}

// fixedRows is a warehouse holding rows of one dataset. It is the minimal
// fake this package's tests need; cmd/qiao's tests pull from DuckDB.
type fixedRows struct{ rows []warehouse.Row }

func (f fixedRows) Rows(_ context.Context, _ string, q warehouse.Query) ([]warehouse.Row, error) {
	out := make([]warehouse.Row, len(f.rows))
	for i, r := range f.rows {
		out[i] = warehouse.Row{Values: r.Values[:len(q.Fields)]}
	}
	return out, nil
}

// testEnv is a Service over a real state store and audit log, with alice
// (requester, with an encryption certificate) and bob (approver).
type testEnv struct {
	svc    *Service
	db     *store.DB
	audit  *failingAudit
	gwKey  *sm2.PrivateKey
	encKey *sm2.PrivateKey
	now    time.Time
}

func newTestEnv(t *testing.T) *testEnv {
	ctx := t.Context()
	db, err := store.Open(ctx, store.Config{DSN: filepath.Join(t.TempDir(), "state.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	gwKey, _ := sm2.GenerateKey()
	l, err := audit.New(audit.Config{DB: db, Key: gwKey, Origin: "test/audit"})
	if err != nil {
		t.Fatal(err)
	}
	rootKey, _ := sm2.GenerateKey()
	root, err := ca.NewRoot(rootKey, ca.RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	encKey, _ := sm2.GenerateKey()
	signKey, _ := sm2.GenerateKey()
	pair, err := root.IssuePair(ca.Request{Principal: "user:alice", Kind: ca.KindUser}, signKey.PublicKey(), encKey.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	err = db.InTx(ctx, func(tx *store.Tx) error {
		for _, p := range []store.Principal{
			{Name: "user:alice", Kind: store.KindUser, Agency: "procuratorate.411528", Roles: []store.Role{store.RoleRequester}},
			{Name: "user:bob", Kind: store.KindUser, Agency: "procuratorate.411528", Roles: []store.Role{store.RoleApprover}},
		} {
			if _, err := tx.RegisterPrincipal(ctx, p); err != nil {
				return err
			}
		}
		c := pair.Enc
		_, err := tx.AddCertificate(ctx, store.Certificate{Principal: "user:alice", Purpose: store.PurposeEnc, KeyID: c.PublicKey().KeyID(),
			Serial: c.SerialNumber().Text(16), PEM: c.PEM(), NotBefore: c.NotBefore(), NotAfter: c.NotAfter()})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := policy.New(ctx, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := schema.Load("")
	if err != nil {
		t.Fatal(err)
	}
	env := &testEnv{db: db, audit: &failingAudit{log: l}, gwKey: gwKey, encKey: encKey, now: time.Now()}
	env.svc, err = New(Config{Store: db, Policy: engine, Audit: env.audit, Schemas: reg, Sign: gwKey, Roots: []*ca.Certificate{root.Certificate()},
		Rows: fixedRows{rows: []warehouse.Row{{Values: []string{"FY1", "(2026)豫1528执1号"}}}}, Now: func() time.Time { return env.now }})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

var (
	aliceCaller = &authn.Caller{Principal: "user:alice", Kind: store.KindUser, Roles: []store.Role{store.RoleRequester}}
	bobCaller   = &authn.Caller{Principal: "user:bob", Kind: store.KindUser, Roles: []store.Role{store.RoleApprover}}
)

// TestPullFailsClosed: when the pull's audit entry cannot be appended, the
// pull fails, returns no envelope and is not counted.
func TestPullFailsClosed(t *testing.T) {
	ctx := t.Context()
	env := newTestEnv(t)
	svc, db, fa, gwKey, encKey := env.svc, env.db, env.audit, env.gwKey, env.encKey
	alice := authn.NewContext(ctx, aliceCaller)
	bob := authn.NewContext(ctx, bobCaller)
	cr, err := svc.CreateRequest(alice, &exchangev1.CreateRequestRequest{Dataset: "court.enforcement_cases", Purpose: "监督",
		LegalBasis: "《行政诉讼法》第十一条", CaseNumber: "(2026)豫1528行监1号", Fields: []*exchangev1.FieldMasking{{Field: "case_no"}}})
	if err != nil {
		t.Fatal(err)
	}
	ap, err := svc.Approve(bob, &exchangev1.ApproveRequest{RequestId: cr.GetRequest().GetRequestId(), Reason: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	grant := ap.GetRequest().GetGrant()
	if grant == nil {
		t.Fatalf("internal data: one approval should issue the grant; request %v", ap.GetRequest())
	}

	fa.fail = true
	resp, err := svc.Pull(alice, &exchangev1.PullRequest{GrantId: grant.GetGrantId()})
	if !errors.Is(err, errAppend) || resp != nil {
		t.Fatalf("pull with a failing audit log: %v, %v; want the append's error and nothing", resp, err)
	}
	if st, _ := rpcerr.Status(err); st.Code().String() != "Internal" {
		t.Errorf("code %v, want Internal", st.Code())
	}
	g, err := db.GetGrant(ctx, grant.GetGrantId())
	if err != nil || g.Pulls != 0 {
		t.Fatalf("after the failed pull the grant shows %d pulls (%v), want 0", g.Pulls, err)
	}

	fa.fail = false
	resp, err = svc.Pull(alice, &exchangev1.PullRequest{GrantId: grant.GetGrantId()})
	if err != nil {
		t.Fatal(err)
	}
	_, body, err := envelope.Open(resp.GetEnvelope(), encKey, gwKey.PublicKey())
	if err != nil || len(body) == 0 || resp.GetRowCount() != 1 || resp.GetGrant().GetPulls() != 1 {
		t.Fatalf("pull: %d rows, grant %v, open: %v", resp.GetRowCount(), resp.GetGrant(), err)
	}
}

// TestExpirePending: a request left pending past PendingTTL expires, with
// its audit entry; not before, and not a decided one.
func TestExpirePending(t *testing.T) {
	ctx := t.Context()
	env := newTestEnv(t)
	alice := authn.NewContext(ctx, aliceCaller)
	create := func() string {
		r, err := env.svc.CreateRequest(alice, &exchangev1.CreateRequestRequest{Dataset: "court.enforcement_cases", Purpose: "监督",
			LegalBasis: "《行政诉讼法》第十一条", CaseNumber: "(2026)豫1528行监2号", Fields: []*exchangev1.FieldMasking{{Field: "case_no"}}})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetRequest().GetRequestId()
	}
	old, decided := create(), create()
	if _, err := env.svc.Deny(authn.NewContext(ctx, bobCaller), &exchangev1.DenyRequest{RequestId: decided, Reason: "不需要"}); err != nil {
		t.Fatal(err)
	}
	start := env.now
	env.now = start.Add(DefaultPendingTTL - time.Hour)
	if n, err := env.svc.ExpirePending(ctx); err != nil || n != 0 {
		t.Fatalf("ExpirePending before the TTL = %d, %v; want 0", n, err)
	}
	env.now = start.Add(DefaultPendingTTL + time.Hour)
	n, err := env.svc.ExpirePending(ctx)
	if err != nil || n != 1 {
		t.Fatalf("ExpirePending = %d, %v; want 1", n, err)
	}
	for id, want := range map[string]store.RequestState{old: store.RequestExpired, decided: store.RequestDenied} {
		if r, err := env.db.GetRequest(ctx, id); err != nil || r.State != want {
			t.Errorf("request %s: %s, %v; want %s", id, r.State, err, want)
		}
	}
	es, err := env.audit.log.Query(ctx, audit.Filter{Action: audit.ActionRequestExpire})
	if err != nil || len(es) != 1 || es[0].Resource.ID != old || es[0].Decision.Effect != audit.Allow {
		t.Fatalf("expiry entries: %+v, %v", es, err)
	}
	if n, err := env.svc.ExpirePending(ctx); err != nil || n != 0 {
		t.Fatalf("a second sweep expired %d (%v)", n, err)
	}
}
