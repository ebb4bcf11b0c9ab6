// Package evidence keeps every envelope the gateway received, encrypted at
// rest, in a directory: the evidence of what an agency pushed, referenced
// from the batch record in the state store.
//
// Blobs are content-addressed: a Ref is the SM3 digest of the plaintext, so
// pushing the same envelope twice stores it once, and Get checks that what
// it returns is what was put. Each file is sealed with SM4-GCM under a key
// derived from the storage master key; see docs/storage.md for the layout
// and the derivation.
//
// It is not a general object store (no listing, no deletion: evidence is
// kept) and not for the canonical rows of a dataset, which live in the
// warehouse.
package evidence

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/qiao-exchange/qiao/crypto/sm3"
	"github.com/qiao-exchange/qiao/crypto/sm4"
)

var (
	// ErrNotFound means no blob is stored under the reference.
	ErrNotFound = errors.New("evidence: not found")
	// ErrTampered means the stored file does not authenticate: it was
	// altered, truncated, or moved from another reference. The evidence is
	// lost unless restored from a backup; callers report it to operators
	// and never use the bytes.
	ErrTampered = errors.New("evidence: stored file was altered")
	// ErrWrongKey means the file was sealed under another key (or its key
	// identifier was altered): the store was opened with the wrong master
	// key. Callers check the keystore configuration.
	ErrWrongKey = errors.New("evidence: file was sealed under another key")
	// ErrInvalidRef means a reference is malformed.
	ErrInvalidRef = errors.New("evidence: invalid reference")
	// ErrInsecure means the directory can be written by group or others,
	// who could replace evidence. Restrict it with chmod 700.
	ErrInsecure = errors.New("evidence: directory is writable by group or others")
)

const (
	// refPrefix starts every reference: the digest algorithm.
	refPrefix = "sm3:"
	// magic starts every file: the format and its version.
	magic = "QEV1"
	// keyIDSize is the length of the key identifier in a file's header.
	keyIDSize = 8
	// headerSize is magic, key ID and nonce.
	headerSize = len(magic) + keyIDSize + sm4.NonceSize

	// keyLabel derives the evidence key from the master key.
	keyLabel = "qiao evidence v1"
	// keyIDLabel derives the key identifier from the evidence key.
	keyIDLabel = "qiao evidence key id"

	dirMode  = 0o700
	fileMode = 0o600
)

// Ref names a stored blob: "sm3:" and the lower-case hex SM3 digest of its
// plaintext.
type Ref string

// RefOf returns the reference of data.
func RefOf(data []byte) Ref { return Ref(refPrefix + sm3.SumHex(data)) }

// ParseRef checks that s is a well-formed reference.
func ParseRef(s string) (Ref, error) {
	h, ok := strings.CutPrefix(s, refPrefix)
	if !ok || len(h) != 2*sm3.Size || strings.ToLower(h) != h {
		return "", fmt.Errorf("%w: %q is not %q and 64 lower-case hex digits", ErrInvalidRef, s, refPrefix)
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", fmt.Errorf("%w: %q is not %q and 64 lower-case hex digits", ErrInvalidRef, s, refPrefix)
	}
	return Ref(s), nil
}

// digest returns the digest a valid ref names.
func (r Ref) digest() []byte {
	d, _ := hex.DecodeString(strings.TrimPrefix(string(r), refPrefix))
	return d
}

func (r Ref) String() string { return string(r) }

// Store keeps evidence in a directory. It is safe for concurrent use, also
// by several processes sharing the directory.
type Store struct {
	dir   string
	aead  *sm4.AEAD
	keyID []byte
}

// Open returns the store in dir, creating the directory (mode 0700) if it
// does not exist. masterKey is the storage master key ("gateway/master" in
// the keystore), at least 16 bytes; the evidence key is derived from it.
func Open(dir string, masterKey []byte) (*Store, error) {
	if len(masterKey) < sm4.KeySize {
		return nil, fmt.Errorf("evidence: master key is %d bytes, want at least %d", len(masterKey), sm4.KeySize)
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o", ErrInsecure, dir, perm)
	}
	key := sm3.HMAC(masterKey, []byte(keyLabel))[:sm4.KeySize]
	aead, err := sm4.NewGCM(key)
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	return &Store{
		dir:   dir,
		aead:  aead,
		keyID: sm3.HMAC(key, []byte(keyIDLabel))[:keyIDSize],
	}, nil
}

