package keystore_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qiao-exchange/qiao/crypto/keystore"
	"github.com/qiao-exchange/qiao/crypto/keystore/keystoretest"
)

func newFile(t *testing.T) *keystore.File {
	t.Helper()
	ks, err := keystore.NewFile(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func TestFileConformance(t *testing.T) {
	keystoretest.Run(t, func(t *testing.T) keystore.Keystore { return newFile(t) })
}

func TestFileLayout(t *testing.T) {
	ks := newFile(t)
	ctx := t.Context()
	const name = "principals/police.411528/sign"
	if err := ks.Create(ctx, name, []byte("pem")); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(ks.Dir(), "principals", "police.411528", "sign.pem")
	if got, err := ks.Path(name); err != nil || got != p {
		t.Errorf("Path(%q) = %q, %v; want %q", name, got, err, p)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o600 {
		t.Errorf("key file mode %v, want -rw-------", fi.Mode())
	}
	for _, d := range []string{ks.Dir(), filepath.Join(ks.Dir(), "principals"), filepath.Dir(p)} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("directory %s mode %v, want drwx------", d, fi.Mode())
		}
	}
	// No temporary file is left behind.
	entries, err := os.ReadDir(filepath.Dir(p))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "sign.pem" {
		t.Errorf("directory holds %v, want only sign.pem", entries)
	}
}

func TestFileLayoutCollision(t *testing.T) {
	ks := newFile(t)
	// "a.pem/b" would be the directory a.pem beside the key file of "a".
	if err := ks.Create(t.Context(), "gateway.pem/sign", []byte("pem")); !errors.Is(err, keystore.ErrName) {
		t.Errorf("Create(gateway.pem/sign): err = %v, want ErrName", err)
	}
	if _, err := ks.Get(t.Context(), "gateway.pem/sign"); !errors.Is(err, keystore.ErrName) {
		t.Errorf("Get(gateway.pem/sign): err = %v, want ErrName", err)
	}
	// As the last segment, ".pem" is just part of the name.
	if err := ks.Create(t.Context(), "gateway/sign.pem", []byte("pem")); err != nil {
		t.Errorf("Create(gateway/sign.pem): %v", err)
	}
}

func TestFileKeyPermissions(t *testing.T) {
	for _, tc := range []struct {
		mode fs.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o700, true},
		{0o644, false},
		{0o640, false},
		{0o604, false},
		{0o620, false},
		{0o602, false},
		{0o660, false},
		{0o666, false},
	} {
		t.Run(fmt.Sprintf("%04o", tc.mode), func(t *testing.T) {
			ks := newFile(t)
			ctx := t.Context()
			const name = "gateway/sign"
			want := []byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n")
			if err := ks.Create(ctx, name, want); err != nil {
				t.Fatal(err)
			}
			p, _ := ks.Path(name)
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			got, err := ks.Get(ctx, name)
			if tc.ok {
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("Get of a %04o key file = %q, %v; want the key", tc.mode, got, err)
				}
				return
			}
			if !errors.Is(err, keystore.ErrInsecure) {
				t.Fatalf("Get of a %04o key file: err = %v, want ErrInsecure", tc.mode, err)
			}
			if got != nil {
				t.Errorf("Get returned %q with the error", got)
			}
			msg := err.Error()
			for _, s := range []string{p, fmt.Sprintf("%04o", tc.mode), "chmod 600 " + p} {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q does not mention %q", msg, s)
				}
			}
			// Fixing the mode as the error says makes the key readable.
			if err := os.Chmod(p, 0o600); err != nil {
				t.Fatal(err)
			}
			if got, err := ks.Get(ctx, name); err != nil || !bytes.Equal(got, want) {
				t.Errorf("Get after chmod 600 = %q, %v", got, err)
			}
		})
	}
}

func TestFileDirPermissions(t *testing.T) {
	t.Run("subdirectory", func(t *testing.T) {
		ks := newFile(t)
		ctx := t.Context()
		if err := ks.Create(ctx, "principals/police.411528/sign", []byte("pem")); err != nil {
			t.Fatal(err)
		}
		d := filepath.Join(ks.Dir(), "principals")
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
		_, err := ks.Get(ctx, "principals/police.411528/sign")
		if !errors.Is(err, keystore.ErrInsecure) || !strings.Contains(err.Error(), "chmod 700 "+d) {
			t.Errorf("Get below a 0777 directory: err = %v, want ErrInsecure naming chmod 700 %s", err, d)
		}
		if err := ks.Create(ctx, "principals/court.411528/sign", []byte("pem")); !errors.Is(err, keystore.ErrInsecure) {
			t.Errorf("Create below a 0777 directory: err = %v, want ErrInsecure", err)
		}
		if _, err := ks.List(ctx, ""); !errors.Is(err, keystore.ErrInsecure) {
			t.Errorf("List over a 0777 directory: err = %v, want ErrInsecure", err)
		}
		// Readable but not writable by others is accepted.
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := ks.Get(ctx, "principals/police.411528/sign"); err != nil {
			t.Errorf("Get below a 0755 directory: %v", err)
		}
	})
	t.Run("root", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "keys")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o770); err != nil {
			t.Fatal(err)
		}
		if _, err := keystore.NewFile(dir); !errors.Is(err, keystore.ErrInsecure) {
			t.Errorf("NewFile of a 0770 directory: err = %v, want ErrInsecure", err)
		}
	})
}

func TestFileListSkipsOtherFiles(t *testing.T) {
	ks := newFile(t)
	ctx := t.Context()
	if err := ks.Create(ctx, "gateway/sign", []byte("pem")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"README", "gateway/.sign.pem.tmp-123", "gateway/Upper.pem", "gateway/sign.pem.bak"} {
		if err := os.WriteFile(filepath.Join(ks.Dir(), f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ks.List(ctx, "")
	if err != nil || !slices.Equal(got, []string{"gateway/sign"}) {
		t.Errorf("List = %q, %v; want [gateway/sign]", got, err)
	}
}

func TestFileNewFileErrors(t *testing.T) {
	if _, err := keystore.NewFile(""); err == nil {
		t.Error("NewFile(\"\") succeeded")
	}
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := keystore.NewFile(f); err == nil {
		t.Error("NewFile of a regular file succeeded")
	}
}
