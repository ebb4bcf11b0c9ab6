// Package sm3 provides the SM3 hash (GB/T 32905) and HMAC-SM3.
//
// It is a thin layer over the SM3 implementation Qiao depends on, so that no
// package outside crypto/ imports a GM library directly. It is not a general
// hashing toolkit: callers that need SHA-2 use the standard library.
package sm3

import (
	"crypto/hmac"
	"encoding/hex"
	"hash"

	gmsm3 "github.com/emmansun/gmsm/sm3"
)

// Size is the length of an SM3 digest in bytes.
const Size = gmsm3.Size

// BlockSize is SM3's block size in bytes.
const BlockSize = gmsm3.BlockSize

// New returns a new SM3 hash.
func New() hash.Hash { return gmsm3.New() }

// Sum returns the SM3 digest of data.
func Sum(data []byte) [Size]byte { return gmsm3.Sum(data) }

// SumHex returns the SM3 digest of data as lower-case hex.
func SumHex(data []byte) string {
	d := gmsm3.Sum(data)
	return hex.EncodeToString(d[:])
}

// NewHMAC returns an HMAC-SM3 hash keyed with key.
func NewHMAC(key []byte) hash.Hash { return hmac.New(gmsm3.New, key) }

// HMAC returns HMAC-SM3(key, data).
func HMAC(key, data []byte) []byte {
	m := hmac.New(gmsm3.New, key)
	m.Write(data)
	return m.Sum(nil)
}
