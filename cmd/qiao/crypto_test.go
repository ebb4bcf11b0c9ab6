package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qiao-exchange/qiao/internal/openssltest"
)

// run executes the qiao command line in-process and returns its output.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := run(t, args...)
	if err != nil {
		t.Fatalf("qiao %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func TestCryptoCommandsInteroperateWithOpenSSL(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	msg := []byte("案号 (2023)豫1528执123号\n")
	if err := os.WriteFile(p("msg.txt"), msg, 0o644); err != nil {
		t.Fatal(err)
	}

	// SM3 digests agree.
	ours := strings.Fields(mustRun(t, "crypto", "sm3", p("msg.txt")))[0]
	theirs := string(openssltest.Run(t, nil, "dgst", "-sm3", "-r", p("msg.txt")))
	if !strings.HasPrefix(theirs, ours+" ") {
		t.Errorf("sm3: qiao %s, openssl %s", ours, theirs)
	}

	// Our key and signature, checked by OpenSSL.
	mustRun(t, "crypto", "keygen", "--out", p("key.pem"), "--pub", p("pub.pem"))
	if fi, err := os.Stat(p("key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key.pem mode: %v %v", fi.Mode(), err)
	}
	mustRun(t, "crypto", "sign", "--key", p("key.pem"), "--in", p("msg.txt"), "--out", p("sig.der"))
	out := string(openssltest.Run(t, nil, "pkeyutl", "-verify", "-pubin", "-inkey", p("pub.pem"), "-rawin", "-digest", "sm3",
		"-pkeyopt", "distid:1234567812345678", "-in", p("msg.txt"), "-sigfile", p("sig.der")))
	if !strings.Contains(out, "Signature Verified Successfully") {
		t.Errorf("openssl did not verify our signature: %s", out)
	}

	// OpenSSL's key and signature, checked by us.
	openssltest.Run(t, nil, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", p("ossl.pem"))
	openssltest.Run(t, nil, "pkey", "-in", p("ossl.pem"), "-pubout", "-out", p("ossl.pub"))
	openssltest.Run(t, nil, "pkeyutl", "-sign", "-inkey", p("ossl.pem"), "-rawin", "-digest", "sm3",
		"-pkeyopt", "distid:1234567812345678", "-in", p("msg.txt"), "-out", p("ossl.sig"))
	mustRun(t, "crypto", "verify", "--pub", p("ossl.pub"), "--in", p("msg.txt"), "--sig", p("ossl.sig"))

	// We sign with OpenSSL's key too (PKCS#8 as OpenSSL writes it).
	mustRun(t, "crypto", "sign", "--key", p("ossl.pem"), "--in", p("msg.txt"), "--out", p("sig2.der"))
	mustRun(t, "crypto", "verify", "--pub", p("ossl.pub"), "--in", p("msg.txt"), "--sig", p("sig2.der"))
}

func TestCryptoVerifyRefuses(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	os.WriteFile(p("msg"), []byte("hello"), 0o644)
	os.WriteFile(p("other"), []byte("hellO"), 0o644)
	mustRun(t, "crypto", "keygen", "--out", p("k.pem"), "--pub", p("k.pub"))
	mustRun(t, "crypto", "keygen", "--out", p("k2.pem"), "--pub", p("k2.pub"))
	mustRun(t, "crypto", "sign", "--key", p("k.pem"), "--in", p("msg"), "--out", p("sig"))

	for name, args := range map[string][]string{
		"altered message": {"--pub", p("k.pub"), "--in", p("other"), "--sig", p("sig")},
		"other key":       {"--pub", p("k2.pub"), "--in", p("msg"), "--sig", p("sig")},
		"other uid":       {"--pub", p("k.pub"), "--in", p("msg"), "--sig", p("sig"), "--uid", "ALICE123@YAHOO.COM"},
		"not a signature": {"--pub", p("k.pub"), "--in", p("msg"), "--sig", p("msg")},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := run(t, append([]string{"crypto", "verify"}, args...)...)
			if err == nil || !strings.Contains(err.Error(), "signature is NOT valid") {
				t.Fatalf("got %v, want an invalid-signature error", err)
			}
		})
	}

	// keygen never overwrites a key.
	if _, err := run(t, "crypto", "keygen", "--out", p("k.pem")); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("keygen over an existing key: %v", err)
	}
}
