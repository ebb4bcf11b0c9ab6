// Package storetest is the conformance suite of the state store: one set of
// tests that the store must pass on every database it runs on (SQLite today,
// PostgreSQL later), so that callers can rely on the same behaviour whatever
// the configuration.
//
// It is for tests only. It holds no database of its own: each backend's test
// calls Run with a function that opens an empty database.
package storetest

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/qiao-exchange/qiao/crypto/sm3"
	"github.com/qiao-exchange/qiao/store"
)

// Run runs the conformance suite as subtests of t. open returns a freshly
// opened, empty and migrated database for one subtest; it is called once per
// subtest and must arrange its own cleanup through t. Reopening
// db.Config() must reach the same database.
func Run(t *testing.T, open func(t *testing.T) *store.DB) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T) *store.DB)
	}{
		{"Migrations", testMigrations},
		{"SchemaTooNew", testSchemaTooNew},
		{"SchemaMismatch", testSchemaMismatch},
		{"RegisterPrincipal", testRegisterPrincipal},
		{"InvalidPrincipals", testInvalidPrincipals},
		{"PrincipalStatusAndRoles", testPrincipalStatusAndRoles},
		{"ListPrincipals", testListPrincipals},
		{"Certificates", testCertificates},
		{"InvalidCertificates", testInvalidCertificates},
		{"ResolveKey", testResolveKey},
		{"InsertBatch", testInsertBatch},
		{"BatchIdempotence", testBatchIdempotence},
		{"RejectedBatchReplaced", testRejectedBatchReplaced},
		{"BatchStates", testBatchStates},
		{"InvalidBatches", testInvalidBatches},
		{"ListBatches", testListBatches},
		{"RollbackOnError", testRollbackOnError},
		{"RollbackOnPanic", testRollbackOnPanic},
		{"FailingStatementCommitsNothing", testFailingStatement},
		{"RawSQL", testRawSQL},
		{"ReadTx", testReadTx},
		{"TxAfterReturn", testTxAfterReturn},
		{"Canceled", testCanceled},
		{"ConcurrentWriters", testConcurrentWriters},
		{"ConcurrentInsertBatch", testConcurrentInsertBatch},
		{"AccessWorkflow", testAccessWorkflow},
		{"ListRequests", testListRequests},
		{"InvalidRequests", testInvalidRequests},
		{"LeadsAndOutbox", testLeadsAndOutbox},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

// inTx runs fn in a transaction and fails the test on error.
func inTx(t *testing.T, db *store.DB, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := db.InTx(t.Context(), fn); err != nil {
		t.Fatalf("InTx: %v", err)
	}
}

// reopen opens db's database a second time.
func reopen(t *testing.T, db *store.DB) (*store.DB, error) {
	t.Helper()
	db2, err := store.Open(t.Context(), db.Config())
	if err == nil {
		t.Cleanup(func() { db2.Close() })
	}
	return db2, err
}

func register(t *testing.T, db *store.DB, ps ...store.Principal) {
	t.Helper()
	inTx(t, db, func(tx *store.Tx) error {
		for _, p := range ps {
			if _, err := tx.RegisterPrincipal(t.Context(), p); err != nil {
				return err
			}
		}
		return nil
	})
}

var police = store.Principal{Name: "police.411528", Kind: store.KindAgency, Agency: "police.411528", DisplayName: "淮滨县公安局"}

// within fails unless got lies in [from, to] at microsecond precision.
func within(t *testing.T, what string, got, from, to time.Time) {
	t.Helper()
	from = from.Truncate(time.Microsecond)
	if got.Before(from) || got.After(to) || got.Location() != time.UTC {
		t.Errorf("%s = %v, want UTC within [%v, %v]", what, got, from, to)
	}
}

func testMigrations(t *testing.T, open func(t *testing.T) *store.DB) {
	ctx := t.Context()
	db := open(t)
	v, err := db.SchemaVersion(ctx)
	if err != nil || v != store.SchemaVersion() {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, store.SchemaVersion())
	}
	register(t, db, police)

	// Reopening applies nothing and keeps the data, however often.
	for range 2 {
		db2, err := reopen(t, db)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		if v, err := db2.SchemaVersion(ctx); err != nil || v != store.SchemaVersion() {
			t.Fatalf("after reopen SchemaVersion = %d, %v", v, err)
		}
		var n int64
		if err := db2.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil || n != store.SchemaVersion() {
			t.Fatalf("schema_migrations has %d rows (%v), want %d", n, err, store.SchemaVersion())
		}
		if _, err := db2.GetPrincipal(ctx, police.Name); err != nil {
			t.Fatalf("after reopen: %v", err)
		}
		db2.Close()
	}
}

func testSchemaTooNew(t *testing.T, open func(t *testing.T) *store.DB) {
	db := open(t)
	inTx(t, db, func(tx *store.Tx) error {
		_, err := tx.ExecContext(t.Context(),
			"INSERT INTO schema_migrations (version, name, sm3, applied_at) VALUES ($1, $2, $3, $4)",
			store.SchemaVersion()+1, "9999_future", sm3.SumHex(nil), int64(0))
		return err
	})
	if _, err := reopen(t, db); !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("reopening a newer database: %v, want ErrSchemaTooNew", err)
	}
}

func testSchemaMismatch(t *testing.T, open func(t *testing.T) *store.DB) {
	db := open(t)
	inTx(t, db, func(tx *store.Tx) error {
		_, err := tx.ExecContext(t.Context(), "UPDATE schema_migrations SET sm3 = $1 WHERE version = 1", sm3.SumHex([]byte("edited")))
		return err
	})
	if _, err := reopen(t, db); !errors.Is(err, store.ErrSchemaMismatch) {
		t.Fatalf("reopening a database with an edited migration: %v, want ErrSchemaMismatch", err)
	}
}

