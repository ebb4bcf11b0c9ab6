package evidence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/qiao-exchange/qiao/crypto/sm3"
	"github.com/qiao-exchange/qiao/crypto/sm4"
)

var master = bytes.Repeat([]byte{0x42}, sm4.KeySize)

func open(t *testing.T, dir string, key []byte) *Store {
	t.Helper()
	s, err := Open(dir, key)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// files returns the regular files under dir, relative to it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPutGet(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "evidence")
	s := open(t, dir, master)
	envelope := []byte("an envelope as received: 公民身份号码 411528199001011234")
	ref, err := s.Put(ctx, envelope)
	if err != nil {
		t.Fatal(err)
	}
	if want := "sm3:" + sm3.SumHex(envelope); ref.String() != want || ref != RefOf(envelope) {
		t.Fatalf("ref = %s, want %s", ref, want)
	}
	got, err := s.Get(ctx, ref)
	if err != nil || !bytes.Equal(got, envelope) {
		t.Fatalf("Get = %q, %v", got, err)
	}

	// Layout: <dir>/<2 hex>/<64 hex>, owner-only, no plaintext.
	h := strings.TrimPrefix(string(ref), "sm3:")
	if fs := files(t, dir); len(fs) != 1 || fs[0] != filepath.Join(h[:2], h) {
		t.Fatalf("files = %v", fs)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, h[:2]): 0o700, s.path(ref): 0o600} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %04o", p, fi.Mode().Perm(), err, want)
		}
	}
	raw, _ := os.ReadFile(s.path(ref))
	if bytes.Contains(raw, []byte("411528199001011234")) || len(raw) != headerSize+len(envelope)+sm4.TagSize {
		t.Fatalf("stored file is %d bytes or holds plaintext", len(raw))
	}
	if !bytes.HasPrefix(raw, []byte("QEV1")) {
		t.Fatalf("file starts with %q", raw[:4])
	}

	// Another store on the same directory and key reads it.
	if got, err := open(t, dir, master).Get(ctx, ref); err != nil || !bytes.Equal(got, envelope) {
		t.Fatalf("second store: %q, %v", got, err)
	}

	// Empty data is a blob too.
	empty, err := s.Put(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, empty); err != nil || len(got) != 0 {
		t.Fatalf("Get(empty) = %q, %v", got, err)
	}
}

