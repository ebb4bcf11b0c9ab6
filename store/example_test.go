package store_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/qiao-exchange/qiao/store"
)

// A state change and a row of another package's table (here a stand-in for
// the audit log) commit together or not at all.
func ExampleDB_InTx() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "qiao-store-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := store.Open(ctx, store.Config{DSN: filepath.Join(dir, "state.db")})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	err = db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, "CREATE TABLE example_log (seq BIGINT NOT NULL PRIMARY KEY, action TEXT NOT NULL)")
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	err = db.InTx(ctx, func(tx *store.Tx) error {
		p, err := tx.RegisterPrincipal(ctx, store.Principal{
			Name: "police.411528", Kind: store.KindAgency, Agency: "police.411528",
		})
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO example_log (seq, action) VALUES ($1, $2)", 1, "principal.register "+p.Name)
		return err
	})
	if err != nil {
		log.Fatal(err)
	}

	p, err := db.GetPrincipal(ctx, "police.411528")
	if err != nil {
		log.Fatal(err)
	}
	var action string
	if err := db.QueryRowContext(ctx, "SELECT action FROM example_log WHERE seq = 1").Scan(&action); err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Name, p.Kind, p.Status)
	fmt.Println(action)
	// Output:
	// police.411528 agency active
	// principal.register police.411528
}
