package reqsig

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/qiao-exchange/qiao/crypto/sm2"
)

// KeyResolver finds a principal's registered signing key by its key ID. The
// gateway implements it from its registered certificates.
type KeyResolver interface {
	// ResolveKey returns the enabled key keyID of principal. It returns an
	// error wrapping ErrUnknownKey when there is none (unknown principal,
	// unknown or revoked key, disabled principal), and any other error when
	// it cannot tell (the registry is unreachable); the Verifier refuses the
	// request either way.
	ResolveKey(ctx context.Context, principal, keyID string) (*sm2.PublicKey, error)
}

// KeyResolverFunc adapts a function to a KeyResolver.
type KeyResolverFunc func(ctx context.Context, principal, keyID string) (*sm2.PublicKey, error)

// ResolveKey calls f.
func (f KeyResolverFunc) ResolveKey(ctx context.Context, principal, keyID string) (*sm2.PublicKey, error) {
	return f(ctx, principal, keyID)
}

// NonceStore remembers the nonces principals have used, so that a request is
// accepted once. MemoryNonceStore serves one process; a store shared by
// several gateway replicas (PostgreSQL, Redis) implements the same interface
// and passes noncestoretest.
type NonceStore interface {
	// Remember records that principal used nonce, to be remembered until
	// the given time. It returns an error wrapping ErrReplay if the pair is
	// already remembered, ErrNonceStoreFull if the store cannot take it
	// without forgetting an unexpired nonce, or another error if it could
	// not record it (the request is then refused). It must be safe for
	// concurrent use: of concurrent calls with one pair, exactly one
	// succeeds.
	Remember(ctx context.Context, principal, nonce string, until time.Time) error
}

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// Keys resolves principals' registered keys. Required.
	Keys KeyResolver
	// Nonces remembers used nonces. Required.
	Nonces NonceStore
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verifier checks request signatures. It is safe for concurrent use.
type Verifier struct {
	keys   KeyResolver
	nonces NonceStore
	now    func() time.Time
}

// NewVerifier returns a Verifier for cfg.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.Keys == nil {
		return nil, errors.New("reqsig: verifier needs a KeyResolver")
	}
	if cfg.Nonces == nil {
		return nil, errors.New("reqsig: verifier needs a NonceStore")
	}
	v := &Verifier{keys: cfg.Keys, nonces: cfg.Nonces, now: cfg.Now}
	if v.now == nil {
		v.now = time.Now
	}
	return v, nil
}

// Verified describes a request whose signature verified.
type Verified struct {
	Principal  string    // X-Qiao-Principal
	KeyID      string    // X-Qiao-Key-Id
	Time       time.Time // X-Qiao-Timestamp, UTC
	Nonce      string    // X-Qiao-Nonce
	ContentSM3 string    // X-Qiao-Content-SM3, equal to the body's SM3
}

// Verify checks req's signature and returns who signed it. The checks run in
// this order, and the nonce is remembered only once everything else passed,
// so that requests that fail cannot fill the NonceStore or use up a
// legitimate client's nonce:
//
//  1. every header present and well formed (HeaderError: ErrMissingHeader,
//     ErrMalformedHeader);
//  2. the timestamp within Window of the clock (ErrStaleTimestamp);
//  3. the key resolved (ErrUnknownKey) and its ID equal to X-Qiao-Key-Id
//     (ErrKeyMismatch);
//  4. the signature over the canonical string (ErrBadSignature);
//  5. the SM3 of req.Body, computed here, equal to X-Qiao-Content-SM3
//     (ErrContentMismatch);
//  6. the nonce new for this principal (ErrReplay, ErrNonceStoreFull); it
//     is then remembered for NonceLifetime.
//
// An error from the KeyResolver or NonceStore that is none of these is
// returned wrapped: the request is refused, never let through.
func (v *Verifier) Verify(ctx context.Context, req Request) (*Verified, error) {
	h := req.Headers
	p, err := parse(h)
	if err != nil {
		return nil, err
	}

	now := v.now()
	if skew := now.Sub(p.time); skew > Window {
		return nil, fmt.Errorf("%w: %s behind the verifier's clock", ErrStaleTimestamp, skew.Truncate(time.Second))
	} else if skew < -Window {
		return nil, fmt.Errorf("%w: %s ahead of the verifier's clock", ErrStaleTimestamp, (-skew).Truncate(time.Second))
	}

	key, err := v.keys.ResolveKey(ctx, h.Principal, h.KeyID)
	if err != nil {
		return nil, fmt.Errorf("reqsig: resolving key: %w", err)
	}
	if key == nil {
		return nil, ErrUnknownKey
	}
	if key.KeyID() != h.KeyID {
		return nil, ErrKeyMismatch
	}

	if err := key.Verify([]byte(CanonicalString(h, req.Method, req.Path)), p.sig); err != nil {
		return nil, ErrBadSignature
	}

	if ContentSM3(req.Body) != h.ContentSM3 {
		return nil, ErrContentMismatch
	}

	if err := v.nonces.Remember(ctx, h.Principal, h.Nonce, now.Add(NonceLifetime)); err != nil {
		if errors.Is(err, ErrReplay) || errors.Is(err, ErrNonceStoreFull) {
			return nil, err
		}
		return nil, fmt.Errorf("reqsig: remembering nonce: %w", err)
	}
	return &Verified{
		Principal:  h.Principal,
		KeyID:      h.KeyID,
		Time:       p.time,
		Nonce:      h.Nonce,
		ContentSM3: h.ContentSM3,
	}, nil
}
