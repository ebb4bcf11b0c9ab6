package audit

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/qiao-exchange/qiao/audit/checkpoint"
	"github.com/qiao-exchange/qiao/audit/merkle"
	"github.com/qiao-exchange/qiao/store"
)

func TestAppendCheckpointProofs(t *testing.T) {
	ctx := t.Context()
	l, db, _ := testLog(t)

	cp0, err := l.Checkpoint(ctx)
	if err != nil || cp0.Size != 0 || cp0.Hash != merkle.EmptyRoot() {
		t.Fatalf("empty checkpoint = %+v, %v", cp0, err)
	}
	appendN(t, l, db, 0, 37)
	cp1, err := l.Checkpoint(ctx)
	if err != nil || cp1.Size != 37 {
		t.Fatalf("Checkpoint = %+v, %v", cp1, err)
	}
	again, err := l.Checkpoint(ctx)
	if err != nil || string(again.Note) != string(cp1.Note) {
		t.Fatalf("Checkpoint without appends signed anew: %v", err)
	}
	if c, err := checkpoint.Open(cp1.Note, l.Verifier()); err != nil || c.Hash != cp1.Hash {
		t.Fatalf("Open = %+v, %v", c, err)
	}

	for seq := uint64(0); seq < 37; seq++ {
		e, enc, p, err := l.Entry(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq != seq || p.Checkpoint.Size != 37 {
			t.Fatalf("Entry(%d) = seq %d at size %d", seq, e.Seq, p.Checkpoint.Size)
		}
		if err := merkle.VerifyInclusion(seq, 37, merkle.LeafHash(enc), p.Hashes, cp1.Hash); err != nil {
			t.Fatalf("entry %d: %v", seq, err)
		}
	}
	if _, _, _, err := l.Entry(ctx, 37); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Entry(37) = %v, want ErrNotFound", err)
	}

	appendN(t, l, db, 37, 30)
	// An entry beyond the latest checkpoint gets a new one.
	_, enc, p, err := l.Entry(ctx, 50)
	if err != nil || p.Checkpoint.Size != 67 {
		t.Fatalf("Entry(50) at size %d: %v", p.Checkpoint.Size, err)
	}
	if err := merkle.VerifyInclusion(50, 67, merkle.LeafHash(enc), p.Hashes, p.Checkpoint.Hash); err != nil {
		t.Fatal(err)
	}
	for _, s1 := range []uint64{0, 1, 16, 36, 37, 67} {
		proof, err := l.ConsistencyProof(ctx, s1, 67)
		if err != nil {
			t.Fatal(err)
		}
		root1 := merkle.EmptyRoot()
		if s1 > 0 {
			tr, err := merkle.TreeAt(ctx, dbHashes{db}, s1)
			if err != nil {
				t.Fatal(err)
			}
			root1 = tr.Root()
		}
		if err := merkle.VerifyConsistency(s1, 67, proof, root1, p.Checkpoint.Hash); err != nil {
			t.Fatalf("consistency %d..67: %v", s1, err)
		}
	}
	proof, err := l.ConsistencyProof(ctx, 37, 67)
	if err != nil {
		t.Fatal(err)
	}
	if err := merkle.VerifyConsistency(37, 67, proof, cp1.Hash, p.Checkpoint.Hash); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ConsistencyProof(ctx, 1, 68); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ConsistencyProof beyond the log = %v", err)
	}
	if rep, err := VerifyDB(ctx, db, l.Verifier()); err != nil || rep.Entries != 67 || rep.Checkpoints != 3 {
		t.Fatalf("VerifyDB = %+v, %v", rep, err)
	}
}

