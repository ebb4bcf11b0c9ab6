package sm2_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/qiao-exchange/qiao/crypto/sm2"
)

func ExamplePrivateKey_Sign() {
	key, err := sm2.GenerateKey()
	if err != nil {
		log.Fatal(err)
	}
	msg := []byte("POST /v1/exchanges\n1700000000\n9f86d081")

	// A DER signature over SM3(ZA || msg) with the default user ID
	// 1234567812345678, as OpenSSL's pkeyutl -rawin -digest sm3 makes.
	sig, err := key.Sign(msg)
	if err != nil {
		log.Fatal(err)
	}

	pub := key.PublicKey()
	fmt.Println(pub.Verify(msg, sig))
	fmt.Println(errors.Is(pub.Verify([]byte("POST /v1/exchanges\n1700000001\n9f86d081"), sig), sm2.ErrVerify))
	// Output:
	// <nil>
	// true
}

func ExamplePublicKey_Encrypt() {
	key, err := sm2.GenerateKey()
	if err != nil {
		log.Fatal(err)
	}
	// An SM4 content key wrapped for the recipient, as GM/T 0009 ASN.1 C1C3C2.
	ct, err := key.PublicKey().Encrypt([]byte("0123456789abcdef"))
	if err != nil {
		log.Fatal(err)
	}
	pt, err := key.Decrypt(ct)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", pt)
	// Output: 0123456789abcdef
}

func ExampleParsePrivateKeyPEM() {
	key, err := sm2.GenerateKey()
	if err != nil {
		log.Fatal(err)
	}
	pemBytes, err := key.MarshalPEM() // PKCS#8 "PRIVATE KEY", as openssl pkey reads it
	if err != nil {
		log.Fatal(err)
	}
	back, err := sm2.ParsePrivateKeyPEM(pemBytes)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(back.Equal(key), len(back.PublicKey().KeyID()))
	// Output: true 32
}
