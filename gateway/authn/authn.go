// Package authn authenticates every call to the gateway by its SM2 request
// signature (crypto/reqsig) against the caller's registered signing
// certificate. Both transports go through the one method
// Authenticator.Authenticate: the gRPC interceptor with the request message's
// bytes as received (kept by Codec), the REST middleware with the HTTP body as
// received, before grpc-gateway runs.
//
// The key of a request is the principal's active, currently valid signing
// certificate in the state store, issued by a trusted SM2 root to that very
// principal; the principal must be active. Failed authentications are counted
// (qiao_auth_failures_total), and logged at a bounded rate without personal
// data.
//
// It is not an authorisation layer: a Caller says who signed a call, not what
// the caller may do. Nor does it limit rates; the gateway does that once the
// caller is known.
package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/qiao-exchange/qiao/audit"
	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/reqsig"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/gateway/rpcerr"
	"github.com/qiao-exchange/qiao/policy"
	"github.com/qiao-exchange/qiao/store"
)

// Store is what the Authenticator reads from the state store.
type Store interface {
	// GetPrincipal returns the principal name, or an error wrapping
	// store.ErrNotFound.
	GetPrincipal(ctx context.Context, name string) (store.Principal, error)
	// ResolveKey returns the certificate of principal's key keyID, or an
	// error wrapping store.ErrNotFound.
	ResolveKey(ctx context.Context, principal, keyID string) (store.Certificate, error)
	// InTx runs fn in a read-write transaction, committed if fn returns
	// nil: each audit entry of a failed authentication is written in its
	// own.
	InTx(ctx context.Context, fn func(tx *store.Tx) error) error
}

var _ Store = (*store.DB)(nil)

// Auditor appends an entry to the audit log inside the caller's
// transaction; *audit.Log is one.
type Auditor interface {
	Append(ctx context.Context, tx audit.Tx, e audit.Entry) (uint64, error)
}

var _ Auditor = (*audit.Log)(nil)

// ErrUnavailable means the Authenticator could not decide, because the state
// store failed. The call is refused (fail closed) with UNAVAILABLE.
var ErrUnavailable = fmt.Errorf("authn: cannot check the request now: %w", rpcerr.ErrUnavailable)

// Transport names, the transport label of the metrics.
const (
	TransportGRPC = "grpc"
	TransportREST = "rest"
)

// Caller is an authenticated principal.
type Caller struct {
	// Principal is the caller's name, e.g. police.411528.
	Principal string
	// Kind, Agency and Roles are the principal's as registered.
	Kind   store.PrincipalKind
	Agency string
	Roles  []store.Role
	// KeyID is the key that signed the call.
	KeyID string
}

// AuditActor is the caller as audit entries name it.
func (c *Caller) AuditActor() audit.Actor {
	a := audit.Actor{Principal: c.Principal, Agency: c.Agency}
	for _, r := range c.Roles {
		a.Roles = append(a.Roles, string(r))
	}
	return a
}

// PolicySubject is the caller as policy's input names it.
func (c *Caller) PolicySubject() policy.Subject {
	s := policy.Subject{Principal: c.Principal, Kind: string(c.Kind), Agency: c.Agency}
	for _, r := range c.Roles {
		s.Roles = append(s.Roles, string(r))
	}
	return s
}

// HasRole reports whether the caller holds role.
func (c *Caller) HasRole(role store.Role) bool {
	for _, r := range c.Roles {
		if r == role {
			return true
		}
	}
	return false
}

type callerKey struct{}