// path returns the file of a valid ref: <dir>/<first two hex digits>/<hex>.
func (s *Store) path(r Ref) string {
	h := strings.TrimPrefix(string(r), refPrefix)
	return filepath.Join(s.dir, h[:2], h)
}

// aad binds a file to its header and to the reference it is stored under.
func (s *Store) aad(r Ref) []byte {
	return append(append([]byte(magic), s.keyID...), r.digest()...)
}

// Put stores data and returns its reference. Data already stored is not
// written again; a stored copy that was altered is replaced by data, which
// the reference proves authentic. A stored copy sealed under another key is
// left alone and Put returns ErrWrongKey. Put returns once
// the file is durable: written to a temporary file, synced, renamed into
// place and its directory synced.
func (s *Store) Put(ctx context.Context, data []byte) (Ref, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("evidence: put: %w", err)
	}
	r := RefOf(data)
	p := s.path(r)
	switch _, err := s.read(p, r); {
	case err == nil:
		return r, nil
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrTampered):
	default:
		// Including ErrWrongKey: a store opened with the wrong master key
		// must not overwrite evidence sealed under the right one.
		return "", err
	}
	nonce, ct, err := s.aead.Seal(data, s.aad(r))
	if err != nil {
		return "", fmt.Errorf("evidence: put %s: %w", r, err)
	}
	file := make([]byte, 0, headerSize+len(ct))
	file = append(append(append(append(file, magic...), s.keyID...), nonce...), ct...)
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("evidence: put: %w", err)
	}
	if err := s.write(p, file); err != nil {
		return "", fmt.Errorf("evidence: put %s: %w", r, err)
	}
	return r, nil
}

// write stores file at p atomically and durably.
func (s *Store) write(p string, file []byte) error {
	sub := filepath.Dir(p)
	switch err := os.Mkdir(sub, dirMode); {
	case err == nil:
		if err := syncDir(s.dir); err != nil {
			return err
		}
	case errors.Is(err, fs.ErrExist):
	default:
		return err
	}
	tmp, err := os.CreateTemp(sub, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	err = tmp.Chmod(fileMode)
	if err == nil {
		_, err = tmp.Write(file)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return err
	}
	return syncDir(sub)
}

// Get returns the blob r names, after checking that it authenticates under
// this store's key and that its digest is r. It returns ErrNotFound,
// ErrTampered or ErrWrongKey, never unauthenticated bytes.
func (s *Store) Get(ctx context.Context, r Ref) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("evidence: get: %w", err)
	}
	if _, err := ParseRef(string(r)); err != nil {
		return nil, err
	}
	return s.read(s.path(r), r)
}

// read opens and checks the file p for r.
func (s *Store) read(p string, r Ref) ([]byte, error) {
	file, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, r)
	}
	if err != nil {
		return nil, fmt.Errorf("evidence: get %s: %w", r, err)
	}
	if len(file) < headerSize+sm4.TagSize || string(file[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: %s: truncated or not an evidence file", ErrTampered, r)
	}
	if !bytes.Equal(file[len(magic):len(magic)+keyIDSize], s.keyID) {
		return nil, fmt.Errorf("%w: %s", ErrWrongKey, r)
	}
	pt, err := s.aead.Open(file[len(magic)+keyIDSize:headerSize], file[headerSize:], s.aad(r))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrTampered, r, err)
	}
	if d := sm3.Sum(pt); subtle.ConstantTimeCompare(d[:], r.digest()) != 1 {
		return nil, fmt.Errorf("%w: %s: content digest differs", ErrTampered, r)
	}
	return pt, nil
}

// syncDir makes the entries of dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
