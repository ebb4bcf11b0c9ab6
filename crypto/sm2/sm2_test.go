package sm2

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	gmsm2 "github.com/emmansun/gmsm/sm2"

	"github.com/qiao-exchange/qiao/crypto/sm3"
)

// The example of GB/T 32918.5-2017 (GM/T 0003.5-2012), "Part 5: Parameter
// definition", on the recommended curve. Annex A gives the signature of
// "message digest" with user ID 1234567812345678, Annex C the encryption of
// "encryption standard"; both use the key d and the per-operation secret k
// below. The same values are the known answers of OpenSSL's
// test/sm2_internal_test.c (sm2_sig_test and sm2_crypt_test), which also
// gives the Annex C ciphertext in the GM/T 0009-2012 ASN.1 form used here.
const (
	stdD  = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
	stdXA = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
	stdYA = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
	stdK  = "59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21"

	stdSignMsg = "message digest"
	stdR       = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
	stdS       = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"

	stdEncMsg = "encryption standard"
	// SEQUENCE { INTEGER x1, INTEGER y1, OCTET STRING C3, OCTET STRING C2 }.
	stdCiphertext = "307C" +
		"0220" + "04EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73" +
		"0221" + "00" + "E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0" +
		"0420" + "59983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766" +
		"0413" + "21886CA989CA9C7D58087307CA93092D651EFA"
)

// fixedK is the randomness source that makes a signature or a ciphertext
// reproducible: it answers every read of the scalar's length with k. The
// library reads one byte first, half of the time, before drawing k
// (randutil.MaybeReadByte, so that callers cannot depend on the stream); a
// one-byte read gets a zero and does not consume k.
type fixedK []byte

