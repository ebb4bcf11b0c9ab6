package sm2

import (
	"testing"
)

// Keys, signatures and ciphertexts come from other agencies: the parsers must
// refuse bad input with an error, never panic.

func FuzzParsePrivateKeyPEM(f *testing.F) {
	k, err := NewPrivateKey(unhex(f, stdD))
	if err != nil {
		f.Fatal(err)
	}
	p, err := k.MarshalPEM()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(p)
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePrivateKeyPEM(data)
		if err == nil && k.PublicKey().KeyID() == "" {
			t.Fatal("parsed a key without a key ID")
		}
	})
}

func FuzzParsePublicKeyDER(f *testing.F) {
	k, err := NewPrivateKey(unhex(f, stdD))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(k.PublicKey().DER())
	f.Fuzz(func(t *testing.T, der []byte) {
		if p, err := ParsePublicKeyDER(der); err == nil {
			if _, err := NewPublicKey(p.Point()); err != nil {
				t.Fatalf("parsed a point that is not on the curve: %v", err)
			}
		}
	})
}

func FuzzVerify(f *testing.F) {
	k, err := NewPrivateKey(unhex(f, stdD))
	if err != nil {
		f.Fatal(err)
	}
	pub := k.PublicKey()
	f.Add([]byte(stdSignMsg), derSignature(f, stdR, stdS))
	f.Fuzz(func(t *testing.T, msg, sig []byte) {
		_ = pub.Verify(msg, sig)
	})
}

func FuzzDecrypt(f *testing.F) {
	k, err := NewPrivateKey(unhex(f, stdD))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(unhex(f, stdCiphertext))
	f.Fuzz(func(t *testing.T, ct []byte) {
		_, _ = k.Decrypt(ct)
	})
}