func testRegisterPrincipal(t *testing.T, open func(t *testing.T) *store.DB) {
	ctx := t.Context()
	db := open(t)
	alice := store.Principal{
		Name: "user:alice", Kind: store.KindUser, Agency: "procuratorate.411528",
		Roles:       []store.Role{store.RoleRequester, store.RoleApprover, store.RoleRequester},
		DisplayName: "检察官 A",
	}
	before := time.Now()
	var got store.Principal
	inTx(t, db, func(tx *store.Tx) (err error) {
		got, err = tx.RegisterPrincipal(ctx, alice)
		return err
	})
	after := time.Now()
	want := alice
	want.Roles = []store.Role{store.RoleApprover, store.RoleRequester}
	want.Status = store.StatusActive
	want.Created, want.Updated = got.Created, got.Updated
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("RegisterPrincipal = %+v, want %+v", got, want)
	}
	within(t, "Created", got.Created, before, after)
	if got.Updated != got.Created {
		t.Errorf("Updated %v != Created %v", got.Updated, got.Created)
	}
	read, err := db.GetPrincipal(ctx, alice.Name)
	if err != nil || !reflect.DeepEqual(read, got) {
		t.Fatalf("GetPrincipal = %+v, %v; want %+v", read, err, got)
	}

	// A principal without roles has an empty, non-nil list.
	register(t, db, police)
	p, err := db.GetPrincipal(ctx, police.Name)
	if err != nil || p.Roles == nil || len(p.Roles) != 0 {
		t.Fatalf("GetPrincipal(%s) = %+v, %v; want no roles", police.Name, p, err)
	}

	// A taken name is refused and the stored principal unchanged.
	dup := alice
	dup.Kind, dup.DisplayName, dup.Roles = store.KindUser, "someone else", nil
	err = db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.RegisterPrincipal(ctx, dup)
		return err
	})
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("registering %s twice: %v, want ErrExists", alice.Name, err)
	}
	if read, _ := db.GetPrincipal(ctx, alice.Name); !reflect.DeepEqual(read, got) {
		t.Fatalf("after a refused duplicate: %+v, want %+v", read, got)
	}

	if _, err := db.GetPrincipal(ctx, "user:nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetPrincipal(unknown) = %v, want ErrNotFound", err)
	}
}

func testInvalidPrincipals(t *testing.T, open func(t *testing.T) *store.DB) {
	db := open(t)
	ok := store.Principal{Name: "court.411528", Kind: store.KindAgency}
	tests := []struct {
		name string
		edit func(p *store.Principal)
	}{
		{"empty name", func(p *store.Principal) { p.Name = "" }},
		{"upper case", func(p *store.Principal) { p.Name = "Court.411528" }},
		{"leading digit", func(p *store.Principal) { p.Name = "4court" }},
		{"space", func(p *store.Principal) { p.Name = "court 411528" }},
		{"too long", func(p *store.Principal) { p.Name = "c" + string(make([]byte, 128)) }},
		{"agency with colon", func(p *store.Principal) { p.Name = "user:court" }},
		{"user without prefix", func(p *store.Principal) { p.Kind = store.KindUser }},
		{"user with empty name", func(p *store.Principal) { p.Kind, p.Name = store.KindUser, "user:" }},
		{"user with two colons", func(p *store.Principal) { p.Kind, p.Name = store.KindUser, "user:a:b" }},
		{"model without prefix", func(p *store.Principal) { p.Kind = store.KindModel }},
		{"unknown kind", func(p *store.Principal) { p.Kind = "robot" }},
		{"bad agency", func(p *store.Principal) { p.Agency = "Court" }},
		{"bad status", func(p *store.Principal) { p.Status = "paused" }},
		{"bad role", func(p *store.Principal) { p.Roles = []store.Role{"root"} }},
		{"control character", func(p *store.Principal) { p.DisplayName = "a\nb" }},
		{"invalid UTF-8", func(p *store.Principal) { p.DisplayName = "\xff" }},
	}
	for _, tc := range tests {
		p := ok
		tc.edit(&p)
		err := db.InTx(t.Context(), func(tx *store.Tx) error {
			_, err := tx.RegisterPrincipal(t.Context(), p)
			return err
		})
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: RegisterPrincipal(%+v) = %v, want ErrInvalid", tc.name, p, err)
		}
	}
	if ps, err := db.ListPrincipals(t.Context(), store.PrincipalQuery{}); err != nil || len(ps) != 0 {
		t.Fatalf("after invalid registrations: %v, %v; want none", ps, err)
	}
	// The valid forms of each kind.
	register(t, db, ok,
		store.Principal{Name: "user:bob_1", Kind: store.KindUser},
		store.Principal{Name: "model:medins.third_party_injury", Kind: store.KindModel},
		store.Principal{Name: "gateway", Kind: store.KindServer})
}

