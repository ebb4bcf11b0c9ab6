package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"slices"
	"testing"
	"time"
)

func newTLSRoot(t testing.TB) (*TLSRoot, *ecdsa.PrivateKey) {
	t.Helper()
	rk, err := GenerateTLSKey()
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewTLSRoot(rk, RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k, err := GenerateTLSKey()
	if err != nil {
		t.Fatal(err)
	}
	return r, k
}

func TestTLSRootIssuesServerCertificate(t *testing.T) {
	r, k := newTLSRoot(t)
	root := r.Certificate()
	if !root.IsCA || root.SignatureAlgorithm != x509.ECDSAWithSHA256 || !root.MaxPathLenZero {
		t.Errorf("root: CA %v alg %v", root.IsCA, root.SignatureAlgorithm)
	}
	c, err := r.IssueServer(serverReq, &k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.DNSNames, serverReq.DNSNames) || len(c.IPAddresses) != 2 || len(c.URIs) != 1 || c.URIs[0].String() != "qiao:principal:gateway.411528" {
		t.Errorf("names %v %v %v", c.DNSNames, c.IPAddresses, c.URIs)
	}
	if c.KeyUsage != x509.KeyUsageDigitalSignature || !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("usage %v %v", c.KeyUsage, c.ExtKeyUsage)
	}
	principal, err := VerifyTLSServer(c, []*x509.Certificate{root}, time.Now())
	if err != nil || principal != "gateway.411528" {
		t.Fatalf("VerifyTLSServer: %q, %v", principal, err)
	}
	// The standard library agrees, host name included.
	pool := x509.NewCertPool()
	pool.AddCert(root)
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool, DNSName: "qiao.example.gov.cn"}); err != nil {
		t.Errorf("crypto/x509: %v", err)
	}

	other, _ := newTLSRoot(t)
	short, err := r.IssueServer(Request{Principal: "gateway", Kind: KindServer, DNSNames: []string{"localhost"}, Validity: time.Hour}, &k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		cert  *x509.Certificate
		roots []*x509.Certificate
		now   time.Time
		want  error
	}{
		{"expired", short, []*x509.Certificate{root}, time.Now().Add(2 * time.Hour), ErrExpired},
		{"not yet valid", c, []*x509.Certificate{root}, time.Now().Add(-time.Hour), ErrNotYetValid},
		{"other root", c, []*x509.Certificate{other.Certificate()}, time.Now(), ErrUnknownIssuer},
		{"root as a leaf", root, []*x509.Certificate{root}, time.Now(), ErrKeyUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := VerifyTLSServer(tc.cert, tc.roots, tc.now); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}

	for name, req := range map[string]Request{
		"not a server":       {Principal: "police", Kind: KindAgency},
		"server, no names":   {Principal: "gateway", Kind: KindServer},
		"invalid principal":  {Principal: "Gateway", Kind: KindServer, DNSNames: []string{"localhost"}},
		"invalid DNS name":   {Principal: "gateway", Kind: KindServer, DNSNames: []string{"-x y"}},
		"principal too long": {Principal: string(make([]byte, 70)), Kind: KindServer, DNSNames: []string{"localhost"}},
	} {
		if _, err := r.IssueServer(req, &k.PublicKey); !errors.Is(err, ErrRequest) {
			t.Errorf("%s: %v", name, err)
		}
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := r.IssueServer(serverReq, &p384.PublicKey); !errors.Is(err, ErrRequest) {
		t.Errorf("P-384 key: %v", err)
	}
}

func TestTLSKeysAndLoading(t *testing.T) {
	r, k := newTLSRoot(t)
	p, err := MarshalTLSKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := pem.Decode(p); b == nil || b.Type != "PRIVATE KEY" {
		t.Fatalf("not PKCS#8 PEM: %s", p)
	}
	back, err := ParseTLSKeyPEM(p)
	if err != nil || !back.Equal(k) {
		t.Fatalf("PKCS#8 round trip: %v", err)
	}
	sec1, _ := x509.MarshalECPrivateKey(k)
	if back, err := ParseTLSKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})); err != nil || !back.Equal(k) {
		t.Fatalf("SEC1: %v", err)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if pub, err := ParseTLSPublicKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})); err != nil || !pub.Equal(&k.PublicKey) {
		t.Fatalf("public key: %v", err)
	}
	sm2Key := newKey(t)
	sm2PEM, _ := sm2Key.MarshalPEM()
	if _, err := ParseTLSKeyPEM(sm2PEM); err == nil {
		t.Error("an SM2 key parsed as a P-256 key")
	}
	if _, err := ParseTLSPublicKeyPEM(sm2Key.PublicKey().MarshalPEM()); err == nil {
		t.Error("an SM2 public key parsed as a P-256 key")
	}

	rootPEM := EncodePEM(r.Certificate().Raw)
	cert, err := ParseTLSCertificatePEM(rootPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTLSRoot(cert, k); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("TLS root with another key: %v", err)
	}
	leaf, err := r.IssueServer(serverReq, &k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTLSRoot(leaf, k); !errors.Is(err, ErrKeyUsage) {
		t.Errorf("leaf as a TLS root: %v", err)
	}

	// Each parser refuses the other root's certificate.
	sm2Root, _ := newRoot(t)
	if _, err := ParseTLSCertificatePEM(sm2Root.Certificate().PEM()); !errors.Is(err, ErrMalformed) {
		t.Errorf("SM2 certificate as TLS: %v", err)
	}
	if _, err := ParseCertificatePEM(rootPEM); !errors.Is(err, ErrMalformed) {
		t.Errorf("P-256 certificate as SM2: %v", err)
	}
}
