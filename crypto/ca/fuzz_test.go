package ca

import (
	"bytes"
	"testing"
	"time"
)

// FuzzParseCertificate feeds arbitrary DER to the certificate parser, the
// entry point for certificates supplied by agencies. Parsing and verifying
// must not panic, and what parses must round-trip.
func FuzzParseCertificate(f *testing.F) {
	r, _ := newRoot(f)
	pair := issuePair(f, r, serverReq)
	f.Add(r.Certificate().DER())
	f.Add(pair.Sign.DER())
	f.Add(pair.Enc.DER())
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	roots := []*Certificate{r.Certificate()}
	f.Fuzz(func(t *testing.T, der []byte) {
		c, err := ParseCertificate(der)
		if err != nil {
			return
		}
		if !bytes.Equal(c.DER(), der) {
			t.Fatal("DER changed in parsing")
		}
		_ = c.String()
		_ = c.URIs()
		for _, p := range []Purpose{PurposeSign, PurposeEncrypt} {
			_, _ = Verify(c, roots, p, time.Now())
		}
		back, err := ParseCertificatePEM(c.PEM())
		if err != nil || !back.Equal(c) {
			t.Fatalf("PEM round trip: %v", err)
		}
	})
}