func testPrincipalStatusAndRoles(t *testing.T, open func(t *testing.T) *store.DB) {
	ctx := t.Context()
	db := open(t)
	bob := store.Principal{Name: "user:bob", Kind: store.KindUser, Roles: []store.Role{store.RoleApprover}}
	register(t, db, bob)
	created, _ := db.GetPrincipal(ctx, bob.Name)

	inTx(t, db, func(tx *store.Tx) error {
		if err := tx.SetPrincipalStatus(ctx, bob.Name, store.StatusDisabled); err != nil {
			return err
		}
		return tx.SetPrincipalRoles(ctx, bob.Name, []store.Role{store.RoleAuditor, store.RoleAdmin, store.RoleAuditor})
	})
	got, err := db.GetPrincipal(ctx, bob.Name)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusDisabled || !reflect.DeepEqual(got.Roles, []store.Role{store.RoleAdmin, store.RoleAuditor}) {
		t.Fatalf("after SetPrincipalStatus and SetPrincipalRoles: %+v", got)
	}
	if got.Created != created.Created || got.Updated.Before(created.Updated) {
		t.Fatalf("times: created %v → %v, updated %v → %v", created.Created, got.Created, created.Updated, got.Updated)
	}
	inTx(t, db, func(tx *store.Tx) error {
		if err := tx.SetPrincipalStatus(ctx, bob.Name, store.StatusActive); err != nil {
			return err
		}
		return tx.SetPrincipalRoles(ctx, bob.Name, nil)
	})
	if got, _ := db.GetPrincipal(ctx, bob.Name); got.Status != store.StatusActive || len(got.Roles) != 0 {
		t.Fatalf("after re-enabling and clearing roles: %+v", got)
	}

	errs := map[string]struct {
		fn   func(tx *store.Tx) error
		want error
	}{
		"status of unknown": {func(tx *store.Tx) error { return tx.SetPrincipalStatus(ctx, "user:nobody", store.StatusDisabled) }, store.ErrNotFound},
		"roles of unknown":  {func(tx *store.Tx) error { return tx.SetPrincipalRoles(ctx, "user:nobody", nil) }, store.ErrNotFound},
		"bad status":        {func(tx *store.Tx) error { return tx.SetPrincipalStatus(ctx, bob.Name, "gone") }, store.ErrInvalid},
		"bad role":          {func(tx *store.Tx) error { return tx.SetPrincipalRoles(ctx, bob.Name, []store.Role{"root"}) }, store.ErrInvalid},
	}
	for name, tc := range errs {
		if err := db.InTx(ctx, tc.fn); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

func testListPrincipals(t *testing.T, open func(t *testing.T) *store.DB) {
	ctx := t.Context()
	db := open(t)
	register(t, db,
		store.Principal{Name: "user:carol", Kind: store.KindUser, Agency: "procuratorate.411528", Roles: []store.Role{store.RoleApprover}},
		store.Principal{Name: "user:alice", Kind: store.KindUser, Agency: "procuratorate.411528", Roles: []store.Role{store.RoleRequester}},
		store.Principal{Name: "user:bob", Kind: store.KindUser, Agency: "procuratorate.411528", Roles: []store.Role{store.RoleApprover, store.RoleAuditor}},
		police,
		store.Principal{Name: "court.411528", Kind: store.KindAgency, Agency: "court.411528", Status: store.StatusDisabled},
	)
	names := func(q store.PrincipalQuery) []string {
		t.Helper()
		ps, err := db.ListPrincipals(ctx, q)
		if err != nil {
			t.Fatalf("ListPrincipals(%+v): %v", q, err)
		}
		out := []string{}
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return out
	}
	tests := []struct {
		q    store.PrincipalQuery
		want []string
	}{
		{store.PrincipalQuery{}, []string{"court.411528", "police.411528", "user:alice", "user:bob", "user:carol"}},
		{store.PrincipalQuery{Kind: store.KindAgency}, []string{"court.411528", "police.411528"}},
		{store.PrincipalQuery{Status: store.StatusDisabled}, []string{"court.411528"}},
		{store.PrincipalQuery{Agency: "procuratorate.411528"}, []string{"user:alice", "user:bob", "user:carol"}},
		{store.PrincipalQuery{Role: store.RoleApprover}, []string{"user:bob", "user:carol"}},
		{store.PrincipalQuery{Role: store.RoleApprover, Agency: "procuratorate.411528", Kind: store.KindUser, Status: store.StatusActive}, []string{"user:bob", "user:carol"}},
		{store.PrincipalQuery{Role: store.RoleAdmin}, []string{}},
	}
	for _, tc := range tests {
		if got := names(tc.q); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ListPrincipals(%+v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	// Roles come back whole even when the query filters on one of them.
	ps, _ := db.ListPrincipals(ctx, store.PrincipalQuery{Role: store.RoleAuditor})
	if len(ps) != 1 || !reflect.DeepEqual(ps[0].Roles, []store.Role{store.RoleApprover, store.RoleAuditor}) {
		t.Errorf("ListPrincipals(auditor) = %+v, want bob with both roles", ps)
	}
	// The same inside a transaction.
	inTx(t, db, func(tx *store.Tx) error {
		ps, err := tx.ListPrincipals(ctx, store.PrincipalQuery{Kind: store.KindUser})
		if err != nil || len(ps) != 3 {
			return fmt.Errorf("Tx.ListPrincipals = %d principals, %v; want 3", len(ps), err)
		}
		p, err := tx.GetPrincipal(ctx, "user:alice")
		if err != nil || p.Roles[0] != store.RoleRequester {
			return fmt.Errorf("Tx.GetPrincipal = %+v, %v", p, err)
		}
		return nil
	})
}

// certPEM returns a CERTIFICATE PEM block with made-up content: the store
// does not parse certificates.
func certPEM(label string) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("test certificate " + label)})
}

func keyID(label string) string { return sm3.SumHex([]byte(label))[:32] }

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func cert(principal, label string, purpose store.CertPurpose, from, to time.Time) store.Certificate {
	return store.Certificate{
		Principal: principal, Purpose: purpose, KeyID: keyID(principal + "/" + string(purpose)),
		Serial: fmt.Sprintf("%x", sm3.Sum([]byte(label)))[:20], PEM: certPEM(label),
		NotBefore: from, NotAfter: to,
	}
}

func addCerts(t *testing.T, db *store.DB, cs ...store.Certificate) []store.Certificate {
	t.Helper()
	var out []store.Certificate
	inTx(t, db, func(tx *store.Tx) error {
		for _, c := range cs {
			got, err := tx.AddCertificate(t.Context(), c)
			if err != nil {
				return err
			}
			out = append(out, got)
		}
		return nil
	})
	return out
}

func testCertificates(t *testing.T, open func(t *testing.T) *store.DB) {
	ctx := t.Context()
	db := open(t)
	register(t, db, police)
	year := 365 * 24 * time.Hour
	sign := cert(police.Name, "sign-1", store.PurposeSign, t0, t0.Add(year))
	sign.NotBefore = sign.NotBefore.Add(1500 * time.Nanosecond) // stored to the microsecond
	enc := cert(police.Name, "enc-1", store.PurposeEnc, t0, t0.Add(year))
	sign2 := cert(police.Name, "sign-2", store.PurposeSign, t0.Add(year/2), t0.Add(2*year))
	sign2.KeyID = keyID("another key")
	got := addCerts(t, db, sign, enc, sign2)

	der, _ := pem.Decode(sign.PEM)
	want := sign
	want.Fingerprint = sm3.SumHex(der.Bytes)
	want.Status = store.CertActive
	want.NotBefore = t0.Add(time.Microsecond)
	want.Created, want.Updated = got[0].Created, got[0].Updated
	if !reflect.DeepEqual(got[0], want) {
		t.Fatalf("AddCertificate = %+v\nwant %+v", got[0], want)
	}
	if read, err := db.GetCertificate(ctx, want.Fingerprint); err != nil || !reflect.DeepEqual(read, want) {
		t.Fatalf("GetCertificate = %+v, %v", read, err)
	}

	all, err := db.CertificatesFor(ctx, police.Name)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, c := range all {
		order = append(order, c.Fingerprint)
	}
	if wantOrder := []string{got[2].Fingerprint, got[0].Fingerprint, got[1].Fingerprint}; !reflect.DeepEqual(order, wantOrder) {
		t.Fatalf("CertificatesFor order = %v, want %v (signing newest first, then encryption)", order, wantOrder)
	}
	if cs, err := db.CertificatesFor(ctx, "court.411528"); err != nil || len(cs) != 0 {
		t.Fatalf("CertificatesFor(unknown) = %v, %v; want none", cs, err)
	}

	// The same certificate twice is refused, also with different PEM
	// framing; a certificate of an unknown principal too.
	again := sign
	again.PEM = append([]byte("\n"), sign.PEM...)
	for name, tc := range map[string]struct {
		c    store.Certificate
		want error
	}{
		"duplicate":         {again, store.ErrExists},
		"unknown principal": {cert("court.411528", "c", store.PurposeSign, t0, t0.Add(year)), store.ErrNotFound},
	} {
		err := db.InTx(ctx, func(tx *store.Tx) error { _, err := tx.AddCertificate(ctx, tc.c); return err })
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: AddCertificate = %v, want %v", name, err, tc.want)
		}
	}

	// Revocation is final and idempotent.
	inTx(t, db, func(tx *store.Tx) error {
		for range 2 {
			if err := tx.RevokeCertificate(ctx, got[1].Fingerprint); err != nil {
				return err
			}
		}
		c, err := tx.GetCertificate(ctx, got[1].Fingerprint)
		if err != nil || c.Status != store.CertRevoked || c.Updated.Before(c.Created) {
			return fmt.Errorf("after revocation: %+v, %v", c, err)
		}
		cs, err := tx.CertificatesFor(ctx, police.Name)
		if err != nil || len(cs) != 3 {
			return fmt.Errorf("Tx.CertificatesFor = %d, %v", len(cs), err)
		}
		return nil
	})
	err = db.InTx(ctx, func(tx *store.Tx) error { return tx.RevokeCertificate(ctx, sm3.SumHex([]byte("nothing"))) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RevokeCertificate(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := db.GetCertificate(ctx, "00"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetCertificate(unknown) = %v, want ErrNotFound", err)
	}
}

func testInvalidCertificates(t *testing.T, open func(t *testing.T) *store.DB) {
	db := open(t)
	register(t, db, police)
	ok := cert(police.Name, "ok", store.PurposeSign, t0, t0.Add(time.Hour))
	two := append(certPEM("a"), certPEM("b")...)
	tests := map[string]func(c *store.Certificate){
		"bad principal":     func(c *store.Certificate) { c.Principal = "" },
		"bad purpose":       func(c *store.Certificate) { c.Purpose = "tls" },
		"short key ID":      func(c *store.Certificate) { c.KeyID = c.KeyID[:30] },
		"upper-case key ID": func(c *store.Certificate) { c.KeyID = "ABCDEF0123456789ABCDEF0123456789" },
		"empty serial":      func(c *store.Certificate) { c.Serial = "" },
		"decimal serial":    func(c *store.Certificate) { c.Serial = "12x" },
		"empty validity":    func(c *store.Certificate) { c.NotAfter = c.NotBefore },
		"zero not before":   func(c *store.Certificate) { c.NotBefore = time.Time{} },
		"not PEM":           func(c *store.Certificate) { c.PEM = []byte("hello") },
		"wrong PEM type": func(c *store.Certificate) {
			c.PEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})
		},
		"two certificates": func(c *store.Certificate) { c.PEM = two },
		"trailing junk":    func(c *store.Certificate) { c.PEM = append(certPEM("x"), "junk"...) },
	}
	for name, edit := range tests {
		c := ok
		edit(&c)
		err := db.InTx(t.Context(), func(tx *store.Tx) error { _, err := tx.AddCertificate(t.Context(), c); return err })
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: AddCertificate = %v, want ErrInvalid", name, err)
		}
	}
	if cs, _ := db.CertificatesFor(t.Context(), police.Name); len(cs) != 0 {
		t.Fatalf("invalid certificates were stored: %v", cs)
	}
}