// NewContext returns ctx carrying the authenticated caller.
func NewContext(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// FromContext returns the caller that authenticated the call of ctx.
func FromContext(ctx context.Context) (*Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(*Caller)
	return c, ok && c != nil
}

// LogName returns how a principal is named in logs: agencies, servers and
// models by name, people only as "user:*". Logs carry no personal data; the
// audit log says which person acted.
func LogName(principal string) string {
	if strings.HasPrefix(principal, "user:") {
		return "user:*"
	}
	return principal
}

// Config configures an Authenticator.
type Config struct {
	// Store holds the registered principals and certificates. Required.
	Store Store
	// Roots are the SM2 roots principals' certificates must chain to.
	// Required.
	Roots []*ca.Certificate
	// Nonces remembers used nonces. Required.
	Nonces reqsig.NonceStore
	// ClockSkew is how far a request's timestamp may be from the clock: at
	// most reqsig.Window, which is also the default when zero.
	ClockSkew time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives failed authentications; nil discards them.
	Logger *slog.Logger
	// Registerer takes the metrics. Required.
	Registerer prometheus.Registerer
	// FailureLogsPerSecond bounds the failed-authentication log lines (a
	// burst of ten times as many is allowed); 5 when zero. Lines over the
	// bound are counted in qiao_auth_failure_logs_suppressed_total.
	FailureLogsPerSecond float64
	// Audit records failed authentications in the audit log, each entry
	// in its own transaction of Store. nil records nothing: only for tools
	// and tests that keep no audit log; qiao serve always sets it.
	Audit Auditor
	// FailureAuditsPerMinute is how many auth.failed entries one claimed
	// principal and reason may write per minute (see failureAudit);
	// DefaultFailureAuditsPerMinute when zero.
	FailureAuditsPerMinute int
}

// DefaultFailureAuditsPerMinute is the default of
// Config.FailureAuditsPerMinute.
const DefaultFailureAuditsPerMinute = 10

// Authenticator checks request signatures. It is safe for concurrent use.
type Authenticator struct {
	store     Store
	roots     []*ca.Certificate
	verifier  *reqsig.Verifier
	skew      time.Duration
	now       func() time.Time
	log       *slog.Logger
	logLimit  *rate.Limiter
	failures  *prometheus.CounterVec
	successes *prometheus.CounterVec
	dropped   prometheus.Counter
	keys      keyCache
	audit     Auditor
	audits    *failureAudit
	unaudited prometheus.Counter
}

// New returns an Authenticator for cfg, its metrics registered.
func New(cfg Config) (*Authenticator, error) {
	if cfg.Store == nil || len(cfg.Roots) == 0 || cfg.Nonces == nil || cfg.Registerer == nil {
		return nil, errors.New("authn: Store, Roots, Nonces and Registerer are required")
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = reqsig.Window
	}
	if cfg.ClockSkew < 0 || cfg.ClockSkew > reqsig.Window {
		return nil, fmt.Errorf("authn: clock skew %s is outside 0 to %s", cfg.ClockSkew, reqsig.Window)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.FailureLogsPerSecond <= 0 {
		cfg.FailureLogsPerSecond = 5
	}
	if cfg.FailureAuditsPerMinute <= 0 {
		cfg.FailureAuditsPerMinute = DefaultFailureAuditsPerMinute
	}
	a := &Authenticator{
		store:    cfg.Store,
		roots:    append([]*ca.Certificate(nil), cfg.Roots...),
		skew:     cfg.ClockSkew,
		now:      cfg.Now,
		log:      cfg.Logger,
		logLimit: rate.NewLimiter(rate.Limit(cfg.FailureLogsPerSecond), int(10*cfg.FailureLogsPerSecond)),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qiao_auth_failures_total",
			Help: "Calls refused because their request signature did not authenticate them, by transport and reason.",
		}, []string{"transport", "reason"}),
		successes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qiao_auth_successes_total",
			Help: "Calls whose request signature authenticated them, by transport.",
		}, []string{"transport"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "qiao_auth_failure_logs_suppressed_total",
			Help: "Failed-authentication log lines left out because they came faster than the log rate limit.",
		}),
		keys:   keyCache{m: make(map[string]cachedKey)},
		audit:  cfg.Audit,
		audits: &failureAudit{per: cfg.FailureAuditsPerMinute, m: make(map[failureKey]*failureWindow)},
		unaudited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "qiao_auth_failure_audits_suppressed_total",
			Help: "Failed authentications not written to the audit log because their principal and reason were over the audit rate limit.",
		}),
	}
	for _, c := range []prometheus.Collector{a.failures, a.successes, a.dropped, a.unaudited} {
		if err := cfg.Registerer.Register(c); err != nil {
			return nil, fmt.Errorf("authn: registering metrics: %w", err)
		}
	}
	v, err := reqsig.NewVerifier(reqsig.VerifierConfig{
		Keys:   reqsig.KeyResolverFunc(a.resolveKey),
		Nonces: cfg.Nonces,
		Now:    cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("authn: %w", err)
	}
	a.verifier = v
	return a, nil
}

