package warehouse

// The warehouse's share of a push, 1,000-row batches of medins.settlements
// (11 fields, 2 of them personal data), each figure beside references in
// the same run so that the cost of protection can be read on a noisy
// machine:
//
//	go test -run '^$' -bench . -benchtime 200x ./store/warehouse/
//
// protected      InsertBatch: seal and tokenise, append, commit.
// unprotected    the same code path with the personal-data fields stored
//                as plain VARCHAR columns: no sealing, no tokens.
// duckdb         the DuckDB appender alone: the same rows, already
//                converted, appended to a plain table and committed.

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

func BenchmarkInsertBatch1000(b *testing.B) {
	b.Run("protected", func(b *testing.B) {
		w, _ := openTemp(b)
		benchInsert(b, w, false)
	})
	b.Run("unprotected", func(b *testing.B) {
		benchInsert(b, openUnprotected(b), false)
	})
	b.Run("duckdb", benchAppender)
}

// BenchmarkInsertBatch1000Concurrent inserts from four goroutines, as
// concurrent pushes do; the writer commits them in groups.
func BenchmarkInsertBatch1000Concurrent(b *testing.B) {
	b.Run("protected", func(b *testing.B) {
		w, _ := openTemp(b)
		benchInsert(b, w, true)
	})
	b.Run("unprotected", func(b *testing.B) {
		benchInsert(b, openUnprotected(b), true)
	})
}

// BenchmarkPushBatch1000 is InsertBatch then MakeVisible, the warehouse's
// two steps of a push, one push at a time and four at a time.
func BenchmarkPushBatch1000(b *testing.B) {
	for _, concurrent := range []bool{false, true} {
		name := "sequential"
		if concurrent {
			name = "concurrent"
		}
		b.Run(name, func(b *testing.B) {
			w, _ := openTemp(b)
			rows := settlements(b, 0, 1000)
			var seq atomic.Int64
			push := func() {
				id := fmt.Sprintf("b%d", seq.Add(1))
				if _, err := w.InsertBatch(context.Background(), bk("medins.settlements", id), rows); err != nil {
					b.Fatal(err)
				}
				if err := w.MakeVisible(context.Background(), bk("medins.settlements", id)); err != nil {
					b.Fatal(err)
				}
			}
			start := cpuTime()
			if concurrent {
				b.SetParallelism(2)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						push()
					}
				})
			} else {
				for b.Loop() {
					push()
				}
			}
			reportRows(b, start)
		})
	}
}

// BenchmarkRows1000 reads 1,000 visible rows back for a pull, with the
// personal data decrypted or as tokens.
func BenchmarkRows1000(b *testing.B) {
	w, _ := openTemp(b)
	mustInsert(b, w, "medins.settlements", "b", settlements(b, 0, 1000))
	mustPublish(b, w, "medins.settlements", "b")
	for name, q := range map[string]Query{
		"decrypted": {},
		"tokens":    {Tokens: []string{"id_number", "name"}},
	} {
		b.Run(name, func(b *testing.B) {
			start := cpuTime()
			for b.Loop() {
				got, err := w.Rows(context.Background(), "medins.settlements", q)
				if err != nil || len(got) != 1000 {
					b.Fatal(len(got), err)
				}
			}
			reportRows(b, start)
		})
	}
}

// reportRows reports rows per second of wall time and, where the platform
// tells, microseconds of the process's CPU time per row since start: on a
// shared machine the second is the steadier figure.
func reportRows(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "rows/s")
	if now := cpuTime(); now > 0 {
		b.ReportMetric(float64(now-start)/float64(time.Microsecond)/float64(1000*b.N), "cpu-µs/row")
	}
}

func benchInsert(b *testing.B, w *Warehouse, concurrent bool) {
	rows := settlements(b, 0, 1000)
	var seq atomic.Int64
	insert := func() {
		id := fmt.Sprintf("b%d", seq.Add(1))
		if _, err := w.InsertBatch(context.Background(), bk("medins.settlements", id), rows); err != nil {
			b.Fatal(err)
		}
	}
	start := cpuTime()
	if concurrent {
		b.SetParallelism(2)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				insert()
			}
		})
	} else {
		for b.Loop() {
			insert()
		}
	}
	reportRows(b, start)
}

// openUnprotected opens a warehouse whose medins.settlements table keeps
// the personal-data fields as plain VARCHAR columns, for reference only.
func openUnprotected(b *testing.B) *Warehouse {
	w, _ := openTemp(b)
	t := plainLayout(w.tables["medins.settlements"])
	tx, err := w.db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	if err := migrateTable(context.Background(), tx, t); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	w.tables["medins.settlements"] = t
	return w
}

// plainLayout is t with every field in a plain column and no tokens.
func plainLayout(t *table) *table {
	p := &table{
		ds:         t.ds,
		name:       "reference__" + t.name,
		appendCols: []string{colBatchID, colPrincipal, colBatchSeq, colRowNo, colVisible},
		colTypes:   []string{"VARCHAR", "VARCHAR", "BIGINT", "INTEGER", "BOOLEAN"},
	}
	for _, c := range t.cols {
		if c.kind == kindSealed || c.kind == kindTokened {
			c = column{field: c.field, kind: kindText, plain: c.field.Name, typ: "VARCHAR"}
		}
		p.cols = append(p.cols, c)
		p.appendCols = append(p.appendCols, c.plain)
		p.colTypes = append(p.colTypes, c.typ)
	}
	return p
}

// benchAppender appends the same rows, converted once, to a plain table
// with the DuckDB appender, one transaction per batch.
func benchAppender(b *testing.B) {
	ctx := context.Background()
	w := openUnprotected(b)
	t := w.tables["medins.settlements"]
	rows := settlements(b, 0, 1000)
	p, err := w.prepare(ctx, t, bk("medins.settlements", "b"), rows)
	if err != nil {
		b.Fatal(err)
	}
	conn, err := w.db.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ncol := len(t.appendCols)
	start := cpuTime()
	for b.Loop() {
		if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
			b.Fatal(err)
		}
		err := conn.Raw(func(dc any) error {
			a, err := duckdb.NewAppenderWithColumns(dc.(driver.Conn), "", "main", t.name, t.appendCols)
			if err != nil {
				return err
			}
			for r := range p.rows {
				row := p.cells[r*ncol : (r+1)*ncol]
				row[cellBatchSeq] = int64(1)
				if err := a.AppendRow(row...); err != nil {
					return err
				}
			}
			return a.Close()
		})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
			b.Fatal(err)
		}
	}
	reportRows(b, start)
}
