package ca_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/sm2"
)

// A root issues a double certificate to an agency; the gateway verifies the
// signing certificate it is shown and learns who signed.
func ExampleRoot_IssuePair() {
	rootKey, _ := sm2.GenerateKey()
	root, err := ca.NewRoot(rootKey, ca.RootOptions{})
	if err != nil {
		panic(err)
	}
	signKey, _ := sm2.GenerateKey()
	encKey, _ := sm2.GenerateKey()
	pair, err := root.IssuePair(ca.Request{Principal: "police.411528", Kind: ca.KindAgency}, signKey.PublicKey(), encKey.PublicKey())
	if err != nil {
		panic(err)
	}

	roots := []*ca.Certificate{root.Certificate()}
	id, err := ca.Verify(pair.Sign, roots, ca.PurposeSign, time.Now())
	if err != nil {
		panic(err)
	}
	fmt.Println(id.Principal, id.Kind, id.Purpose, id.PublicKey.Equal(signKey.PublicKey()))

	// The encryption certificate is not accepted for signatures.
	_, err = ca.Verify(pair.Enc, roots, ca.PurposeSign, time.Now())
	fmt.Println(errors.Is(err, ca.ErrKeyUsage))
	// Output:
	// police.411528 agency sign true
	// true
}
