package main

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qiao-exchange/qiao/audit"
	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/store"
)

// auditDB writes a database file holding an audit log of 12 entries and a
// checkpoint, and returns its path, the verifier key and the log's key.
func auditDB(t *testing.T) (string, string, *sm2.PrivateKey) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "qiao.db")
	db, err := store.Open(ctx, store.Config{DSN: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	key, err := sm2.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.New(audit.Config{DB: db, Key: key, Origin: "gw.example.gov.cn/qiao/audit"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := l.Append(ctx, tx, audit.Entry{
				Actor:    audit.Actor{Principal: "police.411528", Agency: "police.411528"},
				Action:   audit.ActionDatasetPush,
				Resource: audit.Resource{Kind: audit.KindBatch, ID: "b" + strings.Repeat("x", i)},
				Decision: audit.Decision{Effect: audit.Allow},
				Result:   audit.Result{Status: audit.StatusOK},
			})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	return path, l.Verifier().String(), key
}

func TestAuditVerifyAndExport(t *testing.T) {
	path, vkey, key := auditDB(t)
	out := mustRun(t, "audit", "verify", "--db", path, "--key", vkey)
	if !strings.Contains(out, "audit log verified: 12 entries") {
		t.Fatalf("verify --db: %s", out)
	}
	keyFile := filepath.Join(t.TempDir(), "audit.vkey")
	os.WriteFile(keyFile, []byte(vkey+"\n"), 0o600)

	exp := filepath.Join(t.TempDir(), "audit.jsonl")
	mustRun(t, "audit", "export", "--db", path, "--from", "2000-01-01", exp)
	out = mustRun(t, "audit", "verify", exp, "--key", keyFile)
	if !strings.Contains(out, "export verified: 12 entries (0..11)") {
		t.Fatalf("verify FILE: %s", out)
	}

	// With the gateway's signing certificate instead of the key.
	rootKey, _ := sm2.GenerateKey()
	root, err := ca.NewRoot(rootKey, ca.RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := root.Issue(ca.Request{Principal: "gw", Kind: ca.KindServer, DNSNames: []string{"gw.example.gov.cn"}}, ca.PurposeSign, key.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(t.TempDir(), "gw.pem")
	os.WriteFile(certFile, cert.PEM(), 0o600)
	mustRun(t, "audit", "verify", exp, "--cert", certFile)
	mustRun(t, "audit", "verify", "--db", path, "--cert", certFile)

	// A changed export and a changed database exit with status 2 and name
	// the first bad entry.
	b, _ := os.ReadFile(exp)
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte(strings.Replace(string(b), `"id":"bxxxxx"`, `"id":"byyyyy"`, 1)), 0o600)
	out, err = run(t, "audit", "verify", bad, "--key", vkey)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitTampered || !strings.Contains(out, "first bad sequence number 5") {
		t.Fatalf("verify tampered export: %v\n%s", err, out)
	}

	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("DELETE FROM audit_entries WHERE seq = 11"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	out, err = run(t, "audit", "verify", "--db", path, "--key", vkey)
	if !errors.As(err, &ee) || ee.code != exitTampered || !strings.Contains(out, "首个异常序号 11") {
		t.Fatalf("verify tampered database: %v\n%s", err, out)
	}

	if _, err := run(t, "audit", "verify", exp); err == nil {
		t.Fatal("verify without a key succeeded")
	}
}