func testResolveKey(t *testing.T, open func(t *testing.T) *store.DB) {
	ctx := t.Context()
	db := open(t)
	register(t, db, police, store.Principal{Name: "court.411528", Kind: store.KindAgency})
	year := 365 * 24 * time.Hour
	// Three certificates of one key: an old one, a renewal, and a later
	// one that gets revoked.
	old := cert(police.Name, "old", store.PurposeSign, t0, t0.Add(year))
	renewed := cert(police.Name, "renewed", store.PurposeSign, t0.Add(year/2), t0.Add(2*year))
	revoked := cert(police.Name, "revoked", store.PurposeSign, t0.Add(year), t0.Add(3*year))
	cs := addCerts(t, db, old, renewed, revoked)
	inTx(t, db, func(tx *store.Tx) error { return tx.RevokeCertificate(ctx, cs[2].Fingerprint) })

	got, err := db.ResolveKey(ctx, police.Name, old.KeyID)
	if err != nil || got.Fingerprint != cs[1].Fingerprint {
		t.Fatalf("ResolveKey = %s, %v; want the active certificate that expires last (%s)", got.Fingerprint, err, cs[1].Fingerprint)
	}
	if !reflect.DeepEqual(got.PEM, renewed.PEM) || got.Status != store.CertActive {
		t.Fatalf("ResolveKey returned %+v", got)
	}
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{t0.Add(year / 2), true}, {t0.Add(2 * year), true},
		{t0.Add(year/2 - time.Second), false}, {t0.Add(2*year + time.Second), false},
	} {
		if v := got.ValidAt(tc.at); v != tc.want {
			t.Errorf("ValidAt(%v) = %v, want %v", tc.at, v, tc.want)
		}
	}

	// With every certificate revoked, the key still resolves — to a revoked
	// certificate, which is never valid.
	inTx(t, db, func(tx *store.Tx) error {
		for _, c := range cs[:2] {
			if err := tx.RevokeCertificate(ctx, c.Fingerprint); err != nil {
				return err
			}
		}
		got, err := tx.ResolveKey(ctx, police.Name, old.KeyID)
		if err != nil || got.Status != store.CertRevoked || got.ValidAt(t0.Add(year)) {
			return fmt.Errorf("Tx.ResolveKey after revoking all = %+v, %v", got, err)
		}
		return nil
	})

	for _, tc := range []struct{ principal, keyID string }{
		{police.Name, keyID("unknown")},
		{"court.411528", old.KeyID}, // another principal's key
		{"user:nobody", old.KeyID},
	} {
		if _, err := db.ResolveKey(ctx, tc.principal, tc.keyID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ResolveKey(%s, %s) = %v, want ErrNotFound", tc.principal, tc.keyID, err)
		}
	}
}

// batch returns a valid committed batch of police.deaths.
func batch(principal, id, content string) store.Batch {
	return store.Batch{
		BatchKey:    store.BatchKey{Dataset: "police.deaths", Principal: principal, ID: id},
		State:       store.BatchCommitted,
		Rows:        1000,
		EvidenceRef: "sm3:" + sm3.SumHex([]byte("envelope "+id+content)),
		EnvelopeSM3: sm3.SumHex([]byte("envelope " + id + content)),
		ContentSM3:  sm3.SumHex([]byte(content)),
	}
}

