package sm3

// SM3 and HMAC-SM3 against github.com/tjfoc/gmsm's SM3, the other Go
// implementation.

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"testing"

	tjsm3 "github.com/tjfoc/gmsm/sm3"
)

func TestTjfocSM3(t *testing.T) {
	sizes := []int{0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 1 << 20}
	for n := range 200 {
		sizes = append(sizes, n)
	}
	for _, n := range sizes {
		data := make([]byte, n)
		rand.Read(data)
		ours := Sum(data)
		if theirs := tjsm3.Sm3Sum(data); !bytes.Equal(ours[:], theirs) {
			t.Fatalf("%d bytes: ours %x, tjfoc %x", n, ours, theirs)
		}
		key := make([]byte, n%130)
		rand.Read(key)
		th := hmac.New(tjsm3.New, key)
		th.Write(data)
		if got := HMAC(key, data); !bytes.Equal(got, th.Sum(nil)) {
			t.Fatalf("HMAC, %d-byte key, %d bytes: differs from HMAC over tjfoc's SM3", len(key), n)
		}
	}
	for _, v := range gbtVectors {
		if got := hex.EncodeToString(tjsm3.Sm3Sum([]byte(v.msg))); got != v.want {
			t.Fatalf("%s: tjfoc %s", v.name, got)
		}
	}
	for _, v := range hmacVectors {
		key, _ := hex.DecodeString(v.key)
		msg, _ := hex.DecodeString(v.msg)
		th := hmac.New(tjsm3.New, key)
		th.Write(msg)
		if got := hex.EncodeToString(th.Sum(nil)); got != v.want {
			t.Fatalf("%s: HMAC over tjfoc's SM3 %s", v.name, got)
		}
	}
}
