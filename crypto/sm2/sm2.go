// Package sm2 holds SM2 keys (GB/T 32918): generation, PEM encoding, signatures
// and public-key encryption, and the key IDs Qiao names keys by.
//
// Signatures are ASN.1 DER (r, s) over SM3(ZA || message) with the user ID
// 1234567812345678 unless another is given; ciphertexts are ASN.1 C1C3C2
// (GM/T 0009). Keys are PKCS#8 "PRIVATE KEY" and SubjectPublicKeyInfo
// "PUBLIC KEY" PEM, the forms OpenSSL 3 reads and writes for SM2.
//
// It is not a certificate library: certificates live in crypto/ca.
package sm2

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"

	gmsm2 "github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/qiao-exchange/qiao/crypto/sm3"
)

// DefaultUID is the signer identity of GB/T 35276 used when none is given.
const DefaultUID = "1234567812345678"

var (
	// ErrVerify means a signature does not match the message and key: the
	// message was altered or signed by someone else. Refuse it.
	ErrVerify = errors.New("sm2: signature verification failed")
	// ErrDecrypt means a ciphertext could not be decrypted with this key: it
	// was altered or encrypted to another key. Refuse it.
	ErrDecrypt = errors.New("sm2: decryption failed")
	// ErrKeyFormat means PEM or DER input is not an SM2 key of a supported form.
	ErrKeyFormat = errors.New("sm2: not an SM2 key")
)

// PrivateKey is an SM2 private key. It is safe for concurrent use.
type PrivateKey struct {
	k *gmsm2.PrivateKey
}

// PublicKey is an SM2 public key.
type PublicKey struct {
	k *ecdsa.PublicKey
}

// GenerateKey returns a new random private key.
func GenerateKey() (*PrivateKey, error) {
	k, err := gmsm2.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sm2: generating key: %w", err)
	}
	return &PrivateKey{k: k}, nil
}

// NewPrivateKey returns the key with the 32-byte big-endian scalar d.
func NewPrivateKey(d []byte) (*PrivateKey, error) {
	k, err := gmsm2.NewPrivateKey(d)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFormat, err)
	}
	return &PrivateKey{k: k}, nil
}

// NewPublicKey returns the key with the uncompressed point 04 || X || Y,
// checking that it lies on the curve.
func NewPublicKey(point []byte) (*PublicKey, error) {
	k, err := gmsm2.NewPublicKey(point)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFormat, err)
	}
	return &PublicKey{k: k}, nil
}

// PublicKey returns the public half of k.
func (k *PrivateKey) PublicKey() *PublicKey { return &PublicKey{k: &k.k.PublicKey} }

// Scalar returns the private scalar d as 32 big-endian bytes.
func (k *PrivateKey) Scalar() []byte { return k.k.D.FillBytes(make([]byte, 32)) }

// Signer returns k as a crypto.Signer for certificate and TLS libraries inside
// crypto/. Given an *sm2.SM2SignerOption of github.com/emmansun/gmsm, its Sign
// does what that option says; given any other options, nil and hash
// identifiers included, it takes msg as the raw message (never a digest) and
// returns the DER signature with the default user ID, as PrivateKey.Sign does.
// Its Public returns the *ecdsa.PublicKey that Crypto returns.
func (k *PrivateKey) Signer() crypto.Signer { return signer{k.k} }

// signer adapts the library key so that callers which pass a hash identifier
// as options (tjfoc/gmsm's x509 passes its SM3 constant with the raw TBS bytes)
// still get an SM2 signature over SM3(ZA || message).
type signer struct{ k *gmsm2.PrivateKey }

func (s signer) Public() crypto.PublicKey { return &s.k.PublicKey }

func (s signer) Sign(r io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	o, ok := opts.(*gmsm2.SM2SignerOption)
	if !ok {
		o = gmsm2.DefaultSM2SignerOpts
	}
	return s.k.Sign(r, msg, o)
}

// Sign signs msg with the default user ID and returns a DER signature.
func (k *PrivateKey) Sign(msg []byte) ([]byte, error) {
	return k.SignUID(rand.Reader, []byte(DefaultUID), msg)
}

// SignUID signs msg as uid, drawing the per-signature secret from r
// (crypto/rand when r is nil). An empty uid means DefaultUID.
func (k *PrivateKey) SignUID(r io.Reader, uid, msg []byte) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	sig, err := k.k.Sign(r, msg, gmsm2.NewSM2SignerOption(true, uid))
	if err != nil {
		return nil, fmt.Errorf("sm2: sign: %w", err)
	}
	return sig, nil
}