func insert(t *testing.T, db *store.DB, b store.Batch) (store.Batch, bool, error) {
	t.Helper()
	var (
		got     store.Batch
		created bool
	)
	err := db.InTx(t.Context(), func(tx *store.Tx) (err error) {
		got, created, err = tx.InsertBatch(t.Context(), b)
		return err
	})
	return got, created, err
}

func testInsertBatch(t *testing.T, open func(t *testing.T) *store.DB) {
	ctx := t.Context()
	db := open(t)
	register(t, db, police)
	b := batch(police.Name, "2026-01", "rows")
	before := time.Now()
	got, created, err := insert(t, db, b)
	if err != nil || !created {
		t.Fatalf("InsertBatch = %v, %v; want created", created, err)
	}
	within(t, "Created", got.Created, before, time.Now())
	want := b
	want.Rejected = []store.RejectedRow{}
	want.Created, want.Updated = got.Created, got.Created
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("InsertBatch = %+v\nwant %+v", got, want)
	}
	if read, err := db.GetBatch(ctx, b.BatchKey); err != nil || !reflect.DeepEqual(read, want) {
		t.Fatalf("GetBatch = %+v, %v\nwant %+v", read, err, want)
	}

	// A rejected batch keeps its errors.
	r := batch(police.Name, "2026-02", "bad rows")
	r.State, r.RejectedRows, r.EvidenceRef = store.BatchRejected, 2, ""
	r.Rejected = []store.RejectedRow{
		{Row: 3, Field: "id_number", Reason: "check digit does not match"},
		{Row: 3, Field: "death_date", Reason: "not a date"},
		{Row: 17, Field: "name", Reason: "required"},
	}
	got, created, err = insert(t, db, r)
	if err != nil || !created || !reflect.DeepEqual(got.Rejected, r.Rejected) {
		t.Fatalf("InsertBatch(rejected) = %+v, %v, %v", got, created, err)
	}
	inTx(t, db, func(tx *store.Tx) error {
		read, err := tx.GetBatch(ctx, r.BatchKey)
		if err != nil || !reflect.DeepEqual(read, got) {
			return fmt.Errorf("Tx.GetBatch = %+v, %v\nwant %+v", read, err, got)
		}
		return nil
	})

	if _, err := db.GetBatch(ctx, store.BatchKey{Dataset: "police.deaths", Principal: police.Name, ID: "nope"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetBatch(unknown) = %v, want ErrNotFound", err)
	}
	if _, _, err := insert(t, db, batch("court.411528", "x", "rows")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("InsertBatch by an unknown principal = %v, want ErrNotFound", err)
	}
}

func testBatchIdempotence(t *testing.T, open func(t *testing.T) *store.DB) {
	ctx := t.Context()
	db := open(t)
	court := store.Principal{Name: "police.411500", Kind: store.KindAgency}
	register(t, db, police, court)
	first, _, err := insert(t, db, batch(police.Name, "b1", "rows"))
	if err != nil {
		t.Fatal(err)
	}

	// The same content again, even in a new envelope: the first record.
	again := batch(police.Name, "b1", "rows")
	again.EnvelopeSM3 = sm3.SumHex([]byte("a re-sealed envelope"))
	again.EvidenceRef = "sm3:" + again.EnvelopeSM3
	again.Rows = 5 // ignored: the stored record answers
	for _, b := range []store.Batch{batch(police.Name, "b1", "rows"), again} {
		got, created, err := insert(t, db, b)
		if err != nil || created || !reflect.DeepEqual(got, first) {
			t.Fatalf("re-inserting = %+v, %v, %v; want the first record, not created", got, created, err)
		}
	}

	// Other content under the same key conflicts, and changes nothing.
	if _, _, err := insert(t, db, batch(police.Name, "b1", "other rows")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("other content under the same key = %v, want ErrConflict", err)
	}
	if got, _ := db.GetBatch(ctx, first.BatchKey); !reflect.DeepEqual(got, first) {
		t.Fatalf("after a conflict: %+v, want %+v", got, first)
	}

	// The batch ID is the sender's, per dataset: another sender, or another
	// dataset, may use it.
	other := batch(court.Name, "b1", "other rows")
	if _, created, err := insert(t, db, other); err != nil || !created {
		t.Fatalf("same ID, other principal: %v, %v", created, err)
	}
	other = batch(police.Name, "b1", "other rows")
	other.Dataset = "police.detentions"
	if _, created, err := insert(t, db, other); err != nil || !created {
		t.Fatalf("same ID, other dataset: %v, %v", created, err)
	}
}

func testRejectedBatchReplaced(t *testing.T, open func(t *testing.T) *store.DB) {
	ctx := t.Context()
	db := open(t)
	register(t, db, police)
	bad := batch(police.Name, "b1", "bad rows")
	bad.State, bad.RejectedRows = store.BatchRejected, 1
	bad.Rejected = []store.RejectedRow{{Row: 1, Field: "id_number", Reason: "check digit does not match"}}
	rejected, _, err := insert(t, db, bad)
	if err != nil {
		t.Fatal(err)
	}
	// The corrected batch, under the same ID, replaces the rejected record.
	fixed := batch(police.Name, "b1", "fixed rows")
	got, created, err := insert(t, db, fixed)
	if err != nil || !created || got.State != store.BatchCommitted || got.ContentSM3 != fixed.ContentSM3 {
		t.Fatalf("re-pushing a rejected batch = %+v, %v, %v; want the new record, created", got, created, err)
	}
	read, _ := db.GetBatch(ctx, fixed.BatchKey)
	if !reflect.DeepEqual(read, got) || len(read.Rejected) != 0 || read.RejectedRows != 0 || !read.Created.Equal(rejected.Created) {
		t.Fatalf("stored after replacement: %+v, want %+v", read, got)
	}
	// Once committed, the ID is taken.
	if _, _, err := insert(t, db, bad); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("pushing the bad batch again after the fix = %v, want ErrConflict", err)
	}
}

