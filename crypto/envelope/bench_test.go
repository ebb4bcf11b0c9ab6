package envelope

// Seal and Open beside a reference built from the standard library: the same
// envelope format, with ECDSA P-256 signatures over SHA-256 instead of SM2,
// AES-128-GCM instead of SM4-GCM, and the data key wrapped by an ephemeral
// P-256 ECDH, a SHA-256 KDF and a SHA-256 check value, the steps SM2
// public-key encryption takes on its own curve. The ratio of the two lines of
// a size is what SM cryptography costs on this machine.

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
)

var benchSizes = []struct {
	name string
	n    int
}{
	{"1KiB", 1 << 10},
	{"1MiB", 1 << 20},
}

func BenchmarkSeal(b *testing.B) {
	k := exampleKeys(b)
	ref := newReference(b)
	for _, size := range benchSizes {
		pt := make([]byte, size.n)
		b.Run(size.name+"/sm2-sm4", func(b *testing.B) {
			b.SetBytes(int64(size.n))
			for b.Loop() {
				env, err := Seal(k.sender, k.recipient.PublicKey(), exampleAD, pt)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Marshal(env); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(size.name+"/p256-aes-reference", func(b *testing.B) {
			b.SetBytes(int64(size.n))
			for b.Loop() {
				if _, err := ref.seal(pt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	k := exampleKeys(b)
	ref := newReference(b)
	for _, size := range benchSizes {
		pt := make([]byte, size.n)
		wire := mustMarshal(b, k.seal(b, pt))
		refWire, err := ref.seal(pt)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(size.name+"/sm2-sm4", func(b *testing.B) {
			b.SetBytes(int64(size.n))
			for b.Loop() {
				if _, _, err := k.open(wire); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(size.name+"/p256-aes-reference", func(b *testing.B) {
			b.SetBytes(int64(size.n))
			for b.Loop() {
				got, err := ref.open(refWire)
				if err != nil {
					b.Fatal(err)
				}
				if len(got) != size.n {
					b.Fatal("reference opened the wrong payload")
				}
			}
		})
	}
}

// reference is the envelope built from the standard library's P-256 and AES.
type reference struct {
	signer    *ecdsa.PrivateKey
	recipient *ecdh.PrivateKey
	senderID  string
	recipID   string
}

func newReference(tb testing.TB) *reference {
	signer, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	recipient, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return &reference{
		signer: signer, recipient: recipient,
		senderID: "00112233445566778899aabbccddeeff", recipID: "ffeeddccbbaa99887766554433221100",
	}
}

// wrapKey encrypts key to pub: ephemeral point || key XOR KDF || SHA-256 check.
func wrapKey(pub *ecdh.PublicKey, key []byte) ([]byte, error) {
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	shared, err := eph.ECDH(pub)
	if err != nil {
		return nil, err
	}
	out := eph.PublicKey().Bytes()
	pad := sha256.Sum256(append([]byte{1}, shared...))
	for i, c := range key {
		out = append(out, c^pad[i])
	}
	check := sha256.Sum256(append(shared, key...))
	return append(out, check[:]...), nil
}

func unwrapKey(priv *ecdh.PrivateKey, wrapped []byte) ([]byte, error) {
	if len(wrapped) != 65+16+32 {
		return nil, errors.New("reference: wrapped key length")
	}
	eph, err := ecdh.P256().NewPublicKey(wrapped[:65])
	if err != nil {
		return nil, err
	}
	shared, err := priv.ECDH(eph)
	if err != nil {
		return nil, err
	}
	pad := sha256.Sum256(append([]byte{1}, shared...))
	key := make([]byte, 16)
	for i := range key {
		key[i] = wrapped[65+i] ^ pad[i]
	}
	check := sha256.Sum256(append(shared, key...))
	if subtle.ConstantTimeCompare(check[:], wrapped[81:]) != 1 {
		return nil, errors.New("reference: wrapped key check")
	}
	return key, nil
}

func (r *reference) seal(pt []byte) ([]byte, error) {
	key := make([]byte, 16)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	wrapped, err := wrapKey(r.recipient.PublicKey(), key)
	if err != nil {
		return nil, err
	}
	c := &exchangev1.EnvelopeContent{
		Version: Version, SenderKeyId: r.senderID, RecipientKeyId: r.recipID, EncryptedKey: wrapped,
		AssociatedData: &exchangev1.AssociatedData{
			Dataset: exampleAD.Dataset, BatchId: exampleAD.BatchID,
			CreateTime: timestamppb.New(exampleAD.Created), ContentType: exampleAD.ContentType,
		},
		Nonce: make([]byte, 12),
	}
	if _, err := rand.Read(c.Nonce); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	c.Ciphertext = gcm.Seal(nil, c.Nonce, pt, headerAAD(c))
	content, err := canonical.Marshal(c)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(content)
	sig, err := ecdsa.SignASN1(rand.Reader, r.signer, digest[:])
	if err != nil {
		return nil, err
	}
	return Marshal(&exchangev1.Envelope{Content: content, Signature: sig})
}

func (r *reference) open(wire []byte) ([]byte, error) {
	env, err := Parse(wire)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(env.Content)
	if !ecdsa.VerifyASN1(&r.signer.PublicKey, digest[:], env.Signature) {
		return nil, ErrBadSignature
	}
	c, err := parseContent(env.Content)
	if err != nil {
		return nil, err
	}
	if c.SenderKeyId != r.senderID || c.RecipientKeyId != r.recipID {
		return nil, ErrWrongRecipient
	}
	key, err := unwrapKey(r.recipient, c.EncryptedKey)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	pt, err := gcm.Open(nil, c.Nonce, c.Ciphertext, headerAAD(c))
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// The reference opens what it sealed and refuses a changed byte, so that
// the benchmark compares two working envelopes.
func TestReference(t *testing.T) {
	ref := newReference(t)
	wire, err := ref.seal(examplePlaintext)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := ref.open(wire)
	if err != nil || !bytes.Equal(pt, examplePlaintext) {
		t.Fatalf("reference open: %q, %v", pt, err)
	}
	bad := bytes.Clone(wire)
	bad[len(bad)/2] ^= 1
	if _, err := ref.open(bad); err == nil {
		t.Fatal("reference opened a changed envelope")
	}
}
