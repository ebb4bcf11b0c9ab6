package keystore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ErrInsecure means a key file or key directory is open to users other than
// its owner: a key file readable or writable by group or others, or a
// directory writable by them. The key is not used until the mode is fixed;
// the error names the path and the chmod that fixes it.
var ErrInsecure = errors.New("keystore: insecure permissions")

const (
	fileMode = 0o600 // mode of key files the File backend writes
	dirMode  = 0o700 // mode of directories the File backend creates
	pemExt   = ".pem"
)

// File is the file backend: a directory of PEM files, one per key name.
// The name "principals/police.411528/sign" is the file
// principals/police.411528/sign.pem under the directory.
//
// Files are written with mode 0600 and directories created with mode 0700.
// Reading refuses a key file that group or others may read or write (mode &
// 0o077 != 0) and a key directory that group or others may write (mode &
// 0o022 != 0), with ErrInsecure. Permission checks assume a Unix file system.
//
// A name whose directory segment ends in ".pem" is refused with ErrName, as
// its directory would collide with the file of a shorter name.
//
// File is safe for concurrent use, also by several processes sharing the
// directory: Create is atomic and never overwrites.
type File struct {
	dir string
}

// NewFile opens the file keystore in dir, creating dir with mode 0700 if it
// does not exist. It refuses a dir that group or others may write.
func NewFile(dir string) (*File, error) {
	if dir == "" {
		return nil, errors.New("keystore: empty directory name")
	}
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("keystore: creating key directory: %w", err)
	}
	f := &File{dir: dir}
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	return f, nil
}

// Dir returns the directory of the keystore.
func (f *File) Dir() string { return f.dir }

// Path returns the file that holds, or would hold, the key called name.
func (f *File) Path(name string) (string, error) {
	segs, err := fileSegments(name)
	if err != nil {
		return "", err
	}
	return f.path(segs), nil
}

func (f *File) path(segs []string) string {
	p := append([]string{f.dir}, segs...)
	p[len(p)-1] += pemExt
	return filepath.Join(p...)
}

// fileSegments checks name and splits it into path segments.
func fileSegments(name string) ([]string, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	segs := strings.Split(name, "/")
	for _, s := range segs[:len(segs)-1] {
		if strings.HasSuffix(s, pemExt) {
			return nil, fmt.Errorf("%w: %q: a directory segment may not end in %q in the file keystore", ErrName, name, pemExt)
		}
	}
	return segs, nil
}

// Get returns the PEM stored under name, or ErrNotFound. It refuses, with
// ErrInsecure, a key file group or others may access and a directory on the
// way to it that group or others may write.
func (f *File) Get(ctx context.Context, name string) ([]byte, error) {
	segs, err := fileSegments(name)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("keystore: reading %s: %w", name, err)
	}
	// Check every directory from the root down to the file's own.
	d := f.dir
	for i := 0; ; i++ {
		if err := checkDir(d); err != nil {
			if errors.Is(err, fs.ErrNotExist) && i > 0 {
				return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
			}
			return nil, err
		}
		if i == len(segs)-1 {
			break
		}
		d = filepath.Join(d, segs[i])
	}
	p := f.path(segs)
	fh, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: reading %s: %w", name, err)
	}
	defer fh.Close()
	// Check the mode of the file actually opened, not of the path, so the
	// check and the read see the same file.
	fi, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("keystore: reading %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("keystore: reading %s: %s is not a regular file", name, p)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: key file %s has mode %04o, so group or others can read or write it; "+
			"restrict it with: chmod 600 %s (and check who may have copied it)", ErrInsecure, p, perm, p)
	}
	data, err := io.ReadAll(fh)
	if err != nil {
		return nil, fmt.Errorf("keystore: reading %s: %w", name, err)
	}
	return data, nil
}

// Create stores pem under name, or returns ErrExists if name is taken.
//
// The key is written to a temporary file in the target directory, synced,
// and then linked to its final name. The link fails if the name exists, so
// Create never overwrites (also when processes race for one name), and a
// crash leaves either the whole key or none under the name.
func (f *File) Create(ctx context.Context, name string, pem []byte) error {
	segs, err := fileSegments(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("keystore: creating %s: %w", name, err)
	}
	if err := checkDir(f.dir); err != nil {
		return err
	}
	// Make the directories on the way, checking existing ones.
	d := f.dir
	for _, s := range segs[:len(segs)-1] {
		parent := d
		d = filepath.Join(d, s)
		switch err := os.Mkdir(d, dirMode); {
		case err == nil:
			if err := syncDir(parent); err != nil {
				return fmt.Errorf("keystore: creating %s: %w", name, err)
			}
		case errors.Is(err, fs.ErrExist):
		default:
			return fmt.Errorf("keystore: creating %s: %w", name, err)
		}
		if err := checkDir(d); err != nil {
			return err
		}
	}

	p := f.path(segs)
	tmp, err := os.CreateTemp(d, "."+segs[len(segs)-1]+pemExt+".tmp-*")
	if err != nil {
		return fmt.Errorf("keystore: creating %s: %w", name, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	err = tmp.Chmod(fileMode)
	if err == nil {
		_, err = tmp.Write(pem)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("keystore: creating %s: %w", name, err)
	}
	// link(2), unlike rename(2), fails when the target exists: this is the
	// O_EXCL step that makes Create never overwrite.
	if err := os.Link(tmpName, p); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s", ErrExists, name)
		}
		return fmt.Errorf("keystore: creating %s: %w", name, err)
	}
	if err := os.Remove(tmpName); err != nil {
		return fmt.Errorf("keystore: creating %s: removing temporary file: %w", name, err)
	}
	if err := syncDir(d); err != nil {
		return fmt.Errorf("keystore: creating %s: %w", name, err)
	}
	return nil
}

// List returns the names that start with prefix, sorted. It refuses, with
// ErrInsecure, a directory that group or others may write.
func (f *File) List(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("keystore: listing %q: %w", prefix, err)
	}
	if err := checkDir(f.dir); err != nil {
		return nil, err
	}
	// Start at the deepest directory the prefix fixes. If that part of the
	// prefix is not a valid name, no valid name starts with the prefix.
	start := f.dir
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		if _, err := fileSegments(prefix[:i]); err != nil {
			return nil, nil
		}
		start = filepath.Join(f.dir, filepath.FromSlash(prefix[:i]))
	}
	var names []string
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipDir
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return checkDir(p)
		}
		base := d.Name()
		if strings.HasPrefix(base, ".") || !strings.HasSuffix(base, pemExt) {
			return nil // temporary files and files that are not keys
		}
		rel, err := filepath.Rel(f.dir, p)
		if err != nil {
			return err
		}
		name := strings.TrimSuffix(filepath.ToSlash(rel), pemExt)
		if _, err := fileSegments(name); err == nil && strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("keystore: listing %q: %w", prefix, err)
	}
	sort.Strings(names)
	return names, nil
}

// checkDir refuses a key directory that group or others may write: they
// could replace a key with their own.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("keystore: key directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("keystore: %s is not a directory", dir)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("%w: key directory %s has mode %04o, so group or others can add or replace keys in it; "+
			"restrict it with: chmod 700 %s", ErrInsecure, dir, perm, dir)
	}
	return nil
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

var _ Keystore = (*File)(nil)