// resolved carries the principal record the key resolver read, from the
// resolver back to Authenticate, so that it is read once per call. looked
// says the resolver asked the store for the claimed principal, known that
// it is registered (whatever its status).
type resolved struct {
	p      store.Principal
	looked bool
	known  bool
}

type resolvedKey struct{}

// Authenticate verifies req's signature and returns the caller it
// authenticates. transport (TransportGRPC or TransportREST) and method (the
// gRPC full method name, or the HTTP method for REST) label the metrics and
// the log.
//
// Its errors are *Error, counted and logged (at a bounded rate) already.
func (a *Authenticator) Authenticate(ctx context.Context, transport, method string, req reqsig.Request) (*Caller, error) {
	r := &resolved{}
	v, err := a.verifier.Verify(context.WithValue(ctx, resolvedKey{}, r), req)
	if err == nil && a.skew < reqsig.Window {
		if d := a.now().Sub(v.Time); d > a.skew || -d > a.skew {
			err = fmt.Errorf("%w: %s from the gateway's clock, more than auth.clock_skew %s", reqsig.ErrStaleTimestamp, d.Abs().Truncate(time.Second), a.skew)
		}
	}
	if err != nil {
		f := failure(err)
		a.fail(ctx, transport, method, req.Headers, f)
		a.auditFailure(ctx, transport, method, req, r, f)
		return nil, f
	}
	a.successes.WithLabelValues(transport).Inc()
	return &Caller{
		Principal: r.p.Name,
		Kind:      r.p.Kind,
		Agency:    r.p.Agency,
		Roles:     r.p.Roles,
		KeyID:     v.KeyID,
	}, nil
}

// Error is a failed authentication. It wraps the reqsig sentinel error that
// says why (refuse with UNAUTHENTICATED, or RESOURCE_EXHAUSTED for
// reqsig.ErrNonceStoreFull), or ErrUnavailable when the Authenticator could
// not decide.
type Error struct {
	// Reason is the reason's label in qiao_auth_failures_total and the log:
	// missing_header, malformed_header, stale_timestamp, unknown_key,
	// key_mismatch, bad_signature, content_mismatch, replay,
	// nonce_store_full or unavailable.
	Reason string
	Err    error
}

