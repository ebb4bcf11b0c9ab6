// Package fieldcrypt protects personal identifiers at rest: it seals a value
// with SM4-GCM under a field-encryption key and computes its HMAC-SM3 token
// under a token key, both derived from the gateway's storage master key.
//
// A token is deterministic: the same value of the same kind of identifier
// (its domain: "id_number", "name", "credit_code", …) gives the same token in
// every dataset, so records of different agencies can be joined, searched and
// named in audit entries without the plaintext. A sealed value is randomised:
// the same value sealed twice gives different bytes, bound by associated data
// to the place it is stored, and only its owner's key opens it.
//
// Keys are derived from the 16-byte master key with HMAC-SM3 and fixed labels:
//
//	token key = HMAC-SM3(master, "qiao/fieldcrypt/v1/token")          (32 bytes)
//	field key = HMAC-SM3(master, "qiao/fieldcrypt/v1/seal")[:16]      (SM4 key)
//	token     = hex(HMAC-SM3(token key, domain || 0x00 || value))     (64 hex digits)
//	sealed    = nonce (12 random bytes) || SM4-GCM ciphertext || tag (16 bytes)
//
// Values are tokenised as given: callers normalise them first (an ID number
// in its canonical 18-character form) so that equal identifiers meet.
//
// It is not an envelope or a key store: it does not sign, does not wrap keys
// for recipients and does not keep keys anywhere. It is not a masking
// function either; masking for display belongs to the pull path. Keys is safe
// for concurrent use.
package fieldcrypt

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"

	"github.com/qiao-exchange/qiao/crypto/keystore"
	"github.com/qiao-exchange/qiao/crypto/sm3"
	"github.com/qiao-exchange/qiao/crypto/sm4"
)

// Token domains: the kinds of identifier that are tokenised. A domain names
// what a value is, not where it is stored, so the ID number of a deceased
// person in police.deaths and of an insured person in medins.settlements
// give the same token.
const (
	// DomainIDNumber is an 18-character resident ID number (GB 11643).
	DomainIDNumber = "id_number"
	// DomainCreditCode is an 18-character unified social credit code (GB 32100).
	DomainCreditCode = "credit_code"
	// DomainName is a person's name.
	DomainName = "name"
	// DomainText is any other personal data held as free text.
	DomainText = "text"
)

// The labels that derive the two keys from the master key. Changing one
// changes every token or makes every sealed value unreadable.
const (
	tokenLabel = "qiao/fieldcrypt/v1/token"
	sealLabel  = "qiao/fieldcrypt/v1/seal"
)

const (
	// MasterKeySize is the length of the storage master key in bytes.
	MasterKeySize = sm4.KeySize
	// TokenLen is the length of a token: 64 lower-case hex digits.
	TokenLen = 2 * sm3.Size
	// Overhead is how many bytes Seal adds to a value: nonce and tag.
	Overhead = sm4.NonceSize + sm4.TagSize
)

// MasterKeyName is the keystore name of the storage master key.
const MasterKeyName = "gateway/master"

// ErrOpen means a sealed value did not authenticate: it was altered, moved
// to another row or field (its associated data differ), or sealed under
// another master key. Treat the stored data as corrupt or tampered with and
// return nothing of it; retrying will not help.
var ErrOpen = errors.New("fieldcrypt: sealed value failed authentication")

// Keys holds the token key and the field-encryption key derived from one
// master key.
type Keys struct {
	tokenKey []byte
	gcm      cipher.AEAD
	macs     sync.Pool // of *mac
}

// mac is a keyed HMAC-SM3 with its buffers, reused across tokens; Reset
// restores the keyed state without hashing the key again.
type mac struct {
	h   hash.Hash
	buf []byte // domain || 0x00 || value, cleared after use
	sum []byte
}

// New derives the keys from the 16-byte storage master key.
func New(master []byte) (*Keys, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("fieldcrypt: master key is %d bytes, want %d", len(master), MasterKeySize)
	}
	k := &Keys{tokenKey: sm3.HMAC(master, []byte(tokenLabel))}
	block, err := sm4.NewBlock(sm3.HMAC(master, []byte(sealLabel))[:sm4.KeySize])
	if err != nil {
		return nil, fmt.Errorf("fieldcrypt: %w", err)
	}
	if k.gcm, err = cipher.NewGCM(block); err != nil {
		return nil, fmt.Errorf("fieldcrypt: gcm: %w", err)
	}
	k.macs.New = func() any { return &mac{h: sm3.NewHMAC(k.tokenKey)} }
	return k, nil
}

// Load derives the keys from the storage master key kept in ks under
// MasterKeyName. A missing key or an unreachable keystore is an error: the
// caller refuses to start rather than store personal data unprotected.
func Load(ctx context.Context, ks keystore.Keystore) (*Keys, error) {
	master, err := keystore.LoadSecret(ctx, ks, MasterKeyName)
	if err != nil {
		return nil, fmt.Errorf("fieldcrypt: %w", err)
	}
	return New(master)
}

// Token returns the token of value in domain: the lower-case hex of
// HMAC-SM3(token key, domain || 0x00 || value). Equal values of the same
// domain give equal tokens under the same master key; the same value in
// another domain, or under another key, gives an unrelated token.
//
// domain is one of the Domain constants or another fixed name; it must not
// be empty or contain a NUL byte, which would make the encoding ambiguous,
// and Token panics if it does.
func (k *Keys) Token(domain, value string) string {
	if domain == "" || strings.IndexByte(domain, 0) >= 0 {
		panic("fieldcrypt: token domain is empty or contains NUL")
	}
	m := k.macs.Get().(*mac)
	m.h.Reset()
	m.buf = append(append(append(m.buf[:0], domain...), 0), value...)
	m.h.Write(m.buf)
	m.sum = m.h.Sum(m.sum[:0])
	var out [TokenLen]byte
	hex.Encode(out[:], m.sum)
	clear(m.buf)
	k.macs.Put(m)
	return string(out[:])
}

// ValidToken reports whether s has the form of a token: 64 lower-case hex
// digits. It says nothing about which value or key the token is of.
func ValidToken(s string) bool {
	if len(s) != TokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Seal encrypts plaintext with SM4-GCM under the field key and a fresh
// random nonce, authenticating aad with it, and returns nonce || ciphertext
// || tag. aad names where the value is kept (Open must be given the same),
// so a sealed value copied to another place does not open there.
func (k *Keys) Seal(plaintext, aad []byte) ([]byte, error) {
	var nonce [sm4.NonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, fmt.Errorf("fieldcrypt: nonce: %w", err)
	}
	out := make([]byte, sm4.NonceSize, len(plaintext)+Overhead)
	copy(out, nonce[:])
	return k.gcm.Seal(out, nonce[:], plaintext, aad), nil
}

// Open authenticates and decrypts a value made by Seal with the same aad.
// Any mismatch returns an error wrapping ErrOpen.
func (k *Keys) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, fmt.Errorf("%w: %d bytes is shorter than nonce and tag", ErrOpen, len(sealed))
	}
	pt, err := k.gcm.Open(nil, sealed[:sm4.NonceSize], sealed[sm4.NonceSize:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
