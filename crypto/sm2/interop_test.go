package sm2

// Interoperability with github.com/tjfoc/gmsm, the other Go SM2 implementation
// agencies' systems use (its x509 and gmtls packages back Qiao's certificates
// and GM-TLS). Each direction is checked: what we produce, tjfoc reads, and
// what tjfoc produces, we read.

import (
	"bytes"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"

	tjsm2 "github.com/tjfoc/gmsm/sm2"
	tjx509 "github.com/tjfoc/gmsm/x509"
)

func toTjfocPrivate(t *testing.T, k *PrivateKey) *tjsm2.PrivateKey {
	t.Helper()
	tk := new(tjsm2.PrivateKey)
	tk.Curve = tjsm2.P256Sm2()
	tk.D = new(big.Int).SetBytes(k.Scalar())
	tk.X, tk.Y = k.PublicKey().Coordinates()
	return tk
}

func toTjfocPublic(p *PublicKey) *tjsm2.PublicKey {
	x, y := p.Coordinates()
	return &tjsm2.PublicKey{Curve: tjsm2.P256Sm2(), X: x, Y: y}
}

// tjfocK makes tjfoc draw the scalar k: it reads 40 bytes b and takes
// k = b mod (n-1) + 1, so eight zero bytes followed by k-1 give k.
func tjfocK(t *testing.T, k string) *bytes.Reader {
	kk := new(big.Int).SetBytes(unhex(t, k))
	kk.Sub(kk, big.NewInt(1))
	return bytes.NewReader(kk.FillBytes(make([]byte, 40)))
}

func interopMessages() [][]byte {
	msgs := [][]byte{{}, []byte("abc"), []byte(stdSignMsg)}
	for _, n := range []int{1, 32, 64, 100, 4096} {
		m := make([]byte, n)
		rand.Read(m)
		msgs = append(msgs, m)
	}
	return msgs
}

// Both libraries reproduce the GB/T 32918.5 Annex A signature and Annex C
// ciphertext byte for byte from the same k.
func TestTjfocReproducesStandard(t *testing.T) {
	tk := toTjfocPrivate(t, stdKey(t))
	r, s, err := tjsm2.Sm2Sign(tk, []byte(stdSignMsg), nil, tjfocK(t, stdK))
	if err != nil {
		t.Fatal(err)
	}
	if r.Cmp(new(big.Int).SetBytes(unhex(t, stdR))) != 0 || s.Cmp(new(big.Int).SetBytes(unhex(t, stdS))) != 0 {
		t.Fatalf("tjfoc signature r=%X s=%X", r, s)
	}
	ct, err := tjsm2.EncryptAsn1(&tk.PublicKey, []byte(stdEncMsg), tjfocK(t, stdK))
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, stdCiphertext); !bytes.Equal(ct, want) {
		t.Fatalf("tjfoc EncryptAsn1 with the standard's k:\n got %X\nwant %X", ct, want)
	}
}

func TestTjfocVerifiesOurSignatures(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	tpub := toTjfocPublic(k.PublicKey())
	uid := []byte("hrss.330100")
	for _, msg := range interopMessages() {
		sig, err := k.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		// tjfoc's PublicKey.Verify takes a DER signature with the default UID.
		if !tpub.Verify(msg, sig) {
			t.Fatalf("tjfoc rejects our signature over %d bytes", len(msg))
		}
		sig, err = k.SignUID(nil, uid, msg)
		if err != nil {
			t.Fatal(err)
		}
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(sig, &rs); err != nil {
			t.Fatal(err)
		}
		if !tjsm2.Sm2Verify(tpub, msg, uid, rs.R, rs.S) {
			t.Fatalf("tjfoc rejects our signature with UID %q over %d bytes", uid, len(msg))
		}
		if tpub.Verify(msg, sig) {
			t.Fatal("tjfoc accepts a signature made with another UID")
		}
	}
}

