package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/qiao-exchange/qiao/store"
)

// TestGroupCommitIsolatesFailures runs many concurrent InTx calls, so that
// they are committed in groups, where every third call fails after writing
// and every fifth panics: exactly the others' rows must be stored, and each
// call must get its own outcome.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	ctx := t.Context()
	db, err := store.Open(ctx, store.Config{DSN: filepath.Join(t.TempDir(), "group.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, "CREATE TABLE grouptest (id BIGINT NOT NULL PRIMARY KEY)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	errFail := errors.New("fail")
	const n = 300
	var wg sync.WaitGroup
	outcome := make([]error, n)
	for i := range n {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					outcome[i] = fmt.Errorf("panic: %v", p)
				}
			}()
			outcome[i] = db.InTx(ctx, func(tx *store.Tx) error {
				if _, err := tx.ExecContext(ctx, "INSERT INTO grouptest (id) VALUES ($1)", i); err != nil {
					return err
				}
				switch {
				case i%5 == 0:
					panic(i)
				case i%3 == 0:
					return errFail
				}
				return nil
			})
		})
	}
	wg.Wait()
	want := 0
	for i, err := range outcome {
		switch {
		case i%5 == 0:
			if err == nil || err.Error() != fmt.Sprintf("panic: %d", i) {
				t.Errorf("call %d: %v, want its panic", i, err)
			}
		case i%3 == 0:
			if !errors.Is(err, errFail) {
				t.Errorf("call %d: %v, want its error", i, err)
			}
		default:
			want++
			if err != nil {
				t.Errorf("call %d: %v", i, err)
			}
		}
	}
	rows, err := db.QueryContext(ctx, "SELECT id FROM grouptest")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := 0
	for rows.Next() {
		var id int
		rows.Scan(&id)
		if id%5 == 0 || id%3 == 0 {
			t.Errorf("row %d of a failed call was committed", id)
		}
		got++
	}
	if got != want {
		t.Fatalf("%d rows committed, want %d", got, want)
	}
}

func TestInTxAfterClose(t *testing.T) {
	db, err := store.Open(t.Context(), store.Config{DSN: filepath.Join(t.TempDir(), "closed.db")})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := db.InTx(context.Background(), func(*store.Tx) error { return nil }); err == nil {
		t.Fatal("InTx on a closed store succeeded")
	}
}
