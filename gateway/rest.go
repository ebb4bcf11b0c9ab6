package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime/debug"
	"strconv"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/qiao-exchange/qiao/crypto/reqsig"
	"github.com/qiao-exchange/qiao/gateway/authn"
	"github.com/qiao-exchange/qiao/gateway/rpcerr"
	"github.com/qiao-exchange/qiao/gen"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
)

// errBodyTooLarge is a REST body over the limit: RESOURCE_EXHAUSTED, HTTP
// 413.
var errBodyTooLarge = fmt.Errorf("gateway: %w: request body too large", rpcerr.ErrResourceExhausted)

// restCall is what the REST edge learns about a call as it goes: the gRPC
// method once routed, and the code answered.
type restCall struct {
	method string
	code   codes.Code
}

type restCallKey struct{}

func restCallFrom(ctx context.Context) *restCall {
	c, _ := ctx.Value(restCallKey{}).(*restCall)
	return c
}

// restMarshaler encodes and decodes REST bodies: protobuf JSON with
// lowerCamelCase names (proto names are accepted too), every field present
// in answers, unknown fields refused. int64 values are JSON strings.
var restMarshaler = &runtime.JSONPb{
	MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true},
	UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
}

// newRESTHandler returns the REST handler: GET /openapi.json unauthenticated,
// and every other path through restAdmit into grpc-gateway's in-process
// handlers of the four services.
func (s *Server) newRESTHandler() (http.Handler, error) {
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, restMarshaler),
		runtime.WithErrorHandler(s.restError),
		runtime.WithRoutingErrorHandler(s.restRoutingError),
		runtime.WithForwardResponseOption(restAnswered),
		// The method and path that were signed are the ones served: no
		// X-HTTP-Method-Override, no POST-as-GET fallback.
		runtime.WithDisableHTTPMethodOverride(),
		runtime.WithDisablePathLengthFallback(),
		// HTTP headers are not passed on as gRPC metadata: the services
		// learn the caller from the admission step only.
		runtime.WithIncomingHeaderMatcher(func(string) (string, bool) { return "", false }),
	)
	ctx := context.Background()
	for _, register := range []func() error{
		func() error { return exchangev1.RegisterDirectoryHandlerServer(ctx, mux, s.directory) },
		func() error { return exchangev1.RegisterCatalogueHandlerServer(ctx, mux, s.catalogue) },
		func() error { return exchangev1.RegisterDatasetsHandlerServer(ctx, mux, s.datasets) },
		func() error { return exchangev1.RegisterAccessHandlerServer(ctx, mux, s.access) },
	} {
		if err := register(); err != nil {
			return nil, fmt.Errorf("gateway: REST routes: %w", err)
		}
	}
	if s.leads != nil {
		if err := exchangev1.RegisterLeadsHandlerServer(ctx, mux, s.leads); err != nil {
			return nil, fmt.Errorf("gateway: REST routes: %w", err)
		}
	}
	if s.auditsvc != nil {
		if err := exchangev1.RegisterAuditHandlerServer(ctx, mux, s.auditsvc); err != nil {
			return nil, fmt.Errorf("gateway: REST routes: %w", err)
		}
	}
	doc := gen.OpenAPI()
	top := http.NewServeMux()
	top.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
		w.Write(doc)
	})
	top.Handle("/", s.restAdmit(mux))
	return top, nil
}

