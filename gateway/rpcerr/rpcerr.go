// Package rpcerr maps the gateway's errors to gRPC statuses, once, at the edge
// of both transports: the gRPC interceptor and the REST error handler call
// Status and nothing else decides a code.
//
// Services return plain Go errors that wrap the sentinel errors of the
// packages they use (store.ErrNotFound, schema.ErrUnknownDataset, the reqsig
// errors) or of this package (ErrPermissionDenied, ErrResourceExhausted,
// InvalidError, …). Status picks the code from them and a short message that
// is safe to send: it never contains the wrapped error's text, which may name
// records, paths or people. The full error goes to the server log only.
//
// It is not a logger and not an authorisation layer: callers log the detail
// and decide what is allowed.
package rpcerr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/qiao-exchange/qiao/crypto/reqsig"
	"github.com/qiao-exchange/qiao/schema"
	"github.com/qiao-exchange/qiao/store"
)

// Sentinel errors of the gateway's own refusals. Wrap them with %w; Status
// maps each to its code.
var (
	// ErrUnauthenticated means the caller could not be identified (for
	// example its principal is disabled). Answer UNAUTHENTICATED.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrPermissionDenied means the caller is known but may not do this:
	// policy refused it, or it needs a role the caller lacks. Answer
	// PERMISSION_DENIED.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrResourceExhausted means a limit was reached: the message is too
	// large, or the caller exceeded its rate. Answer RESOURCE_EXHAUSTED.
	ErrResourceExhausted = errors.New("resource exhausted")
	// ErrFailedPrecondition means the request conflicts with the state of
	// the records it names. Answer FAILED_PRECONDITION.
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrUnavailable means the gateway could not decide, because something
	// it depends on failed (the state store); the call was refused, and the
	// client may retry later. Answer UNAVAILABLE.
	ErrUnavailable = errors.New("unavailable")
	// ErrUnimplemented means the method is declared but not served by this
	// gateway. Answer UNIMPLEMENTED.
	ErrUnimplemented = errors.New("unimplemented")
)

// MaxViolations is the most field violations Status puts in a BadRequest
// detail. gRPC carries details in a trailer whose size is bounded (16 KiB by
// default), so a batch with thousands of bad rows lists the first ones; the
// batch record (GetBatch) keeps them all.
const MaxViolations = 100

// Violation is one bad field of a request, or of a row in a pushed batch.
type Violation struct {
	// Field is the path of the field: a request field ("batch_id",
	// "signing_certificate_pem") or a row's field ("rows[12].id_number").
	Field string
	// Description says what is wrong. It must not quote the value.
	Description string
}

// RowViolation returns the violation of field in row (counted from 1; 0
// means the batch as a whole) of a pushed batch.
func RowViolation(row int64, field, reason string) Violation {
	p := fmt.Sprintf("rows[%d]", row)
	if field != "" {
		p += "." + field
	}
	return Violation{Field: p, Description: reason}
}

// InvalidError is a request with bad fields. Status answers it with
// INVALID_ARGUMENT and a BadRequest detail holding one field violation per
// entry of Violations, up to MaxViolations.
type InvalidError struct {
	// Violations lists what is wrong; at least one.
	Violations []Violation
	// Err is the underlying error, for the log; may be nil.
	Err error
}

// Invalid returns an InvalidError with the violations.
func Invalid(vs ...Violation) error { return &InvalidError{Violations: vs} }

// InvalidField returns an InvalidError for one bad request field, keeping
// err (which may be nil) for the log.
func InvalidField(field, description string, err error) error {
	return &InvalidError{Violations: []Violation{{Field: field, Description: description}}, Err: err}
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	b.WriteString("invalid argument:")
	for i, v := range e.Violations {
		if i == 3 {
			fmt.Fprintf(&b, " and %d more", len(e.Violations)-i)
			break
		}
		fmt.Fprintf(&b, " %s: %s;", v.Field, v.Description)
	}
	if e.Err != nil {
		b.WriteString(" ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *InvalidError) Unwrap() error { return e.Err }

// RetryError is a refusal the client may retry after a while: Status adds a
// RetryInfo detail, and the REST edge a Retry-After header.
type RetryError struct {
	After time.Duration
	Err   error
}

func (e *RetryError) Error() string { return e.Err.Error() + fmt.Sprintf(" (retry after %s)", e.After) }
func (e *RetryError) Unwrap() error { return e.Err }

// publicError carries a message a service chose for the client.
type publicError struct {
	msg string
	err error
}

func (e *publicError) Error() string { return e.err.Error() }
func (e *publicError) Unwrap() error { return e.err }

// WithMessage returns err with msg as the message the client sees instead of
// its class's default. msg must be a fixed text that names no record, value
// or person ("no such principal", not "no principal user:alice").
func WithMessage(err error, msg string) error {
	if err == nil {
		return nil
	}
	return &publicError{msg: msg, err: err}
}

// Status returns the status to answer err with. Internal reports whether the
// error is the server's fault (the code is INTERNAL or UNAVAILABLE), which
// the caller logs at error level; client errors are logged at a lower one.
func Status(err error) (st *status.Status, internal bool) {
	if err == nil {
		return status.New(codes.OK, ""), false
	}
	code, msg := classify(err)
	var pe *publicError
	if errors.As(err, &pe) && code != codes.Internal && code != codes.Unavailable {
		msg = pe.msg
	}
	st = status.New(code, msg)

	var ie *InvalidError
	if code == codes.InvalidArgument && errors.As(err, &ie) && len(ie.Violations) > 0 {
		br := &errdetails.BadRequest{}
		for i, v := range ie.Violations {
			if i == MaxViolations {
				break
			}
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
				Field: v.Field, Description: v.Description,
			})
		}
		if n := len(ie.Violations); n > MaxViolations {
			st = status.New(code, fmt.Sprintf("%s (%d problems; the first %d are listed)", msg, n, MaxViolations))
		}
		if d, err := st.WithDetails(br); err == nil {
			st = d
		}
	}
	var re *RetryError
	if errors.As(err, &re) && re.After > 0 {
		if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(re.After)}); err == nil {
			st = d
		}
	}
	return st, code == codes.Internal || code == codes.Unavailable
}

