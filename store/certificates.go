package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/qiao-exchange/qiao/crypto/sm3"
)

// CertPurpose is which half of a principal's double certificate this is.
type CertPurpose string

// The purposes of a certificate.
const (
	// PurposeSign certifies the signing key: request signatures, TLCP
	// authentication.
	PurposeSign CertPurpose = "sign"
	// PurposeEnc certifies the encryption key: envelopes sealed to the
	// principal, TLCP key exchange.
	PurposeEnc CertPurpose = "enc"
)

// CertStatus says whether a certificate may be used.
type CertStatus string

// The statuses of a certificate.
const (
	// CertActive certificates are in use.
	CertActive CertStatus = "active"
	// CertRevoked certificates are refused. Revocation is final.
	CertRevoked CertStatus = "revoked"
)

// Certificate is a principal's certificate as registered with the gateway.
// The store does not parse certificates: the caller (which checked the
// certificate against the CA) provides the fields.
type Certificate struct {
	// Fingerprint is hex SM3 of the certificate's DER, set by the store. It
	// identifies the certificate.
	Fingerprint string
	Principal   string
	Purpose     CertPurpose
	// KeyID names the certified key: 32 lower-case hex digits (the first 16
	// bytes of SM3 over the public key's DER SubjectPublicKeyInfo).
	KeyID string
	// Serial is the certificate's serial number in lower-case hex.
	Serial string
	// PEM is the certificate: exactly one CERTIFICATE block.
	PEM                 []byte
	NotBefore, NotAfter time.Time
	// Status is set by the store: CertActive when added.
	Status CertStatus
	// Created and Updated are set by the store.
	Created, Updated time.Time
}

// ValidAt reports whether c is active and t lies within its validity period.
// It checks nothing else: the caller verifies the certificate's chain, and
// that its principal is active.
func (c Certificate) ValidAt(t time.Time) bool {
	return c.Status == CertActive && !t.Before(c.NotBefore) && !t.After(c.NotAfter)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// checkCertificate validates c and returns its canonical PEM (the one block,
// re-encoded) and fingerprint.
func checkCertificate(c Certificate) (canon []byte, fingerprint string, err error) {
	if err := checkName("principal", c.Principal, true); err != nil {
		return nil, "", err
	}
	if c.Purpose != PurposeSign && c.Purpose != PurposeEnc {
		return nil, "", fmt.Errorf("%w: certificate purpose %q is not sign or enc", ErrInvalid, c.Purpose)
	}
	if len(c.KeyID) != 32 || !isLowerHex(c.KeyID) {
		return nil, "", fmt.Errorf("%w: key ID %q is not 32 lower-case hex digits", ErrInvalid, c.KeyID)
	}
	if c.Serial == "" || len(c.Serial) > 64 || !isLowerHex(c.Serial) {
		return nil, "", fmt.Errorf("%w: serial %q is not 1 to 64 lower-case hex digits", ErrInvalid, c.Serial)
	}
	if c.NotBefore.IsZero() || !c.NotBefore.Before(c.NotAfter) {
		return nil, "", fmt.Errorf("%w: certificate validity %v to %v is empty", ErrInvalid, c.NotBefore, c.NotAfter)
	}
	b, rest := pem.Decode(c.PEM)
	if b == nil || b.Type != "CERTIFICATE" || len(b.Headers) != 0 || len(bytes.TrimSpace(rest)) != 0 {
		return nil, "", fmt.Errorf("%w: certificate of %s is not exactly one CERTIFICATE PEM block", ErrInvalid, c.Principal)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.Bytes}), sm3.SumHex(b.Bytes), nil
}

