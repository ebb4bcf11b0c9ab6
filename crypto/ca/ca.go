// Package ca is Qiao's certificate authority: an SM2 root that issues GM/T 0015
// double certificates (one for signing, one for encryption) to agencies, users
// and servers, with the checks that accept or refuse them; and a separate
// ECDSA P-256 root that issues the TLS 1.3 server certificate, because
// browsers and Go's crypto/tls have no SM2.
//
// SM2 certificates are made and parsed with the GM certificate library Qiao
// interoperates with; callers see only this package's Certificate and
// crypto/sm2's keys. P-256 certificates are plain crypto/x509 certificates.
//
// It is not a general-purpose CA: there are no intermediates, no revocation
// lists and no OCSP, and it keeps no state. Private keys live in a keystore
// (crypto/keystore) and certificates are files the caller stores; see
// docs/pki.md for the deployment layout and the `qiao ca` commands.
package ca

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"

	tjx509 "github.com/tjfoc/gmsm/x509"

	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/crypto/sm3"
)

// Organization is the O attribute of every certificate this package issues.
const Organization = "Qiao"

// PrincipalURIPrefix starts the URI subject alternative name that repeats a
// certificate's principal in machine-readable form, e.g.
// "qiao:principal:police.411528".
const PrincipalURIPrefix = "qiao:principal:"

// Default validity periods.
const (
	DefaultRootValidity = 10 * 365 * 24 * time.Hour
	DefaultLeafValidity = 365 * 24 * time.Hour
	// clockSkew is how far before "now" a certificate's NotBefore is set, so
	// that a peer whose clock is a little behind accepts a fresh certificate.
	clockSkew = 5 * time.Minute
)

var (
	// ErrExpired means the certificate, or the root it chains to, is past its
	// NotAfter. Refuse the peer; the operator renews the certificate with
	// `qiao ca issue` (or the root with a new `qiao ca init`).
	ErrExpired = errors.New("ca: certificate has expired")
	// ErrNotYetValid means the certificate's NotBefore is in the future. Refuse
	// it; if it was just issued, check the clocks of both machines.
	ErrNotYetValid = errors.New("ca: certificate is not yet valid")
	// ErrKeyUsage means the certificate is not for this use: a signing
	// certificate presented for encryption or the reverse, a CA certificate
	// used as a leaf, or a client certificate used by a server. Refuse it and
	// ask for the certificate of the right kind.
	ErrKeyUsage = errors.New("ca: certificate is not valid for this key usage")
	// ErrUnknownIssuer means the certificate does not chain to a trusted
	// root: it was issued by another CA or its signature is wrong. Refuse it;
	// the peer needs a certificate from this deployment's root.
	ErrUnknownIssuer = errors.New("ca: certificate is not issued by a trusted root")
	// ErrMalformed means the input is not an SM2 certificate Qiao can use:
	// bad PEM or DER, another key type, or a subject without a valid
	// principal and kind. Report it to whoever supplied the certificate.
	ErrMalformed = errors.New("ca: malformed certificate")
	// ErrRequest means an issuing request is invalid (bad principal name,
	// unknown kind, missing key, names on a non-server certificate). Fix the
	// request; nothing was issued.
	ErrRequest = errors.New("ca: invalid certificate request")
)

// Kind is the kind of principal a certificate is issued to. It is the
// subject's OU.
type Kind string

// The kinds of principal.
const (
	// KindAgency is a partner agency's system, e.g. "police.411528".
	KindAgency Kind = "agency"
	// KindUser is a person, "user:<name>".
	KindUser Kind = "user"
	// KindServer is a gateway endpoint; its certificates name DNS names and
	// IP addresses.
	KindServer Kind = "server"
)

// ParseKind returns the Kind named s.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(s); k {
	case KindAgency, KindUser, KindServer:
		return k, nil
	}
	return "", fmt.Errorf("%w: kind %q: want agency, user or server", ErrRequest, s)
}

// Purpose is what a leaf certificate's key is for: one of a double
// certificate's two halves.
type Purpose int

// The purposes of the two certificates of a principal.
const (
	// PurposeSign is the signing certificate (digitalSignature,
	// contentCommitment): request signatures, TLCP authentication.
	PurposeSign Purpose = iota + 1
	// PurposeEncrypt is the encryption certificate (keyEncipherment,
	// dataEncipherment, keyAgreement): envelopes sealed to the principal,
	// TLCP key exchange.
	PurposeEncrypt
)

