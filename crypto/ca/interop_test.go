package ca

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/internal/openssltest"
)

// The certificates are made by one GM library (tjfoc/gmsm, behind this
// package) and checked by the other (emmansun/gmsm smx509) and by OpenSSL 3,
// and the reverse.

// TestInteropIssuedCertificateVerifiesWithSMX509 checks a double certificate
// issued here with the other library, and its signature with crypto/sm2.
func TestInteropIssuedCertificateVerifiesWithSMX509(t *testing.T) {
	r, rootKey := newRoot(t)
	pair := issuePair(t, r, serverReq)

	root, err := smx509.ParseCertificate(r.Certificate().DER())
	if err != nil {
		t.Fatal(err)
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		t.Errorf("smx509: root self-signature: %v", err)
	}
	pool := smx509.NewCertPool()
	pool.AddCert(root)
	for _, c := range []*Certificate{pair.Sign, pair.Enc} {
		leaf, err := smx509.ParseCertificate(c.DER())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := leaf.Verify(smx509.VerifyOptions{Roots: pool, DNSName: "qiao.example.gov.cn", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("smx509: verify %v: %v", c.Purpose(), err)
		}
		if len(leaf.URIs) != 1 || leaf.URIs[0].String() != "qiao:principal:gateway.411528" {
			t.Errorf("smx509: URIs %v", leaf.URIs)
		}
		if leaf.Subject.CommonName != "gateway.411528" || leaf.Subject.OrganizationalUnit[0] != "server" {
			t.Errorf("smx509: subject %v", leaf.Subject)
		}
		pub, err := sm2.FromCrypto(leaf.PublicKey)
		if err != nil || !pub.Equal(c.PublicKey()) {
			t.Errorf("smx509: public key %v", err)
		}
		// The signature is SM2 over the TBS certificate with the default user ID.
		if err := rootKey.PublicKey().Verify(leaf.RawTBSCertificate, leaf.Signature); err != nil {
			t.Errorf("crypto/sm2: certificate signature: %v", err)
		}
	}
}

// smx509Cert creates a certificate with the other library: tmpl signed by
// parentKey under parent (tmpl itself when parent is nil).
func smx509Cert(t *testing.T, tmpl *x509.Certificate, parent *Certificate, pub *sm2.PublicKey, parentKey *sm2.PrivateKey) *Certificate {
	t.Helper()
	var p any = tmpl
	if parent != nil {
		pc, err := smx509.ParseCertificate(parent.DER())
		if err != nil {
			t.Fatal(err)
		}
		p = pc
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, p, pub.Crypto(), parentKey.Signer())
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func smx509Root(t *testing.T, key *sm2.PrivateKey, notBefore, notAfter time.Time) *Certificate {
	t.Helper()
	return smx509Cert(t, &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"Other CA"}, CommonName: "Other SM2 Root"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil, key.PublicKey(), key)
}

func smx509Leaf(principal, kind string, usage x509.KeyUsage, eku x509.ExtKeyUsage, notAfter time.Time, uri string) *x509.Certificate {
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{Organization: []string{"Qiao"}, OrganizationalUnit: []string{kind}, CommonName: principal},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              notAfter,
		KeyUsage:              usage,
		ExtKeyUsage:           []x509.ExtKeyUsage{eku},
		BasicConstraintsValid: true,
	}
	if uri != "" {
		u, _ := url.Parse(uri)
		tmpl.URIs = []*url.URL{u}
	}
	return tmpl
}

