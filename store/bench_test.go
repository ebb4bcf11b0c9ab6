package store

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/qiao-exchange/qiao/crypto/sm3"
)

// BenchmarkInsertBatch measures a durable batch-record insert three ways on
// one SQLite file (WAL, synchronous=FULL: every commit is an fsync):
//
//   - InTx: InTx with Tx.InsertBatch, as the gateway records a push.
//   - InTxRaw: InTx with the same INSERT through Tx.ExecContext: the cost of
//     InsertBatch's validation and principal check is the difference.
//   - Plain: the same INSERT as a single autocommit statement on the write
//     connection, outside any wrapper: the reference.
func BenchmarkInsertBatch(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, Config{DSN: filepath.Join(b.TempDir(), "bench.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	err = db.InTx(ctx, func(tx *Tx) error {
		_, err := tx.RegisterPrincipal(ctx, Principal{Name: "police.411528", Kind: KindAgency})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	next := func() Batch {
		n++
		return Batch{
			BatchKey:    BatchKey{Dataset: "police.deaths", Principal: "police.411528", ID: fmt.Sprintf("b%d", n)},
			State:       BatchCommitted,
			Rows:        1000,
			Rejected:    []RejectedRow{},
			EvidenceRef: "sm3:" + sm3.SumHex([]byte{byte(n)}),
			EnvelopeSM3: sm3.SumHex([]byte{byte(n)}),
			ContentSM3:  sm3.SumHex([]byte{byte(n >> 8)}),
		}
	}
	const insert = `INSERT INTO batches
        (dataset, principal, batch_id, state, row_count, rejected_row_count, rejected_rows,
         evidence_ref, envelope_sm3, content_sm3, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`
	args := func(bt Batch) []any {
		detail, _ := json.Marshal(bt.Rejected)
		t := micros(now())
		return []any{bt.Dataset, bt.Principal, bt.ID, string(bt.State), bt.Rows, bt.RejectedRows, string(detail),
			bt.EvidenceRef, bt.EnvelopeSM3, bt.ContentSM3, t, t}
	}

	b.Run("InTx", func(b *testing.B) {
		for b.Loop() {
			err := db.InTx(ctx, func(tx *Tx) error {
				_, _, err := tx.InsertBatch(ctx, next())
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("InTxRaw", func(b *testing.B) {
		for b.Loop() {
			err := db.InTx(ctx, func(tx *Tx) error {
				_, err := tx.ExecContext(ctx, insert, args(next())...)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Plain", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.w.ExecContext(ctx, insert, args(next())...); err != nil {
				b.Fatal(err)
			}
		}
	})
}
