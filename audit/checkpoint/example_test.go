package checkpoint_test

import (
	"bytes"
	"errors"
	"fmt"
	"log"

	"github.com/qiao-exchange/qiao/audit/checkpoint"
	"github.com/qiao-exchange/qiao/audit/merkle"
	"github.com/qiao-exchange/qiao/crypto/sm2"
)

// The log signs a checkpoint of its tree; an auditor who holds the log's
// verifier key opens it.
func ExampleSign() {
	key, err := sm2.GenerateKey() // the gateway's SM2 key, from its keystore
	if err != nil {
		log.Fatal(err)
	}
	var tree merkle.Tree
	for _, entry := range []string{"entry 0", "entry 1", "entry 2"} {
		tree.Append(merkle.LeafHash([]byte(entry)))
	}
	c := checkpoint.Checkpoint{Origin: "qiao.example/audit", Size: tree.Size(), Hash: tree.Root()}
	note, err := checkpoint.Sign(c, c.Origin, key)
	if err != nil {
		log.Fatal(err)
	}
	text, _, _ := bytes.Cut(note, []byte("\n\n"))
	fmt.Printf("%s\n", text)

	// The auditor's side: the verifier key came with the log's documentation.
	v, err := checkpoint.NewVerifier("qiao.example/audit", key.PublicKey())
	if err != nil {
		log.Fatal(err)
	}
	got, err := checkpoint.Open(note, v)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.Size, got.Hash == tree.Root())

	altered := bytes.Replace(note, []byte("\n3\n"), []byte("\n2\n"), 1)
	_, err = checkpoint.Open(altered, v)
	fmt.Println(errors.Is(err, checkpoint.ErrSignature))
	// Output:
	// qiao.example/audit
	// 3
	// WbfTk0uDZiUiJUYOPHL57U6bS66uE6Mf+QyPpdbnrws=
	// 3 true
	// true
}

// An auditor keeps the log's verifier key as one line of text and reads it
// back offline.
func ExampleParseVerifier() {
	key, err := sm2.GenerateKey()
	if err != nil {
		log.Fatal(err)
	}
	v, err := checkpoint.NewVerifier("qiao.example/audit", key.PublicKey())
	if err != nil {
		log.Fatal(err)
	}
	vkey := v.String() // qiao.example/audit+<8 hex digits>+<base64>

	held, err := checkpoint.ParseVerifier(vkey)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(held.Name(), held.KeyID() == v.KeyID(), held.PublicKey().Equal(key.PublicKey()))
	// Output:
	// qiao.example/audit true true
}

// Open ignores signatures by keys it was not given, and refuses a note that
// has none by its key.
func ExampleOpen() {
	logKey, _ := sm2.GenerateKey()
	otherKey, _ := sm2.GenerateKey()
	c := checkpoint.Checkpoint{Origin: "qiao.example/audit", Size: 0, Hash: merkle.EmptyRoot()}
	note, err := checkpoint.Sign(c, c.Origin, otherKey)
	if err != nil {
		log.Fatal(err)
	}
	v, _ := checkpoint.NewVerifier("qiao.example/audit", logKey.PublicKey())
	_, err = checkpoint.Open(note, v)
	fmt.Println(errors.Is(err, checkpoint.ErrUnverified))
	// Output:
	// true
}