// Decrypt decrypts an ASN.1 C1C3C2 ciphertext made by Encrypt. Only the
// GM/T 0009 ASN.1 form is accepted; the raw 04 || C1 || C3 || C2 form the
// underlying library would also take is refused with ErrDecrypt, so that a
// ciphertext has exactly one encoding.
func (k *PrivateKey) Decrypt(ciphertext []byte) ([]byte, error) {
	if len(ciphertext) == 0 || ciphertext[0] != 0x30 {
		return nil, ErrDecrypt
	}
	pt, err := k.k.Decrypt(nil, ciphertext, gmsm2.ASN1DecrypterOpts)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// MarshalPEM encodes k as a PKCS#8 "PRIVATE KEY" PEM block.
func (k *PrivateKey) MarshalPEM() ([]byte, error) {
	der, err := smx509.MarshalPKCS8PrivateKey(k.k)
	if err != nil {
		return nil, fmt.Errorf("sm2: marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Equal reports whether k and o are the same key.
func (k *PrivateKey) Equal(o *PrivateKey) bool { return o != nil && k.k.Equal(o.k) }

// ParsePrivateKeyPEM reads the first private key in data: PKCS#8 "PRIVATE KEY",
// or SEC1 under the label "EC PRIVATE KEY" or "SM2 PRIVATE KEY" (the label
// OpenSSL 3's `openssl ec` writes for SM2 keys), on the SM2 curve. Other
// blocks, such as the "EC PARAMETERS" or "SM2 PARAMETERS" that
// `openssl ecparam -genkey` writes first, are skipped. Encrypted PKCS#8 is
// not supported.
func ParsePrivateKeyPEM(data []byte) (*PrivateKey, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("%w: no PRIVATE KEY, EC PRIVATE KEY or SM2 PRIVATE KEY PEM block", ErrKeyFormat)
		}
		switch b.Type {
		case "PRIVATE KEY":
			return ParsePrivateKeyDER(b.Bytes)
		case "EC PRIVATE KEY", "SM2 PRIVATE KEY":
			k, err := smx509.ParseSM2PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrKeyFormat, b.Type, err)
			}
			return checked(k)
		}
	}
}

// ParsePrivateKeyDER reads a PKCS#8 DER private key on the SM2 curve.
func ParsePrivateKeyDER(der []byte) (*PrivateKey, error) {
	key, err := smx509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: PKCS#8: %v", ErrKeyFormat, err)
	}
	k, ok := key.(*gmsm2.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: PKCS#8 holds a %T", ErrKeyFormat, key)
	}
	return checked(k)
}

// checked rebuilds a parsed key from its scalar, so that a key file with d
// outside [1, n-2] is refused when it is loaded rather than when it first
// signs, and the public point is the one d gives, whatever the file said.
func checked(k *gmsm2.PrivateKey) (*PrivateKey, error) {
	if k.D.Sign() <= 0 || k.D.BitLen() > 256 {
		return nil, fmt.Errorf("%w: private scalar out of range", ErrKeyFormat)
	}
	return NewPrivateKey(k.D.FillBytes(make([]byte, 32)))
}

// Verify checks a DER signature over msg made with the default user ID.
func (p *PublicKey) Verify(msg, sig []byte) error {
	return p.VerifyUID([]byte(DefaultUID), msg, sig)
}

// VerifyUID checks a DER signature over msg made as uid. An empty uid means
// DefaultUID.
func (p *PublicKey) VerifyUID(uid, msg, sig []byte) error {
	if !gmsm2.VerifyASN1WithSM2(p.k, uid, msg, sig) {
		return ErrVerify
	}
	return nil
}

// Encrypt encrypts msg to p as an ASN.1 C1C3C2 ciphertext.
func (p *PublicKey) Encrypt(msg []byte) ([]byte, error) {
	return p.EncryptRand(rand.Reader, msg)
}