func (k fixedK) Read(p []byte) (int, error) {
	switch len(p) {
	case 1:
		p[0] = 0
		return 1, nil
	case len(k):
		return copy(p, k), nil
	}
	return 0, fmt.Errorf("fixedK: unexpected read of %d bytes", len(p))
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func stdKey(t testing.TB) *PrivateKey {
	t.Helper()
	k, err := NewPrivateKey(unhex(t, stdD))
	if err != nil {
		t.Fatalf("NewPrivateKey: %v", err)
	}
	return k
}

func derSignature(t testing.TB, r, s string) []byte {
	t.Helper()
	sig, err := asn1.Marshal(struct{ R, S *big.Int }{
		new(big.Int).SetBytes(unhex(t, r)),
		new(big.Int).SetBytes(unhex(t, s)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func TestStandardKey(t *testing.T) {
	k := stdKey(t)
	want := unhex(t, "04"+stdXA+stdYA)
	if got := k.PublicKey().Point(); !bytes.Equal(got, want) {
		t.Fatalf("public key of the standard's d:\n got %X\nwant %X", got, want)
	}
	if got := k.Scalar(); !bytes.Equal(got, unhex(t, stdD)) {
		t.Fatalf("Scalar() = %X", got)
	}
}

func TestStandardSignature(t *testing.T) {
	k := stdKey(t)
	want := derSignature(t, stdR, stdS)
	// Run a few times: the library's optional one-byte read happens at random.
	for i := range 8 {
		sig, err := k.SignUID(fixedK(unhex(t, stdK)), []byte(DefaultUID), []byte(stdSignMsg))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(sig, want) {
			t.Fatalf("run %d: signature with the standard's k:\n got %X\nwant %X", i, sig, want)
		}
	}
	if err := k.PublicKey().Verify([]byte(stdSignMsg), want); err != nil {
		t.Fatalf("the standard's signature does not verify: %v", err)
	}
	if err := k.PublicKey().Verify([]byte("message digesT"), want); !errors.Is(err, ErrVerify) {
		t.Fatalf("altered message: got %v, want ErrVerify", err)
	}
}

func TestStandardEncryption(t *testing.T) {
	k := stdKey(t)
	want := unhex(t, stdCiphertext)
	for i := range 8 {
		ct, err := k.PublicKey().EncryptRand(fixedK(unhex(t, stdK)), []byte(stdEncMsg))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ct, want) {
			t.Fatalf("run %d: ciphertext with the standard's k:\n got %X\nwant %X", i, ct, want)
		}
	}
	pt, err := k.Decrypt(want)
	if err != nil {
		t.Fatalf("decrypting the standard's ciphertext: %v", err)
	}
	if string(pt) != stdEncMsg {
		t.Fatalf("decrypted %q", pt)
	}
}

func TestSignVerify(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 31, 32, 64, 1000, 1 << 16} {
		msg := make([]byte, n)
		rand.Read(msg)
		sig, err := k.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.PublicKey().Verify(msg, sig); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if err := k.PublicKey().VerifyUID(nil, msg, sig); err != nil {
			t.Fatalf("%d bytes, empty UID means the default: %v", n, err)
		}
		if err := other.PublicKey().Verify(msg, sig); !errors.Is(err, ErrVerify) {
			t.Fatalf("%d bytes, other key: got %v, want ErrVerify", n, err)
		}
		if err := k.PublicKey().VerifyUID([]byte("ALICE123@YAHOO.COM"), msg, sig); !errors.Is(err, ErrVerify) {
			t.Fatalf("%d bytes, other UID: got %v, want ErrVerify", n, err)
		}
		if n > 0 {
			bad := bytes.Clone(msg)
			bad[n/2] ^= 1
			if err := k.PublicKey().Verify(bad, sig); !errors.Is(err, ErrVerify) {
				t.Fatalf("%d bytes, altered message: got %v, want ErrVerify", n, err)
			}
		}
	}
}

func TestSignUID(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	uid := []byte("police.411528")
	msg := []byte("GET /v1/datasets\n1700000000\nnonce")
	sig, err := k.SignUID(nil, uid, msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.PublicKey().VerifyUID(uid, msg, sig); err != nil {
		t.Fatal(err)
	}
	if err := k.PublicKey().Verify(msg, sig); !errors.Is(err, ErrVerify) {
		t.Fatalf("verified with the default UID: %v", err)
	}
	if _, err := k.SignUID(nil, make([]byte, 8192), msg); err == nil {
		t.Fatal("signed with a user ID whose bit length does not fit ENTL's 16 bits")
	}
}

func TestVerifyRejectsEveryFlippedBit(t *testing.T) {
	k := stdKey(t)
	sig := derSignature(t, stdR, stdS)
	pub := k.PublicKey()
	for i := range len(sig) * 8 {
		bad := bytes.Clone(sig)
		bad[i/8] ^= 1 << (i % 8)
		if err := pub.Verify([]byte(stdSignMsg), bad); !errors.Is(err, ErrVerify) {
			t.Fatalf("bit %d flipped: got %v, want ErrVerify", i, err)
		}
	}
	for _, sig := range [][]byte{nil, {}, {0x30, 0}, append(bytes.Clone(sig), 0)} {
		if err := pub.Verify([]byte(stdSignMsg), sig); !errors.Is(err, ErrVerify) {
			t.Fatalf("signature %X: got %v, want ErrVerify", sig, err)
		}
	}
}

func TestEncryptDecrypt(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{2, 16, 31, 32, 33, 1000, 1 << 16} {
		msg := make([]byte, n)
		rand.Read(msg)
		ct, err := k.PublicKey().Encrypt(msg)
		if err != nil {
			t.Fatal(err)
		}
		if ct[0] != 0x30 {
			t.Fatalf("ciphertext is not an ASN.1 SEQUENCE: %X", ct[:4])
		}
		pt, err := k.Decrypt(ct)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(pt, msg) {
			t.Fatalf("%d bytes: round trip differs", n)
		}
	}
	for _, short := range [][]byte{nil, {0x42}} {
		if _, err := k.PublicKey().Encrypt(short); err == nil {
			t.Fatalf("encrypted a %d-byte message, below MinPlaintext", len(short))
		}
	}
}

func TestDecryptRefuses(t *testing.T) {
	k := stdKey(t)
	ct := unhex(t, stdCiphertext)
	for i := range len(ct) * 8 {
		bad := bytes.Clone(ct)
		bad[i/8] ^= 1 << (i % 8)
		if _, err := k.Decrypt(bad); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("bit %d flipped: got %v, want ErrDecrypt", i, err)
		}
	}
	for n := range len(ct) {
		if _, err := k.Decrypt(ct[:n]); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("truncated to %d bytes: got %v, want ErrDecrypt", n, err)
		}
	}
	if _, err := k.Decrypt(append(bytes.Clone(ct), 0)); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("trailing byte: got %v, want ErrDecrypt", err)
	}
	other, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Decrypt(ct); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong key: got %v, want ErrDecrypt", err)
	}

	// The raw concatenation 04 || x1 || y1 || C3 || C2 of the same ciphertext
	// is a valid SM2 ciphertext in another encoding; Decrypt takes only ASN.1.
	var c struct {
		X, Y   *big.Int
		C3, C2 []byte
	}
	if _, err := asn1.Unmarshal(ct, &c); err != nil {
		t.Fatal(err)
	}
	raw := append([]byte{4}, c.X.FillBytes(make([]byte, 32))...)
	raw = append(raw, c.Y.FillBytes(make([]byte, 32))...)
	raw = append(append(raw, c.C3...), c.C2...)
	if _, err := k.Decrypt(raw); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("raw C1C3C2: got %v, want ErrDecrypt", err)
	}
}