func testBatchStates(t *testing.T, open func(t *testing.T) *store.DB) {
	ctx := t.Context()
	db := open(t)
	register(t, db, police)
	a := batch(police.Name, "a", "a")
	a.State = store.BatchReceived
	b := batch(police.Name, "b", "b")
	b.State = store.BatchReceived
	for _, x := range []store.Batch{a, b} {
		if _, _, err := insert(t, db, x); err != nil {
			t.Fatal(err)
		}
	}
	inTx(t, db, func(tx *store.Tx) error {
		for range 2 { // committing twice changes nothing
			got, err := tx.CommitBatch(ctx, a.BatchKey)
			if err != nil || got.State != store.BatchCommitted {
				return fmt.Errorf("CommitBatch = %+v, %v", got, err)
			}
		}
		reasons := []store.RejectedRow{{Row: 0, Reason: "header does not match the schema"}}
		got, err := tx.RejectBatch(ctx, b.BatchKey, 0, reasons)
		if err != nil || got.State != store.BatchRejected || !reflect.DeepEqual(got.Rejected, reasons) {
			return fmt.Errorf("RejectBatch = %+v, %v", got, err)
		}
		return nil
	})
	if got, _ := db.GetBatch(ctx, a.BatchKey); got.State != store.BatchCommitted || got.Updated.Before(got.Created) {
		t.Fatalf("after CommitBatch: %+v", got)
	}
	if got, _ := db.GetBatch(ctx, b.BatchKey); got.State != store.BatchRejected || len(got.Rejected) != 1 {
		t.Fatalf("after RejectBatch: %+v", got)
	}

	unknown := store.BatchKey{Dataset: "police.deaths", Principal: police.Name, ID: "zzz"}
	tests := map[string]struct {
		fn   func(tx *store.Tx) error
		want error
	}{
		"commit rejected": {func(tx *store.Tx) error { _, err := tx.CommitBatch(ctx, b.BatchKey); return err }, store.ErrConflict},
		"reject committed": {func(tx *store.Tx) error {
			_, err := tx.RejectBatch(ctx, a.BatchKey, 1, []store.RejectedRow{{Row: 1, Reason: "x"}})
			return err
		}, store.ErrConflict},
		"commit unknown": {func(tx *store.Tx) error { _, err := tx.CommitBatch(ctx, unknown); return err }, store.ErrNotFound},
		"reject unknown": {func(tx *store.Tx) error {
			_, err := tx.RejectBatch(ctx, unknown, 1, []store.RejectedRow{{Row: 1, Reason: "x"}})
			return err
		}, store.ErrNotFound},
	}
	for name, tc := range tests {
		if err := db.InTx(ctx, tc.fn); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}

	// Rejecting needs reasons that fit the batch.
	c := batch(police.Name, "c", "c")
	c.State = store.BatchReceived
	if _, _, err := insert(t, db, c); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		n       int64
		reasons []store.RejectedRow
	}{
		"no reasons":       {1, nil},
		"more than rows":   {c.Rows + 1, []store.RejectedRow{{Row: 1, Reason: "x"}}},
		"row out of range": {1, []store.RejectedRow{{Row: c.Rows + 1, Reason: "x"}}},
		"empty reason":     {1, []store.RejectedRow{{Row: 1, Field: "name"}}},
	} {
		err := db.InTx(ctx, func(tx *store.Tx) error { _, err := tx.RejectBatch(ctx, c.BatchKey, tc.n, tc.reasons); return err })
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("RejectBatch %s = %v, want ErrInvalid", name, err)
		}
	}
}

func testInvalidBatches(t *testing.T, open func(t *testing.T) *store.DB) {
	db := open(t)
	register(t, db, police)
	long := string(make([]byte, 129))
	tests := map[string]func(b *store.Batch){
		"empty dataset":          func(b *store.Batch) { b.Dataset = "" },
		"long dataset":           func(b *store.Batch) { b.Dataset = long },
		"empty ID":               func(b *store.Batch) { b.ID = "" },
		"non-ASCII ID":           func(b *store.Batch) { b.ID = "批次1" },
		"control in ID":          func(b *store.Batch) { b.ID = "a\tb" },
		"bad principal":          func(b *store.Batch) { b.Principal = "Police" },
		"unknown state":          func(b *store.Batch) { b.State = "pending" },
		"negative rows":          func(b *store.Batch) { b.Rows = -1 },
		"committed with errors":  func(b *store.Batch) { b.RejectedRows = 1 },
		"committed with reasons": func(b *store.Batch) { b.Rejected = []store.RejectedRow{{Row: 1, Reason: "x"}} },
		"committed, no evidence": func(b *store.Batch) { b.EvidenceRef = "" },
		"rejected, no reasons":   func(b *store.Batch) { b.State, b.RejectedRows = store.BatchRejected, 1 },
		"bad envelope digest":    func(b *store.Batch) { b.EnvelopeSM3 = "abc" },
		"upper-case digest":      func(b *store.Batch) { b.ContentSM3 = "A" + b.ContentSM3[1:] },
		"evidence not ASCII":     func(b *store.Batch) { b.EvidenceRef = "证据" },
	}
	for name, edit := range tests {
		b := batch(police.Name, "b1", "rows")
		edit(&b)
		if _, _, err := insert(t, db, b); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: InsertBatch = %v, want ErrInvalid", name, err)
		}
	}
	if bs, _ := db.ListBatches(t.Context(), store.BatchQuery{}); len(bs) != 0 {
		t.Fatalf("invalid batches were stored: %v", bs)
	}
}

