package audit

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/store"
)

const testOrigin = "gateway.example.gov.cn/qiao/audit"

// testLog opens a store in a fresh file and a log over it, with a clock
// that advances one second per call from a fixed start.
func testLog(t testing.TB) (*Log, *store.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "qiao.db")
	db, err := store.Open(context.Background(), store.Config{DSN: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	key, err := sm2.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	l, err := New(Config{DB: db, Key: key, Origin: testOrigin, Now: func() time.Time {
		clock = clock.Add(time.Second)
		return clock
	}})
	if err != nil {
		t.Fatal(err)
	}
	return l, db, path
}

// testEntry returns a valid entry, varied by i.
func testEntry(i int) Entry {
	e := Entry{
		Actor:    Actor{Principal: fmt.Sprintf("agency-%d.system", i%3), Agency: fmt.Sprintf("agency-%d", i%3), Roles: []string{"sender"}},
		Action:   ActionDatasetPush,
		Resource: Resource{Kind: KindBatch, ID: fmt.Sprintf("batch-%d", i)},
		Dataset:  fmt.Sprintf("dataset-%d", i%2),
		Decision: Decision{Effect: Allow, Reasons: []string{"sender may push"}, PolicyRevision: "rev-1"},
		Result:   Result{Status: StatusOK},
	}
	if i%4 == 3 {
		e.Decision = Decision{Effect: Deny, Reasons: []string{"not a sender of this dataset"}, PolicyRevision: "rev-1"}
		e.Result = Result{Status: StatusError, Code: "permission_denied"}
	}
	if i%5 == 0 {
		e.Tokens = []string{fmt.Sprintf("%064x", i+1)}
	}
	return e
}

// appendN appends n test entries, each in its own transaction.
func appendN(t testing.TB, l *Log, db *store.DB, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := db.InTx(context.Background(), func(tx *store.Tx) error {
			_, err := l.Append(context.Background(), tx, testEntry(i))
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
}