func TestPEMRoundTrip(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	p, err := k.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(p, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Fatalf("private key PEM:\n%s", p)
	}
	back, err := ParsePrivateKeyPEM(p)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(k) || !k.Equal(back) {
		t.Fatal("private key changed in a PEM round trip")
	}
	if k.Equal(nil) {
		t.Fatal("a key equals nil")
	}

	pp := k.PublicKey().MarshalPEM()
	if !bytes.HasPrefix(pp, []byte("-----BEGIN PUBLIC KEY-----\n")) {
		t.Fatalf("public key PEM:\n%s", pp)
	}
	pub, err := ParsePublicKeyPEM(pp)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(k.PublicKey()) {
		t.Fatal("public key changed in a PEM round trip")
	}
	if !bytes.Equal(pub.DER(), k.PublicKey().DER()) {
		t.Fatal("public key DER changed in a round trip")
	}

	// Leading blocks of other types are skipped.
	both := append(append([]byte(nil), pp...), p...)
	if back, err := ParsePrivateKeyPEM(both); err != nil || !back.Equal(k) {
		t.Fatalf("private key after a PUBLIC KEY block: %v", err)
	}
	both = append(append([]byte(nil), p...), pp...)
	if pub, err := ParsePublicKeyPEM(both); err != nil || !pub.Equal(k.PublicKey()) {
		t.Fatalf("public key after a PRIVATE KEY block: %v", err)
	}
}

// sec1 is the ECPrivateKey structure of RFC 5915 (SEC 1).
type sec1 struct {
	Version       int
	PrivateKey    []byte
	NamedCurveOID asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
	PublicKey     asn1.BitString        `asn1:"optional,explicit,tag:1"`
}

var oidSM2 = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}

func sec1PEM(t *testing.T, label string, d, point []byte) []byte {
	t.Helper()
	der, err := asn1.Marshal(sec1{Version: 1, PrivateKey: d, NamedCurveOID: oidSM2, PublicKey: asn1.BitString{Bytes: point, BitLength: 8 * len(point)}})
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: label, Bytes: der})
}

func TestParseSEC1(t *testing.T) {
	k := stdKey(t)
	for _, label := range []string{"EC PRIVATE KEY", "SM2 PRIVATE KEY"} {
		got, err := ParsePrivateKeyPEM(sec1PEM(t, label, k.Scalar(), k.PublicKey().Point()))
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		if !got.Equal(k) {
			t.Fatalf("%s: another key", label)
		}
	}
	// d written without its leading zero byte, as some encoders do.
	d := make([]byte, 32)
	d[31] = 7
	short, err := NewPrivateKey(d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParsePrivateKeyPEM(sec1PEM(t, "EC PRIVATE KEY", []byte{7}, short.PublicKey().Point()))
	if err != nil || !got.Equal(short) {
		t.Fatalf("short scalar: %v", err)
	}
}

func TestParseRefuses(t *testing.T) {
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(p256)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalECPrivateKey(p256)
	if err != nil {
		t.Fatal(err)
	}
	pkix, err := x509.MarshalPKIXPublicKey(&p256.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sm2N := unhex(t, "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123")
	nMinus1 := new(big.Int).Sub(new(big.Int).SetBytes(sm2N), big.NewInt(1)).Bytes()
	g := stdKey(t).PublicKey().Point() // any point: the parser must not trust it

	privs := map[string][]byte{
		"P-256 PKCS#8":     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		"P-256 SEC1":       pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}),
		"d = 0":            sec1PEM(t, "EC PRIVATE KEY", make([]byte, 32), g),
		"d = n-1":          sec1PEM(t, "EC PRIVATE KEY", nMinus1, g),
		"d = n":            sec1PEM(t, "EC PRIVATE KEY", sm2N, g),
		"encrypted PKCS#8": pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: pkcs8}),
		"no PEM":           []byte("not a key"),
		"garbage PKCS#8":   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 1, 0}}),
	}
	for name, p := range privs {
		if _, err := ParsePrivateKeyPEM(p); !errors.Is(err, ErrKeyFormat) {
			t.Errorf("%s: got %v, want ErrKeyFormat", name, err)
		}
	}
	pubs := map[string][]byte{
		"P-256":   pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}),
		"no PEM":  []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"),
		"garbage": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}),
	}
	for name, p := range pubs {
		if _, err := ParsePublicKeyPEM(p); !errors.Is(err, ErrKeyFormat) {
			t.Errorf("%s: got %v, want ErrKeyFormat", name, err)
		}
	}
	if _, err := FromCrypto(&p256.PublicKey); !errors.Is(err, ErrKeyFormat) {
		t.Errorf("FromCrypto(P-256): got %v", err)
	}
	x, y := stdKey(t).PublicKey().Coordinates()
	y.Add(y, big.NewInt(1))
	//lint:ignore SA1019 an invalid SM2 point can only be built from coordinates
	bad := &ecdsa.PublicKey{Curve: gmsm2.P256(), X: x, Y: y}
	if _, err := FromCrypto(bad); !errors.Is(err, ErrKeyFormat) {
		t.Errorf("FromCrypto(point off the curve): got %v", err)
	}
	for name, d := range map[string][]byte{"short": make([]byte, 31), "zero": make([]byte, 32), "n-1": nMinus1, "n": sm2N} {
		if _, err := NewPrivateKey(d); !errors.Is(err, ErrKeyFormat) {
			t.Errorf("NewPrivateKey(%s): got %v, want ErrKeyFormat", name, err)
		}
	}
	offCurve := bytes.Clone(g)
	offCurve[64] ^= 1
	for name, p := range map[string][]byte{"off curve": offCurve, "compressed": append([]byte{2}, g[1:33]...), "empty": nil, "infinity": {0}} {
		if _, err := NewPublicKey(p); !errors.Is(err, ErrKeyFormat) {
			t.Errorf("NewPublicKey(%s): got %v, want ErrKeyFormat", name, err)
		}
	}
}

