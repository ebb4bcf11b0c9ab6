package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// TLSRoot is the ECDSA P-256 root that issues the TLS 1.3 server certificate
// for clients without SM2 (browsers, Go's crypto/tls). It is separate from
// the SM2 root and is safe for concurrent use.
type TLSRoot struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// GenerateTLSKey returns a new ECDSA P-256 key.
func GenerateTLSKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ca: generating P-256 key: %w", err)
	}
	return k, nil
}

// MarshalTLSKeyPEM encodes a P-256 key as a PKCS#8 "PRIVATE KEY" PEM block.
func MarshalTLSKeyPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("ca: marshal P-256 key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseTLSKeyPEM reads a P-256 private key from a PKCS#8 "PRIVATE KEY" or
// SEC1 "EC PRIVATE KEY" PEM block.
func ParseTLSKeyPEM(data []byte) (*ecdsa.PrivateKey, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("ca: no PRIVATE KEY or EC PRIVATE KEY PEM block")
		}
		var key any
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("ca: P-256 key: %w", err)
		}
		k, ok := key.(*ecdsa.PrivateKey)
		if !ok || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ca: %s holds a %T, not a P-256 key", b.Type, key)
		}
		return k, nil
	}
}

// ParseTLSPublicKeyPEM reads a P-256 public key from a "PUBLIC KEY" PEM block.
func ParseTLSPublicKeyPEM(data []byte) (*ecdsa.PublicKey, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("ca: no PUBLIC KEY PEM block")
		}
		if b.Type != "PUBLIC KEY" {
			continue
		}
		key, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("ca: P-256 public key: %w", err)
		}
		k, ok := key.(*ecdsa.PublicKey)
		if !ok || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ca: PUBLIC KEY holds a %T, not a P-256 key", key)
		}
		return k, nil
	}
}

// ParseTLSCertificatePEM parses the first "CERTIFICATE" PEM block in data as
// a certificate with a P-256 key.
func ParseTLSCertificatePEM(data []byte) (*x509.Certificate, error) {
	ders, err := certificateBlocks(data)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(ders[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if k, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: %s has a %T key, not P-256", ErrMalformed, c.Subject.CommonName, c.PublicKey)
	}
	return c, nil
}

// NewTLSRoot makes a self-signed ECDSA P-256 root certificate for key.
func NewTLSRoot(key *ecdsa.PrivateKey, opts RootOptions) (*TLSRoot, error) {
	now, validity := opts.Now, opts.Validity
	if now.IsZero() {
		now = time.Now()
	}
	if validity <= 0 {
		validity = DefaultRootValidity
	}
	ski, err := tlsKeyID(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	cn := opts.CommonName
	if cn == "" {
		cn = "Qiao TLS Root CA " + hex.EncodeToString(ski[:4])
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{Organization}, CommonName: cn},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          ski,
		SignatureAlgorithm:    x509.ECDSAWithSHA256,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("ca: creating TLS root: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: parsing new TLS root: %w", err)
	}
	return &TLSRoot{cert: cert, key: key}, nil
}

// LoadTLSRoot pairs an existing P-256 root certificate with its private key.
func LoadTLSRoot(cert *x509.Certificate, key *ecdsa.PrivateKey) (*TLSRoot, error) {
	if !cert.IsCA {
		return nil, fmt.Errorf("%w: %s is not a CA certificate", ErrKeyUsage, cert.Subject.CommonName)
	}
	if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, fmt.Errorf("%w: TLS root %q", ErrKeyMismatch, cert.Subject.CommonName)
	}
	return &TLSRoot{cert: cert, key: key}, nil
}

// Certificate returns the root certificate.
func (r *TLSRoot) Certificate() *x509.Certificate { return r.cert }

