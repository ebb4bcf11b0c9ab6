package authn_test

import (
	"bytes"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/qiao-exchange/qiao/audit"
	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/reqsig"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/gateway/authn"
	"github.com/qiao-exchange/qiao/store"
)

// TestFailuresAreAudited runs failed authentications against a real store
// and the real audit log over it.
func TestFailuresAreAudited(t *testing.T) {
	ctx := t.Context()
	db, err := store.Open(ctx, store.Config{DSN: filepath.Join(t.TempDir(), "state.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	gk, err := sm2.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.New(audit.Config{DB: db, Key: gk, Origin: "gateway.example.gov.cn/qiao/audit"})
	if err != nil {
		t.Fatal(err)
	}
	root := newRoot(t)
	police := issue(t, root, "police.411528", ca.KindAgency, ca.Request{})
	add(t, db, police, store.KindAgency)

	clock := time.Now()
	var logs bytes.Buffer
	a, err := authn.New(authn.Config{
		Store: db, Roots: []*ca.Certificate{root.Certificate()}, Nonces: reqsig.NewMemoryNonceStore(1000, nil),
		Registerer: prometheus.NewRegistry(), Now: func() time.Time { return clock },
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		Audit:  l, FailureAuditsPerMinute: 3,
	})
	if err != nil {
		t.Fatal(err)
	}

	// A registered principal whose body does not match its signature.
	const path = "/v1/datasets/police.deaths/batches"
	mismatch := func() {
		t.Helper()
		s, err := reqsig.NewSigner(reqsig.SignerConfig{Principal: police.name, Key: police.key, Now: func() time.Time { return clock }})
		if err != nil {
			t.Fatal(err)
		}
		h, err := s.Sign("POST", path, []byte(`{"rows":1}`))
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.Authenticate(ctx, authn.TransportREST, "POST", reqsig.Request{Headers: h, Method: "POST", Path: path, Body: []byte(`{"rows":2}`)})
		var ae *authn.Error
		if !errors.As(err, &ae) {
			t.Fatalf("tampered body: %v", err)
		}
	}
	// An unsigned request that claims a principal nobody registered, whose
	// name is a personal identifier, on a path that holds another.
	const personal, personalPath = "user:110101199003077777", "/v1/principals/user:110101199003077778/status"
	unsigned := func() {
		t.Helper()
		_, err := a.Authenticate(ctx, authn.TransportREST, "PUT", reqsig.Request{
			Headers: reqsig.Headers{Principal: personal}, Method: "PUT", Path: personalPath + "?q=110101199003077779",
		})
		if err == nil {
			t.Fatal("unsigned request authenticated")
		}
	}
	// A gRPC call signed by a key nobody registered.
	stranger := func() {
		t.Helper()
		k, err := sm2.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		s, err := reqsig.NewSigner(reqsig.SignerConfig{Principal: police.name, Key: k, Now: func() time.Time { return clock }})
		if err != nil {
			t.Fatal(err)
		}
		const method = "/qiao.exchange.v1.Directory/ListPrincipals"
		h, err := s.Sign(reqsig.GRPCMethod, method, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, authn.TransportGRPC, method, reqsig.Request{Headers: h, Method: reqsig.GRPCMethod, Path: method}); err == nil {
			t.Fatal("unregistered key authenticated")
		}
	}

	for range 5 {
		mismatch()
		unsigned()
	}
	stranger()
	clock = clock.Add(61 * time.Second)
	mismatch()

	got, err := l.Query(ctx, audit.Filter{Action: audit.ActionAuthFailed})
	if err != nil {
		t.Fatal(err)
	}
	type summary struct{ actor, code, reasons string }
	var sums []summary
	for _, e := range got {
		if e.Decision.Effect != audit.Deny || e.Result.Status != audit.StatusError || e.Resource != (audit.Resource{}) || len(e.Tokens) != 0 {
			t.Errorf("entry %d: %+v", e.Seq, e)
		}
		sums = append(sums, summary{e.Actor.Principal, e.Result.Code, strings.Join(e.Decision.Reasons, " ")})
	}
	restMismatch := summary{"police.411528", "content_mismatch", "transport=rest method=POST /v1/datasets/*/batches"}
	restUnsigned := summary{authn.UnknownPrincipal, "missing_header", "transport=rest method=PUT /v1/principals/*:*/status"}
	want := []summary{
		// Three of each per minute; the other two are suppressed …
		restMismatch, restUnsigned, restMismatch, restUnsigned, restMismatch, restUnsigned,
		{"police.411528", "unknown_key", "transport=grpc method=/qiao.exchange.v1.Directory/ListPrincipals"},
		// … and counted in the next entry of the same principal and reason.
		{"police.411528", "content_mismatch", "transport=rest method=POST /v1/datasets/*/batches suppressed=2"},
	}
	if !slices.Equal(sums, want) {
		t.Errorf("auth.failed entries:\n got %v\nwant %v", sums, want)
	}

	// No personal data in the log, neither claimed nor in the path.
	rows, err := db.QueryContext(ctx, "SELECT entry FROM audit_entries")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var enc string
		if err := rows.Scan(&enc); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(enc, "1101011990") {
			t.Errorf("personal data in the audit log: %s", enc)
		}
	}

	// A failed append leaves the call refused and is logged.
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, "DROP TABLE audit_entries")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(61 * time.Second)
	mismatch()
	if !strings.Contains(logs.String(), "failed authentication not recorded in the audit log") {
		t.Errorf("failed append not logged:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "1101011990") {
		t.Errorf("personal data in the log:\n%s", logs.String())
	}
}