func (p Purpose) String() string {
	switch p {
	case PurposeSign:
		return "sign"
	case PurposeEncrypt:
		return "enc"
	}
	return fmt.Sprintf("Purpose(%d)", int(p))
}

const (
	signUsage = tjx509.KeyUsageDigitalSignature | tjx509.KeyUsageContentCommitment
	encUsage  = tjx509.KeyUsageKeyEncipherment | tjx509.KeyUsageDataEncipherment | tjx509.KeyUsageKeyAgreement
)

// ValidPrincipal checks that name is a principal name allowed for kind:
// lower-case letters, digits, ".", "_" and "-", starting with a letter, at
// most 64 characters; users are "user:" followed by such a name.
func ValidPrincipal(name string, kind Kind) error {
	if err := checkPrincipal(name, kind); err != nil {
		return fmt.Errorf("%w: %v", ErrRequest, err)
	}
	return nil
}

func checkPrincipal(name string, kind Kind) error {
	base := name
	if kind == KindUser {
		var ok bool
		if base, ok = strings.CutPrefix(name, "user:"); !ok {
			return fmt.Errorf("user principal %q must start with \"user:\"", name)
		}
	}
	if len(name) > 64 || base == "" {
		return fmt.Errorf("principal %q must be 1 to 64 characters", name)
	}
	if base[0] < 'a' || base[0] > 'z' {
		return fmt.Errorf("principal %q must start with a lower-case letter", name)
	}
	for _, r := range base {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("principal %q: character %q not allowed", name, r)
		}
	}
	return nil
}

// Certificate is a parsed SM2 certificate (SM2 public key, GM/T 0015
// profile). It is immutable.
type Certificate struct {
	c   *tjx509.Certificate
	pub *sm2.PublicKey
}

// ParseCertificate parses one DER certificate with an SM2 public key.
func ParseCertificate(der []byte) (*Certificate, error) {
	c, err := tjx509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return fromTJ(c)
}

func fromTJ(c *tjx509.Certificate) (*Certificate, error) {
	pub, err := sm2.ParsePublicKeyDER(c.RawSubjectPublicKeyInfo)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return &Certificate{c: c, pub: pub}, nil
}

