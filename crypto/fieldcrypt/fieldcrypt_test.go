package fieldcrypt

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/qiao-exchange/qiao/crypto/keystore"
	"github.com/qiao-exchange/qiao/crypto/sm4"
)

// testMaster is the master key of the worked example in docs/warehouse.md.
func testMaster(t testing.TB) []byte {
	t.Helper()
	k, err := hex.DecodeString("000102030405060708090a0b0c0d0e0f")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testKeys(t testing.TB) *Keys {
	t.Helper()
	k, err := New(testMaster(t))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The expected tokens were computed with OpenSSL 3, independently of this
// package:
//
//	tk=$(printf 'qiao/fieldcrypt/v1/token' | openssl mac -digest SM3 -macopt hexkey:000102030405060708090a0b0c0d0e0f HMAC)
//	printf 'id_number\x0011010519491231002X' | openssl mac -digest SM3 -macopt hexkey:$tk HMAC
func TestTokenVectors(t *testing.T) {
	k := testKeys(t)
	for _, tc := range []struct{ domain, value, want string }{
		{DomainIDNumber, "11010519491231002X", "a8772d30eb21c28457ffafbf2a0cdf0988f0c890f47fac994e3fa29109963461"},
		{DomainName, "张三", "1d853a2f7aafab335fc2514588f67981399b78c8a237284ef80c8f5019eba2d6"},
		{DomainName, "11010519491231002X", "41ef1d2f711c6c195553341720ec477d3a671d6b6af90a0148f5fd395f1ee135"},
	} {
		if got := k.Token(tc.domain, tc.value); got != tc.want {
			t.Errorf("Token(%q, %q) = %s, want %s", tc.domain, tc.value, got, tc.want)
		}
	}
}

func TestTokenProperties(t *testing.T) {
	k := testKeys(t)
	const id = "11010519491231002X"

	// Deterministic, and the same whatever field or dataset the value came
	// from: the field is not an input, only the domain.
	a, b := k.Token(DomainIDNumber, id), k.Token(DomainIDNumber, id)
	if a != b {
		t.Fatalf("token is not deterministic: %s, %s", a, b)
	}
	if !ValidToken(a) {
		t.Fatalf("ValidToken(%q) = false", a)
	}

	// Another domain, another value, another key: another token.
	other, err := New(bytes.Repeat([]byte{7}, MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{
		"domain":        k.Token(DomainName, id),
		"credit domain": k.Token(DomainCreditCode, id),
		"value":         k.Token(DomainIDNumber, "110105194912310029"),
		"key":           other.Token(DomainIDNumber, id),
		// domain || 0x00 || value is unambiguous: moving bytes across the
		// separator changes the token.
		"shifted": k.Token("id_numbe", "r\x00"+id),
	} {
		if tok == a {
			t.Errorf("changing the %s left the token unchanged", name)
		}
	}
	if k.Token(DomainText, "") == k.Token(DomainName, "") {
		t.Error("empty values of two domains share a token")
	}

	// Long values do not fit the stack buffer and must still be right.
	long := strings.Repeat("长", 200)
	first, again := k.Token(DomainText, long), k.Token(DomainText, long)
	if first != again || first == k.Token(DomainText, long[:len(long)-3]) {
		t.Error("long values are not tokenised consistently")
	}
}

func TestTokenConcurrent(t *testing.T) {
	k := testKeys(t)
	want := k.Token(DomainIDNumber, "11010519491231002X")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 500 {
				if got := k.Token(DomainIDNumber, "11010519491231002X"); got != want {
					t.Errorf("concurrent token %s, want %s", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestTokenBadDomain(t *testing.T) {
	k := testKeys(t)
	for _, d := range []string{"", "id\x00number"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Token(%q, …) did not panic", d)
				}
			}()
			k.Token(d, "x")
		}()
	}
}

func TestValidToken(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{strings.Repeat("a", 64), true},
		{strings.Repeat("0", 64), true},
		{strings.Repeat("A", 64), false},
		{strings.Repeat("a", 63), false},
		{strings.Repeat("a", 65), false},
		{strings.Repeat("g", 64), false},
		{"", false},
	} {
		if got := ValidToken(tc.s); got != tc.want {
			t.Errorf("ValidToken(%q) = %v", tc.s, got)
		}
	}
}

func TestSealOpen(t *testing.T) {
	k := testKeys(t)
	aad := []byte("police.deaths|b1|1|id_number")
	for _, v := range []string{"11010519491231002X", "张三", ""} {
		s1, err := k.Seal([]byte(v), aad)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := k.Seal([]byte(v), aad)
		if err != nil {
			t.Fatal(err)
		}
		if len(s1) != len(v)+Overhead {
			t.Errorf("sealed %d bytes into %d, want %d", len(v), len(s1), len(v)+Overhead)
		}
		if bytes.Equal(s1, s2) {
			t.Errorf("sealing %q twice gave the same bytes", v)
		}
		if v != "" && bytes.Contains(s1, []byte(v)) {
			t.Errorf("sealed value contains the plaintext")
		}
		for _, s := range [][]byte{s1, s2} {
			got, err := k.Open(s, aad)
			if err != nil || string(got) != v {
				t.Errorf("Open = %q, %v; want %q", got, err, v)
			}
		}
	}
}

// TestSealLayout opens with this package a value sealed by crypto/sm4 under
// the field key derived independently with OpenSSL:
//
//	printf 'qiao/fieldcrypt/v1/seal' | openssl mac -digest SM3 -macopt hexkey:000102030405060708090a0b0c0d0e0f HMAC
//
// whose first 16 bytes are the SM4 key, and the layout nonce || ciphertext.
func TestSealLayout(t *testing.T) {
	fieldKey, _ := hex.DecodeString("3316daaa982c93f0c650e850c413ad14")
	a, err := sm4.NewGCM(fieldKey)
	if err != nil {
		t.Fatal(err)
	}
	nonce := bytes.Repeat([]byte{9}, sm4.NonceSize)
	aad := []byte("medins.settlements|b7|3|name")
	ct, err := a.SealWithNonce(nonce, []byte("李四"), aad)
	if err != nil {
		t.Fatal(err)
	}
	got, err := testKeys(t).Open(append(nonce, ct...), aad)
	if err != nil || string(got) != "李四" {
		t.Fatalf("Open = %q, %v", got, err)
	}
}

func TestOpenRejects(t *testing.T) {
	k := testKeys(t)
	aad := []byte("police.deaths|b1|1|id_number")
	sealed, err := k.Seal([]byte("11010519491231002X"), aad)
	if err != nil {
		t.Fatal(err)
	}
	other, err := New(bytes.Repeat([]byte{1}, MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, keys *Keys, s, a []byte) {
		t.Helper()
		if got, err := keys.Open(s, a); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: Open = %q, %v; want ErrOpen", name, got, err)
		}
	}
	for i := range sealed {
		s := bytes.Clone(sealed)
		s[i] ^= 0x01
		check("flipped byte", k, s, aad)
	}
	check("other row", k, sealed, []byte("police.deaths|b1|2|id_number"))
	check("other field", k, sealed, []byte("police.deaths|b1|1|name"))
	check("no aad", k, sealed, nil)
	check("other key", other, sealed, aad)
	check("truncated", k, sealed[:len(sealed)-1], aad)
	check("extended", k, append(bytes.Clone(sealed), 0), aad)
	check("too short", k, sealed[:Overhead-1], aad)
	check("empty", k, nil, aad)
}

func TestNewRejectsBadKey(t *testing.T) {
	for _, n := range []int{0, 15, 17, 32} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New accepted a %d-byte master key", n)
		}
	}
}

func TestLoad(t *testing.T) {
	ctx := context.Background()
	ks, err := keystore.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ctx, ks); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("Load without a master key: %v, want ErrNotFound", err)
	}
	if err := ks.Create(ctx, MasterKeyName, keystore.EncodeSecret(testMaster(t))); err != nil {
		t.Fatal(err)
	}
	k, err := Load(ctx, ks)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := k.Token(DomainIDNumber, "11010519491231002X"), testKeys(t).Token(DomainIDNumber, "11010519491231002X"); got != want {
		t.Errorf("keys loaded from the keystore give token %s, want %s", got, want)
	}
}