func TestPutStoresOnce(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := open(t, dir, master)
	data := []byte("the same batch, pushed twice")
	ref, err := s.Put(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(s.path(ref))
	for range 3 {
		if r, err := s.Put(ctx, data); err != nil || r != ref {
			t.Fatalf("Put again = %s, %v", r, err)
		}
	}
	after, _ := os.ReadFile(s.path(ref))
	if !bytes.Equal(before, after) {
		t.Fatal("re-putting rewrote the file")
	}
	if fs := files(t, dir); len(fs) != 1 {
		t.Fatalf("files = %v, want one", fs)
	}
}

func TestConcurrentPut(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := open(t, dir, master)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			data := []byte(fmt.Sprintf("blob %d", i%4))
			r, err := s.Put(ctx, data)
			if err == nil {
				var got []byte
				got, err = s.Get(ctx, r)
				if err == nil && !bytes.Equal(got, data) {
					err = fmt.Errorf("got %q", got)
				}
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if fs := files(t, dir); len(fs) != 4 {
		t.Fatalf("files = %v, want four blobs and no temporary files", fs)
	}
}

func TestTampered(t *testing.T) {
	ctx := t.Context()
	s := open(t, t.TempDir(), master)
	data := []byte("evidence of a push")
	ref, err := s.Put(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.Put(ctx, []byte("another envelope"))
	if err != nil {
		t.Fatal(err)
	}
	p := s.path(ref)
	orig, _ := os.ReadFile(p)
	otherFile, _ := os.ReadFile(s.path(other))
	flip := func(i int) []byte {
		b := bytes.Clone(orig)
		b[i] ^= 1
		return b
	}
	tests := []struct {
		name string
		file []byte
		want error
	}{
		{"magic", flip(0), ErrTampered},
		{"key ID", flip(len(magic)), ErrWrongKey},
		{"nonce", flip(len(magic) + keyIDSize), ErrTampered},
		{"first ciphertext byte", flip(headerSize), ErrTampered},
		{"tag", flip(len(orig) - 1), ErrTampered},
		{"truncated", orig[:len(orig)-1], ErrTampered},
		{"header only", orig[:headerSize], ErrTampered},
		{"empty", nil, ErrTampered},
		{"extended", append(bytes.Clone(orig), 0), ErrTampered},
		{"another blob's file", otherFile, ErrTampered},
	}
	for _, tc := range tests {
		if err := os.WriteFile(p, tc.file, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, ref)
		if !errors.Is(err, tc.want) || got != nil {
			t.Errorf("%s: Get = %q, %v; want %v", tc.name, got, err, tc.want)
		}
	}

	// Putting the data again repairs an altered copy.
	if err := os.WriteFile(p, flip(headerSize), 0o600); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Put(ctx, data); err != nil || r != ref {
		t.Fatalf("Put over an altered copy = %s, %v", r, err)
	}
	if got, err := s.Get(ctx, ref); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after repair: %q, %v", got, err)
	}
}

func TestWrongKey(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := open(t, dir, master)
	data := []byte("sealed under the right key")
	ref, err := s.Put(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(s.path(ref))

	wrong := open(t, dir, bytes.Repeat([]byte{0x43}, sm4.KeySize))
	if got, err := wrong.Get(ctx, ref); !errors.Is(err, ErrWrongKey) || got != nil {
		t.Fatalf("Get with the wrong key = %q, %v; want ErrWrongKey", got, err)
	}
	// A store with the wrong key does not overwrite the evidence.
	if _, err := wrong.Put(ctx, data); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Put with the wrong key = %v, want ErrWrongKey", err)
	}
	if now, _ := os.ReadFile(s.path(ref)); !bytes.Equal(now, orig) {
		t.Fatal("a store with the wrong key rewrote the file")
	}

	// The master key is not used directly: a file sealed with it instead of
	// the derived key does not open.
	aead, _ := sm4.NewGCM(master)
	nonce, ct, _ := aead.Seal(data, s.aad(ref))
	forged := append(append(append([]byte(magic), s.keyID...), nonce...), ct...)
	if err := os.WriteFile(s.path(ref), forged, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, ref); !errors.Is(err, ErrTampered) {
		t.Fatalf("file sealed under the master key itself: %v, want ErrTampered", err)
	}
}

func TestGetErrors(t *testing.T) {
	ctx := t.Context()
	s := open(t, t.TempDir(), master)
	if _, err := s.Get(ctx, RefOf([]byte("never stored"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(unknown) = %v, want ErrNotFound", err)
	}
	h := sm3.SumHex(nil)
	for _, r := range []string{"", h, "sm3:" + h[:63], "sm3:" + strings.ToUpper(h), "sha256:" + h,
		"sm3:../../../../../../etc/passwd", "sm3:" + h[:62] + "/x", "sm3:" + h + "0"} {
		if _, err := s.Get(ctx, Ref(r)); !errors.Is(err, ErrInvalidRef) {
			t.Errorf("Get(%q) = %v, want ErrInvalidRef", r, err)
		}
		if _, err := ParseRef(r); !errors.Is(err, ErrInvalidRef) {
			t.Errorf("ParseRef(%q) = %v, want ErrInvalidRef", r, err)
		}
	}
	if r, err := ParseRef("sm3:" + h); err != nil || r != RefOf(nil) {
		t.Fatalf("ParseRef = %s, %v", r, err)
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Put(canceled, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a canceled context = %v", err)
	}
	if _, err := s.Get(canceled, RefOf([]byte("x"))); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a canceled context = %v", err)
	}
}

func TestOpenRefuses(t *testing.T) {
	if _, err := Open(t.TempDir(), master[:15]); err == nil {
		t.Error("Open with a 15-byte master key succeeded")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, master); !errors.Is(err, ErrInsecure) {
		t.Errorf("Open on a world-writable directory = %v, want ErrInsecure", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := Open(file, master); err == nil {
		t.Error("Open on a file succeeded")
	}
}

func BenchmarkPut1MiB(b *testing.B) {
	s, err := Open(b.TempDir(), master)
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 1<<20)
	b.SetBytes(int64(len(data)))
	for i := 0; b.Loop(); i++ {
		data[0], data[1], data[2] = byte(i), byte(i>>8), byte(i>>16) // a new blob each time
		if _, err := s.Put(b.Context(), data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet1MiB(b *testing.B) {
	s, err := Open(b.TempDir(), master)
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 1<<20)
	ref, err := s.Put(b.Context(), data)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := s.Get(b.Context(), ref); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlainWrite1MiB is the reference for BenchmarkPut1MiB: the same
// durable write (temporary file, fsync, rename, directory fsync) of the
// plaintext, without hashing or encryption.
func BenchmarkPlainWrite1MiB(b *testing.B) {
	s, err := Open(b.TempDir(), master)
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 1<<20)
	b.SetBytes(int64(len(data)))
	for i := 0; b.Loop(); i++ {
		if err := s.write(s.path(Ref(fmt.Sprintf("sm3:%064x", i))), data); err != nil {
			b.Fatal(err)
		}
	}
}
