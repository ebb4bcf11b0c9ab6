package audit_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/qiao-exchange/qiao/audit"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/store"
)

// Example appends an entry in the same transaction as the change it
// records, signs a checkpoint, exports the log and checks the export as an
// auditor would, with nothing but the verifier key.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "audit-example")
	defer os.RemoveAll(dir)
	db, err := store.Open(ctx, store.Config{DSN: filepath.Join(dir, "qiao.db")})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	key, _ := sm2.GenerateKey()
	log, err := audit.New(audit.Config{DB: db, Key: key, Origin: "gateway.example.gov.cn/qiao/audit"})
	if err != nil {
		panic(err)
	}

	err = db.InTx(ctx, func(tx *store.Tx) error {
		// … the change itself, through tx …
		seq, err := log.Append(ctx, tx, audit.Entry{
			Actor:    audit.Actor{Principal: "police.411528", Agency: "police.411528", Roles: []string{"sender"}},
			Action:   audit.ActionDatasetPush,
			Resource: audit.Resource{Kind: audit.KindBatch, ID: "2026-11-25-001"},
			Dataset:  "police.deaths",
			Decision: audit.Decision{Effect: audit.Allow, Reasons: []string{"sender of the dataset"}, PolicyRevision: "rev-1"},
			Result:   audit.Result{Status: audit.StatusOK},
		})
		fmt.Println("appended entry", seq)
		return err // an append that fails fails the whole transaction
	})
	if err != nil {
		panic(err)
	}
	cp, err := log.Checkpoint(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("checkpoint of size", cp.Size)

	var export bytes.Buffer
	if _, err := audit.Export(ctx, db, time.Time{}, time.Time{}, &export); err != nil {
		panic(err)
	}
	sum, err := audit.VerifyExport(&export, log.Verifier())
	fmt.Println("export verified:", sum.Count, "entries,", err)
	// Output:
	// appended entry 0
	// checkpoint of size 1
	// export verified: 1 entries, <nil>
}
