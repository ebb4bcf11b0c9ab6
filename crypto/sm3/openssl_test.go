package sm3

// SM3 and HMAC-SM3 against OpenSSL 3 (`openssl dgst -sm3`, `openssl mac
// -digest SM3 HMAC`). These tests need the openssl command: CI installs it,
// and without it they fail rather than pass silently.

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/qiao-exchange/qiao/internal/openssltest"
)

func TestSM3OpenSSL(t *testing.T) {
	msgs := [][]byte{{}, []byte("abc"), []byte(strings.Repeat("abcd", 16))}
	for _, n := range []int{1, 55, 56, 64, 65, 1000, 1 << 20} {
		m := make([]byte, n)
		rand.Read(m)
		msgs = append(msgs, m)
	}
	for _, m := range msgs {
		// "-r" prints "<hex> *stdin".
		out := strings.TrimSpace(string(openssltest.Run(t, m, "dgst", "-sm3", "-r")))
		got, _, _ := strings.Cut(out, " ")
		if want := SumHex(m); got != want {
			t.Fatalf("%d bytes: openssl %s, ours %s", len(m), got, want)
		}
	}
}

func TestHMACOpenSSL(t *testing.T) {
	// Key lengths below, at and above the 64-byte block (a longer key is
	// hashed first).
	for _, kl := range []int{1, 16, 32, 63, 64, 65, 100, 200} {
		key := make([]byte, kl)
		rand.Read(key)
		for _, n := range []int{0, 1, 64, 1000} {
			msg := make([]byte, n)
			rand.Read(msg)
			got := strings.TrimSpace(string(openssltest.Run(t, msg, "mac", "-digest", "SM3", "-macopt", "hexkey:"+hex.EncodeToString(key), "HMAC")))
			if want := hex.EncodeToString(HMAC(key, msg)); !strings.EqualFold(got, want) {
				t.Fatalf("%d-byte key, %d bytes: openssl %s, ours %s", kl, n, got, want)
			}
		}
	}
	// OpenSSL agrees with the GM/T 0042-2015 examples as well.
	for _, v := range hmacVectors {
		msg, _ := hex.DecodeString(v.msg)
		if got := strings.TrimSpace(string(openssltest.Run(t, msg, "mac", "-digest", "SM3", "-macopt", "hexkey:"+v.key, "HMAC"))); !strings.EqualFold(got, v.want) {
			t.Fatalf("%s: openssl %s", v.name, got)
		}
	}
}
