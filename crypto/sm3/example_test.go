package sm3_test

import (
	"encoding/hex"
	"fmt"

	"github.com/qiao-exchange/qiao/crypto/sm3"
)

func ExampleSumHex() {
	// Example 1 of GB/T 32905-2016; `openssl dgst -sm3` prints the same.
	fmt.Println(sm3.SumHex([]byte("abc")))
	// Output: 66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0
}

func ExampleHMAC() {
	key, _ := hex.DecodeString("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b")
	// An example of GM/T 0042-2015, Annex D.3.
	fmt.Printf("%x\n", sm3.HMAC(key, []byte("Hi There")))
	// Output: c0ba18c68b90c88bc07de794bfc7d2c8d19ec31ed8773bc2b390c9604e0be11e
}
