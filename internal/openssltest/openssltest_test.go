package openssltest

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	// SM3("abc"), GB/T 32905-2016 A.1.
	out := Run(t, []byte("abc"), "dgst", "-sm3", "-r")
	if got := string(out); !strings.HasPrefix(got, "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0 ") {
		t.Fatalf("openssl dgst -sm3 of abc: %q", got)
	}
}

func TestTryFailure(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.pem")
	_, err := Try(t, nil, "pkey", "-in", missing)
	if err == nil {
		t.Fatal("openssl read a file that does not exist")
	}
	// The error names the command and carries what openssl printed, which
	// names the file again.
	if msg := err.Error(); !strings.Contains(msg, "openssl pkey -in "+missing+": exit status") || strings.Count(msg, missing) < 2 {
		t.Fatalf("error lacks the command or its output: %v", err)
	}
}
