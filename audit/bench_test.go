package audit

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qiao-exchange/qiao/audit/merkle"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/store"
)

// BenchmarkAppend measures durable appends (each its own InTx, committed
// with synchronous=FULL) from
// 64 concurrent writers per CPU, beside the reference:
// plain inserts of the same rows (the entry row and its columns) into a
// table of the same store with the same indexes, from as many writers, without the tree.
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	for _, name := range []string{"Append", "PlainInsert"} {
		b.Run(name, func(b *testing.B) {
			l, db, _ := testLog(b)
			if err := db.InTx(ctx, func(tx *store.Tx) error {
				_, err := tx.ExecContext(ctx, `CREATE TABLE bench_entries (
					seq BIGINT NOT NULL PRIMARY KEY, entry TEXT NOT NULL, leaf_hash TEXT NOT NULL,
					logged_at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
					dataset TEXT NOT NULL, decision TEXT NOT NULL)`)
				for _, col := range []string{"logged_at", "actor", "action", "dataset", "decision"} {
					if err == nil {
						_, err = tx.ExecContext(ctx, "CREATE INDEX bench_"+col+" ON bench_entries ("+col+", seq)")
					}
				}
				return err
			}); err != nil {
				b.Fatal(err)
			}
			var (
				mu  sync.Mutex
				seq int
			)
			b.SetParallelism(64) // 64 writers per CPU
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					mu.Lock()
					i := seq
					seq++
					mu.Unlock()
					e := testEntry(i)
					e.Tokens = nil
					err := db.InTx(ctx, func(tx *store.Tx) error {
						if name == "Append" {
							_, err := l.Append(ctx, tx, e)
							return err
						}
						e.Seq, e.Time = uint64(i), time.Now()
						enc, err := e.Encode()
						if err != nil {
							return err
						}
						_, err = tx.ExecContext(ctx, `INSERT INTO bench_entries VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
							i, string(enc), merkle.LeafHash(enc).String(), e.Time.UnixMicro(), e.Actor.Principal, e.Action, e.Dataset, e.Decision.Effect)
						return err
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// loadBigLog fills a store with n entries the fast way — many rows per
// statement, in large transactions, the tree computed in memory — writing
// exactly the rows Append would.
func loadBigLog(ctx context.Context, dir string, n int) (*store.DB, *merkle.MemoryHashes, error) {
	mem := new(merkle.MemoryHashes)
	db, err := store.Open(ctx, store.Config{DSN: filepath.Join(dir, "big.db")})
	if err != nil {
		return nil, nil, err
	}
	tr := new(merkle.Tree)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const rowsPerStmt, rowsPerTx = 400, 50000
	for lo := 0; lo < n; lo += rowsPerTx {
		err := db.InTx(ctx, func(tx *store.Tx) error {
			var nodes []merkle.Node
			for s := lo; s < min(lo+rowsPerTx, n); s += rowsPerStmt {
				var q strings.Builder
				q.WriteString("INSERT INTO audit_entries VALUES ")
				var args []any
				for i := s; i < min(s+rowsPerStmt, n); i++ {
					e := testEntry(i)
					e.Tokens = nil
					e.Seq, e.Time = uint64(i), start.Add(time.Duration(i)*time.Millisecond)
					enc, err := e.Encode()
					if err != nil {
						return err
					}
					ns := tr.Append(merkle.LeafHash(enc))
					if err := mem.Add(ns...); err != nil {
						return err
					}
					nodes = append(nodes, ns[1:]...)
					if i > s {
						q.WriteByte(',')
					}
					k := len(args)
					fmt.Fprintf(&q, "($%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d)", k+1, k+2, k+3, k+4, k+5, k+6, k+7, k+8)
					args = append(args, i, string(enc), ns[0].Hash.String(), e.Time.UnixMicro(), e.Actor.Principal, e.Action, e.Dataset, e.Decision.Effect)
				}
				if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
					return err
				}
			}
			for _, nd := range nodes {
				if _, err := tx.ExecContext(ctx, "INSERT INTO audit_nodes VALUES ($1, $2, $3)", int(nd.ID.Level), int64(nd.ID.Index), nd.Hash.String()); err != nil {
					return err
				}
			}
			st, _ := tr.MarshalBinary()
			_, err := tx.ExecContext(ctx, `INSERT INTO audit_tree (id, size, state) VALUES (1, $1, $2)
				ON CONFLICT (id) DO UPDATE SET size = excluded.size, state = excluded.state`, int64(tr.Size()), fmt.Sprintf("%x", st))
			return err
		})
		if err != nil {
			db.Close()
			return nil, nil, err
		}
	}
	return db, mem, nil
}

// BenchmarkInclusionProof1M measures an inclusion proof at 1,000,000
// entries read from the SQLite tables (leaf hashes from audit_entries, the
// others from audit_nodes), beside the same proof from memory
// (merkle.MemoryHashes), an entry with its proof through Log.Entry, and a
// consistency proof. Building the log takes a while.
func BenchmarkInclusionProof1M(b *testing.B) {
	ctx := context.Background()
	const n = 1_000_000
	db, mem, err := loadBigLog(ctx, b.TempDir(), n)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	key, _ := sm2.GenerateKey()
	l, err := New(Config{DB: db, Key: key, Origin: testOrigin})
	if err != nil {
		b.Fatal(err)
	}
	cp, err := l.Checkpoint(ctx)
	if err != nil || cp.Size != n {
		b.Fatalf("Checkpoint = %d, %v", cp.Size, err)
	}
	b.Run("SQLite", func(b *testing.B) {
		i := uint64(0)
		for b.Loop() {
			i = (i + 7919) % n
			if _, err := merkle.InclusionProof(ctx, dbHashes{db}, i, n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Memory", func(b *testing.B) {
		i := uint64(0)
		for b.Loop() {
			i = (i + 7919) % n
			if _, err := merkle.InclusionProof(ctx, mem, i, n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SQLiteEntryAndProof", func(b *testing.B) {
		i := uint64(0)
		for b.Loop() {
			i = (i + 7919) % n
			if _, _, _, err := l.Entry(ctx, i); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SQLiteConsistency", func(b *testing.B) {
		i := uint64(0)
		for b.Loop() {
			i = (i + 7919) % n
			if _, err := l.ConsistencyProof(ctx, i+1, n); err != nil {
				b.Fatal(err)
			}
		}
	})
}
