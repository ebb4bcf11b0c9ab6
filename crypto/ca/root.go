package ca

import (
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"

	tjsm2 "github.com/tjfoc/gmsm/sm2"
	tjx509 "github.com/tjfoc/gmsm/x509"

	"github.com/qiao-exchange/qiao/crypto/sm2"
)

// ErrKeyMismatch means a certificate does not certify the private key it was
// paired with: the files belong to different pairs. Find the matching key or
// issue a new certificate for this key.
var ErrKeyMismatch = errors.New("ca: certificate does not match the private key")

// RootOptions shape a new root certificate.
type RootOptions struct {
	// CommonName is the root's CN. Empty means "Qiao SM2 Root CA <id>" (or
	// "Qiao TLS Root CA <id>"), where id starts the root key's ID, so that
	// the roots of two deployments have different names.
	CommonName string
	// Validity is how long the root is valid. Zero means DefaultRootValidity.
	Validity time.Duration
	// Now is the issuing time. Zero means time.Now().
	Now time.Time
}

// Request describes the principal a leaf certificate is issued to.
type Request struct {
	// Principal is the subject's CN, e.g. "police.411528" or "user:alice".
	Principal string
	// Kind is the subject's OU; it also decides the extended key usage:
	// ServerAuth for servers, ClientAuth for agencies and users.
	Kind Kind
	// DNSNames and IPAddresses are the names a server answers to. A server
	// certificate needs at least one; other kinds must have none.
	DNSNames    []string
	IPAddresses []net.IP
	// Validity is how long the certificate is valid. Zero means
	// DefaultLeafValidity. It never extends past the root's NotAfter.
	Validity time.Duration
	// Now is the issuing time. Zero means time.Now().
	Now time.Time
}

// Pair is a principal's double certificate.
type Pair struct {
	Sign *Certificate
	Enc  *Certificate
}

// Root is an SM2 root CA: its self-signed certificate and private key. It is
// safe for concurrent use.
type Root struct {
	cert *Certificate
	key  *tjsm2.PrivateKey
}

// NewRoot makes a self-signed SM2 root certificate (SM2-with-SM3, CA, no
// intermediates allowed) for key.
func NewRoot(key *sm2.PrivateKey, opts RootOptions) (*Root, error) {
	pub := key.PublicKey()
	now, validity := opts.Now, opts.Validity
	if now.IsZero() {
		now = time.Now()
	}
	if validity <= 0 {
		validity = DefaultRootValidity
	}
	cn := opts.CommonName
	if cn == "" {
		cn = "Qiao SM2 Root CA " + pub.KeyID()[:8]
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	ski, _ := hex.DecodeString(pub.KeyID())
	tmpl := &tjx509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{Organization}, CommonName: cn},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              tjx509.KeyUsageCertSign | tjx509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          ski,
		SignatureAlgorithm:    tjx509.SM2WithSM3,
	}
	signer := tjPrivate(key)
	der, err := tjx509.CreateCertificate(tmpl, tmpl, &signer.PublicKey, signer)
	if err != nil {
		return nil, fmt.Errorf("ca: creating SM2 root: %w", err)
	}
	cert, err := ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: parsing new SM2 root: %w", err)
	}
	return &Root{cert: cert, key: signer}, nil
}

// LoadRoot pairs an existing root certificate with its private key, checking
// that the certificate is a CA certificate for that key.
func LoadRoot(cert *Certificate, key *sm2.PrivateKey) (*Root, error) {
	if !cert.IsCA() {
		return nil, fmt.Errorf("%w: %s is not a CA certificate", ErrKeyUsage, cert.Principal())
	}
	if !cert.PublicKey().Equal(key.PublicKey()) {
		return nil, fmt.Errorf("%w: root %q", ErrKeyMismatch, cert.Principal())
	}
	return &Root{cert: cert, key: tjPrivate(key)}, nil
}

// Certificate returns the root certificate.
func (r *Root) Certificate() *Certificate { return r.cert }

// IssuePair issues a principal's double certificate: a signing certificate
// for signKey and an encryption certificate for encKey. The two keys must
// differ.
func (r *Root) IssuePair(req Request, signKey, encKey *sm2.PublicKey) (*Pair, error) {
	if signKey == nil || encKey == nil {
		return nil, fmt.Errorf("%w: a double certificate needs a signing and an encryption key", ErrRequest)
	}
	if signKey.Equal(encKey) {
		return nil, fmt.Errorf("%w: the signing and encryption keys must differ", ErrRequest)
	}
	sign, err := r.Issue(req, PurposeSign, signKey)
	if err != nil {
		return nil, err
	}
	enc, err := r.Issue(req, PurposeEncrypt, encKey)
	if err != nil {
		return nil, err
	}
	return &Pair{Sign: sign, Enc: enc}, nil
}

