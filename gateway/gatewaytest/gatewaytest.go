// Package gatewaytest helps tests call a running gateway as a principal
// would: a gRPC client interceptor and an HTTP request helper that sign each
// call with crypto/reqsig, and ways to break a signature on purpose.
//
// It is for tests only. It is not the agencies' push/pull client, which
// belongs with the adapters.
package gatewaytest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/qiao-exchange/qiao/crypto/reqsig"
)

// Tamper changes signature headers after signing, to test refusals; nil
// leaves them alone.
type Tamper func(h *reqsig.Headers)

// SigningInterceptor returns a gRPC client interceptor that signs every
// call with s over the request message's protobuf encoding. Request
// messages have no map fields, so the encoding the interceptor signs is the
// one gRPC sends.
func SigningInterceptor(s *reqsig.Signer, tamper Tamper) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		body, err := proto.Marshal(req.(proto.Message))
		if err != nil {
			return fmt.Errorf("gatewaytest: encoding %s request: %w", method, err)
		}
		h, err := s.Sign(reqsig.GRPCMethod, method, body)
		if err != nil {
			return err
		}
		if tamper != nil {
			tamper(&h)
		}
		return invoker(h.OutgoingContext(ctx), method, req, reply, cc, opts...)
	}
}

// Replayer signs the first call with its Signer and sends those very
// headers with every later call: each call after the first is a replay.
type Replayer struct {
	Signer *reqsig.Signer

	mu      sync.Mutex
	headers *reqsig.Headers
}

// Interceptor returns the gRPC client interceptor that replays.
func (r *Replayer) Interceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		r.mu.Lock()
		if r.headers == nil {
			body, err := proto.Marshal(req.(proto.Message))
			if err != nil {
				r.mu.Unlock()
				return err
			}
			h, err := r.Signer.Sign(reqsig.GRPCMethod, method, body)
			if err != nil {
				r.mu.Unlock()
				return err
			}
			r.headers = &h
		}
		h := *r.headers
		r.mu.Unlock()
		return invoker(h.OutgoingContext(ctx), method, req, reply, cc, opts...)
	}
}

// Unsigned returns a gRPC client interceptor that strips any signature
// metadata: the call goes out unsigned.
func Unsigned() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return invoker(metadata.NewOutgoingContext(ctx, metadata.MD{}), method, req, reply, cc, opts...)
	}
}

// NewRequest returns an HTTP request for url with body (nil for none),
// signed with s unless s is nil, its headers then passed to tamper.
func NewRequest(ctx context.Context, s *reqsig.Signer, method, url string, body []byte, tamper Tamper) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s == nil {
		return req, nil
	}
	h, err := s.Sign(method, req.URL.RequestURI(), body)
	if err != nil {
		return nil, err
	}
	if tamper != nil {
		tamper(&h)
	}
	h.SetHTTP(req.Header)
	return req, nil
}
