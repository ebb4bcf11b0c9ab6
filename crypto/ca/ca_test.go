package ca

import (
	"bytes"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	tjx509 "github.com/tjfoc/gmsm/x509"

	"github.com/qiao-exchange/qiao/crypto/sm2"
)

func newKey(t testing.TB) *sm2.PrivateKey {
	t.Helper()
	k, err := sm2.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newRoot(t testing.TB) (*Root, *sm2.PrivateKey) {
	t.Helper()
	k := newKey(t)
	r, err := NewRoot(k, RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r, k
}

func issuePair(t testing.TB, r *Root, req Request) *Pair {
	t.Helper()
	p, err := r.IssuePair(req, newKey(t).PublicKey(), newKey(t).PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var serverReq = Request{
	Principal:   "gateway.411528",
	Kind:        KindServer,
	DNSNames:    []string{"qiao.example.gov.cn", "localhost"},
	IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
}

func TestRoot(t *testing.T) {
	r, k := newRoot(t)
	c := r.Certificate()
	if !c.IsCA() || c.Purpose() != 0 {
		t.Errorf("root: IsCA %v, Purpose %v", c.IsCA(), c.Purpose())
	}
	if want := "Qiao SM2 Root CA " + k.PublicKey().KeyID()[:8]; c.Principal() != want || c.Issuer() != want {
		t.Errorf("root subject %q issuer %q, want %q", c.Principal(), c.Issuer(), want)
	}
	if !c.PublicKey().Equal(k.PublicKey()) {
		t.Error("root certifies another key")
	}
	if d := c.NotAfter().Sub(c.NotBefore()); d < DefaultRootValidity || d > DefaultRootValidity+time.Hour {
		t.Errorf("root validity %v, want about %v", d, DefaultRootValidity)
	}
	tc := c.c
	if tc.SignatureAlgorithm != tjx509.SM2WithSM3 || tc.KeyUsage != tjx509.KeyUsageCertSign|tjx509.KeyUsageCRLSign || !tc.MaxPathLenZero {
		t.Errorf("root: alg %v usage %#x maxPathLenZero %v", tc.SignatureAlgorithm, tc.KeyUsage, tc.MaxPathLenZero)
	}
	if err := tc.CheckSignatureFrom(tc); err != nil {
		t.Errorf("root self-signature: %v", err)
	}

	named, err := NewRoot(k, RootOptions{CommonName: "Qiao SM2 Root CA 豫", Validity: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if named.Certificate().Principal() != "Qiao SM2 Root CA 豫" {
		t.Errorf("CommonName option ignored: %q", named.Certificate().Principal())
	}
}

func TestIssueAndVerify(t *testing.T) {
	r, _ := newRoot(t)
	roots := []*Certificate{r.Certificate()}
	for _, req := range []Request{
		{Principal: "police.411528", Kind: KindAgency},
		{Principal: "user:alice", Kind: KindUser},
		serverReq,
	} {
		t.Run(req.Principal, func(t *testing.T) {
			signKey, encKey := newKey(t), newKey(t)
			pair, err := r.IssuePair(req, signKey.PublicKey(), encKey.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				cert    *Certificate
				purpose Purpose
				key     *sm2.PrivateKey
				usage   tjx509.KeyUsage
			}{
				{pair.Sign, PurposeSign, signKey, tjx509.KeyUsageDigitalSignature | tjx509.KeyUsageContentCommitment},
				{pair.Enc, PurposeEncrypt, encKey, tjx509.KeyUsageKeyEncipherment | tjx509.KeyUsageDataEncipherment | tjx509.KeyUsageKeyAgreement},
			} {
				id, err := Verify(tc.cert, roots, tc.purpose, time.Now())
				if err != nil {
					t.Fatalf("%v: %v", tc.purpose, err)
				}
				if id.Principal != req.Principal || id.Kind != req.Kind || id.Purpose != tc.purpose || !id.PublicKey.Equal(tc.key.PublicKey()) || id.Certificate != tc.cert {
					t.Errorf("%v: identity %+v", tc.purpose, id)
				}
				c := tc.cert.c
				if c.KeyUsage != tc.usage || tc.cert.Purpose() != tc.purpose {
					t.Errorf("%v: key usage %#x, want %#x", tc.purpose, c.KeyUsage, tc.usage)
				}
				wantEKU := tjx509.ExtKeyUsageClientAuth
				if req.Kind == KindServer {
					wantEKU = tjx509.ExtKeyUsageServerAuth
				}
				if !slices.Equal(c.ExtKeyUsage, []tjx509.ExtKeyUsage{wantEKU}) {
					t.Errorf("%v: ext key usage %v", tc.purpose, c.ExtKeyUsage)
				}
				if got := c.Subject; got.CommonName != req.Principal || !slices.Equal(got.Organization, []string{"Qiao"}) || !slices.Equal(got.OrganizationalUnit, []string{string(req.Kind)}) {
					t.Errorf("%v: subject %v", tc.purpose, got)
				}
				if !slices.Equal(tc.cert.URIs(), []string{"qiao:principal:" + req.Principal}) {
					t.Errorf("%v: URIs %v", tc.purpose, tc.cert.URIs())
				}
				if !slices.Equal(tc.cert.DNSNames(), req.DNSNames) || len(tc.cert.IPAddresses()) != len(req.IPAddresses) {
					t.Errorf("%v: names %v %v", tc.purpose, tc.cert.DNSNames(), tc.cert.IPAddresses())
				}
				for i, ip := range tc.cert.IPAddresses() {
					if !ip.Equal(req.IPAddresses[i]) {
						t.Errorf("%v: IP %v, want %v", tc.purpose, ip, req.IPAddresses[i])
					}
				}
				if c.SignatureAlgorithm != tjx509.SM2WithSM3 || tc.cert.IsCA() || !c.BasicConstraintsValid {
					t.Errorf("%v: alg %v CA %v", tc.purpose, c.SignatureAlgorithm, tc.cert.IsCA())
				}
				if !bytes.Equal(c.AuthorityKeyId, r.Certificate().c.SubjectKeyId) {
					t.Errorf("%v: authority key id %x, root key id %x", tc.purpose, c.AuthorityKeyId, r.Certificate().c.SubjectKeyId)
				}
				if d := tc.cert.NotAfter().Sub(tc.cert.NotBefore()); d < DefaultLeafValidity || d > DefaultLeafValidity+time.Hour {
					t.Errorf("%v: validity %v", tc.purpose, d)
				}
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	r, _ := newRoot(t)
	other, _ := newRoot(t)
	roots := []*Certificate{r.Certificate()}
	now := time.Now()
	pair := issuePair(t, r, Request{Principal: "court.411528", Kind: KindAgency, Validity: 48 * time.Hour})
	future := issuePair(t, r, Request{Principal: "court.411528", Kind: KindAgency, Now: now.Add(24 * time.Hour)})
	foreign := issuePair(t, other, Request{Principal: "court.411528", Kind: KindAgency})

	for _, tc := range []struct {
		name    string
		cert    *Certificate
		roots   []*Certificate
		purpose Purpose
		now     time.Time
		want    error
	}{
		{"expired", pair.Sign, roots, PurposeSign, now.Add(49 * time.Hour), ErrExpired},
		{"not yet valid", future.Sign, roots, PurposeSign, now, ErrNotYetValid},
		{"sign certificate for encryption", pair.Sign, roots, PurposeEncrypt, now, ErrKeyUsage},
		{"encryption certificate for signing", pair.Enc, roots, PurposeSign, now, ErrKeyUsage},
		{"root as a leaf", r.Certificate(), roots, PurposeSign, now, ErrKeyUsage},
		{"other root", foreign.Sign, roots, PurposeSign, now, ErrUnknownIssuer},
		{"no roots", pair.Sign, nil, PurposeSign, now, ErrUnknownIssuer},
		{"leaf as root", pair.Enc, []*Certificate{pair.Sign}, PurposeEncrypt, now, ErrUnknownIssuer},
		{"unknown purpose", pair.Sign, roots, Purpose(7), now, ErrKeyUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := Verify(tc.cert, tc.roots, tc.purpose, tc.now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, %v; want %v", id, err, tc.want)
			}
		})
	}

	// The errors are distinct: no sentinel matches another.
	sentinels := []error{ErrExpired, ErrNotYetValid, ErrKeyUsage, ErrUnknownIssuer, ErrMalformed, ErrRequest, ErrKeyMismatch}
	for i, a := range sentinels {
		for j, b := range sentinels {
			if i != j && errors.Is(a, b) {
				t.Errorf("%v matches %v", a, b)
			}
		}
	}
}

func TestIssueRefuses(t *testing.T) {
	r, _ := newRoot(t)
	k := newKey(t).PublicKey()
	for _, tc := range []struct {
		name string
		req  Request
	}{
		{"empty principal", Request{Kind: KindAgency}},
		{"upper case", Request{Principal: "Police.411528", Kind: KindAgency}},
		{"leading digit", Request{Principal: "411528", Kind: KindAgency}},
		{"slash", Request{Principal: "police/411528", Kind: KindAgency}},
		{"colon in agency", Request{Principal: "user:alice", Kind: KindAgency}},
		{"user without prefix", Request{Principal: "alice", Kind: KindUser}},
		{"user with empty name", Request{Principal: "user:", Kind: KindUser}},
		{"too long", Request{Principal: strings.Repeat("a", 65), Kind: KindAgency}},
		{"unknown kind", Request{Principal: "model.x", Kind: "model"}},
		{"server without names", Request{Principal: "gateway", Kind: KindServer}},
		{"agency with DNS name", Request{Principal: "police", Kind: KindAgency, DNSNames: []string{"police.example"}}},
		{"bad DNS name", Request{Principal: "gateway", Kind: KindServer, DNSNames: []string{"bad name"}}},
		{"empty DNS label", Request{Principal: "gateway", Kind: KindServer, DNSNames: []string{"a..b"}}},
		{"bad IP", Request{Principal: "gateway", Kind: KindServer, IPAddresses: []net.IP{{1, 2, 3}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := r.Issue(tc.req, PurposeSign, k); !errors.Is(err, ErrRequest) {
				t.Fatalf("got %v, %v; want ErrRequest", c, err)
			}
		})
	}
	req := Request{Principal: "police", Kind: KindAgency}
	if _, err := r.IssuePair(req, k, k); !errors.Is(err, ErrRequest) {
		t.Errorf("same key for sign and enc: %v", err)
	}
	if _, err := r.IssuePair(req, k, nil); !errors.Is(err, ErrRequest) {
		t.Errorf("missing enc key: %v", err)
	}
	if _, err := r.Issue(req, Purpose(0), k); !errors.Is(err, ErrRequest) {
		t.Errorf("no purpose: %v", err)
	}
	if err := ValidPrincipal("user:alice", KindUser); err != nil {
		t.Errorf("user:alice: %v", err)
	}
	if err := ValidPrincipal("police.411528", KindAgency); err != nil {
		t.Errorf("police.411528: %v", err)
	}
}

func TestLeafNeverOutlivesRoot(t *testing.T) {
	k := newKey(t)
	r, err := NewRoot(k, RootOptions{Validity: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.Issue(Request{Principal: "hrss", Kind: KindAgency, Validity: 10 * DefaultLeafValidity}, PurposeSign, newKey(t).PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if !c.NotAfter().Equal(r.Certificate().NotAfter()) {
		t.Errorf("leaf NotAfter %v, root NotAfter %v", c.NotAfter(), r.Certificate().NotAfter())
	}
}

func TestLoadRootAndPEM(t *testing.T) {
	r, k := newRoot(t)
	parsed, err := ParseCertificatePEM(r.Certificate().PEM())
	if err != nil {
		t.Fatal(err)
	}
	if !parsed.Equal(r.Certificate()) || parsed.Fingerprint() != r.Certificate().Fingerprint() {
		t.Fatal("PEM round trip changed the certificate")
	}
	loaded, err := LoadRoot(parsed, k)
	if err != nil {
		t.Fatal(err)
	}
	pair := issuePair(t, loaded, Request{Principal: "medins", Kind: KindAgency})
	if _, err := Verify(pair.Sign, []*Certificate{r.Certificate()}, PurposeSign, time.Now()); err != nil {
		t.Errorf("certificate from the loaded root: %v", err)
	}

	if _, err := LoadRoot(parsed, newKey(t)); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("root with another key: %v", err)
	}
	if _, err := LoadRoot(pair.Sign, k); !errors.Is(err, ErrKeyUsage) {
		t.Errorf("leaf as a root: %v", err)
	}

	// A bundle parses in order; DER and PEM agree.
	bundle := append(append(pair.Sign.PEM(), []byte("junk between blocks\n")...), pair.Enc.PEM()...)
	certs, err := ParseCertificatesPEM(bundle)
	if err != nil || len(certs) != 2 || !certs[0].Equal(pair.Sign) || !certs[1].Equal(pair.Enc) {
		t.Fatalf("bundle: %v %v", certs, err)
	}
	if c, err := ParseCertificate(pair.Enc.DER()); err != nil || !c.Equal(pair.Enc) {
		t.Fatalf("DER round trip: %v", err)
	}
	if !strings.Contains(pair.Sign.String(), "medins") || len(pair.Sign.Fingerprint()) != 64 || pair.Sign.SerialNumber().Sign() <= 0 {
		t.Errorf("String %q, Fingerprint %q", pair.Sign.String(), pair.Sign.Fingerprint())
	}

	for name, in := range map[string][]byte{
		"empty":       nil,
		"private key": mustPEM(t, k),
		"garbage DER": EncodePEM([]byte("not a certificate")),
	} {
		if _, err := ParseCertificatePEM(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func mustPEM(t *testing.T, k *sm2.PrivateKey) []byte {
	t.Helper()
	p, err := k.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseKind(t *testing.T) {
	for _, s := range []string{"agency", "user", "server"} {
		if k, err := ParseKind(s); err != nil || string(k) != s {
			t.Errorf("ParseKind(%q) = %q, %v", s, k, err)
		}
	}
	if _, err := ParseKind("Agency"); !errors.Is(err, ErrRequest) {
		t.Errorf("ParseKind(Agency): %v", err)
	}
	if PurposeSign.String() != "sign" || PurposeEncrypt.String() != "enc" {
		t.Errorf("purpose names %v %v", PurposeSign, PurposeEncrypt)
	}
}