// restAdmit is the REST admission middleware. It reads the body within the
// limit, admits the call over the method, the request target as sent and
// the body as received — before grpc-gateway parses anything — and passes
// the call on with the caller in its context and the body to read again.
func (s *Server) restAdmit(next http.Handler) http.Handler {
	limit := s.opts.Limits.MaxRESTBodyBytes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		call := &restCall{method: unrouted}
		ctx := context.WithValue(r.Context(), restCallKey{}, call)
		size := -1
		defer func() { s.record(authn.TransportREST, call.method, call.code, start, size) }()

		if h := reqsig.HeadersFromHTTP(r.Header); h.Principal == "" || h.KeyID == "" || h.Timestamp == "" ||
			h.Nonce == "" || h.ContentSM3 == "" || h.Signature == "" {
			// Unsigned: refused on the missing header whatever the body, so
			// the body is not read.
			_, err := s.admit(ctx, authn.TransportREST, r.Method, reqsig.RequestFromHTTP(r, nil))
			if err == nil { // cannot happen; fail closed all the same
				err = fmt.Errorf("gateway: %w: unsigned request", rpcerr.ErrUnauthenticated)
			}
			s.restFail(ctx, w, 0, err)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			if tooBig := new(http.MaxBytesError); errors.As(err, &tooBig) {
				err = rpcerr.WithMessage(errBodyTooLarge,
					fmt.Sprintf("the body is larger than the %d bytes this gateway accepts; push a large export as several batches", limit))
			} else {
				err = rpcerr.InvalidField("body", "could not be read", err)
			}
			s.restFail(ctx, w, 0, err)
			return
		}
		size = len(body)
		ctx, err = s.admit(ctx, authn.TransportREST, r.Method, reqsig.RequestFromHTTP(r, body))
		if err != nil {
			s.restFail(ctx, w, 0, err)
			return
		}
		r = r.WithContext(ctx)
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		defer func() {
			if p := recover(); p != nil {
				s.log.LogAttrs(ctx, slog.LevelError, "panic in handler",
					slog.String("method", call.method), slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
				s.restFail(ctx, w, 0, status.Error(codes.Internal, "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// restAnswered notes a successful answer and its method.
func restAnswered(ctx context.Context, _ http.ResponseWriter, _ proto.Message) error {
	if call := restCallFrom(ctx); call != nil {
		if m, ok := runtime.RPCMethod(ctx); ok {
			call.method = m
		}
		call.code = codes.OK
	}
	return nil
}

// restError is grpc-gateway's error handler: errors of the services, and of
// decoding the request.
func (s *Server) restError(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, _ *http.Request, err error) {
	if call := restCallFrom(ctx); call != nil {
		if m, ok := runtime.RPCMethod(ctx); ok {
			call.method = m
		}
	}
	// grpc-gateway reports a body or parameter it cannot decode as a bare
	// INVALID_ARGUMENT status quoting the input; the client gets a fixed
	// message instead, the log the detail.
	if st, ok := err.(interface{ GRPCStatus() *status.Status }); ok && st.GRPCStatus().Code() == codes.InvalidArgument {
		err = rpcerr.InvalidField("body", "does not decode as the method's request message (protobuf JSON)", err)
	}
	s.restFail(ctx, w, 0, err)
}

// restRoutingError answers a request no route matched.
func (s *Server) restRoutingError(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, _ *http.Request, httpStatus int) {
	var err error
	switch httpStatus {
	case http.StatusMethodNotAllowed:
		err = status.Error(codes.Unimplemented, "method not allowed on this path")
	case http.StatusNotFound:
		err = status.Error(codes.NotFound, "no such path")
	default:
		err = status.Error(codes.InvalidArgument, "bad request path")
	}
	s.restFail(ctx, w, httpStatus, err)
}

// restFail answers a REST call with err's status as JSON ({"code",
// "message", "details"}) under the HTTP status grpc-gateway gives its code,
// or httpStatus if not zero.
func (s *Server) restFail(ctx context.Context, w http.ResponseWriter, httpStatus int, err error) {
	call := restCallFrom(ctx)
	method := unrouted
	if call != nil {
		method = call.method
	}
	st := s.edge(ctx, authn.TransportREST, method, err)
	if call != nil {
		call.code = st.Code()
	}
	if httpStatus == 0 {
		httpStatus = runtime.HTTPStatusFromCode(st.Code())
	}
	if errors.Is(err, errBodyTooLarge) {
		httpStatus = http.StatusRequestEntityTooLarge
	}
	h := w.Header()
	if st.Code() == codes.Unauthenticated {
		h.Set("WWW-Authenticate", reqsig.Scheme)
	}
	if d, ok := rpcerr.RetryAfter(err); ok {
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
	}
	body, merr := restMarshaler.Marshal(st.Proto())
	if merr != nil {
		body = []byte(`{"code":13,"message":"internal error","details":[]}`)
		httpStatus = http.StatusInternalServerError
	}
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(httpStatus)
	w.Write(body)
}