// RetryAfter returns how long the client should wait before retrying err, if
// err says.
func RetryAfter(err error) (time.Duration, bool) {
	var re *RetryError
	if errors.As(err, &re) && re.After > 0 {
		return re.After, true
	}
	return 0, false
}

// classify picks the code and the default client message of err.
func classify(err error) (codes.Code, string) {
	// A status made by gRPC itself, or by a service on purpose
	// (UNIMPLEMENTED), passes through; its message was written for clients.
	// The gateway's own classes first: an InvalidError may wrap a status
	// whose message quotes the input.
	if isInvalid(err) {
		return codes.InvalidArgument, "the request is invalid"
	}
	// status.FromError would put the wrapping errors' text in the message;
	// take the status's own message instead.
	var gs interface{ GRPCStatus() *status.Status }
	if errors.As(err, &gs) {
		if st := gs.GRPCStatus(); st != nil && st.Code() != codes.OK {
			return st.Code(), st.Message()
		}
	}
	var he *reqsig.HeaderError
	switch {
	case errors.As(err, &he):
		return codes.Unauthenticated, strings.TrimPrefix(he.Error(), "reqsig: ")
	case errors.Is(err, reqsig.ErrNonceStoreFull):
		return codes.ResourceExhausted, "the gateway cannot take more signed requests now; sign the request again and retry later"
	case errors.Is(err, reqsig.ErrStaleTimestamp):
		return codes.Unauthenticated, "X-Qiao-Timestamp is outside the window the gateway accepts; check the client's clock"
	case errors.Is(err, reqsig.ErrReplay):
		return codes.Unauthenticated, "X-Qiao-Nonce already used: sign every request anew"
	case errors.Is(err, reqsig.ErrUnknownKey), errors.Is(err, reqsig.ErrKeyMismatch):
		return codes.Unauthenticated, "unknown or disabled X-Qiao-Principal or X-Qiao-Key-Id"
	case errors.Is(err, reqsig.ErrContentMismatch):
		return codes.Unauthenticated, "the body does not match X-Qiao-Content-SM3"
	case errors.Is(err, reqsig.ErrBadSignature):
		return codes.Unauthenticated, "X-Qiao-Signature does not verify"
	case errors.Is(err, ErrUnauthenticated):
		return codes.Unauthenticated, "unauthenticated"
	case errors.Is(err, ErrPermissionDenied):
		return codes.PermissionDenied, "permission denied"
	case errors.Is(err, ErrResourceExhausted):
		return codes.ResourceExhausted, "resource exhausted"
	case errors.Is(err, ErrUnavailable):
		return codes.Unavailable, "the gateway cannot serve this call now; retry later"
	case errors.Is(err, ErrUnimplemented):
		return codes.Unimplemented, "not implemented by this gateway"
	case errors.Is(err, ErrFailedPrecondition), errors.Is(err, store.ErrConflict):
		return codes.FailedPrecondition, "the request conflicts with the stored record"
	case errors.Is(err, store.ErrNotFound), errors.Is(err, schema.ErrUnknownDataset):
		return codes.NotFound, "not found"
	case errors.Is(err, store.ErrExists):
		return codes.AlreadyExists, "already exists"
	case errors.Is(err, store.ErrInvalid):
		return codes.InvalidArgument, "the request is invalid"
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded, "deadline exceeded"
	case errors.Is(err, context.Canceled):
		return codes.Canceled, "canceled"
	}
	return codes.Internal, "internal error"
}

func isInvalid(err error) bool {
	var ie *InvalidError
	return errors.As(err, &ie)
}