func testListBatches(t *testing.T, open func(t *testing.T) *store.DB) {
	ctx := t.Context()
	db := open(t)
	other := store.Principal{Name: "police.411500", Kind: store.KindAgency}
	register(t, db, police, other)
	var keys []string
	add := func(b store.Batch) {
		t.Helper()
		if _, _, err := insert(t, db, b); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, b.BatchKey.String())
	}
	add(batch(police.Name, "1", "1"))
	add(batch(other.Name, "2", "2"))
	det := batch(police.Name, "3", "3")
	det.Dataset, det.Rows = "police.detentions", 7
	add(det)
	rej := batch(police.Name, "4", "4")
	rej.State, rej.RejectedRows, rej.Rejected = store.BatchRejected, 1, []store.RejectedRow{{Row: 1, Reason: "x"}}
	add(rej)
	rec := batch(police.Name, "5", "5")
	rec.State = store.BatchReceived
	add(rec)

	list := func(q store.BatchQuery) []string {
		t.Helper()
		bs, err := db.ListBatches(ctx, q)
		if err != nil {
			t.Fatalf("ListBatches(%+v): %v", q, err)
		}
		out := []string{}
		for _, b := range bs {
			out = append(out, b.BatchKey.String())
		}
		return out
	}
	tests := []struct {
		q    store.BatchQuery
		want []string
	}{
		{store.BatchQuery{Dataset: "police.detentions"}, []string{keys[2]}},
		{store.BatchQuery{Principal: other.Name}, []string{keys[1]}},
		{store.BatchQuery{State: store.BatchRejected}, []string{keys[3]}},
		{store.BatchQuery{State: store.BatchReceived, Dataset: "police.deaths", Principal: police.Name}, []string{keys[4]}},
		{store.BatchQuery{Dataset: "medins.settlements"}, []string{}},
	}
	for _, tc := range tests {
		if got := list(tc.q); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ListBatches(%+v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	all, err := db.ListBatches(ctx, store.BatchQuery{})
	if err != nil || len(all) != 5 {
		t.Fatalf("ListBatches() = %d batches, %v", len(all), err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Created.After(all[i-1].Created) {
			t.Fatalf("ListBatches is not newest first: %v after %v", all[i].Created, all[i-1].Created)
		}
	}
	if got := list(store.BatchQuery{Limit: 2}); len(got) != 2 {
		t.Fatalf("Limit 2 gave %v", got)
	}
	if _, err := db.ListBatches(ctx, store.BatchQuery{Limit: -1}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("negative limit: %v, want ErrInvalid", err)
	}

	committed, err := db.CommittedBatches(ctx, "police.deaths")
	if err != nil || len(committed) != 2 {
		t.Fatalf("CommittedBatches = %d, %v; want 2", len(committed), err)
	}
	for _, b := range committed {
		if b.State != store.BatchCommitted || b.Dataset != "police.deaths" {
			t.Fatalf("CommittedBatches returned %+v", b)
		}
	}
	if committed[0].Created.After(committed[1].Created) {
		t.Fatal("CommittedBatches is not oldest first")
	}
	inTx(t, db, func(tx *store.Tx) error {
		cs, err := tx.CommittedBatches(ctx, "police.detentions")
		if err != nil || len(cs) != 1 {
			return fmt.Errorf("Tx.CommittedBatches = %v, %v", cs, err)
		}
		bs, err := tx.ListBatches(ctx, store.BatchQuery{Limit: 3})
		if err != nil || len(bs) != 3 {
			return fmt.Errorf("Tx.ListBatches = %d, %v", len(bs), err)
		}
		return nil
	})

	totals, err := db.BatchTotals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(totals) != 2 ||
		totals[0].Dataset != "police.deaths" || totals[0].Batches != 2 || totals[0].Rows != 2000 ||
		totals[1].Dataset != "police.detentions" || totals[1].Batches != 1 || totals[1].Rows != 7 ||
		totals[0].Latest.IsZero() {
		t.Fatalf("BatchTotals = %+v", totals)
	}
}

var errBoom = errors.New("boom")

func testRollbackOnError(t *testing.T, open func(t *testing.T) *store.DB) {
	ctx := t.Context()
	db := open(t)
	err := db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.RegisterPrincipal(ctx, police); err != nil {
			return err
		}
		if _, _, err := tx.InsertBatch(ctx, batch(police.Name, "b", "b")); err != nil {
			return err
		}
		// Visible inside the transaction…
		if _, err := tx.GetPrincipal(ctx, police.Name); err != nil {
			return err
		}
		return fmt.Errorf("audit append failed: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx = %v, want the function's error", err)
	}
	// …and gone after the rollback.
	if _, err := db.GetPrincipal(ctx, police.Name); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after rollback GetPrincipal = %v, want ErrNotFound", err)
	}
	if bs, _ := db.ListBatches(ctx, store.BatchQuery{}); len(bs) != 0 {
		t.Fatalf("after rollback: %v", bs)
	}
	// The store works on after a rollback.
	register(t, db, police)
}

func testRollbackOnPanic(t *testing.T, open func(t *testing.T) *store.DB) {
	ctx := t.Context()
	db := open(t)
	func() {
		defer func() {
			if r := recover(); r != errBoom {
				t.Fatalf("recovered %v, want the function's panic", r)
			}
		}()
		db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.RegisterPrincipal(ctx, police); err != nil {
				return err
			}
			panic(errBoom)
		})
	}()
	if _, err := db.GetPrincipal(ctx, police.Name); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after a panic GetPrincipal = %v, want ErrNotFound", err)
	}
	register(t, db, police)
}

// testFailingStatement is the audit case: the state change succeeds, then
// the caller's own row fails in the database; nothing commits.
func testFailingStatement(t *testing.T, open func(t *testing.T) *store.DB) {
	ctx := t.Context()
	db := open(t)
	register(t, db, police)
	inTx(t, db, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, "CREATE TABLE storetest_log (seq BIGINT NOT NULL PRIMARY KEY, what TEXT NOT NULL)")
		if err == nil {
			_, err = tx.ExecContext(ctx, "INSERT INTO storetest_log (seq, what) VALUES ($1, $2)", 1, "first")
		}
		return err
	})
	err := db.InTx(ctx, func(tx *store.Tx) error {
		if _, _, err := tx.InsertBatch(ctx, batch(police.Name, "b", "b")); err != nil {
			return err
		}
		// A duplicate sequence number: the database refuses the row.
		_, err := tx.ExecContext(ctx, "INSERT INTO storetest_log (seq, what) VALUES ($1, $2)", 1, "batch b")
		return err
	})
	if err == nil {
		t.Fatal("InTx with a failing statement returned nil")
	}
	if bs, _ := db.ListBatches(ctx, store.BatchQuery{}); len(bs) != 0 {
		t.Fatalf("a batch committed without its log row: %v", bs)
	}
}

