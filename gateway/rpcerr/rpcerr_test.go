package rpcerr_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/qiao-exchange/qiao/crypto/reqsig"
	"github.com/qiao-exchange/qiao/gateway/rpcerr"
	"github.com/qiao-exchange/qiao/schema"
	"github.com/qiao-exchange/qiao/store"
)

// secret stands for what an error's text may hold and a client must never
// see: a path, a record's key, a person.
const secret = "/srv/qiao/state.db user:alice 411528199001011234"

func TestStatus(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("gateway: %s: %w", secret, err) }
	for _, tc := range []struct {
		name     string
		err      error
		code     codes.Code
		internal bool
	}{
		{"missing header", wrap(&reqsig.HeaderError{Header: reqsig.HeaderNonce, Err: reqsig.ErrMissingHeader}), codes.Unauthenticated, false},
		{"stale", wrap(reqsig.ErrStaleTimestamp), codes.Unauthenticated, false},
		{"replay", wrap(reqsig.ErrReplay), codes.Unauthenticated, false},
		{"unknown key", wrap(reqsig.ErrUnknownKey), codes.Unauthenticated, false},
		{"bad signature", wrap(reqsig.ErrBadSignature), codes.Unauthenticated, false},
		{"content", wrap(reqsig.ErrContentMismatch), codes.Unauthenticated, false},
		{"nonce store full", wrap(reqsig.ErrNonceStoreFull), codes.ResourceExhausted, false},
		{"denied", wrap(rpcerr.ErrPermissionDenied), codes.PermissionDenied, false},
		{"limit", wrap(rpcerr.ErrResourceExhausted), codes.ResourceExhausted, false},
		{"conflict", wrap(store.ErrConflict), codes.FailedPrecondition, false},
		{"precondition", wrap(rpcerr.ErrFailedPrecondition), codes.FailedPrecondition, false},
		{"not found", wrap(store.ErrNotFound), codes.NotFound, false},
		{"unknown dataset", wrap(schema.ErrUnknownDataset), codes.NotFound, false},
		{"exists", wrap(store.ErrExists), codes.AlreadyExists, false},
		{"store invalid", wrap(store.ErrInvalid), codes.InvalidArgument, false},
		{"unavailable", wrap(rpcerr.ErrUnavailable), codes.Unavailable, true},
		{"unimplemented", wrap(rpcerr.ErrUnimplemented), codes.Unimplemented, false},
		{"deadline", wrap(context.DeadlineExceeded), codes.DeadlineExceeded, false},
		{"canceled", wrap(context.Canceled), codes.Canceled, false},
		{"anything else", errors.New(secret), codes.Internal, true},
		{"wrapped status", wrap(status.Error(codes.Unimplemented, "method not implemented")), codes.Unimplemented, false},
		{"invalid over status", rpcerr.InvalidField("body", "does not decode", status.Error(codes.InvalidArgument, secret)), codes.InvalidArgument, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, internal := rpcerr.Status(tc.err)
			if st.Code() != tc.code || internal != tc.internal {
				t.Errorf("got %v (internal %v), want %v (internal %v)", st.Code(), internal, tc.code, tc.internal)
			}
			if strings.Contains(st.Message(), "411528") || strings.Contains(st.Message(), "state.db") || strings.Contains(st.Message(), "alice") {
				t.Errorf("message leaks the error's text: %q", st.Message())
			}
			if st.Message() == "" {
				t.Error("empty message")
			}
		})
	}
	if st, _ := rpcerr.Status(nil); st.Code() != codes.OK {
		t.Errorf("nil: %v", st.Code())
	}
	// The header error names the header, never its value.
	st, _ := rpcerr.Status(&reqsig.HeaderError{Header: reqsig.HeaderNonce, Reason: "not base64url", Err: reqsig.ErrMalformedHeader})
	if !strings.Contains(st.Message(), "X-Qiao-Nonce") {
		t.Errorf("header error message %q", st.Message())
	}
}

func TestWithMessage(t *testing.T) {
	st, _ := rpcerr.Status(rpcerr.WithMessage(fmt.Errorf("%s: %w", secret, store.ErrNotFound), "no such principal"))
	if st.Code() != codes.NotFound || st.Message() != "no such principal" {
		t.Errorf("got %v %q", st.Code(), st.Message())
	}
	// A server fault keeps its generic message whatever the service chose.
	st, _ = rpcerr.Status(rpcerr.WithMessage(errors.New(secret), "detail: "+secret))
	if st.Code() != codes.Internal || st.Message() != "internal error" {
		t.Errorf("got %v %q", st.Code(), st.Message())
	}
	if rpcerr.WithMessage(nil, "x") != nil {
		t.Error("WithMessage(nil) is not nil")
	}
}

func TestViolations(t *testing.T) {
	var vs []rpcerr.Violation
	for i := range rpcerr.MaxViolations + 20 {
		vs = append(vs, rpcerr.RowViolation(int64(i+1), "id_number", "check digit does not match"))
	}
	vs = append(vs, rpcerr.RowViolation(0, "", "empty batch"))
	err := fmt.Errorf("push: %w", rpcerr.Invalid(vs...))
	st, internal := rpcerr.Status(err)
	if st.Code() != codes.InvalidArgument || internal {
		t.Fatalf("got %v", st.Code())
	}
	if !strings.Contains(st.Message(), "121 problems") {
		t.Errorf("message %q", st.Message())
	}
	br := st.Details()[0].(*errdetails.BadRequest)
	fv := br.GetFieldViolations()
	if len(fv) != rpcerr.MaxViolations || fv[0].GetField() != "rows[1].id_number" || fv[0].GetDescription() != "check digit does not match" {
		t.Errorf("violations %v", fv[:2])
	}
	if got := rpcerr.RowViolation(0, "", "x").Field; got != "rows[0]" {
		t.Errorf("batch-wide violation field %q", got)
	}
	if !strings.Contains(err.Error(), "and 118 more") {
		t.Errorf("Error() = %q", err.Error())
	}
}

func TestRetry(t *testing.T) {
	err := &rpcerr.RetryError{After: 1500 * time.Millisecond, Err: rpcerr.ErrResourceExhausted}
	st, _ := rpcerr.Status(err)
	ri, ok := st.Details()[0].(*errdetails.RetryInfo)
	if st.Code() != codes.ResourceExhausted || !ok || ri.GetRetryDelay().AsDuration() != 1500*time.Millisecond {
		t.Errorf("got %v %v", st.Code(), st.Details())
	}
	if d, ok := rpcerr.RetryAfter(fmt.Errorf("x: %w", err)); !ok || d != 1500*time.Millisecond {
		t.Errorf("RetryAfter %v %v", d, ok)
	}
	if _, ok := rpcerr.RetryAfter(errors.New("x")); ok {
		t.Error("RetryAfter of a plain error")
	}
}