// TestInteropSMX509CertificateVerifiesHere checks certificates made by the
// other library, under its own root and under ours.
func TestInteropSMX509CertificateVerifiesHere(t *testing.T) {
	now := time.Now()
	rootKey, leafKey := newKey(t), newKey(t)
	root := smx509Root(t, rootKey, now.Add(-time.Hour), now.Add(24*time.Hour))
	yearOut := now.Add(365 * 24 * time.Hour)
	sign := x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	leaf := smx509Cert(t, smx509Leaf("police.411528", "agency", sign, x509.ExtKeyUsageClientAuth, now.Add(12*time.Hour), "qiao:principal:police.411528"), root, leafKey.PublicKey(), rootKey)

	id, err := Verify(leaf, []*Certificate{root}, PurposeSign, now)
	if err != nil {
		t.Fatal(err)
	}
	if id.Principal != "police.411528" || id.Kind != KindAgency || !id.PublicKey.Equal(leafKey.PublicKey()) {
		t.Errorf("identity %+v", id)
	}

	// A certificate made by the other library under our root.
	ours, ourKey := newRoot(t)
	enc := x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment | x509.KeyUsageKeyAgreement
	mixed := smx509Cert(t, smx509Leaf("user:bob", "user", enc, x509.ExtKeyUsageClientAuth, yearOut, ""), ours.Certificate(), leafKey.PublicKey(), ourKey)
	if _, err := Verify(mixed, []*Certificate{ours.Certificate()}, PurposeEncrypt, now); err != nil {
		t.Errorf("smx509 certificate under our root: %v", err)
	}

	// Refusals the issuing API cannot produce.
	for _, tc := range []struct {
		name string
		cert *Certificate
		now  time.Time
		want error
	}{
		{"root expired before the leaf", smx509Cert(t, smx509Leaf("police", "agency", sign, x509.ExtKeyUsageClientAuth, yearOut, ""), root, leafKey.PublicKey(), rootKey), now.Add(48 * time.Hour), ErrExpired},
		{"agency with serverAuth", smx509Cert(t, smx509Leaf("police", "agency", sign, x509.ExtKeyUsageServerAuth, yearOut, ""), root, leafKey.PublicKey(), rootKey), now, ErrKeyUsage},
		{"server with clientAuth", smx509Cert(t, smx509Leaf("gateway", "server", sign, x509.ExtKeyUsageClientAuth, yearOut, ""), root, leafKey.PublicKey(), rootKey), now, ErrKeyUsage},
		{"unknown kind", smx509Cert(t, smx509Leaf("police", "robot", sign, x509.ExtKeyUsageClientAuth, yearOut, ""), root, leafKey.PublicKey(), rootKey), now, ErrMalformed},
		{"bad principal", smx509Cert(t, smx509Leaf("Police Dept", "agency", sign, x509.ExtKeyUsageClientAuth, yearOut, ""), root, leafKey.PublicKey(), rootKey), now, ErrMalformed},
		{"URI contradicts CN", smx509Cert(t, smx509Leaf("police", "agency", sign, x509.ExtKeyUsageClientAuth, yearOut, "qiao:principal:court"), root, leafKey.PublicKey(), rootKey), now, ErrMalformed},
		{"no key usage", smx509Cert(t, smx509Leaf("police", "agency", 0, x509.ExtKeyUsageClientAuth, yearOut, ""), root, leafKey.PublicKey(), rootKey), now, ErrKeyUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Verify(tc.cert, []*Certificate{root}, PurposeSign, tc.now); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestInteropOpenSSL checks an SM2 double certificate and the P-256 TLS
// certificate with OpenSSL 3. OpenSSL 3.0 verifies SM2-with-SM3 certificate
// signatures only when told the signer ID (-vfyopt distid:1234567812345678);
// without it the signature check fails.
func TestInteropOpenSSL(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	r, _ := newRoot(t)
	pair := issuePair(t, r, serverReq)
	rootPEM := write("ca-sm2.pem", r.Certificate().PEM())
	signPEM := write("gateway.sign.pem", pair.Sign.PEM())
	encPEM := write("gateway.enc.pem", pair.Enc.PEM())

	text := string(openssltest.Run(t, nil, "x509", "-noout", "-text", "-in", signPEM))
	for _, want := range []string{
		"Signature Algorithm: SM2-with-SM3",
		"ASN1 OID: SM2",
		"Subject: O = Qiao, OU = server, CN = gateway.411528",
		"Digital Signature, Non Repudiation",
		"TLS Web Server Authentication",
		"CA:FALSE",
		"DNS:qiao.example.gov.cn, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, URI:qiao:principal:gateway.411528",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl x509 -text lacks %q:\n%s", want, text)
		}
	}
	if text, err := openssltest.Try(t, nil, "x509", "-noout", "-text", "-in", encPEM); !strings.Contains(string(text), "Key Encipherment, Data Encipherment, Key Agreement") {
		t.Errorf("encryption certificate key usage (%v):\n%s", err, text)
	}
	out, err := openssltest.Try(t, nil, "x509", "-noout", "-fingerprint", "-sm3", "-in", signPEM)
	fp := string(out)
	if want := strings.ToUpper(pair.Sign.Fingerprint()); err != nil || strings.ReplaceAll(strings.TrimSpace(fp[strings.Index(fp, "=")+1:]), ":", "") != want {
		t.Errorf("openssl SM3 fingerprint %q, ours %s (%v)", fp, want, err)
	}

	for _, leaf := range []string{signPEM, encPEM} {
		out, err := openssltest.Try(t, nil, "verify", "-vfyopt", "distid:1234567812345678", "-CAfile", rootPEM, leaf)
		if err != nil || !strings.Contains(string(out), ": OK") {
			t.Errorf("openssl verify %s: %v\n%s", filepath.Base(leaf), err, out)
		}
	}
	// A certificate from another root is refused by OpenSSL as well.
	other, _ := newRoot(t)
	otherPEM := write("other.pem", other.Certificate().PEM())
	if out, err := openssltest.Try(t, nil, "verify", "-vfyopt", "distid:1234567812345678", "-CAfile", otherPEM, signPEM); err == nil {
		t.Errorf("openssl verified a certificate against the wrong root:\n%s", out)
	}

	// The P-256 TLS certificate needs no options.
	tlsRoot, tlsKey := newTLSRoot(t)
	tlsCert, err := tlsRoot.IssueServer(serverReq, &tlsKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tlsRootPEM := write("ca-tls.pem", EncodePEM(tlsRoot.Certificate().Raw))
	tlsPEM := write("gateway.tls.pem", EncodePEM(tlsCert.Raw))
	if out, err := openssltest.Try(t, nil, "verify", "-purpose", "sslserver", "-CAfile", tlsRootPEM, tlsPEM); err != nil || !strings.Contains(string(out), ": OK") {
		t.Errorf("openssl verify TLS certificate: %v\n%s", err, out)
	}
}