func (e *Error) Error() string { return "authn: " + e.Reason + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// failure wraps an error of the Verifier in an Error with its reason. An
// error that is none of the reqsig sentinels means the check could not be
// made: it is wrapped in ErrUnavailable.
func failure(err error) *Error {
	var he *reqsig.HeaderError
	reason := ""
	switch {
	case errors.As(err, &he) && errors.Is(err, reqsig.ErrMissingHeader):
		reason = "missing_header"
	case errors.As(err, &he):
		reason = "malformed_header"
	case errors.Is(err, reqsig.ErrStaleTimestamp):
		reason = "stale_timestamp"
	case errors.Is(err, reqsig.ErrUnknownKey):
		reason = "unknown_key"
	case errors.Is(err, reqsig.ErrKeyMismatch):
		reason = "key_mismatch"
	case errors.Is(err, reqsig.ErrBadSignature):
		reason = "bad_signature"
	case errors.Is(err, reqsig.ErrContentMismatch):
		reason = "content_mismatch"
	case errors.Is(err, reqsig.ErrReplay):
		reason = "replay"
	case errors.Is(err, reqsig.ErrNonceStoreFull):
		reason = "nonce_store_full"
	case errors.Is(err, ErrUnavailable):
		reason = "unavailable"
	default:
		reason = "unavailable"
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return &Error{Reason: reason, Err: err}
}

func (a *Authenticator) fail(ctx context.Context, transport, method string, h reqsig.Headers, f *Error) {
	reason := f.Reason
	a.failures.WithLabelValues(transport, reason).Inc()
	if !a.logLimit.Allow() {
		a.dropped.Inc()
		return
	}
	attrs := []slog.Attr{
		slog.String("transport", transport),
		slog.String("method", method),
		slog.String("reason", reason),
	}
	// The claimed principal and key ID are logged only once they have the
	// form of a principal name and a key ID.
	var he *reqsig.HeaderError
	if !errors.As(f, &he) {
		attrs = append(attrs, slog.String("principal", LogName(h.Principal)), slog.String("key_id", h.KeyID))
	}
	level := slog.LevelWarn
	if reason == "unavailable" || reason == "nonce_store_full" || reason == "key_mismatch" {
		level = slog.LevelError
		attrs = append(attrs, slog.String("error", f.Err.Error()))
	}
	a.log.LogAttrs(ctx, level, "request not authenticated", attrs...)
}

// resolveKey implements reqsig.KeyResolver over the state store.
func (a *Authenticator) resolveKey(ctx context.Context, principal, keyID string) (*sm2.PublicKey, error) {
	p, err := a.store.GetPrincipal(ctx, principal)
	r, _ := ctx.Value(resolvedKey{}).(*resolved)
	if r != nil {
		r.looked = err == nil || errors.Is(err, store.ErrNotFound)
		r.known = err == nil
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("%w: principal not registered", reqsig.ErrUnknownKey)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	case p.Status != store.StatusActive:
		return nil, fmt.Errorf("%w: principal %s", reqsig.ErrUnknownKey, p.Status)
	}
	c, err := a.store.ResolveKey(ctx, principal, keyID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("%w: no certificate for the key", reqsig.ErrUnknownKey)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	case c.Purpose != store.PurposeSign:
		return nil, fmt.Errorf("%w: the key's certificate is not a signing certificate", reqsig.ErrUnknownKey)
	case !c.ValidAt(a.now()):
		return nil, fmt.Errorf("%w: the key's certificate is %s or outside its validity", reqsig.ErrUnknownKey, c.Status)
	}
	key, err := a.keys.get(c, func() (*sm2.PublicKey, error) { return a.checkCertificate(c, principal) })
	if err != nil {
		return nil, err
	}
	if r != nil {
		r.p = p
	}
	return key, nil
}

// checkCertificate parses a registered certificate and verifies that a
// trusted root issued it to principal for signing.
func (a *Authenticator) checkCertificate(c store.Certificate, principal string) (*sm2.PublicKey, error) {
	cert, err := ca.ParseCertificatePEM(c.PEM)
	if err != nil {
		return nil, fmt.Errorf("%w: registered certificate %s does not parse: %w", reqsig.ErrUnknownKey, c.Fingerprint, err)
	}
	id, err := ca.Verify(cert, a.roots, ca.PurposeSign, a.now())
	if err != nil {
		return nil, fmt.Errorf("%w: registered certificate %s: %w", reqsig.ErrUnknownKey, c.Fingerprint, err)
	}
	if id.Principal != principal {
		return nil, fmt.Errorf("%w: registered certificate %s names another principal", reqsig.ErrUnknownKey, c.Fingerprint)
	}
	return cert.PublicKey(), nil
}

// keyCache keeps the keys of certificates already verified, by
// fingerprint: a certificate's chain is checked once, not on every call.
// Its status and validity period come from the store on every call.
type keyCache struct {
	mu sync.Mutex
	m  map[string]cachedKey
}

type cachedKey struct{ key *sm2.PublicKey }

// maxCachedKeys bounds the cache; it is emptied when full.
const maxCachedKeys = 4096

func (k *keyCache) get(c store.Certificate, check func() (*sm2.PublicKey, error)) (*sm2.PublicKey, error) {
	k.mu.Lock()
	e, ok := k.m[c.Fingerprint]
	k.mu.Unlock()
	if ok {
		return e.key, nil
	}
	key, err := check()
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	if len(k.m) >= maxCachedKeys {
		clear(k.m)
	}
	k.m[c.Fingerprint] = cachedKey{key: key}
	k.mu.Unlock()
	return key, nil
}
