// Package openssltest runs the OpenSSL 3 command, the second implementation of
// SM2, SM3, SM4 and X.509 that interoperability tests check Qiao against.
//
// A missing openssl, or one that is not OpenSSL 3.x, fails the test that asks
// for it: it is never a reason to skip, because CI installs OpenSSL 3 and a
// skipped interoperability test would pass silently.
//
// It is for tests only.
package openssltest

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// find locates openssl once per test binary and checks that it is OpenSSL 3.
var find = sync.OnceValues(func() (string, error) {
	path, err := exec.LookPath("openssl")
	if err != nil {
		return "", fmt.Errorf("the openssl command is required for these tests (CI installs it, or apt-get install openssl): %w", err)
	}
	v, err := exec.Command(path, "version").Output()
	if err != nil {
		return "", fmt.Errorf("the openssl command is required for these tests (CI installs it): %s version: %w", path, err)
	}
	if !strings.HasPrefix(string(v), "OpenSSL 3.") {
		return "", fmt.Errorf("these tests need OpenSSL 3, found %q at %s", strings.TrimSpace(string(v)), path)
	}
	return path, nil
})

// Path returns the path of the openssl command, for tests that run it
// themselves or through scripts. It fails t if openssl is missing or is not
// OpenSSL 3.
func Path(t testing.TB) string {
	t.Helper()
	path, err := find()
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// Run runs `openssl args...` with stdin as its standard input (none if nil)
// and returns its standard output. It fails t if openssl is missing, is not
// OpenSSL 3, or exits non-zero; the failure names the command and shows its
// output.
func Run(t testing.TB, stdin []byte, args ...string) []byte {
	t.Helper()
	out, err := Try(t, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Try is Run for commands that are expected to fail: only a missing or wrong
// openssl fails t. It returns the command's standard output and, if the
// command fails, an error that names the command and holds its standard
// output and standard error.
func Try(t testing.TB, stdin []byte, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(Path(t), args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("openssl %s: %w\n%s%s", strings.Join(args, " "), err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.Bytes(), nil
}