// Issue issues one certificate of a double certificate: the signing
// certificate (digitalSignature, contentCommitment) or the encryption
// certificate (keyEncipherment, dataEncipherment, keyAgreement) for key.
func (r *Root) Issue(req Request, purpose Purpose, key *sm2.PublicKey) (*Certificate, error) {
	if key == nil {
		return nil, fmt.Errorf("%w: no public key", ErrRequest)
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	var usage tjx509.KeyUsage
	switch purpose {
	case PurposeSign:
		usage = signUsage
	case PurposeEncrypt:
		usage = encUsage
	default:
		return nil, fmt.Errorf("%w: purpose %v", ErrRequest, purpose)
	}
	eku := tjx509.ExtKeyUsageClientAuth
	if req.Kind == KindServer {
		eku = tjx509.ExtKeyUsageServerAuth
	}
	notBefore, notAfter := req.window(r.cert.NotAfter())
	san, err := marshalSAN(req.DNSNames, req.IPAddresses, []string{PrincipalURIPrefix + req.Principal})
	if err != nil {
		return nil, fmt.Errorf("ca: encoding subject alternative names: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	ski, _ := hex.DecodeString(key.KeyID())
	tmpl := &tjx509.Certificate{
		SerialNumber:          serial,
		Subject:               subject(req.Principal, req.Kind),
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              usage,
		ExtKeyUsage:           []tjx509.ExtKeyUsage{eku},
		BasicConstraintsValid: true,
		SubjectKeyId:          ski,
		SignatureAlgorithm:    tjx509.SM2WithSM3,
		ExtraExtensions:       []pkix.Extension{{Id: oidSubjectAltName, Value: san}},
	}
	der, err := tjx509.CreateCertificate(tmpl, r.cert.c, tjPublic(key), r.key)
	if err != nil {
		return nil, fmt.Errorf("ca: issuing %s certificate for %s: %w", purpose, req.Principal, err)
	}
	cert, err := ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: parsing new certificate: %w", err)
	}
	return cert, nil
}

// Validate checks a request without issuing anything; Issue, IssuePair and
// IssueServer call it. Errors wrap ErrRequest.
func (req *Request) Validate() error {
	if _, err := ParseKind(string(req.Kind)); err != nil {
		return err
	}
	if err := ValidPrincipal(req.Principal, req.Kind); err != nil {
		return err
	}
	names := len(req.DNSNames) + len(req.IPAddresses)
	switch {
	case req.Kind == KindServer && names == 0:
		return fmt.Errorf("%w: a server certificate needs at least one DNS name or IP address", ErrRequest)
	case req.Kind != KindServer && names != 0:
		return fmt.Errorf("%w: only server certificates carry DNS names and IP addresses", ErrRequest)
	}
	for _, n := range req.DNSNames {
		if err := validDNSName(n); err != nil {
			return err
		}
	}
	for _, ip := range req.IPAddresses {
		if ip.To16() == nil {
			return fmt.Errorf("%w: invalid IP address %v", ErrRequest, ip)
		}
	}
	return nil
}

// window returns the validity period of a leaf issued under a root that
// expires at rootNotAfter.
func (req *Request) window(rootNotAfter time.Time) (notBefore, notAfter time.Time) {
	now, validity := req.Now, req.Validity
	if now.IsZero() {
		now = time.Now()
	}
	if validity <= 0 {
		validity = DefaultLeafValidity
	}
	notAfter = now.Add(validity)
	if notAfter.After(rootNotAfter) {
		notAfter = rootNotAfter
	}
	return now.Add(-clockSkew), notAfter
}

// validDNSName accepts host names of letters, digits, hyphens and dots, with
// an optional leading "*." wildcard label.
func validDNSName(name string) error {
	host := strings.TrimPrefix(name, "*.")
	if host == "" || len(name) > 253 || strings.HasPrefix(host, ".") || strings.HasSuffix(host, ".") || strings.Contains(host, "..") {
		return fmt.Errorf("%w: invalid DNS name %q", ErrRequest, name)
	}
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return fmt.Errorf("%w: invalid DNS name %q", ErrRequest, name)
		}
	}
	return nil
}

// newSerial returns a random positive 127-bit serial number.
func newSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 127)
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return nil, fmt.Errorf("ca: serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// tjPrivate converts an SM2 private key to the certificate library's type.
func tjPrivate(k *sm2.PrivateKey) *tjsm2.PrivateKey {
	return &tjsm2.PrivateKey{PublicKey: *tjPublic(k.PublicKey()), D: new(big.Int).SetBytes(k.Scalar())}
}

// tjPublic converts an SM2 public key to the certificate library's type.
func tjPublic(p *sm2.PublicKey) *tjsm2.PublicKey {
	x, y := p.Coordinates()
	return &tjsm2.PublicKey{Curve: tjsm2.P256Sm2(), X: x, Y: y}
}
