package store_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/qiao-exchange/qiao/crypto/sm3"
	"github.com/qiao-exchange/qiao/store"
	"github.com/qiao-exchange/qiao/store/storetest"
)

// openSQLite opens a new SQLite database file in a temporary directory.
func openSQLite(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), store.Config{DSN: filepath.Join(t.TempDir(), "state.db")})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, openSQLite)
}

func TestSQLiteSettings(t *testing.T) {
	ctx := t.Context()
	db := openSQLite(t)
	path := db.Config().DSN
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("database file mode %04o, want 0600", perm)
	}
	// The settings hold on the write connection (checked at Open) and on
	// every read connection.
	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1", "query_only": "1"} {
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil || got != want {
			t.Errorf("reader PRAGMA %s = %q, %v; want %q", pragma, got, err, want)
		}
	}
	var timeout int
	if err := db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&timeout); err != nil || timeout != 10000 {
		t.Errorf("busy_timeout = %d, %v; want 10000", timeout, err)
	}
	if _, err := db.QueryContext(ctx, "INSERT INTO principals (name) VALUES ('x')"); err == nil {
		t.Error("a write through a read connection succeeded")
	}
	// The foreign keys are enforced.
	err = db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO principal_roles (principal, role) VALUES ('nobody', 'admin')")
		return err
	})
	if err == nil {
		t.Error("a role of an unknown principal was stored")
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, cfg := range []store.Config{
		{},
		{DSN: ":memory:"},
		{DSN: "file:" + filepath.Join(dir, "a.db")},
		{DSN: filepath.Join(dir, "a.db") + "?_pragma=synchronous(OFF)"},
		{DSN: filepath.Join(dir, "missing", "a.db")},
		{Driver: "postgres", DSN: "postgres://localhost/qiao"},
		{DSN: filepath.Join(dir, "b.db"), MaxReaders: -1},
	} {
		if db, err := store.Open(t.Context(), cfg); err == nil {
			db.Close()
			t.Errorf("Open(%+v) succeeded", cfg)
		}
	}
}

// TestTwoProcesses opens one file twice, as the server and a CLI command
// would, and writes through both at once: busy_timeout and BEGIN IMMEDIATE
// make them wait for each other instead of failing.
func TestTwoProcesses(t *testing.T) {
	ctx := t.Context()
	a := openSQLite(t)
	b, err := store.Open(ctx, a.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const each = 15
	var wg sync.WaitGroup
	errs := make(chan error, 2*each)
	for i, db := range []*store.DB{a, b} {
		wg.Go(func() {
			for j := range each {
				err := db.InTx(ctx, func(tx *store.Tx) error {
					_, err := tx.RegisterPrincipal(ctx, store.Principal{Name: fmt.Sprintf("agency%d.%d", i, j), Kind: store.KindAgency})
					return err
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("writer: %v", err)
	}
	ps, err := a.ListPrincipals(ctx, store.PrincipalQuery{})
	if err != nil || len(ps) != 2*each {
		t.Fatalf("%d principals, %v; want %d", len(ps), err, 2*each)
	}
}

// TestDurableAcrossReopen commits, closes without a checkpoint of the
// caller's, and reads the data back from a new handle.
func TestDurableAcrossReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := store.Open(ctx, store.Config{DSN: path})
	if err != nil {
		t.Fatal(err)
	}
	err = db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.RegisterPrincipal(ctx, store.Principal{Name: "police.411528", Kind: store.KindAgency}); err != nil {
			return err
		}
		_, _, err := tx.InsertBatch(ctx, store.Batch{
			BatchKey: store.BatchKey{Dataset: "police.deaths", Principal: "police.411528", ID: "b1"},
			State:    store.BatchCommitted, Rows: 3, EvidenceRef: "ref",
			EnvelopeSM3: sm3.SumHex([]byte("e")), ContentSM3: sm3.SumHex([]byte("c")),
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = store.Open(ctx, store.Config{DSN: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b, err := db.GetBatch(ctx, store.BatchKey{Dataset: "police.deaths", Principal: "police.411528", ID: "b1"})
	if err != nil || b.Rows != 3 {
		t.Fatalf("after reopen: %+v, %v", b, err)
	}
}
