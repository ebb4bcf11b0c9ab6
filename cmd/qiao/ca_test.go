package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/keystore"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/internal/openssltest"
)

// snapshot returns the contents of every file under dir by relative path.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		files[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func readCert(t *testing.T, path string) *ca.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca.ParseCertificatePEM(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readTLSCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca.ParseTLSCertificatePEM(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func fileKeystore(t *testing.T, dir string) *keystore.File {
	t.Helper()
	ks, err := keystore.NewFile(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func TestCAInitAndIssue(t *testing.T) {
	dir := t.TempDir()
	certs := func(name string) string { return filepath.Join(dir, "certs", name) }

	out := mustRun(t, "ca", "init", "--dir", dir)
	for _, want := range []string{"created  key ca/sm2-root", "created  certs/ca-sm2.pem", "created  key ca/tls-root", "created  certs/ca-tls.pem"} {
		if !strings.Contains(out, want) {
			t.Errorf("ca init output lacks %q:\n%s", want, out)
		}
	}
	before := snapshot(t, dir)
	out = mustRun(t, "ca", "init", "--dir", dir)
	if strings.Contains(out, "created") || !strings.Contains(out, "kept     certs/ca-sm2.pem") || !strings.Contains(out, "kept     certs/ca-tls.pem") {
		t.Errorf("second ca init:\n%s", out)
	}
	if !equalSnapshots(before, snapshot(t, dir)) {
		t.Error("second ca init changed files")
	}

	sm2Root := readCert(t, certs("ca-sm2.pem"))
	tlsRoot := readTLSCert(t, certs("ca-tls.pem"))
	if !sm2Root.IsCA() || !tlsRoot.IsCA {
		t.Fatal("roots are not CA certificates")
	}
	if d := sm2Root.NotAfter().Sub(sm2Root.NotBefore()); d < 3650*24*time.Hour {
		t.Errorf("SM2 root valid for %v, want 10 years", d)
	}
	ks := fileKeystore(t, dir)
	ctx := t.Context()
	rootKey, err := keystore.LoadSM2(ctx, ks, "ca/sm2-root")
	if err != nil || !rootKey.PublicKey().Equal(sm2Root.PublicKey()) {
		t.Fatalf("ca/sm2-root does not match ca-sm2.pem: %v", err)
	}

	// An agency, a user and a server.
	mustRun(t, "ca", "issue", "--dir", dir, "--principal", "police.411528", "--kind", "agency")
	mustRun(t, "ca", "issue", "--dir", dir, "--principal", "user:alice", "--kind", "user", "--days", "30")
	out = mustRun(t, "ca", "issue", "--dir", dir, "--principal", "gateway", "--kind", "server",
		"--dns", "localhost", "--dns", "qiao.example.gov.cn", "--ip", "127.0.0.1", "--ip", "::1")
	if !strings.Contains(out, "created  certs/gateway.tls.pem") {
		t.Errorf("server issue output:\n%s", out)
	}
	roots := []*ca.Certificate{sm2Root}
	for _, tc := range []struct {
		principal string
		kind      ca.Kind
	}{
		{"police.411528", ca.KindAgency},
		{"user:alice", ca.KindUser},
		{"gateway", ca.KindServer},
	} {
		for _, purpose := range []ca.Purpose{ca.PurposeSign, ca.PurposeEncrypt} {
			cert := readCert(t, certs(tc.principal+"."+purpose.String()+".pem"))
			id, err := ca.Verify(cert, roots, purpose, time.Now())
			if err != nil {
				t.Fatalf("%s %v: %v", tc.principal, purpose, err)
			}
			if id.Principal != tc.principal || id.Kind != tc.kind {
				t.Errorf("%s %v: identity %s %s", tc.principal, purpose, id.Principal, id.Kind)
			}
			key, err := keystore.LoadSM2(ctx, ks, "principals/"+tc.principal+"/"+purpose.String())
			if err != nil || !key.PublicKey().Equal(id.PublicKey) {
				t.Errorf("%s %v: keystore key does not match the certificate: %v", tc.principal, purpose, err)
			}
		}
	}
	if alice := readCert(t, certs("user:alice.sign.pem")); alice.NotAfter().Sub(alice.NotBefore()) > 31*24*time.Hour {
		t.Errorf("--days 30 gave %v", alice.NotAfter().Sub(alice.NotBefore()))
	}
	if _, err := os.Stat(certs("police.411528.tls.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an agency got a TLS certificate: %v", err)
	}
	gw := readCert(t, certs("gateway.sign.pem"))
	if strings.Join(gw.DNSNames(), ",") != "localhost,qiao.example.gov.cn" || len(gw.IPAddresses()) != 2 {
		t.Errorf("gateway names %v %v", gw.DNSNames(), gw.IPAddresses())
	}
	tlsCert := readTLSCert(t, certs("gateway.tls.pem"))
	if p, err := ca.VerifyTLSServer(tlsCert, []*x509.Certificate{tlsRoot}, time.Now()); err != nil || p != "gateway" {
		t.Fatalf("TLS certificate: %q %v", p, err)
	}
	tlsKey, err := loadP256(ctx, ks, "principals/gateway/tls")
	if err != nil || !tlsKey.PublicKey.Equal(tlsCert.PublicKey) {
		t.Fatalf("principals/gateway/tls does not match gateway.tls.pem: %v", err)
	}

	// Keys are 0600 files in the keystore.
	for name := range snapshot(t, filepath.Join(dir, "keys")) {
		fi, err := os.Stat(filepath.Join(dir, "keys", name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("keys/%s: mode %v, %v", name, fi.Mode(), err)
		}
	}

	// OpenSSL 3 agrees with the chain.
	out = string(openssltest.Run(t, nil, "verify", "-vfyopt", "distid:1234567812345678", "-CAfile", certs("ca-sm2.pem"), certs("police.411528.sign.pem"), certs("gateway.enc.pem")))
	if strings.Count(out, ": OK") != 2 {
		t.Errorf("openssl verify:\n%s", out)
	}
	out = string(openssltest.Run(t, nil, "verify", "-purpose", "sslserver", "-CAfile", certs("ca-tls.pem"), certs("gateway.tls.pem")))
	if !strings.Contains(out, ": OK") {
		t.Errorf("openssl verify TLS:\n%s", out)
	}

	// Issuing again changes nothing.
	before = snapshot(t, dir)
	for _, args := range [][]string{
		{"--principal", "police.411528", "--kind", "agency"},
		{"--principal", "gateway", "--kind", "server", "--dns", "qiao.example.gov.cn", "--dns", "localhost", "--ip", "::1", "--ip", "127.0.0.1"},
	} {
		out := mustRun(t, append([]string{"ca", "issue", "--dir", dir}, args...)...)
		if strings.Contains(out, "created") || strings.Contains(out, "renewed") || strings.Count(out, "kept") < 2 {
			t.Errorf("reissue %v:\n%s", args, out)
		}
	}
	if !equalSnapshots(before, snapshot(t, dir)) {
		t.Error("reissuing valid certificates changed files")
	}

	// New names renew the server's certificates with the same keys.
	out = mustRun(t, "ca", "issue", "--dir", dir, "--principal", "gateway", "--kind", "server", "--dns", "gw.example.gov.cn")
	if strings.Count(out, "renewed") != 3 || !strings.Contains(out, "other DNS names") {
		t.Errorf("renaming the server:\n%s", out)
	}
	if got := readCert(t, certs("gateway.sign.pem")); !got.PublicKey().Equal(gw.PublicKey()) || got.DNSNames()[0] != "gw.example.gov.cn" {
		t.Errorf("renewed certificate: %v %v", got, got.DNSNames())
	}
	after := snapshot(t, dir)
	for name, data := range before {
		if strings.HasPrefix(name, "keys/") && !bytes.Equal(after[name], data) {
			t.Errorf("%s changed", name)
		}
	}
}

func equalSnapshots(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(b[k], v) {
			return false
		}
	}
	return true
}

func TestCAIssueWithAgencyHeldKeys(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	mustRun(t, "ca", "init", "--dir", dir)
	mustRun(t, "crypto", "keygen", "--out", p("sign.key"), "--pub", p("sign.pub"))
	// The encryption key is made by OpenSSL: any SM2 public key in PEM will do.
	openssltest.Run(t, nil, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", p("enc.key"))
	openssltest.Run(t, nil, "pkey", "-in", p("enc.key"), "-pubout", "-out", p("enc.pub"))

	out := mustRun(t, "ca", "issue", "--dir", dir, "--principal", "court.411528", "--kind", "agency", "--sign-pub", p("sign.pub"), "--enc-pub", p("enc.pub"))
	if strings.Contains(out, "created  key") {
		t.Errorf("keys were generated although the agency holds them:\n%s", out)
	}
	names, err := fileKeystore(t, dir).List(t.Context(), "principals/")
	if err != nil || len(names) != 0 {
		t.Errorf("keystore holds %v, %v", names, err)
	}
	for file, key := range map[string]string{"court.411528.sign.pem": "sign.pub", "court.411528.enc.pem": "enc.pub"} {
		data, _ := os.ReadFile(p(key))
		want, err := sm2.ParsePublicKeyPEM(data)
		if err != nil {
			t.Fatal(err)
		}
		if got := readCert(t, filepath.Join(dir, "certs", file)); !got.PublicKey().Equal(want) {
			t.Errorf("%s certifies another key", file)
		}
	}

	// Without the flags, the certificates stay and no key is generated.
	out = mustRun(t, "ca", "issue", "--dir", dir, "--principal", "court.411528", "--kind", "agency")
	if strings.Count(out, "kept") != 2 || !strings.Contains(out, "key held by the principal") || strings.Contains(out, "created") {
		t.Errorf("reissue without keys:\n%s", out)
	}

	// The signature made with the agency's own key verifies against its certificate.
	if err := os.WriteFile(p("msg"), []byte("立案监督"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "crypto", "sign", "--key", p("sign.key"), "--in", p("msg"), "--out", p("msg.sig"))
	sig, _ := os.ReadFile(p("msg.sig"))
	if err := readCert(t, filepath.Join(dir, "certs", "court.411528.sign.pem")).PublicKey().Verify([]byte("立案监督"), sig); err != nil {
		t.Errorf("signature against the certificate: %v", err)
	}
}

func TestCAIssueRenewsExpiredCertificate(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "ca", "init", "--dir", dir)
	mustRun(t, "ca", "issue", "--dir", dir, "--principal", "hrss.411528", "--kind", "agency")
	keysBefore := snapshot(t, filepath.Join(dir, "keys"))

	// Replace the signing certificate with one that expired yesterday.
	ctx := t.Context()
	ks := fileKeystore(t, dir)
	rootKey, err := keystore.LoadSM2(ctx, ks, "ca/sm2-root")
	if err != nil {
		t.Fatal(err)
	}
	root, err := ca.LoadRoot(readCert(t, filepath.Join(dir, "certs", "ca-sm2.pem")), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	signKey, err := keystore.LoadSM2(ctx, ks, "principals/hrss.411528/sign")
	if err != nil {
		t.Fatal(err)
	}
	old, err := root.Issue(ca.Request{Principal: "hrss.411528", Kind: ca.KindAgency, Now: time.Now().Add(-48 * time.Hour), Validity: 24 * time.Hour}, ca.PurposeSign, signKey.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "certs", "hrss.411528.sign.pem")
	if err := os.WriteFile(path, old.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}

	out := mustRun(t, "ca", "issue", "--dir", dir, "--principal", "hrss.411528", "--kind", "agency")
	if !strings.Contains(out, "renewed  certs/hrss.411528.sign.pem") || !strings.Contains(out, "expired") || !strings.Contains(out, "kept     certs/hrss.411528.enc.pem") {
		t.Errorf("renewal:\n%s", out)
	}
	renewed := readCert(t, path)
	if _, err := ca.Verify(renewed, []*ca.Certificate{root.Certificate()}, ca.PurposeSign, time.Now()); err != nil || !renewed.PublicKey().Equal(signKey.PublicKey()) {
		t.Errorf("renewed certificate: %v", err)
	}
	if !equalSnapshots(keysBefore, snapshot(t, filepath.Join(dir, "keys"))) {
		t.Error("renewal changed the keystore")
	}
}

func TestCARefuses(t *testing.T) {
	empty := t.TempDir()
	if _, err := run(t, "ca", "issue", "--dir", empty, "--principal", "police", "--kind", "agency"); err == nil || !strings.Contains(err.Error(), "qiao ca init") {
		t.Errorf("issue before init: %v", err)
	}

	dir := t.TempDir()
	mustRun(t, "ca", "init", "--dir", dir)
	p := filepath.Join(dir, "k")
	mustRun(t, "crypto", "keygen", "--out", p+".key", "--pub", p+".pub")
	for name, args := range map[string][]string{
		"unknown kind":          {"--principal", "police", "--kind", "robot"},
		"bad principal":         {"--principal", "Police", "--kind", "agency"},
		"user without prefix":   {"--principal", "alice", "--kind", "user"},
		"server without names":  {"--principal", "gateway", "--kind", "server"},
		"agency with a name":    {"--principal", "police", "--kind", "agency", "--dns", "police.example"},
		"bad IP":                {"--principal", "gateway", "--kind", "server", "--ip", "300.1.1.1"},
		"one public key":        {"--principal", "police", "--kind", "agency", "--sign-pub", p + ".pub"},
		"same key twice":        {"--principal", "police", "--kind", "agency", "--sign-pub", p + ".pub", "--enc-pub", p + ".pub"},
		"TLS key for an agency": {"--principal", "police", "--kind", "agency", "--tls-pub", p + ".pub"},
		"private key as public": {"--principal", "police", "--kind", "agency", "--sign-pub", p + ".key", "--enc-pub", p + ".pub"},
		"negative days":         {"--principal", "police", "--kind", "agency", "--days", "-1"},
		"no principal":          {"--kind", "agency"},
	} {
		t.Run(name, func(t *testing.T) {
			if out, err := run(t, append([]string{"ca", "issue", "--dir", dir}, args...)...); err == nil {
				t.Fatalf("accepted:\n%s", out)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "certs", "police.sign.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused request left a certificate: %v", err)
	}
	if names, err := fileKeystore(t, dir).List(t.Context(), "principals/"); err != nil || len(names) != 0 {
		t.Errorf("refused requests left keys %v (%v)", names, err)
	}

	// A root certificate whose key is gone, or belongs to another root, is
	// reported and kept.
	other := t.TempDir()
	mustRun(t, "ca", "init", "--dir", other)
	foreign, _ := os.ReadFile(filepath.Join(other, "certs", "ca-sm2.pem"))
	if err := os.WriteFile(filepath.Join(dir, "certs", "ca-sm2.pem"), foreign, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "ca", "init", "--dir", dir); !errors.Is(err, ca.ErrKeyMismatch) {
		t.Errorf("root certificate of another key: %v", err)
	}
	if err := os.Remove(filepath.Join(other, "keys", "ca", "tls-root.pem")); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "ca", "init", "--dir", other); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("root certificate without its key: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "certs", "ca-sm2.pem")); !bytes.Equal(got, foreign) {
		t.Error("a refused init rewrote the root certificate")
	}
}

// TestCAFunctionsForInit drives caInit and caIssue as `qiao init` does.
func TestCAFunctionsForInit(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var out bytes.Buffer
	if err := caInit(ctx, dir, &out); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		reqs := []caIssueRequest{
			{Principal: "gateway", Kind: "server", DNS: []string{"localhost"}, IPs: []string{"127.0.0.1", "::1"}},
			{Principal: "procuratorate.411528", Kind: "agency"},
			{Principal: "user:erin", Kind: "user"},
		}
		for _, r := range reqs {
			out.Reset()
			if err := caIssue(ctx, dir, r, &out); err != nil {
				t.Fatalf("%s: %v", r.Principal, err)
			}
			if i == 1 && (strings.Contains(out.String(), "created") || strings.Contains(out.String(), "renewed")) {
				t.Errorf("second run for %s:\n%s", r.Principal, out.String())
			}
		}
	}
	for _, f := range []string{"ca-sm2.pem", "ca-tls.pem", "gateway.sign.pem", "gateway.enc.pem", "gateway.tls.pem",
		"procuratorate.411528.sign.pem", "procuratorate.411528.enc.pem", "user:erin.sign.pem", "user:erin.enc.pem"} {
		if _, err := os.Stat(filepath.Join(dir, "certs", f)); err != nil {
			t.Error(err)
		}
	}
	names, err := fileKeystore(t, dir).List(ctx, "")
	want := "ca/sm2-root ca/tls-root principals/gateway/enc principals/gateway/sign principals/gateway/tls principals/procuratorate.411528/enc principals/procuratorate.411528/sign principals/user:erin/enc principals/user:erin/sign"
	if err != nil || strings.Join(names, " ") != want {
		t.Errorf("keystore names:\n%v\nwant\n%s (%v)", names, want, err)
	}
}
