// Package keystore keeps Qiao's private keys and secret keys behind one small
// interface, with a file backend (a directory of 0600 PEM files, the embedded
// default) and a HashiCorp Vault backend (KV v2) in crypto/keystore/vault.
//
// A keystore holds PEM documents by name. Keys are never overwritten: Create
// refuses a name that is taken, so a rerun of `qiao init` or a mistaken
// command cannot destroy a key. It is not a certificate store: certificates
// are public and live beside the deployment's configuration.
package keystore

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/qiao-exchange/qiao/crypto/sm2"
)

var (
	// ErrNotFound means no key is stored under the name. Callers that may
	// create the key do so; others report the missing key by name.
	ErrNotFound = errors.New("keystore: key not found")
	// ErrExists means a key is already stored under the name. Keys are never
	// overwritten; load the existing key instead.
	ErrExists = errors.New("keystore: key already exists")
	// ErrName means a key name is malformed (see ValidName).
	ErrName = errors.New("keystore: invalid key name")
)

// Keystore stores PEM documents by name.
//
// Names are slash-separated segments of lower-case letters, digits and
// ".", "_", ":" and "-", e.g. "gateway/sign" or "principals/police.411528/enc".
type Keystore interface {
	// Get returns the PEM stored under name, or ErrNotFound.
	Get(ctx context.Context, name string) ([]byte, error)
	// Create stores pem under name, or returns ErrExists if name is taken.
	Create(ctx context.Context, name string, pem []byte) error
	// List returns the names that start with prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
}

// ValidName reports whether name is a well-formed key name.
func ValidName(name string) error {
	if name == "" || len(name) > 200 {
		return fmt.Errorf("%w: %q: must be 1 to 200 characters", ErrName, name)
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q: empty, '.' or '..' segment", ErrName, name)
		}
		for _, r := range seg {
			ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("._:-", r)
			if !ok {
				return fmt.Errorf("%w: %q: character %q not allowed", ErrName, name, r)
			}
		}
	}
	return nil
}

// LoadSM2 reads the SM2 private key stored under name.
func LoadSM2(ctx context.Context, ks Keystore, name string) (*sm2.PrivateKey, error) {
	p, err := ks.Get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", name, err)
	}
	k, err := sm2.ParsePrivateKeyPEM(p)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", name, err)
	}
	return k, nil
}

// EnsureSM2 loads the SM2 key stored under name, generating and storing a new
// one if there is none. created reports whether the key is new.
func EnsureSM2(ctx context.Context, ks Keystore, name string) (k *sm2.PrivateKey, created bool, err error) {
	k, err = LoadSM2(ctx, ks, name)
	if err == nil {
		return k, false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, false, err
	}
	if k, err = sm2.GenerateKey(); err != nil {
		return nil, false, err
	}
	p, err := k.MarshalPEM()
	if err != nil {
		return nil, false, err
	}
	if err := ks.Create(ctx, name, p); err != nil {
		return nil, false, fmt.Errorf("storing %s: %w", name, err)
	}
	return k, true, nil
}

// secretPEMType is the PEM block type of symmetric keys in a keystore.
const secretPEMType = "QIAO SECRET KEY"

// EncodeSecret wraps a symmetric key (such as the storage master key) as PEM
// for storing in a keystore.
func EncodeSecret(key []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: secretPEMType, Bytes: key})
}

// DecodeSecret returns the symmetric key in a PEM document made by EncodeSecret.
func DecodeSecret(data []byte) ([]byte, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != secretPEMType {
		return nil, fmt.Errorf("keystore: not a %s PEM block", secretPEMType)
	}
	return b.Bytes, nil
}

// LoadSecret reads the symmetric key stored under name.
func LoadSecret(ctx context.Context, ks Keystore, name string) ([]byte, error) {
	p, err := ks.Get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", name, err)
	}
	k, err := DecodeSecret(p)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", name, err)
	}
	return k, nil
}
