package sm4_test

import (
	"fmt"
	"log"

	"github.com/qiao-exchange/qiao/crypto/sm4"
)

func ExampleAEAD_Seal() {
	key, err := sm4.NewKey()
	if err != nil {
		log.Fatal(err)
	}
	a, err := sm4.NewGCM(key)
	if err != nil {
		log.Fatal(err)
	}
	header := []byte("dataset=court.judgments;recipient=police.411528")

	// A fresh 12-byte nonce per message; the header is authenticated, not
	// encrypted.
	nonce, ct, err := a.Seal([]byte("case 2024-0042"), header)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(nonce), len(ct)-len("case 2024-0042"))

	pt, err := a.Open(nonce, ct, header)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", pt)

	_, err = a.Open(nonce, ct, []byte("dataset=court.judgments;recipient=court.110000"))
	fmt.Println(err)
	// Output:
	// 12 16
	// case 2024-0042
	// sm4: message authentication failed
}
