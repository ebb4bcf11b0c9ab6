// Package reqsig signs and verifies Qiao API requests: an SM2 signature by the
// caller over a canonical string that binds the caller's principal and key, a
// timestamp, a nonce, the method, the path and the SM3 digest of the body.
//
// The wire format is specified in docs/request-signing.md. Six headers carry it
// (HTTP header names below; gRPC metadata uses the same names in lower case):
//
//	X-Qiao-Principal    the caller, e.g. police.411528
//	X-Qiao-Key-Id       32 lower-case hex: the first 16 bytes of SM3 over the public key's DER
//	X-Qiao-Timestamp    RFC 3339 UTC with seconds, e.g. 2026-11-25T19:22:00Z
//	X-Qiao-Nonce        base64url without padding of 16 to 64 random bytes
//	X-Qiao-Content-SM3  64 lower-case hex: SM3 of the body (SM3 of nothing when there is none)
//	X-Qiao-Signature    standard base64 of the DER SM2 signature, user ID 1234567812345678
//
// The signature covers these lines joined by "\n", without a trailing newline:
//
//	QIAO-SM2-SM3
//	principal
//	key ID
//	timestamp
//	nonce
//	method   (HTTP method in upper case; POST for gRPC)
//	path     (HTTP path with ?query as sent; the gRPC full method name)
//	content SM3
//
// A [Signer] produces the headers; a [Verifier] checks them against a
// [KeyResolver] that knows the registered keys, a ±300 s window around its
// clock, and a [NonceStore] that refuses a nonce seen before. Both work on
// plain values, with helpers for net/http and gRPC metadata.
//
// It is not an authorisation layer: a verified request says who sent it, not
// what they may do. Nor does it bind the request to one gateway: the host is
// not signed.
package reqsig

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/qiao-exchange/qiao/crypto/sm3"
)

// Scheme is the first line of the canonical string.
const Scheme = "QIAO-SM2-SM3"

// Header names as sent over HTTP. gRPC metadata uses them in lower case.
const (
	HeaderPrincipal  = "X-Qiao-Principal"
	HeaderKeyID      = "X-Qiao-Key-Id"
	HeaderTimestamp  = "X-Qiao-Timestamp"
	HeaderNonce      = "X-Qiao-Nonce"
	HeaderContentSM3 = "X-Qiao-Content-SM3"
	HeaderSignature  = "X-Qiao-Signature"
)

const (
	// Window is how far a request's timestamp may lie before or after the
	// verifier's clock: a request is accepted while |now − timestamp| ≤ Window.
	Window = 300 * time.Second
	// NonceLifetime is how long a verifier has its NonceStore remember a
	// nonce: twice the Window, so that a nonce is still remembered when the
	// last moment its timestamp would be accepted has passed, even for a
	// timestamp a full Window ahead of the clock.
	NonceLifetime = 2 * Window
	// TimestampLayout is the layout of X-Qiao-Timestamp for time.Format.
	TimestampLayout = "2006-01-02T15:04:05Z"
	// NonceSize is the number of random bytes in a nonce a Signer makes.
	NonceSize = 16
	// MaxNonceSize is the largest nonce, in bytes, a Verifier accepts.
	MaxNonceSize = 64
	// MaxPrincipalLen is the longest principal, in bytes.
	MaxPrincipalLen = 128
	// GRPCMethod is the method line of the canonical string for gRPC calls.
	GRPCMethod = "POST"
)

// maxSignatureLen bounds X-Qiao-Signature: a DER SM2 signature is at most 72
// bytes, 96 characters of base64.
const maxSignatureLen = 96

// Sentinel errors. Every error Verify returns matches one of them with
// errors.Is, or is an error from the KeyResolver or the NonceStore that means
// the verifier could not decide (fail closed: refuse with Unavailable).
var (
	// ErrMissingHeader means a signature header is absent or empty: the
	// request was not signed. Refuse it with Unauthenticated; the
	// HeaderError it comes in names the header.
	ErrMissingHeader = errors.New("reqsig: missing header")
	// ErrMalformedHeader means a signature header does not have the form the
	// wire format requires, or was sent more than once. Refuse it with
	// Unauthenticated; the HeaderError it comes in names the header.
	ErrMalformedHeader = errors.New("reqsig: malformed header")
	// ErrStaleTimestamp means X-Qiao-Timestamp lies more than Window before or
	// after the verifier's clock. Refuse it with Unauthenticated; a client
	// that sees it often should check its clock.
	ErrStaleTimestamp = errors.New("reqsig: X-Qiao-Timestamp outside the ±300 s window")
	// ErrReplay means the principal used X-Qiao-Nonce before within
	// NonceLifetime: the request is a replay. Refuse it with Unauthenticated
	// and audit it.
	ErrReplay = errors.New("reqsig: X-Qiao-Nonce already used")
	// ErrUnknownKey means X-Qiao-Principal and X-Qiao-Key-Id name no
	// registered, enabled key. KeyResolver implementations return it
	// (wrapped) for that case only. Refuse with Unauthenticated.
	ErrUnknownKey = errors.New("reqsig: unknown X-Qiao-Principal or X-Qiao-Key-Id")
	// ErrKeyMismatch means the key the KeyResolver returned does not have the
	// key ID in X-Qiao-Key-Id: the key registry is inconsistent. Refuse with
	// Unauthenticated and alert an operator.
	ErrKeyMismatch = errors.New("reqsig: registered key does not match X-Qiao-Key-Id")
	// ErrContentMismatch means the SM3 of the body received differs from
	// X-Qiao-Content-SM3: the body was altered or truncated on the way, or the
	// client hashed something else. Refuse with Unauthenticated.
	ErrContentMismatch = errors.New("reqsig: body does not match X-Qiao-Content-SM3")
	// ErrBadSignature means X-Qiao-Signature is not a valid signature by the
	// named key over the canonical string: something signed was altered, or
	// the client built the canonical string differently. Refuse with
	// Unauthenticated.
	ErrBadSignature = errors.New("reqsig: X-Qiao-Signature does not verify")
	// ErrNonceStoreFull means the NonceStore holds as many unexpired nonces as
	// it may, and refuses to forget one early. Refuse with ResourceExhausted
	// (the client may retry later with a new signature) and alert an
	// operator: the store is too small for the traffic.
	ErrNonceStoreFull = errors.New("reqsig: nonce store full")
)