func TestQuery(t *testing.T) {
	ctx := t.Context()
	l, db, _ := testLog(t)
	appendN(t, l, db, 0, 40)
	all, err := l.Query(ctx, Filter{})
	if err != nil || len(all) != 40 {
		t.Fatalf("Query all = %d, %v", len(all), err)
	}
	count := func(f Filter, want int) {
		t.Helper()
		got, err := l.Query(ctx, f)
		if err != nil || len(got) != want {
			t.Fatalf("Query(%+v) = %d entries, %v; want %d", f, len(got), err, want)
		}
	}
	count(Filter{Decision: Deny}, 10)
	count(Filter{Decision: Allow, Dataset: "dataset-1"}, 10)
	count(Filter{Actor: "agency-0.system"}, 14)
	count(Filter{Action: ActionDatasetPull}, 0)
	count(Filter{Token: testEntry(10).Tokens[0]}, 1)
	count(Filter{From: all[5].Time, To: all[15].Time}, 10)
	count(Filter{Start: 30}, 10)
	count(Filter{Start: 30, Limit: 3}, 3)
	got, _ := l.Query(ctx, Filter{Token: testEntry(10).Tokens[0]})
	if got[0].Seq != 10 {
		t.Fatalf("token query found entry %d", got[0].Seq)
	}
}

// TestConcurrentAppends checks that appends from many goroutines, each in
// its own transaction, make one log without gaps: the store's single
// writer serializes them.
func TestConcurrentAppends(t *testing.T) {
	ctx := t.Context()
	l, db, _ := testLog(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				if err := db.InTx(ctx, func(tx *store.Tx) error {
					_, err := l.Append(ctx, tx, testEntry(g*100+i))
					return err
				}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if rep, err := VerifyDB(ctx, db, l.Verifier()); err != nil || rep.Entries != 200 {
		t.Fatalf("VerifyDB = %+v, %v", rep, err)
	}
}

// failingTx is a transaction that fails on demand: its nth ExecContext
// returns an error instead of running. It stands in for a database that
// fails mid-transaction (a full disk, a lost connection), which a real
// SQLite file cannot be made to do at a chosen statement.
type failingTx struct {
	Tx
	n, calls int
}

var errInjected = errors.New("injected failure")

func (f *failingTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	f.calls++
	if f.calls == f.n {
		return nil, errInjected
	}
	return f.Tx.ExecContext(ctx, q, args...)
}

// TestFailClosed appends in the same transaction as an exchange's own row
// (a principal registration) and makes the append fail at each of its
// statements in turn: the transaction must fail and neither the row nor
// any part of the entry may be stored.
func TestFailClosed(t *testing.T) {
	ctx := t.Context()
	l, db, _ := testLog(t)
	appendN(t, l, db, 0, 15) // the 16th append completes a level-4 node
	for n := 1; n <= 4; n++ {
		e := testEntry(0) // one token: entry, token, node, state
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.RegisterPrincipal(ctx, store.Principal{Name: "new.system", Kind: "agency", Agency: "new", DisplayName: "New"}); err != nil {
				return err
			}
			_, err := l.Append(ctx, &failingTx{Tx: tx, n: n}, e)
			return err
		})
		if !errors.Is(err, errInjected) {
			t.Fatalf("statement %d: InTx = %v, want the injected failure", n, err)
		}
		if _, err := db.GetPrincipal(ctx, "new.system"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("statement %d: the exchange's row was committed (%v)", n, err)
		}
		if all, err := l.Query(ctx, Filter{}); err != nil || len(all) != 15 {
			t.Fatalf("statement %d: %d entries, %v", n, len(all), err)
		}
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if rep, err := VerifyDB(ctx, db, l.Verifier()); err != nil || rep.Entries != 15 {
		t.Fatalf("VerifyDB after failed appends = %+v, %v", rep, err)
	}
	// And the same transaction succeeds when nothing fails.
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.RegisterPrincipal(ctx, store.Principal{Name: "new.system", Kind: "agency", Agency: "new", DisplayName: "New"}); err != nil {
			return err
		}
		_, err := l.Append(ctx, tx, testEntry(0))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetPrincipal(ctx, "new.system"); err != nil {
		t.Fatal(err)
	}
}

func TestRun(t *testing.T) {
	l, db, _ := testLog(t)
	appendN(t, l, db, 0, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := l.Run(ctx, 20*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v", err)
	}
	if cp, err := l.Latest(t.Context()); err != nil || cp.Size != 3 {
		t.Fatalf("Latest = %+v, %v", cp, err)
	}
}
