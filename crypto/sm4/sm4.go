// Package sm4 seals and opens data with SM4 (GB/T 32907) in GCM mode.
//
// Seal draws a random 12-byte nonce and appends a 16-byte tag; the nonce is
// returned separately so that callers such as the envelope can carry it in a
// field of its own. It is not a streaming API: a message is sealed whole.
package sm4

import (
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	gmsm4 "github.com/emmansun/gmsm/sm4"
)

const (
	// KeySize is the length of an SM4 key in bytes.
	KeySize = 16
	// NonceSize is the length of a GCM nonce in bytes.
	NonceSize = 12
	// TagSize is the length of the GCM authentication tag in bytes.
	TagSize = 16
	// BlockSize is SM4's block size in bytes.
	BlockSize = gmsm4.BlockSize
)

// ErrOpen means the ciphertext, nonce, key or associated data do not match:
// the data was altered or is not for this key. Callers refuse the message.
var ErrOpen = errors.New("sm4: message authentication failed")

// NewKey returns a fresh random SM4 key.
func NewKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("sm4: generating key: %w", err)
	}
	return k, nil
}

// NewBlock returns the raw SM4 block cipher for key, for test vectors and
// modes other than GCM.
func NewBlock(key []byte) (cipher.Block, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("sm4: key is %d bytes, want %d", len(key), KeySize)
	}
	return gmsm4.NewCipher(key)
}

// AEAD is SM4-GCM bound to one key. It is safe for concurrent use.
type AEAD struct {
	gcm cipher.AEAD
}

// NewGCM returns SM4-GCM with a 12-byte nonce and a 16-byte tag.
func NewGCM(key []byte) (*AEAD, error) {
	b, err := NewBlock(key)
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("sm4: gcm: %w", err)
	}
	return &AEAD{gcm: g}, nil
}

// Seal encrypts plaintext with a fresh random nonce and authenticates it with
// aad. It returns the nonce and the ciphertext with its tag appended.
func (a *AEAD) Seal(plaintext, aad []byte) (nonce, ciphertext []byte, err error) {
	nonce = make([]byte, NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, fmt.Errorf("sm4: nonce: %w", err)
	}
	return nonce, a.gcm.Seal(nil, nonce, plaintext, aad), nil
}

// SealWithNonce encrypts with a caller-chosen nonce. A nonce must never be
// reused with the same key; it exists for test vectors.
func (a *AEAD) SealWithNonce(nonce, plaintext, aad []byte) ([]byte, error) {
	if len(nonce) != NonceSize {
		return nil, fmt.Errorf("sm4: nonce is %d bytes, want %d", len(nonce), NonceSize)
	}
	return a.gcm.Seal(nil, nonce, plaintext, aad), nil
}

// Open authenticates and decrypts ciphertext. Any mismatch returns ErrOpen.
func (a *AEAD) Open(nonce, ciphertext, aad []byte) ([]byte, error) {
	if len(nonce) != NonceSize {
		return nil, fmt.Errorf("%w: nonce is %d bytes, want %d", ErrOpen, len(nonce), NonceSize)
	}
	if len(ciphertext) < TagSize {
		return nil, fmt.Errorf("%w: ciphertext shorter than its tag", ErrOpen)
	}
	pt, err := a.gcm.Open(nil, nonce, ciphertext, aad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