// HeaderError is a missing or malformed signature header. It unwraps to
// ErrMissingHeader or ErrMalformedHeader. Its message names the header and
// says what is wrong, never the header's value.
type HeaderError struct {
	Header string // HTTP name, e.g. X-Qiao-Nonce
	Reason string // what is wrong; empty for a missing header
	Err    error  // ErrMissingHeader or ErrMalformedHeader
}

func (e *HeaderError) Error() string {
	msg := e.Err.Error() + " " + e.Header
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

func (e *HeaderError) Unwrap() error { return e.Err }

func missing(header string) error {
	return &HeaderError{Header: header, Err: ErrMissingHeader}
}

func malformed(header, reason string) error {
	return &HeaderError{Header: header, Reason: reason, Err: ErrMalformedHeader}
}

// Headers are the six signature header values of one request, as sent.
type Headers struct {
	Principal  string
	KeyID      string
	Timestamp  string
	Nonce      string
	ContentSM3 string
	Signature  string
}

// fields pairs each header name with its value, in canonical order.
func (h *Headers) fields() [6]struct {
	name string
	val  *string
} {
	return [6]struct {
		name string
		val  *string
	}{
		{HeaderPrincipal, &h.Principal},
		{HeaderKeyID, &h.KeyID},
		{HeaderTimestamp, &h.Timestamp},
		{HeaderNonce, &h.Nonce},
		{HeaderContentSM3, &h.ContentSM3},
		{HeaderSignature, &h.Signature},
	}
}

// SetHTTP sets the headers on hdr, replacing any earlier values.
func (h Headers) SetHTTP(hdr http.Header) {
	for _, f := range h.fields() {
		hdr.Set(f.name, *f.val)
	}
}

// Metadata returns the headers as gRPC metadata (keys in lower case).
func (h Headers) Metadata() metadata.MD {
	md := make(metadata.MD, 6)
	for _, f := range h.fields() {
		md.Set(f.name, *f.val)
	}
	return md
}

// OutgoingContext returns ctx with the headers in its outgoing gRPC
// metadata, replacing any earlier signature headers and keeping other
// metadata.
func (h Headers) OutgoingContext(ctx context.Context) context.Context {
	md, _ := metadata.FromOutgoingContext(ctx) // a copy
	if md == nil {
		md = make(metadata.MD, 6)
	}
	for _, f := range h.fields() {
		md.Set(f.name, *f.val)
	}
	return metadata.NewOutgoingContext(ctx, md)
}

// HeadersFromHTTP reads the signature headers from hdr. A header sent more
// than once is combined into one value with ", " (RFC 9110, section 5.3);
// no valid value contains a comma, so Verify refuses it as malformed rather
// than pick one.
func HeadersFromHTTP(hdr http.Header) Headers {
	var h Headers
	for _, f := range h.fields() {
		*f.val = strings.Join(hdr.Values(f.name), ", ")
	}
	return h
}

// HeadersFromMetadata reads the signature headers from gRPC metadata, whose
// keys are lower case. Repeated keys are combined as in HeadersFromHTTP.
func HeadersFromMetadata(md metadata.MD) Headers {
	var h Headers
	for _, f := range h.fields() {
		*f.val = strings.Join(md.Get(f.name), ", ")
	}
	return h
}

// Request is what a Verifier checks: the signature headers and the parts of
// the request they sign.
type Request struct {
	Headers Headers
	// Method is the HTTP method, or GRPCMethod for a gRPC call.
	Method string
	// Path is the HTTP request target as sent (path and ?query), or the gRPC
	// full method name, e.g. /qiao.exchange.v1.Datasets/PushBatch.
	Path string
	// Body is the HTTP body as received, or the gRPC request message's
	// protobuf encoding; nil when there is none. The verifier hashes it
	// itself and compares the digest with X-Qiao-Content-SM3.
	Body []byte
}

// RequestFromHTTP returns the Request for an incoming HTTP request whose body
// the caller has read into body (within its size limit). The path is
// r.RequestURI, the request target exactly as the client sent it.
func RequestFromHTTP(r *http.Request, body []byte) Request {
	path := r.RequestURI
	if path == "" || path[0] != '/' {
		// An absolute-form target (through a forward proxy) or a request
		// built in-process: sign what the origin-form target would be.
		path = r.URL.RequestURI()
	}
	return Request{
		Headers: HeadersFromHTTP(r.Header),
		Method:  r.Method,
		Path:    path,
		Body:    body,
	}
}

// RequestFromGRPC returns the Request for an incoming gRPC call: the
// signature headers from ctx's incoming metadata, method POST, the full
// method name (as a server interceptor receives it) and the request
// message's protobuf encoding.
func RequestFromGRPC(ctx context.Context, fullMethod string, body []byte) Request {
	md, _ := metadata.FromIncomingContext(ctx)
	return Request{
		Headers: HeadersFromMetadata(md),
		Method:  GRPCMethod,
		Path:    fullMethod,
		Body:    body,
	}
}

// CanonicalString returns the string a request signature covers, built from
// h (whose Signature is ignored), the method and the path. The method is
// upper-cased (ASCII); every other value is used exactly as given.
func CanonicalString(h Headers, method, path string) string {
	var b strings.Builder
	b.Grow(len(Scheme) + len(h.Principal) + len(h.KeyID) + len(h.Timestamp) +
		len(h.Nonce) + len(method) + len(path) + len(h.ContentSM3) + 7)
	b.WriteString(Scheme)
	for _, s := range [...]string{h.Principal, h.KeyID, h.Timestamp, h.Nonce, asciiUpper(method), path, h.ContentSM3} {
		b.WriteByte('\n')
		b.WriteString(s)
	}
	return b.String()
}

func asciiUpper(s string) string {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'a' <= b[j] && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// parsed holds the header values of a request after checking their form.
type parsed struct {
	time time.Time
	sig  []byte
}

// parse checks the form of every header, in canonical order, and returns the
// decoded timestamp and signature.
func parse(h Headers) (parsed, error) {
	var p parsed
	for _, f := range h.fields() {
		if *f.val == "" {
			return p, missing(f.name)
		}
	}
	if err := checkPrincipal(h.Principal); err != nil {
		return p, malformed(HeaderPrincipal, err.Error())
	}
	if !isLowerHex(h.KeyID, 32) {
		return p, malformed(HeaderKeyID, "not 32 lower-case hex digits")
	}
	t, err := parseTimestamp(h.Timestamp)
	if err != nil {
		return p, malformed(HeaderTimestamp, err.Error())
	}
	p.time = t
	if err := checkNonce(h.Nonce); err != nil {
		return p, malformed(HeaderNonce, err.Error())
	}
	if !isLowerHex(h.ContentSM3, 64) {
		return p, malformed(HeaderContentSM3, "not 64 lower-case hex digits")
	}
	if len(h.Signature) > maxSignatureLen {
		return p, malformed(HeaderSignature, "longer than a DER SM2 signature")
	}
	// The base64 decoders skip \r and \n; the alphabet check refuses them.
	sig, err := base64.StdEncoding.Strict().DecodeString(h.Signature)
	if err != nil || !inAlphabet(h.Signature, "+/=") {
		return p, malformed(HeaderSignature, "not standard base64 with padding")
	}
	p.sig = sig
	return p, nil
}

// checkPrincipal accepts 1 to MaxPrincipalLen bytes of ASCII letters, digits
// and . _ - : @ (police.411528, user:alice, model:medins.third_party_injury).
func checkPrincipal(s string) error {
	if len(s) > MaxPrincipalLen {
		return errors.New("longer than 128 bytes")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == '-', c == ':', c == '@':
		default:
			return errors.New("characters other than letters, digits and . _ - : @")
		}
	}
	return nil
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func parseTimestamp(s string) (time.Time, error) {
	t, err := time.Parse(TimestampLayout, s)
	// time.Parse also accepts fractional seconds; the format does not.
	if err != nil || t.Format(TimestampLayout) != s {
		return time.Time{}, errors.New("not RFC 3339 UTC with whole seconds (2026-11-25T19:22:00Z)")
	}
	return t, nil
}

func checkNonce(s string) error {
	if len(s) > base64.RawURLEncoding.EncodedLen(MaxNonceSize) {
		return errors.New("longer than 64 bytes")
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || !inAlphabet(s, "-_") {
		return errors.New("not base64url without padding")
	}
	if len(b) < NonceSize {
		return errors.New("shorter than 16 bytes")
	}
	return nil
}

// inAlphabet reports whether s holds only ASCII letters, digits and the
// bytes in extra.
func inAlphabet(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}

// ContentSM3 returns the X-Qiao-Content-SM3 value for body: lower-case hex
// SM3, the SM3 of nothing for an empty or nil body.
func ContentSM3(body []byte) string { return sm3.SumHex(body) }
