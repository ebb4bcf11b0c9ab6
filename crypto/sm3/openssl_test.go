package sm3

// SM3 and HMAC-SM3 against OpenSSL 3 (`openssl dgst -sm3`, `openssl mac
// -digest SM3 HMAC`). These tests need the openssl command: CI installs it,
// and without it they fail rather than pass silently.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"
)

func openssl(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	v, err := exec.Command("openssl", "version").Output()
	if err != nil {
		t.Fatalf("the openssl command is required for these tests (CI installs it): %v", err)
	}
	if !strings.HasPrefix(string(v), "OpenSSL 3.") {
		t.Fatalf("these tests need OpenSSL 3, found %q", strings.TrimSpace(string(v)))
	}
	cmd := exec.Command("openssl", args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return strings.TrimSpace(string(out))
}

func TestSM3OpenSSL(t *testing.T) {
	msgs := [][]byte{{}, []byte("abc"), []byte(strings.Repeat("abcd", 16))}
	for _, n := range []int{1, 55, 56, 64, 65, 1000, 1 << 20} {
		m := make([]byte, n)
		rand.Read(m)
		msgs = append(msgs, m)
	}
	for _, m := range msgs {
		// "-r" prints "<hex> *stdin".
		out := openssl(t, m, "dgst", "-sm3", "-r")
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
			got := openssl(t, msg, "mac", "-digest", "SM3", "-macopt", "hexkey:"+hex.EncodeToString(key), "HMAC")
			if want := hex.EncodeToString(HMAC(key, msg)); !strings.EqualFold(got, want) {
				t.Fatalf("%d-byte key, %d bytes: openssl %s, ours %s", kl, n, got, want)
			}
		}
	}
	// OpenSSL agrees with the GM/T 0042-2015 examples as well.
	for _, v := range hmacVectors {
		msg, _ := hex.DecodeString(v.msg)
		if got := openssl(t, msg, "mac", "-digest", "SM3", "-macopt", "hexkey:"+v.key, "HMAC"); !strings.EqualFold(got, v.want) {
			t.Fatalf("%s: openssl %s", v.name, got)
		}
	}
}