func TestPublicKeyAccessors(t *testing.T) {
	k := stdKey(t)
	pub := k.PublicKey()
	x, y := pub.Coordinates()
	if x.Cmp(new(big.Int).SetBytes(unhex(t, stdXA))) != 0 || y.Cmp(new(big.Int).SetBytes(unhex(t, stdYA))) != 0 {
		t.Fatal("Coordinates differ from the standard's public key")
	}
	x.SetInt64(0) // a copy: the key must not change
	if again, _ := pub.Coordinates(); again.Sign() == 0 {
		t.Fatal("Coordinates returned the key's own big.Int")
	}
	fromPoint, err := NewPublicKey(pub.Point())
	if err != nil || !fromPoint.Equal(pub) {
		t.Fatalf("NewPublicKey(Point()): %v", err)
	}
	fromCrypto, err := FromCrypto(pub.Crypto())
	if err != nil || !fromCrypto.Equal(pub) {
		t.Fatalf("FromCrypto(Crypto()): %v", err)
	}
	fromDER, err := ParsePublicKeyDER(pub.DER())
	if err != nil || !fromDER.Equal(pub) {
		t.Fatalf("ParsePublicKeyDER(DER()): %v", err)
	}
	if pub.Equal(nil) {
		t.Fatal("a public key equals nil")
	}

	id := pub.KeyID()
	sum := sm3.Sum(pub.DER())
	if id != hex.EncodeToString(sum[:16]) || len(id) != 32 || strings.ToLower(id) != id {
		t.Fatalf("KeyID = %q", id)
	}
	other, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if other.PublicKey().KeyID() == id {
		t.Fatal("two keys share a key ID")
	}
}

func TestSigner(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s := k.Signer()
	if pub, err := FromCrypto(s.Public()); err != nil || !pub.Equal(k.PublicKey()) {
		t.Fatalf("Signer().Public(): %v", err)
	}
	msg := []byte("tbsCertificate")
	// Whatever hash identifier a library passes, the input is the raw message.
	for _, opts := range []crypto.SignerOpts{nil, crypto.Hash(0), crypto.SHA256} {
		sig, err := s.Sign(nil, msg, opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.PublicKey().Verify(msg, sig); err != nil {
			t.Fatalf("opts %v: %v", opts, err)
		}
	}
	// The library's own option is followed, user ID included.
	uid := []byte("court.110000")
	sig, err := s.Sign(rand.Reader, msg, gmsm2.NewSM2SignerOption(true, uid))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.PublicKey().VerifyUID(uid, msg, sig); err != nil {
		t.Fatal(err)
	}
}
