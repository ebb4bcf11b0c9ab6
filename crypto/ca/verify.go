package ca

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	tjx509 "github.com/tjfoc/gmsm/x509"

	"github.com/qiao-exchange/qiao/crypto/sm2"
)

// Identity is what a verified certificate says about its holder.
type Identity struct {
	// Principal is the subject's CN, e.g. "police.411528" or "user:alice".
	Principal string
	// Kind is the subject's OU.
	Kind Kind
	// Purpose is the use the certificate was verified for.
	Purpose Purpose
	// PublicKey is the certified key: for PurposeSign it verifies the
	// principal's signatures, for PurposeEncrypt data is sealed to it.
	PublicKey *sm2.PublicKey
	// Certificate is the verified certificate.
	Certificate *Certificate
}

// Verify checks cert for purpose at time now and returns the identity it
// certifies. It checks, in order: the validity window (ErrNotYetValid,
// ErrExpired); that cert is signed by one of roots with SM2-with-SM3 and the
// root is valid at now (ErrUnknownIssuer, or ErrExpired for an expired root);
// that the key usage allows purpose and the extended key usage fits the kind
// (ErrKeyUsage); and that the subject names a valid principal and kind
// (ErrMalformed).
func Verify(cert *Certificate, roots []*Certificate, purpose Purpose, now time.Time) (*Identity, error) {
	c := cert.c
	switch {
	case now.Before(c.NotBefore):
		return nil, fmt.Errorf("%w: %s is valid from %s", ErrNotYetValid, c.Subject.CommonName, c.NotBefore.UTC().Format(time.RFC3339))
	case now.After(c.NotAfter):
		return nil, fmt.Errorf("%w: %s expired at %s", ErrExpired, c.Subject.CommonName, c.NotAfter.UTC().Format(time.RFC3339))
	}
	if c.SignatureAlgorithm != tjx509.SM2WithSM3 {
		return nil, fmt.Errorf("%w: %s is signed with %v, not SM2-with-SM3", ErrMalformed, c.Subject.CommonName, c.SignatureAlgorithm)
	}
	if len(c.UnhandledCriticalExtensions) > 0 {
		return nil, fmt.Errorf("%w: %s has unsupported critical extensions %v", ErrMalformed, c.Subject.CommonName, c.UnhandledCriticalExtensions)
	}
	if err := verifyChain(cert, roots, now); err != nil {
		return nil, err
	}
	if err := checkUsage(cert, purpose); err != nil {
		return nil, err
	}
	id, err := identity(cert)
	if err != nil {
		return nil, err
	}
	if err := checkExtUsage(cert, id.Kind); err != nil {
		return nil, err
	}
	id.Purpose = purpose
	return id, nil
}

// verifyChain checks that cert chains to one of roots at now.
func verifyChain(cert *Certificate, roots []*Certificate, now time.Time) error {
	pool := tjx509.NewCertPool()
	for _, r := range roots {
		if r.IsCA() {
			pool.AddCert(r.c)
		}
	}
	_, err := cert.c.Verify(tjx509.VerifyOptions{
		Roots:       pool,
		CurrentTime: now,
		KeyUsages:   []tjx509.ExtKeyUsage{tjx509.ExtKeyUsageAny},
	})
	if err == nil {
		return nil
	}
	// Say so when the issuer is trusted but outside its own validity window.
	for _, r := range roots {
		if !r.IsCA() || !bytes.Equal(cert.c.RawIssuer, r.c.RawSubject) || cert.c.CheckSignatureFrom(r.c) != nil {
			continue
		}
		switch {
		case now.After(r.c.NotAfter):
			return fmt.Errorf("%w: root %q expired at %s", ErrExpired, r.Principal(), r.c.NotAfter.UTC().Format(time.RFC3339))
		case now.Before(r.c.NotBefore):
			return fmt.Errorf("%w: root %q is valid from %s", ErrNotYetValid, r.Principal(), r.c.NotBefore.UTC().Format(time.RFC3339))
		}
	}
	return fmt.Errorf("%w: %s (issuer %q): %v", ErrUnknownIssuer, cert.Principal(), cert.Issuer(), err)
}

// checkUsage checks that cert's key usage allows purpose.
func checkUsage(cert *Certificate, purpose Purpose) error {
	if cert.IsCA() {
		return fmt.Errorf("%w: %s is a CA certificate, not a %s certificate", ErrKeyUsage, cert.Principal(), purpose)
	}
	ku := cert.c.KeyUsage
	switch purpose {
	case PurposeSign:
		if ku&tjx509.KeyUsageDigitalSignature != 0 {
			return nil
		}
	case PurposeEncrypt:
		if ku&encUsage != 0 {
			return nil
		}
	default:
		return fmt.Errorf("%w: unknown purpose %v", ErrKeyUsage, purpose)
	}
	return fmt.Errorf("%w: %s certificate of %s is not a %s certificate (key usage %#x)", ErrKeyUsage, cert.Purpose(), cert.Principal(), purpose, int(ku))
}

// checkExtUsage checks that cert's extended key usage fits kind: ServerAuth
// for servers, ClientAuth for agencies and users.
func checkExtUsage(cert *Certificate, kind Kind) error {
	want, name := tjx509.ExtKeyUsageClientAuth, "clientAuth"
	if kind == KindServer {
		want, name = tjx509.ExtKeyUsageServerAuth, "serverAuth"
	}
	if slices.Contains(cert.c.ExtKeyUsage, want) || slices.Contains(cert.c.ExtKeyUsage, tjx509.ExtKeyUsageAny) {
		return nil
	}
	return fmt.Errorf("%w: %s certificate of %s lacks extended key usage %s", ErrKeyUsage, kind, cert.Principal(), name)
}

// identity reads the principal and kind from cert's subject, checking the
// principal URI when there is one.
func identity(cert *Certificate) (*Identity, error) {
	kind, err := ParseKind(string(cert.Kind()))
	if err != nil {
		return nil, fmt.Errorf("%w: %s has subject OU %q, not agency, user or server", ErrMalformed, cert.Principal(), cert.Kind())
	}
	principal := cert.Principal()
	if err := checkPrincipal(principal, kind); err != nil {
		return nil, fmt.Errorf("%w: subject CN: %v", ErrMalformed, err)
	}
	for _, u := range cert.URIs() {
		if p, ok := strings.CutPrefix(u, PrincipalURIPrefix); ok && p != principal {
			return nil, fmt.Errorf("%w: URI %q contradicts subject CN %q", ErrMalformed, u, principal)
		}
	}
	return &Identity{Principal: principal, Kind: kind, PublicKey: cert.PublicKey(), Certificate: cert}, nil
}