func testRawSQL(t *testing.T, open func(t *testing.T) *store.DB) {
	ctx := t.Context()
	db := open(t)
	inTx(t, db, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, "CREATE TABLE storetest_entries (seq BIGINT NOT NULL PRIMARY KEY, at BIGINT NOT NULL, body TEXT NOT NULL)")
		return err
	})
	at := time.Date(2026, 11, 25, 19, 22, 0, 123456000, time.UTC)
	inTx(t, db, func(tx *store.Tx) error {
		res, err := tx.ExecContext(ctx, "INSERT INTO storetest_entries (seq, at, body) VALUES ($1, $2, $3), ($4, $2, $5)",
			1, at.UnixMicro(), "one", 2, "two")
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 2 {
			return fmt.Errorf("RowsAffected = %d, %v", n, err)
		}
		// Uncommitted rows: visible in the transaction, not outside.
		var n int64
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM storetest_entries").Scan(&n); err != nil || n != 2 {
			return fmt.Errorf("inside: %d rows, %v", n, err)
		}
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM storetest_entries").Scan(&n); err != nil || n != 0 {
			return fmt.Errorf("outside before commit: %d rows, %v", n, err)
		}
		rows, err := tx.QueryContext(ctx, "SELECT seq, body FROM storetest_entries WHERE at = $1 ORDER BY seq", at.UnixMicro())
		if err != nil {
			return err
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var (
				seq  int64
				body string
			)
			if err := rows.Scan(&seq, &body); err != nil {
				return err
			}
			got = append(got, fmt.Sprintf("%d %s", seq, body))
		}
		if err := rows.Err(); err != nil || !reflect.DeepEqual(got, []string{"1 one", "2 two"}) {
			return fmt.Errorf("QueryContext = %v, %v", got, err)
		}
		return nil
	})
	rows, err := db.QueryContext(ctx, "SELECT at FROM storetest_entries ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n int
	for rows.Next() {
		var us int64
		if err := rows.Scan(&us); err != nil || !time.UnixMicro(us).UTC().Equal(at) {
			t.Fatalf("time round trip: %d (%v), want %v", us, err, at)
		}
		n++
	}
	if rows.Err() != nil || n != 2 {
		t.Fatalf("after commit: %d rows, %v", n, rows.Err())
	}
}

func testReadTx(t *testing.T, open func(t *testing.T) *store.DB) {
	ctx := t.Context()
	db := open(t)
	register(t, db, police)
	err := db.InReadTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.GetPrincipal(ctx, police.Name); err != nil {
			return err
		}
		// A write committed meanwhile is not in this snapshot.
		register(t, db, store.Principal{Name: "court.411528", Kind: store.KindAgency})
		ps, err := tx.ListPrincipals(ctx, store.PrincipalQuery{})
		if err != nil || len(ps) != 1 {
			return fmt.Errorf("snapshot sees %d principals, %v; want 1", len(ps), err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("InReadTx: %v", err)
	}
	err = db.InReadTx(ctx, func(tx *store.Tx) error {
		_, err := tx.RegisterPrincipal(ctx, store.Principal{Name: "user:x", Kind: store.KindUser})
		return err
	})
	if err == nil {
		t.Fatal("a write in InReadTx succeeded")
	}
	if _, err := db.GetPrincipal(ctx, "user:x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after a refused read-only write: %v", err)
	}
}

func testTxAfterReturn(t *testing.T, open func(t *testing.T) *store.DB) {
	ctx := t.Context()
	db := open(t)
	var leaked *store.Tx
	inTx(t, db, func(tx *store.Tx) error { leaked = tx; return nil })
	if _, err := leaked.RegisterPrincipal(ctx, police); err == nil {
		t.Fatal("a Tx used after InTx returned wrote")
	}
	if _, err := db.GetPrincipal(ctx, police.Name); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetPrincipal = %v, want ErrNotFound", err)
	}
}

func testCanceled(t *testing.T, open func(t *testing.T) *store.DB) {
	db := open(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.RegisterPrincipal(ctx, police)
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("InTx with a canceled context = %v, want context.Canceled", err)
	}
	// Canceled inside the function: nothing commits.
	ctx, cancel = context.WithCancel(t.Context())
	err = db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.RegisterPrincipal(ctx, police); err != nil {
			return err
		}
		cancel()
		return nil
	})
	if err == nil {
		t.Fatal("InTx committed after its context was canceled")
	}
	if _, err := db.GetPrincipal(t.Context(), police.Name); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetPrincipal = %v, want ErrNotFound", err)
	}
}

// testConcurrentWriters runs read-modify-write transactions from many
// goroutines: none may fail (no "database is locked") and no update may be
// lost. Readers run meanwhile.
func testConcurrentWriters(t *testing.T, open func(t *testing.T) *store.DB) {
	ctx := t.Context()
	db := open(t)
	register(t, db, police)
	inTx(t, db, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, "CREATE TABLE storetest_counter (id BIGINT NOT NULL PRIMARY KEY, n BIGINT NOT NULL)")
		if err == nil {
			_, err = tx.ExecContext(ctx, "INSERT INTO storetest_counter (id, n) VALUES (1, 0)")
		}
		return err
	})
	const writers, each = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers*each+writers)
	done := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				err := db.InTx(ctx, func(tx *store.Tx) error {
					var n int64
					if err := tx.QueryRowContext(ctx, "SELECT n FROM storetest_counter WHERE id = 1").Scan(&n); err != nil {
						return err
					}
					if _, _, err := tx.InsertBatch(ctx, batch(police.Name, fmt.Sprintf("w%d-%d", w, i), "x")); err != nil {
						return err
					}
					_, err := tx.ExecContext(ctx, "UPDATE storetest_counter SET n = $1 WHERE id = 1", n+1)
					return err
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := db.ListBatches(ctx, store.BatchQuery{Limit: 5}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent transaction: %v", err)
	}
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT n FROM storetest_counter WHERE id = 1").Scan(&n); err != nil || n != writers*each {
		t.Fatalf("counter = %d, %v; want %d (lost updates)", n, err, writers*each)
	}
	if bs, err := db.ListBatches(ctx, store.BatchQuery{Limit: 1000}); err != nil || len(bs) != writers*each {
		t.Fatalf("%d batches, %v; want %d", len(bs), err, writers*each)
	}
}

// testConcurrentInsertBatch pushes one batch from many goroutines at once:
// exactly one stores it, every other gets the same record back.
func testConcurrentInsertBatch(t *testing.T, open func(t *testing.T) *store.DB) {
	db := open(t)
	register(t, db, police)
	const n = 8
	type result struct {
		b       store.Batch
		created bool
		err     error
	}
	results := make(chan result, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			b, created, err := insert(t, db, batch(police.Name, "same", "rows"))
			results <- result{b, created, err}
		})
	}
	wg.Wait()
	close(results)
	var (
		created int
		first   *store.Batch
	)
	for r := range results {
		if r.err != nil {
			t.Fatalf("InsertBatch: %v", r.err)
		}
		if r.created {
			created++
		}
		if first == nil {
			first = &r.b
		} else if !reflect.DeepEqual(r.b, *first) {
			t.Fatalf("different records: %+v and %+v", r.b, *first)
		}
	}
	if created != 1 {
		t.Fatalf("%d goroutines created the batch, want 1", created)
	}
}