// IssueServer issues a TLS 1.3 server certificate (ECDSA P-256 with SHA-256,
// digitalSignature, serverAuth) for a server principal and key, naming the
// request's DNS names and IP addresses.
func (r *TLSRoot) IssueServer(req Request, key *ecdsa.PublicKey) (*x509.Certificate, error) {
	if key == nil || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: the TLS certificate needs a P-256 public key", ErrRequest)
	}
	if req.Kind != KindServer {
		return nil, fmt.Errorf("%w: TLS certificates are for servers, not %q", ErrRequest, req.Kind)
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	ski, err := tlsKeyID(key)
	if err != nil {
		return nil, err
	}
	uri, err := url.Parse(PrincipalURIPrefix + req.Principal)
	if err != nil {
		return nil, fmt.Errorf("%w: principal URI: %v", ErrRequest, err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	notBefore, notAfter := req.window(r.cert.NotAfter)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject(req.Principal, req.Kind),
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		SubjectKeyId:          ski,
		DNSNames:              req.DNSNames,
		IPAddresses:           req.IPAddresses,
		URIs:                  []*url.URL{uri},
		SignatureAlgorithm:    x509.ECDSAWithSHA256,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, r.cert, key, r.key)
	if err != nil {
		return nil, fmt.Errorf("ca: issuing TLS certificate for %s: %w", req.Principal, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: parsing new TLS certificate: %w", err)
	}
	return cert, nil
}

// VerifyTLSServer checks a TLS server certificate at time now: its validity
// window (ErrNotYetValid, ErrExpired), its chain to one of roots
// (ErrUnknownIssuer), and that it is a serverAuth, digitalSignature
// certificate (ErrKeyUsage). It returns the principal named by the subject.
func VerifyTLSServer(cert *x509.Certificate, roots []*x509.Certificate, now time.Time) (string, error) {
	cn := cert.Subject.CommonName
	switch {
	case now.Before(cert.NotBefore):
		return "", fmt.Errorf("%w: %s is valid from %s", ErrNotYetValid, cn, cert.NotBefore.UTC().Format(time.RFC3339))
	case now.After(cert.NotAfter):
		return "", fmt.Errorf("%w: %s expired at %s", ErrExpired, cn, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if cert.IsCA || cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return "", fmt.Errorf("%w: %s is not a TLS server certificate", ErrKeyUsage, cn)
	}
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	_, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	var invalid x509.CertificateInvalidError
	switch {
	case err == nil:
	case errors.As(err, &invalid) && invalid.Reason == x509.IncompatibleUsage:
		return "", fmt.Errorf("%w: %s lacks extended key usage serverAuth", ErrKeyUsage, cn)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "", fmt.Errorf("%w: %v", ErrExpired, err)
	default:
		for _, r := range roots {
			if cert.CheckSignatureFrom(r) != nil {
				continue
			}
			switch {
			case now.After(r.NotAfter):
				return "", fmt.Errorf("%w: root %q expired at %s", ErrExpired, r.Subject.CommonName, r.NotAfter.UTC().Format(time.RFC3339))
			case now.Before(r.NotBefore):
				return "", fmt.Errorf("%w: root %q is valid from %s", ErrNotYetValid, r.Subject.CommonName, r.NotBefore.UTC().Format(time.RFC3339))
			}
		}
		return "", fmt.Errorf("%w: %s (issuer %q): %v", ErrUnknownIssuer, cn, cert.Issuer.CommonName, err)
	}
	if err := checkPrincipal(cn, KindServer); err != nil || len(cert.Subject.OrganizationalUnit) != 1 || cert.Subject.OrganizationalUnit[0] != string(KindServer) {
		return "", fmt.Errorf("%w: %s does not name a server principal", ErrMalformed, cn)
	}
	return cn, nil
}

// tlsKeyID is the subject key identifier of a P-256 key: the first 16 bytes
// of SHA-256 over its SubjectPublicKeyInfo.
func tlsKeyID(k *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, fmt.Errorf("ca: marshal P-256 public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return sum[:16], nil
}
