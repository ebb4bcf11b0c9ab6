package keystore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/qiao-exchange/qiao/crypto/keystore"
)

// A deployment keeps its keys in a directory of 0600 PEM files. EnsureSM2
// creates a key the first time and loads the same key afterwards; no call
// overwrites a stored key.
func ExampleNewFile() {
	dir, err := os.MkdirTemp("", "qiao-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ks, err := keystore.NewFile(filepath.Join(dir, "keys"))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	k, created, err := keystore.EnsureSM2(ctx, ks, "gateway/sign")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created:", created)

	again, created, err := keystore.EnsureSM2(ctx, ks, "gateway/sign")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created again:", created, "same key:", again.Equal(k))

	names, err := ks.List(ctx, "gateway/")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("keys:", names)

	p, err := ks.Path("gateway/sign")
	if err != nil {
		log.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		log.Fatal(err)
	}
	rel, _ := filepath.Rel(ks.Dir(), p)
	fmt.Println(rel, fi.Mode())
	// Output:
	// created: true
	// created again: false same key: true
	// keys: [gateway/sign]
	// gateway/sign.pem -rw-------
}
