package fieldcrypt_test

import (
	"encoding/hex"
	"fmt"

	"github.com/qiao-exchange/qiao/crypto/fieldcrypt"
)

func Example() {
	// The storage master key comes from the keystore (fieldcrypt.Load); a
	// fixed one keeps the example reproducible.
	master, _ := hex.DecodeString("000102030405060708090a0b0c0d0e0f")
	keys, err := fieldcrypt.New(master)
	if err != nil {
		panic(err)
	}

	// The same ID number has the same token in every dataset.
	fmt.Println(keys.Token(fieldcrypt.DomainIDNumber, "11010519491231002X"))

	// A sealed value opens only with the associated data it was sealed with.
	aad := []byte("police.deaths|b-2024-0001|1|name")
	sealed, err := keys.Seal([]byte("张三"), aad)
	if err != nil {
		panic(err)
	}
	name, err := keys.Open(sealed, aad)
	fmt.Println(string(name), err)
	_, err = keys.Open(sealed, []byte("police.deaths|b-2024-0001|2|name"))
	fmt.Println(err)
	// Output:
	// a8772d30eb21c28457ffafbf2a0cdf0988f0c890f47fac994e3fa29109963461
	// 张三 <nil>
	// fieldcrypt: sealed value failed authentication
}