// AddCertificate registers a certificate of an existing principal, active,
// and returns it as stored. It returns ErrNotFound if the principal is not
// registered, ErrExists if the certificate is, and ErrInvalid for a
// malformed record. Validity times are stored to the microsecond.
func (tx *Tx) AddCertificate(ctx context.Context, c Certificate) (Certificate, error) {
	canon, fp, err := checkCertificate(c)
	if err != nil {
		return Certificate{}, err
	}
	if err := tx.principalExists(ctx, c.Principal); err != nil {
		return Certificate{}, err
	}
	t := now()
	c.Fingerprint, c.PEM, c.Status, c.Created, c.Updated = fp, canon, CertActive, t, t
	c.NotBefore = c.NotBefore.UTC().Truncate(time.Microsecond)
	c.NotAfter = c.NotAfter.UTC().Truncate(time.Microsecond)
	res, err := tx.tx.ExecContext(ctx, `INSERT INTO certificates
        (fingerprint, principal, purpose, key_id, serial, not_before, not_after, status, pem, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        ON CONFLICT (fingerprint) DO NOTHING`,
		c.Fingerprint, c.Principal, string(c.Purpose), c.KeyID, c.Serial, micros(c.NotBefore), micros(c.NotAfter),
		string(c.Status), string(c.PEM), micros(t), micros(t))
	if err != nil {
		return Certificate{}, fmt.Errorf("store: adding certificate of %s: %w", c.Principal, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return Certificate{}, fmt.Errorf("store: adding certificate of %s: %w", c.Principal, err)
	} else if n == 0 {
		return Certificate{}, fmt.Errorf("%w: certificate %s", ErrExists, c.Fingerprint)
	}
	return c, nil
}

// principalExists returns ErrNotFound unless the principal is registered.
func (tx *Tx) principalExists(ctx context.Context, name string) error {
	var one int
	err := tx.tx.QueryRowContext(ctx, "SELECT 1 FROM principals WHERE name = $1", name).Scan(&one)
	if err != nil {
		return notFound(err, "principal "+name)
	}
	return nil
}

// RevokeCertificate revokes the certificate with the fingerprint, for good.
// Revoking a revoked certificate changes nothing. It returns ErrNotFound for
// an unknown fingerprint.
func (tx *Tx) RevokeCertificate(ctx context.Context, fingerprint string) error {
	res, err := tx.tx.ExecContext(ctx,
		"UPDATE certificates SET status = $2, updated_at = $3 WHERE fingerprint = $1 AND status <> $2",
		fingerprint, string(CertRevoked), micros(now()))
	if err != nil {
		return fmt.Errorf("store: revoking certificate %s: %w", fingerprint, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: revoking certificate %s: %w", fingerprint, err)
	} else if n == 0 {
		_, err := getCertificate(ctx, tx.tx, fingerprint)
		return err // nil if already revoked
	}
	return nil
}

// GetCertificate returns the certificate with the fingerprint, or
// ErrNotFound.
func (tx *Tx) GetCertificate(ctx context.Context, fingerprint string) (Certificate, error) {
	return getCertificate(ctx, tx.tx, fingerprint)
}

// GetCertificate returns the certificate with the fingerprint, or
// ErrNotFound.
func (db *DB) GetCertificate(ctx context.Context, fingerprint string) (Certificate, error) {
	return getCertificate(ctx, db.r, fingerprint)
}

// CertificatesFor returns the certificates of a principal, signing
// certificates first, each purpose newest first; none (and no error) for an
// unknown principal.
func (tx *Tx) CertificatesFor(ctx context.Context, principal string) ([]Certificate, error) {
	return certificatesFor(ctx, tx.tx, principal)
}

// CertificatesFor returns the certificates of a principal, signing
// certificates first, each purpose newest first; none (and no error) for an
// unknown principal.
func (db *DB) CertificatesFor(ctx context.Context, principal string) ([]Certificate, error) {
	return certificatesFor(ctx, db.r, principal)
}

// ResolveKey returns the certificate of principal's key keyID, for checking
// a request signature: its PEM, status and validity. Where several
// certificates certify the key (a renewal), it returns an active one before
// a revoked one, then the one that expires last. It returns ErrNotFound if
// the principal has no certificate for the key.
//
// The caller must still check the result: Certificate.ValidAt, the purpose,
// the chain, and that the principal is active.
func (tx *Tx) ResolveKey(ctx context.Context, principal, keyID string) (Certificate, error) {
	return resolveKey(ctx, tx.tx, principal, keyID)
}

// ResolveKey is Tx.ResolveKey outside a transaction.
func (db *DB) ResolveKey(ctx context.Context, principal, keyID string) (Certificate, error) {
	return resolveKey(ctx, db.r, principal, keyID)
}

const certColumns = `fingerprint, principal, purpose, key_id, serial, not_before, not_after,
    status, pem, created_at, updated_at`

func scanCertificate(s interface{ Scan(...any) error }) (Certificate, error) {
	var (
		c                                Certificate
		purpose, status, p               string
		notBefore, notAfter, cr, updated int64
	)
	err := s.Scan(&c.Fingerprint, &c.Principal, &purpose, &c.KeyID, &c.Serial, &notBefore, &notAfter,
		&status, &p, &cr, &updated)
	if err != nil {
		return Certificate{}, err
	}
	c.Purpose, c.Status, c.PEM = CertPurpose(purpose), CertStatus(status), []byte(p)
	c.NotBefore, c.NotAfter = fromMicros(notBefore), fromMicros(notAfter)
	c.Created, c.Updated = fromMicros(cr), fromMicros(updated)
	return c, nil
}

func getCertificate(ctx context.Context, q querier, fingerprint string) (Certificate, error) {
	c, err := scanCertificate(q.QueryRowContext(ctx,
		"SELECT "+certColumns+" FROM certificates WHERE fingerprint = $1", fingerprint))
	if err != nil {
		return Certificate{}, notFound(err, "certificate "+fingerprint)
	}
	return c, nil
}

func resolveKey(ctx context.Context, q querier, principal, keyID string) (Certificate, error) {
	c, err := scanCertificate(q.QueryRowContext(ctx, "SELECT "+certColumns+`
        FROM certificates WHERE principal = $1 AND key_id = $2
        ORDER BY CASE status WHEN 'active' THEN 0 ELSE 1 END, not_after DESC, fingerprint
        LIMIT 1`, principal, keyID))
	if err != nil {
		return Certificate{}, notFound(err, fmt.Sprintf("key %s of %s", keyID, principal))
	}
	return c, nil
}

func certificatesFor(ctx context.Context, q querier, principal string) ([]Certificate, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+certColumns+`
        FROM certificates WHERE principal = $1
        ORDER BY purpose DESC, not_before DESC, fingerprint`, principal)
	if err != nil {
		return nil, fmt.Errorf("store: certificates of %s: %w", principal, err)
	}
	return collect(rows, scanCertificate, "certificates of "+principal)
}

// collect scans every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(interface{ Scan(...any) error }) (T, error), what string) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}