func TestWeVerifyTjfocSignatures(t *testing.T) {
	tk, err := tjsm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := NewPublicKey(uncompressed(tk.X, tk.Y))
	if err != nil {
		t.Fatal(err)
	}
	uid := []byte("medins.440300")
	for _, msg := range interopMessages() {
		// tjfoc's Sign ignores its options: the raw message, the default UID,
		// an ASN.1 DER (r, s).
		sig, err := tk.Sign(rand.Reader, msg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.Verify(msg, sig); err != nil {
			t.Fatalf("tjfoc signature over %d bytes: %v", len(msg), err)
		}
		r, s, err := tjsm2.Sm2Sign(tk, msg, uid, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.VerifyUID(uid, msg, der); err != nil {
			t.Fatalf("tjfoc signature with UID %q over %d bytes: %v", uid, len(msg), err)
		}
		if err := pub.Verify(msg, der); !errors.Is(err, ErrVerify) {
			t.Fatalf("accepted a signature made with another UID: %v", err)
		}
	}
}

func uncompressed(x, y *big.Int) []byte {
	out := make([]byte, 65)
	out[0] = 4
	x.FillBytes(out[1:33])
	y.FillBytes(out[33:])
	return out
}

// Ciphertexts: GM/T 0009's ASN.1 C1C3C2 is tjfoc's EncryptAsn1/DecryptAsn1
// (Encrypt in mode C1C3C2, then CipherMarshal). tjfoc's Encrypt/Decrypt with a
// mode argument produce the raw concatenations 04||C1||C3||C2 (mode C1C3C2) and
// 04||C1||C2||C3 (mode C1C2C3), which are not the GM/T 0009 encoding: Decrypt
// refuses both.
func TestCiphertextsBothWays(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	tk := toTjfocPrivate(t, k)
	for _, n := range []int{2, 16, 19, 32, 33, 1000, 1 << 16} {
		msg := make([]byte, n)
		rand.Read(msg)

		ct, err := k.PublicKey().Encrypt(msg)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := tjsm2.DecryptAsn1(tk, ct)
		if err != nil || !bytes.Equal(pt, msg) {
			t.Fatalf("tjfoc DecryptAsn1 of our %d-byte ciphertext: %v", n, err)
		}

		tct, err := tjsm2.EncryptAsn1(&tk.PublicKey, msg, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pt, err = k.Decrypt(tct)
		if err != nil || !bytes.Equal(pt, msg) {
			t.Fatalf("our Decrypt of tjfoc's %d-byte EncryptAsn1: %v", n, err)
		}

		for _, mode := range []int{tjsm2.C1C3C2, tjsm2.C1C2C3} {
			raw, err := tjsm2.Encrypt(&tk.PublicKey, msg, rand.Reader, mode)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := k.Decrypt(raw); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("raw mode %d: got %v, want ErrDecrypt", mode, err)
			}
		}
	}
}

// PEM keys: both write PKCS#8 "PRIVATE KEY" and SubjectPublicKeyInfo
// "PUBLIC KEY" with id-ecPublicKey and the SM2 curve OID, and each reads the
// other's. The private key DER is not byte-identical (tjfoc repeats the curve
// OID inside ECPrivateKey and writes d without leading zero bytes); the public
// key DER is. tjfoc's password-protected "ENCRYPTED PRIVATE KEY" is not read by
// ParsePrivateKeyPEM, which takes unencrypted keys only (keys at rest are
// protected by the keystore).
func TestPEMBothWays(t *testing.T) {
	for i := range 20 {
		k, err := GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			// A scalar with a leading zero byte, which tjfoc writes short.
			d := make([]byte, 32)
			rand.Read(d[1:])
			if k, err = NewPrivateKey(d); err != nil {
				t.Fatal(err)
			}
		}
		p, err := k.MarshalPEM()
		if err != nil {
			t.Fatal(err)
		}
		tk, err := tjx509.ReadPrivateKeyFromPem(p, nil)
		if err != nil {
			t.Fatalf("tjfoc reads our private key PEM: %v", err)
		}
		if !bytes.Equal(tk.D.FillBytes(make([]byte, 32)), k.Scalar()) {
			t.Fatal("tjfoc read another private key")
		}
		x, y := k.PublicKey().Coordinates()
		if tk.X.Cmp(x) != 0 || tk.Y.Cmp(y) != 0 {
			t.Fatal("tjfoc derived another public key")
		}

		tp, err := tjx509.WritePrivateKeyToPem(tk, nil)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParsePrivateKeyPEM(tp)
		if err != nil {
			t.Fatalf("we read tjfoc's private key PEM: %v", err)
		}
		if !back.Equal(k) {
			t.Fatal("we read another private key from tjfoc's PEM")
		}

		tpub, err := tjx509.ReadPublicKeyFromPem(k.PublicKey().MarshalPEM())
		if err != nil {
			t.Fatalf("tjfoc reads our public key PEM: %v", err)
		}
		if tpub.X.Cmp(x) != 0 || tpub.Y.Cmp(y) != 0 {
			t.Fatal("tjfoc read another public key")
		}
		tpp, err := tjx509.WritePublicKeyToPem(tpub)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(tpp, k.PublicKey().MarshalPEM()) {
			t.Fatalf("public key PEM differs:\nours  %s\ntjfoc %s", k.PublicKey().MarshalPEM(), tpp)
		}
		pub, err := ParsePublicKeyPEM(tpp)
		if err != nil || !pub.Equal(k.PublicKey()) {
			t.Fatalf("we read tjfoc's public key PEM: %v", err)
		}
	}

	tk, err := tjsm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := tjx509.WritePrivateKeyToPem(tk, []byte("password"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePrivateKeyPEM(enc); !errors.Is(err, ErrKeyFormat) {
		t.Fatalf("tjfoc's ENCRYPTED PRIVATE KEY: got %v, want ErrKeyFormat", err)
	}
}