// EncryptRand is Encrypt drawing the ephemeral key from r (crypto/rand when r
// is nil).
func (p *PublicKey) EncryptRand(r io.Reader, msg []byte) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	if len(msg) < MinPlaintext {
		return nil, fmt.Errorf("sm2: encrypt: message of %d bytes; at least %d are needed", len(msg), MinPlaintext)
	}
	// The library's decryption refuses a ciphertext whose C2 is all zero
	// bytes (it tests C2 where GB/T 32918.4 tests the key stream t), which
	// happens for 1 in 256^len(msg) encryptions. Encrypting again with a
	// fresh ephemeral key gives a ciphertext every implementation opens.
	for range 8 {
		ct, err := gmsm2.EncryptASN1(r, p.k, msg)
		if err != nil {
			return nil, fmt.Errorf("sm2: encrypt: %w", err)
		}
		if !zeroC2(ct) {
			return ct, nil
		}
	}
	return nil, errors.New("sm2: encrypt: no usable ciphertext in 8 tries")
}

// MinPlaintext is the shortest message Encrypt takes. The library encrypts
// about 1 in 400 one-byte messages into a ciphertext that neither it nor
// other implementations decrypt; Qiao encrypts 16-byte keys only, so it
// refuses shorter messages rather than carry that defect.
const MinPlaintext = 2

// zeroC2 reports whether the C2 of an ASN.1 C1C3C2 ciphertext is all zero.
func zeroC2(ct []byte) bool {
	var v struct {
		X, Y *big.Int
		C3   []byte
		C2   []byte
	}
	if _, err := asn1.Unmarshal(ct, &v); err != nil {
		return false
	}
	for _, b := range v.C2 {
		if b != 0 {
			return false
		}
	}
	return true
}

// Point returns the uncompressed point 04 || X || Y.
func (p *PublicKey) Point() []byte {
	out := make([]byte, 65)
	out[0] = 4
	// ecdsa.PublicKey.Bytes, the replacement for the coordinates, supports
	// only the NIST curves; they are read here, never written.
	//lint:ignore SA1019 the SM2 curve has no other accessor
	x, y := p.k.X, p.k.Y
	x.FillBytes(out[1:33])
	y.FillBytes(out[33:])
	return out
}

// Coordinates returns copies of the affine coordinates, for libraries inside
// crypto/ that hold SM2 keys in their own types.
func (p *PublicKey) Coordinates() (x, y *big.Int) {
	pt := p.Point()
	return new(big.Int).SetBytes(pt[1:33]), new(big.Int).SetBytes(pt[33:])
}

// Crypto returns p as a crypto.PublicKey for certificate libraries inside crypto/.
func (p *PublicKey) Crypto() crypto.PublicKey { return p.k }

// DER returns p's SubjectPublicKeyInfo DER (id-ecPublicKey, curve SM2).
func (p *PublicKey) DER() []byte {
	der, err := smx509.MarshalPKIXPublicKey(p.k)
	if err != nil {
		// An SM2 key on its own curve always marshals.
		panic(fmt.Sprintf("sm2: marshal public key: %v", err))
	}
	return der
}

// MarshalPEM encodes p as a "PUBLIC KEY" PEM block.
func (p *PublicKey) MarshalPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: p.DER()})
}

// KeyID is hex of the first 16 bytes of SM3 over p's SubjectPublicKeyInfo DER.
func (p *PublicKey) KeyID() string {
	d := sm3.Sum(p.DER())
	return hex.EncodeToString(d[:16])
}

// Equal reports whether p and o are the same key.
func (p *PublicKey) Equal(o *PublicKey) bool {
	return o != nil && bytes.Equal(p.Point(), o.Point())
}

// ParsePublicKeyPEM reads the first "PUBLIC KEY" PEM block in data.
func ParsePublicKeyPEM(data []byte) (*PublicKey, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("%w: no PUBLIC KEY PEM block", ErrKeyFormat)
		}
		if b.Type == "PUBLIC KEY" {
			return ParsePublicKeyDER(b.Bytes)
		}
	}
}

// ParsePublicKeyDER reads a SubjectPublicKeyInfo DER public key on the SM2 curve.
func ParsePublicKeyDER(der []byte) (*PublicKey, error) {
	key, err := smx509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFormat, err)
	}
	return FromCrypto(key)
}

// FromCrypto converts a crypto.PublicKey holding an SM2 point, as certificate
// parsers return it, into a PublicKey. A point not on the curve is refused.
func FromCrypto(key crypto.PublicKey) (*PublicKey, error) {
	ec, ok := key.(*ecdsa.PublicKey)
	if !ok || !gmsm2.IsSM2PublicKey(ec) {
		return nil, fmt.Errorf("%w: got %T", ErrKeyFormat, key)
	}
	if _, err := gmsm2.PublicKeyToECDH(ec); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFormat, err)
	}
	return &PublicKey{k: ec}, nil
}
