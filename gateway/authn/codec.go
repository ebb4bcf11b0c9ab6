package authn

import (
	"fmt"
	"sync"

	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// Codec is the gateway's gRPC server codec: protobuf, like gRPC's own, except
// that it keeps the bytes of every request message it decodes, so that the
// request signature is checked over exactly the bytes the client sent rather
// than a re-encoding. Install it with grpc.ForceServerCodecV2; the unary
// interceptor takes the bytes back with Take.
//
// Only unary methods may be served with it: the bytes of a message are kept
// until Take is called with that message, which the unary interceptor does
// for every call whose request decoded.
type Codec struct {
	raw sync.Map // request message (a pointer) → []byte as received
}

var _ encoding.CodecV2 = (*Codec)(nil)

// Name returns "proto": the codec serves the content type application/grpc
// (+proto).
func (c *Codec) Name() string { return grpcproto.Name }

// Marshal encodes a response message as gRPC's protobuf codec does.
func (c *Codec) Marshal(v any) (mem.BufferSlice, error) {
	return encoding.GetCodecV2(grpcproto.Name).Marshal(v)
}

// Unmarshal decodes a request message and keeps a copy of its bytes.
func (c *Codec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("authn: cannot decode into %T, not a protobuf message", v)
	}
	raw := data.Materialize()
	if err := proto.Unmarshal(raw, m); err != nil {
		return err
	}
	c.raw.Store(v, raw)
	return nil
}

// Take returns the bytes msg was decoded from, and forgets them. It reports
// false if the codec did not decode msg.
func (c *Codec) Take(msg any) ([]byte, bool) {
	raw, ok := c.raw.LoadAndDelete(msg)
	if !ok {
		return nil, false
	}
	return raw.([]byte), true
}