// ParseCertificatePEM parses the first "CERTIFICATE" PEM block in data.
func ParseCertificatePEM(data []byte) (*Certificate, error) {
	certs, err := ParseCertificatesPEM(data)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// ParseCertificatesPEM parses every "CERTIFICATE" PEM block in data, in
// order, and fails if there is none.
func ParseCertificatesPEM(data []byte) ([]*Certificate, error) {
	ders, err := certificateBlocks(data)
	if err != nil {
		return nil, err
	}
	certs := make([]*Certificate, 0, len(ders))
	for _, der := range ders {
		c, err := ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// certificateBlocks returns the DER of every CERTIFICATE block in data.
func certificateBlocks(data []byte) ([][]byte, error) {
	var ders [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			ders = append(ders, b.Bytes)
		}
	}
	if len(ders) == 0 {
		return nil, fmt.Errorf("%w: no CERTIFICATE PEM block", ErrMalformed)
	}
	return ders, nil
}

// EncodePEM returns der as a "CERTIFICATE" PEM block.
func EncodePEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// DER returns the certificate's DER encoding.
func (c *Certificate) DER() []byte { return bytes.Clone(c.c.Raw) }

// PEM returns the certificate as a "CERTIFICATE" PEM block.
func (c *Certificate) PEM() []byte { return EncodePEM(c.c.Raw) }

// PublicKey returns the certified SM2 public key.
func (c *Certificate) PublicKey() *sm2.PublicKey { return c.pub }

// Principal returns the subject's common name: the principal the certificate
// was issued to, or the root's name. It is not verified; use Verify.
func (c *Certificate) Principal() string { return c.c.Subject.CommonName }

// Kind returns the subject's OU, which is the principal's kind in
// certificates this package issues. It is not verified; use Verify.
func (c *Certificate) Kind() Kind {
	if len(c.c.Subject.OrganizationalUnit) != 1 {
		return ""
	}
	return Kind(c.c.Subject.OrganizationalUnit[0])
}

// Issuer returns the issuer's common name.
func (c *Certificate) Issuer() string { return c.c.Issuer.CommonName }

// Purpose returns what the key usage allows the certificate to be used for:
// PurposeSign, PurposeEncrypt, or 0 for a CA certificate or one that allows
// neither.
func (c *Certificate) Purpose() Purpose {
	switch {
	case c.IsCA():
		return 0
	case c.c.KeyUsage&tjx509.KeyUsageDigitalSignature != 0:
		return PurposeSign
	case c.c.KeyUsage&encUsage != 0:
		return PurposeEncrypt
	}
	return 0
}

// IsCA reports whether the certificate is a CA certificate.
func (c *Certificate) IsCA() bool { return c.c.BasicConstraintsValid && c.c.IsCA }

// SerialNumber returns a copy of the serial number.
func (c *Certificate) SerialNumber() *big.Int { return new(big.Int).Set(c.c.SerialNumber) }

// NotBefore returns the start of the validity period.
func (c *Certificate) NotBefore() time.Time { return c.c.NotBefore }

// NotAfter returns the end of the validity period.
func (c *Certificate) NotAfter() time.Time { return c.c.NotAfter }

// DNSNames returns the DNS subject alternative names.
func (c *Certificate) DNSNames() []string { return append([]string(nil), c.c.DNSNames...) }

// IPAddresses returns the IP subject alternative names.
func (c *Certificate) IPAddresses() []net.IP { return append([]net.IP(nil), c.c.IPAddresses...) }

// URIs returns the URI subject alternative names, such as
// "qiao:principal:police.411528".
func (c *Certificate) URIs() []string {
	for _, e := range c.c.Extensions {
		if e.Id.Equal(oidSubjectAltName) {
			uris, err := parseSANURIs(e.Value)
			if err != nil {
				return nil
			}
			return uris
		}
	}
	return nil
}

// Fingerprint returns the hex SM3 digest of the certificate's DER, the
// identifier operators compare with `openssl x509 -fingerprint -sm3`.
func (c *Certificate) Fingerprint() string { return sm3.SumHex(c.c.Raw) }

// Equal reports whether c and o are the same certificate.
func (c *Certificate) Equal(o *Certificate) bool { return o != nil && bytes.Equal(c.c.Raw, o.c.Raw) }

// String describes the certificate for operators.
func (c *Certificate) String() string {
	return fmt.Sprintf("%s (serial %s, issuer %q, valid %s to %s, key id %s)",
		c.Principal(), hex.EncodeToString(c.c.SerialNumber.Bytes()), c.Issuer(),
		c.NotBefore().UTC().Format(time.RFC3339), c.NotAfter().UTC().Format(time.RFC3339), c.pub.KeyID())
}

var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

// GeneralName tags of RFC 5280 4.2.1.6, context-specific.
const (
	sanDNS = 2
	sanURI = 6
	sanIP  = 7
)

// marshalSAN encodes a subjectAltName extension value with DNS names, IP
// addresses and URIs. The SM2 certificate library has no URI field, so the
// extension is built here and passed to it whole.
func marshalSAN(dns []string, ips []net.IP, uris []string) ([]byte, error) {
	var names []asn1.RawValue
	for _, n := range dns {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: sanDNS, Bytes: []byte(n)})
	}
	for _, ip := range ips {
		b := ip.To4()
		if b == nil {
			b = ip.To16()
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: sanIP, Bytes: b})
	}
	for _, u := range uris {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: sanURI, Bytes: []byte(u)})
	}
	return asn1.Marshal(names)
}

// parseSANURIs returns the URIs in a subjectAltName extension value.
func parseSANURIs(value []byte) ([]string, error) {
	var seq asn1.RawValue
	if rest, err := asn1.Unmarshal(value, &seq); err != nil || len(rest) != 0 || !seq.IsCompound || seq.Tag != asn1.TagSequence {
		return nil, fmt.Errorf("%w: bad subjectAltName", ErrMalformed)
	}
	var uris []string
	for rest := seq.Bytes; len(rest) > 0; {
		var v asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &v); err != nil {
			return nil, fmt.Errorf("%w: bad subjectAltName: %v", ErrMalformed, err)
		}
		if v.Class == asn1.ClassContextSpecific && v.Tag == sanURI {
			uris = append(uris, string(v.Bytes))
		}
	}
	return uris, nil
}

// subject returns the distinguished name of a principal's certificate.
func subject(principal string, kind Kind) pkix.Name {
	return pkix.Name{Organization: []string{Organization}, OrganizationalUnit: []string{string(kind)}, CommonName: principal}
}
