package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/qiao-exchange/qiao/config"
	"github.com/qiao-exchange/qiao/crypto/reqsig"
	"github.com/qiao-exchange/qiao/gateway/authn"
	"github.com/qiao-exchange/qiao/gateway/rpcerr"
)

// admit is the one admission step of every call, on both transports: it
// authenticates the call by its request signature, then checks the caller's
// rate limit, and returns ctx carrying the caller.
func (s *Server) admit(ctx context.Context, transport, method string, req reqsig.Request) (context.Context, error) {
	caller, err := s.auth.Authenticate(ctx, transport, method, req)
	if err != nil {
		return ctx, err
	}
	if ok, wait := s.limiter.allow(caller.Principal); !ok {
		s.metrics.limited.WithLabelValues(transport).Inc()
		return ctx, &rpcerr.RetryError{
			After: wait,
			Err: rpcerr.WithMessage(fmt.Errorf("gateway: %w: principal over its rate limit", rpcerr.ErrResourceExhausted),
				"too many calls from this principal; slow down"),
		}
	}
	return authn.NewContext(ctx, caller), nil
}

// edge turns a call's error into the status answered, once, and logs the
// detail: authentication failures are logged (at a bounded rate) by authn,
// server faults at error level, rate-limit refusals at debug level and other
// refusals at info level.
func (s *Server) edge(ctx context.Context, transport, method string, err error) *status.Status {
	st, internal := rpcerr.Status(err)
	if ae := new(authn.Error); errors.As(err, &ae) {
		// An authentication failure: authn counted and logged it.
		return st
	}
	attrs := []slog.Attr{
		slog.String("transport", transport),
		slog.String("method", method),
		slog.String("code", st.Code().String()),
		slog.String("error", err.Error()),
	}
	if c, ok := authn.FromContext(ctx); ok {
		attrs = append(attrs, slog.String("principal", authn.LogName(c.Principal)))
	}
	level := slog.LevelInfo
	if _, ok := rpcerr.RetryAfter(err); ok {
		// Rate-limit refusals come in floods; qiao_api_rate_limited_total
		// counts them.
		level = slog.LevelDebug
	}
	if internal {
		level = slog.LevelError
	}
	s.log.LogAttrs(ctx, level, "call refused", attrs...)
	return st
}

// record counts an answered call.
func (s *Server) record(transport, method string, code codes.Code, start time.Time, size int) {
	s.metrics.requests.WithLabelValues(transport, method, code.String()).Inc()
	s.metrics.seconds.WithLabelValues(transport, method).Observe(s.now().Sub(start).Seconds())
	if size >= 0 {
		s.metrics.bytes.WithLabelValues(transport, method).Observe(float64(size))
	}
}

// newGRPCServer returns the gRPC server with the services, the codec that
// keeps request bytes, the admission interceptor and the limits.
func (s *Server) newGRPCServer() (*grpc.Server, error) {
	var creds credentials.TransportCredentials
	switch s.opts.Server.GRPCTransport {
	case config.TransportTLCP:
		creds = s.tlcp.TransportCredentials()
	case config.TransportTLS13:
		creds = credentials.NewTLS(s.tls13.Clone())
	default:
		return nil, fmt.Errorf("gateway: gRPC transport %q is not tlcp or tls13", s.opts.Server.GRPCTransport)
	}
	lim := s.opts.Limits
	srv := grpc.NewServer(
		grpc.Creds(creds),
		grpc.ForceServerCodecV2(s.codec),
		grpc.MaxRecvMsgSize(lim.MaxMessageBytes),
		grpc.UnaryInterceptor(s.unary),
		grpc.StreamInterceptor(refuseStreams),
		grpc.ConnectionTimeout(lim.ReadHeaderTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: lim.IdleTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	)
	s.registerServices(srv)
	return srv, nil
}

// unary is the gRPC admission interceptor: it takes the request's bytes as
// received from the codec, admits the call over them, runs the handler and
// maps its error at the edge.
func (s *Server) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := s.now()
	raw, ok := s.codec.Take(req)
	code := codes.OK
	defer func() {
		if p := recover(); p != nil {
			s.log.LogAttrs(ctx, slog.LevelError, "panic in handler",
				slog.String("method", info.FullMethod), slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			resp, err = nil, status.Error(codes.Internal, "internal error")
		}
		if err != nil {
			code = status.Code(err)
		}
		s.record(authn.TransportGRPC, info.FullMethod, code, start, len(raw))
	}()
	if !ok {
		// Every request is decoded by s.codec; a request it did not decode
		// cannot be checked, so it is refused.
		return nil, s.edge(ctx, authn.TransportGRPC, info.FullMethod,
			fmt.Errorf("gateway: request bytes of %s not kept by the codec", info.FullMethod)).Err()
	}
	ctx, err = s.admit(ctx, authn.TransportGRPC, info.FullMethod, reqsig.RequestFromGRPC(ctx, info.FullMethod, raw))
	if err == nil {
		resp, err = handler(ctx, req)
	}
	if err != nil {
		return nil, s.edge(ctx, authn.TransportGRPC, info.FullMethod, err).Err()
	}
	return resp, nil
}

// refuseStreams refuses streaming calls: the API has none, and the codec
// keeps request bytes for unary calls only.
func refuseStreams(any, grpc.ServerStream, *grpc.StreamServerInfo, grpc.StreamHandler) error {
	return status.Error(codes.Unimplemented, "streaming calls are not served")
}
