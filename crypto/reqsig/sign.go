package reqsig

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/qiao-exchange/qiao/crypto/sm2"
)

// SignerConfig configures a Signer.
type SignerConfig struct {
	// Principal is the caller's principal, e.g. police.411528.
	Principal string
	// Key is the caller's registered SM2 signing key.
	Key *sm2.PrivateKey
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the nonce source; nil means crypto/rand. Only tests set it.
	Rand io.Reader
}

// Signer signs requests as one principal with one key. It is safe for
// concurrent use.
type Signer struct {
	principal string
	keyID     string
	key       *sm2.PrivateKey
	now       func() time.Time
	rand      io.Reader
}

// NewSigner returns a Signer for cfg.
func NewSigner(cfg SignerConfig) (*Signer, error) {
	if err := checkPrincipal(cfg.Principal); cfg.Principal == "" || err != nil {
		return nil, fmt.Errorf("reqsig: principal %q: not a principal name", cfg.Principal)
	}
	if cfg.Key == nil {
		return nil, errors.New("reqsig: no signing key")
	}
	s := &Signer{
		principal: cfg.Principal,
		keyID:     cfg.Key.PublicKey().KeyID(),
		key:       cfg.Key,
		now:       cfg.Now,
		rand:      cfg.Rand,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	return s, nil
}

// KeyID returns the key ID the Signer sends in X-Qiao-Key-Id.
func (s *Signer) KeyID() string { return s.keyID }

// Sign returns the signature headers for a request with the given method
// (HTTP method, or GRPCMethod), path (HTTP request target with ?query as it
// will be sent, or the gRPC full method name) and body (nil when there is
// none), with the current time and a fresh nonce.
func (s *Signer) Sign(method, path string, body []byte) (Headers, error) {
	if err := checkMethod(method); err != nil {
		return Headers{}, err
	}
	if err := checkPath(path); err != nil {
		return Headers{}, err
	}
	nonce := make([]byte, NonceSize)
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return Headers{}, fmt.Errorf("reqsig: reading nonce: %w", err)
	}
	h := Headers{
		Principal:  s.principal,
		KeyID:      s.keyID,
		Timestamp:  s.now().UTC().Format(TimestampLayout),
		Nonce:      base64.RawURLEncoding.EncodeToString(nonce),
		ContentSM3: ContentSM3(body),
	}
	sig, err := s.key.Sign([]byte(CanonicalString(h, method, path)))
	if err != nil {
		return Headers{}, fmt.Errorf("reqsig: %w", err)
	}
	h.Signature = base64.StdEncoding.EncodeToString(sig)
	return h, nil
}

// SignHTTP signs an outgoing HTTP request whose body is body (nil when there
// is none) and sets the signature headers on it. The path signed is
// req.URL.RequestURI(), the target net/http sends.
func (s *Signer) SignHTTP(req *http.Request, body []byte) error {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	h, err := s.Sign(method, req.URL.RequestURI(), body)
	if err != nil {
		return err
	}
	h.SetHTTP(req.Header)
	return nil
}

// SignGRPC signs a gRPC call to fullMethod whose request message encodes to
// body, and returns ctx with the signature headers in its outgoing metadata.
func (s *Signer) SignGRPC(ctx context.Context, fullMethod string, body []byte) (context.Context, error) {
	h, err := s.Sign(GRPCMethod, fullMethod, body)
	if err != nil {
		return ctx, err
	}
	return h.OutgoingContext(ctx), nil
}

// checkMethod accepts an HTTP method token of ASCII letters.
func checkMethod(m string) error {
	if m == "" || len(m) > 16 {
		return fmt.Errorf("reqsig: method %q: not an HTTP method", m)
	}
	for i := 0; i < len(m); i++ {
		if c := m[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return fmt.Errorf("reqsig: method %q: not an HTTP method", m)
		}
	}
	return nil
}

// checkPath accepts a request target that starts with "/" and holds only
// visible ASCII, as it goes on the wire (percent-encoded).
func checkPath(p string) error {
	if p == "" || p[0] != '/' {
		return fmt.Errorf("reqsig: path %q: does not start with /", p)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("reqsig: path %q: characters other than visible ASCII (percent-encode them)", p)
		}
	}
	return nil
}
