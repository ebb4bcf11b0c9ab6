package reqsig_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/qiao-exchange/qiao/crypto/reqsig"
	"github.com/qiao-exchange/qiao/crypto/sm2"
)

func TestRoundTripHTTP(t *testing.T) {
	e := newEnv(t, 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		v, err := e.verifier.Verify(r.Context(), reqsig.RequestFromHTTP(r, body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "%s %s %s", v.Principal, v.KeyID, v.ContentSM3)
	}))
	defer srv.Close()

	for _, tc := range []struct {
		method, target string
		body           []byte
	}{
		{"POST", "/v1/datasets/police.deaths/batches?region=411528&dry_run=true", []byte(`{"rows":2}`)},
		{"GET", "/v1/batches/b1", nil},
		{"PUT", "/v1/principals/police.411528", []byte{}},
		{"DELETE", "/v1/a%2Fb/%E6%AD%BB%E4%BA%A1?q=%E5%90%8D+x", nil},
		{"patch", "/v1/requests/7", []byte("\x00\xff binary")},
	} {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tc.method, srv.URL+tc.target, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if err := e.signer.SignHTTP(req, tc.body); err != nil {
				t.Fatal(err)
			}
			signed := req.Header.Clone()
			code, msg := do(t, req)
			want := fmt.Sprintf("police.411528 %s %s", e.signer.KeyID(), reqsig.ContentSM3(tc.body))
			if code != http.StatusOK || msg != want {
				t.Fatalf("got %d %q, want 200 %q", code, msg, want)
			}

			// The same request again is a replay.
			again, _ := http.NewRequestWithContext(t.Context(), tc.method, srv.URL+tc.target, bytes.NewReader(tc.body))
			again.Header = signed
			code, msg = do(t, again)
			if code != http.StatusUnauthorized || !strings.Contains(msg, reqsig.ErrReplay.Error()) {
				t.Fatalf("replay: got %d %q", code, msg)
			}
		})
	}

	// A request without signature headers, and one with a header sent twice.
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/v1/batches/b1", nil)
	if code, msg := do(t, req); code != http.StatusUnauthorized || !strings.Contains(msg, "missing header X-Qiao-Principal") {
		t.Fatalf("unsigned: got %d %q", code, msg)
	}
	req, _ = http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/v1/batches/b1", nil)
	if err := e.signer.SignHTTP(req, nil); err != nil {
		t.Fatal(err)
	}
	req.Header.Add(reqsig.HeaderNonce, "AAECAwQFBgcICQoLDA0ODw")
	if code, msg := do(t, req); code != http.StatusUnauthorized || !strings.Contains(msg, "malformed header X-Qiao-Nonce") {
		t.Fatalf("nonce sent twice: got %d %q", code, msg)
	}
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(msg))
}

func TestRoundTripGRPC(t *testing.T) {
	e := newEnv(t, 0)
	var verified atomic.Pointer[reqsig.Verified]
	authn := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		body, err := proto.Marshal(req.(proto.Message))
		if err != nil {
			return nil, status.Error(codes.Internal, "encoding request")
		}
		v, err := e.verifier.Verify(ctx, reqsig.RequestFromGRPC(ctx, info.FullMethod, body))
		if err != nil {
			return nil, status.Error(codes.Unauthenticated, err.Error())
		}
		verified.Store(v)
		return handler(ctx, req)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(authn))
	hs := health.NewServer()
	hs.SetServingStatus("qiao.exchange.v1.Datasets", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	defer srv.Stop()

	conn, err := grpc.NewClient("passthrough:///"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	const method = "/grpc.health.v1.Health/Check"

	for _, req := range []*healthpb.HealthCheckRequest{{}, {Service: "qiao.exchange.v1.Datasets"}} {
		body, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		ctx, err := e.signer.SignGRPC(t.Context(), method, body)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.Check(ctx, req); err != nil {
			t.Fatalf("signed call %q: %v", req.Service, err)
		}
		if v := verified.Load(); v == nil || v.Principal != "police.411528" || v.ContentSM3 != reqsig.ContentSM3(body) {
			t.Fatalf("verified %+v", v)
		}

		// The same metadata again is a replay.
		_, err = client.Check(ctx, req)
		if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), reqsig.ErrReplay.Error()) {
			t.Fatalf("replay: %v", err)
		}
	}

	// Refused: unsigned; signed for another message; a header sent twice.
	_, err = client.Check(t.Context(), &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "missing header X-Qiao-Principal") {
		t.Fatalf("unsigned: %v", err)
	}
	ctx, err := e.signer.SignGRPC(t.Context(), method, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: "x"})
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), reqsig.ErrContentMismatch.Error()) {
		t.Fatalf("other message: %v", err)
	}
	ctx, err = e.signer.SignGRPC(t.Context(), method, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx = metadata.AppendToOutgoingContext(ctx, "x-qiao-timestamp", "2026-11-25T19:22:00Z")
	_, err = client.Check(ctx, &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "malformed header X-Qiao-Timestamp") {
		t.Fatalf("timestamp sent twice: %v", err)
	}
}

func TestHeadersTransport(t *testing.T) {
	h := reqsig.Headers{
		Principal: "police.411528", KeyID: "d94a2fcb88a63e824c32120f09f84377",
		Timestamp: "2026-11-25T19:22:00Z", Nonce: "AAECAwQFBgcICQoLDA0ODw",
		ContentSM3: reqsig.ContentSM3(nil), Signature: "MEUCIQ==",
	}

	hdr := http.Header{}
	hdr.Set(reqsig.HeaderSignature, "stale")
	h.SetHTTP(hdr)
	if got := reqsig.HeadersFromHTTP(hdr); got != h {
		t.Errorf("HTTP: got %+v", got)
	}
	if got := hdr.Get("x-qiao-content-sm3"); got != h.ContentSM3 {
		t.Errorf("HTTP header names are case-insensitive: got %q", got)
	}

	md := h.Metadata()
	for k := range md {
		if k != strings.ToLower(k) {
			t.Errorf("metadata key %q not lower case", k)
		}
	}
	if got := reqsig.HeadersFromMetadata(md); got != h {
		t.Errorf("metadata: got %+v", got)
	}

	// OutgoingContext replaces earlier signature headers and keeps the rest.
	ctx := metadata.AppendToOutgoingContext(t.Context(), "x-qiao-nonce", "old", "x-request-id", "r1")
	out, _ := metadata.FromOutgoingContext(h.OutgoingContext(ctx))
	if got := out.Get("x-qiao-nonce"); len(got) != 1 || got[0] != h.Nonce {
		t.Errorf("nonce: %q", got)
	}
	if got := out.Get("x-request-id"); len(got) != 1 || got[0] != "r1" {
		t.Errorf("other metadata lost: %q", got)
	}
	in := reqsig.RequestFromGRPC(metadata.NewIncomingContext(t.Context(), out), "/qiao.exchange.v1.Datasets/PushBatch", nil)
	if in.Headers != h || in.Method != "POST" || in.Path != "/qiao.exchange.v1.Datasets/PushBatch" {
		t.Errorf("RequestFromGRPC: %+v", in)
	}
	if got := reqsig.RequestFromGRPC(t.Context(), "/m", nil); got.Headers != (reqsig.Headers{}) {
		t.Errorf("no metadata: %+v", got.Headers)
	}
}

// refusal changes a freshly signed request, or the verifier's world, so that
// Verify must refuse it.
type refusal struct {
	name   string
	change func(t *testing.T, e *env, r *reqsig.Request)
	want   error
	header string // for a HeaderError, the header it names
}

func refusals() []refusal {
	set := func(name string, f func(h *reqsig.Headers) *string, v string) refusal {
		return refusal{name: name, change: func(_ *testing.T, _ *env, r *reqsig.Request) { *f(&r.Headers) = v }}
	}
	var cases []refusal
	headers := []struct {
		name string
		f    func(h *reqsig.Headers) *string
	}{
		{reqsig.HeaderPrincipal, func(h *reqsig.Headers) *string { return &h.Principal }},
		{reqsig.HeaderKeyID, func(h *reqsig.Headers) *string { return &h.KeyID }},
		{reqsig.HeaderTimestamp, func(h *reqsig.Headers) *string { return &h.Timestamp }},
		{reqsig.HeaderNonce, func(h *reqsig.Headers) *string { return &h.Nonce }},
		{reqsig.HeaderContentSM3, func(h *reqsig.Headers) *string { return &h.ContentSM3 }},
		{reqsig.HeaderSignature, func(h *reqsig.Headers) *string { return &h.Signature }},
	}
	for _, h := range headers {
		c := set("missing "+h.name, h.f, "")
		c.want, c.header = reqsig.ErrMissingHeader, h.name
		cases = append(cases, c)
	}
	malformed := []struct {
		header int
		name   string
		value  string
	}{
		{0, "principal with a space", "police 411528"},
		{0, "principal with a newline", "police.411528\nx"},
		{0, "principal sent twice", "police.411528, police.411528"},
		{0, "principal too long", strings.Repeat("p", 129)},
		{1, "key ID in upper case", "D94A2FCB88A63E824C32120F09F84377"},
		{1, "key ID short", "d94a2fcb88a63e824c32120f09f8437"},
		{1, "key ID not hex", "g94a2fcb88a63e824c32120f09f84377"},
		{2, "timestamp with fraction", "2026-11-25T19:22:00.5Z"},
		{2, "timestamp with offset", "2026-11-26T03:22:00+08:00"},
		{2, "timestamp without seconds", "2026-11-25T19:22Z"},
		{2, "timestamp lower-case", "2026-11-25t19:22:00z"},
		{2, "timestamp as Unix time", "1795634520"},
		{3, "nonce padded", "AAECAwQFBgcICQoLDA0ODw=="},
		{3, "nonce standard base64", "AAECAwQFBgcICQoLDA0OD+/"},
		{3, "nonce 15 bytes", "AAECAwQFBgcICQoLDA0O"},
		{3, "nonce 65 bytes", strings.Repeat("A", 87)},
		{3, "nonce non-canonical trailing bits", "AAECAwQFBgcICQoLDA0ODx"},
		{3, "nonce with a line break", "AAECAwQFBgcI\nCQoLDA0ODw"},
		{3, "nonce with a carriage return", "AAECAwQFBgcICQoLDA0ODw\r"},
		{4, "content SM3 upper case", strings.ToUpper(reqsig.ContentSM3(nil))},
		{4, "content SM3 SHA-256 length", strings.Repeat("a", 62)},
		{5, "signature base64url", "MEUCIC0w4K8Vs3YtWOBRUZgMdENo5O44I3xtDqovJW9kRLqnAiEAwcn1DrbMwwWGBJgY9MkFOdbjOHhXO5oK2tN9h7C4W7I_"},
		{5, "signature unpadded", "MEUCIQ"},
		{5, "signature with a line break", "MEUCIC0w4K8Vs3YtWOBRUZgMdENo5O44I3xtDqovJW9kRLqnAiEA\nwcn1DrbMwwWGBJgY9MkFOdbjOHhXO5oK2tN9h7C4W7I="},
		{5, "signature too long", strings.Repeat("AAAA", 25)},
	}
	for _, m := range malformed {
		c := set(m.name, headers[m.header].f, m.value)
		c.want, c.header = reqsig.ErrMalformedHeader, headers[m.header].name
		cases = append(cases, c)
	}
	return append(cases,
		refusal{name: "timestamp 301 s old", want: reqsig.ErrStaleTimestamp,
			change: func(_ *testing.T, e *env, _ *reqsig.Request) { e.clock.Advance(301 * time.Second) }},
		refusal{name: "timestamp 301 s ahead", want: reqsig.ErrStaleTimestamp,
			change: func(_ *testing.T, e *env, _ *reqsig.Request) { e.clock.Advance(-301 * time.Second) }},
		refusal{name: "replayed nonce", want: reqsig.ErrReplay,
			change: func(t *testing.T, e *env, r *reqsig.Request) {
				if _, err := e.verifier.Verify(t.Context(), *r); err != nil {
					t.Fatal(err)
				}
			}},
		refusal{name: "unknown principal", want: reqsig.ErrUnknownKey,
			change: func(_ *testing.T, _ *env, r *reqsig.Request) { r.Headers.Principal = "police.411500" }},
		refusal{name: "unknown key", want: reqsig.ErrUnknownKey,
			change: func(t *testing.T, _ *env, r *reqsig.Request) { r.Headers.KeyID = newKey(t).PublicKey().KeyID() }},
		refusal{name: "key ID not the key's", want: reqsig.ErrKeyMismatch,
			change: func(t *testing.T, e *env, r *reqsig.Request) {
				e.keys["police.411528 "+r.Headers.KeyID] = newKey(t).PublicKey()
			}},
		refusal{name: "body altered", want: reqsig.ErrContentMismatch,
			change: func(_ *testing.T, _ *env, r *reqsig.Request) { r.Body = []byte(`{"rows":3}`) }},
		refusal{name: "body dropped", want: reqsig.ErrContentMismatch,
			change: func(_ *testing.T, _ *env, r *reqsig.Request) { r.Body = nil }},
		refusal{name: "content SM3 and body altered together", want: reqsig.ErrBadSignature,
			change: func(_ *testing.T, _ *env, r *reqsig.Request) {
				r.Body = []byte(`{"rows":3}`)
				r.Headers.ContentSM3 = reqsig.ContentSM3(r.Body)
			}},
		refusal{name: "path altered", want: reqsig.ErrBadSignature,
			change: func(_ *testing.T, _ *env, r *reqsig.Request) {
				r.Path = "/v1/datasets/police.deaths/batches?region=411529"
			}},
		refusal{name: "method altered", want: reqsig.ErrBadSignature,
			change: func(_ *testing.T, _ *env, r *reqsig.Request) { r.Method = "PUT" }},
		refusal{name: "timestamp altered within the window", want: reqsig.ErrBadSignature,
			change: func(_ *testing.T, _ *env, r *reqsig.Request) { r.Headers.Timestamp = "2026-11-25T19:22:01Z" }},
		refusal{name: "nonce altered", want: reqsig.ErrBadSignature,
			change: func(_ *testing.T, _ *env, r *reqsig.Request) { r.Headers.Nonce = "AAECAwQFBgcICQoLDA0ODw" }},
		refusal{name: "signed as another principal with the same key", want: reqsig.ErrBadSignature,
			change: func(_ *testing.T, e *env, r *reqsig.Request) {
				e.keys.add("court.411528", e.key.PublicKey())
				r.Headers.Principal = "court.411528"
			}},
		refusal{name: "signed by another key", want: reqsig.ErrBadSignature,
			change: func(t *testing.T, e *env, r *reqsig.Request) {
				sig, err := newKey(t).Sign([]byte(reqsig.CanonicalString(r.Headers, r.Method, r.Path)))
				if err != nil {
					t.Fatal(err)
				}
				r.Headers.Signature = base64.StdEncoding.EncodeToString(sig)
			}},
		refusal{name: "signature not DER", want: reqsig.ErrBadSignature,
			change: func(_ *testing.T, _ *env, r *reqsig.Request) { r.Headers.Signature = "AAAA" }},
		refusal{name: "nonce store full", want: reqsig.ErrNonceStoreFull,
			change: func(t *testing.T, e *env, _ *reqsig.Request) {
				for i := range e.store.Cap() {
					if err := e.store.Remember(t.Context(), "court.411528", fmt.Sprint(i), e.clock.Now().Add(time.Hour)); err != nil {
						t.Fatal(err)
					}
				}
			}},
	)
}

func TestVerifyRefuses(t *testing.T) {
	sentinels := []error{
		reqsig.ErrMissingHeader, reqsig.ErrMalformedHeader, reqsig.ErrStaleTimestamp, reqsig.ErrReplay,
		reqsig.ErrUnknownKey, reqsig.ErrKeyMismatch, reqsig.ErrContentMismatch, reqsig.ErrBadSignature,
		reqsig.ErrNonceStoreFull,
	}
	for _, tc := range refusals() {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 16)
			r := e.request(t, "POST", "/v1/datasets/police.deaths/batches?region=411528", []byte(`{"rows":2}`))
			tc.change(t, e, &r)
			v, err := e.verifier.Verify(t.Context(), r)
			if err == nil {
				t.Fatalf("accepted: %+v", v)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			for _, s := range sentinels {
				if s != tc.want && errors.Is(err, s) {
					t.Errorf("%v also matches %v", err, s)
				}
			}
			var he *reqsig.HeaderError
			if errors.As(err, &he) != (tc.header != "") || tc.header != "" && he.Header != tc.header {
				t.Errorf("HeaderError %+v, want one naming %q", he, tc.header)
			}
			if tc.header != "" && !strings.Contains(err.Error(), tc.header) {
				t.Errorf("message %q does not name %s", err, tc.header)
			}
			for _, secret := range []string{r.Headers.Nonce, r.Headers.Signature} {
				if len(secret) >= 16 && strings.Contains(err.Error(), secret) {
					t.Errorf("message %q echoes a header value", err)
				}
			}
		})
	}
}

func TestVerifyOrder(t *testing.T) {
	ctx := t.Context()
	path := "/qiao.exchange.v1.Datasets/PushBatch"

	t.Run("nonce of a refused request stays usable", func(t *testing.T) {
		e := newEnv(t, 0)
		r := e.request(t, "POST", path, []byte("batch"))
		bad := r
		bad.Body = []byte("forged")
		if _, err := e.verifier.Verify(ctx, bad); !errors.Is(err, reqsig.ErrContentMismatch) {
			t.Fatalf("forged body: %v", err)
		}
		bad = r
		bad.Headers.Signature = "AAAA"
		if _, err := e.verifier.Verify(ctx, bad); !errors.Is(err, reqsig.ErrBadSignature) {
			t.Fatalf("bad signature: %v", err)
		}
		if e.store.Len() != 0 {
			t.Fatalf("refused requests stored %d nonces", e.store.Len())
		}
		if _, err := e.verifier.Verify(ctx, r); err != nil {
			t.Fatalf("the genuine request after forgeries with its nonce: %v", err)
		}
	})

	t.Run("timestamp checked before nonce", func(t *testing.T) {
		e := newEnv(t, 0)
		r := e.request(t, "POST", path, nil)
		if _, err := e.verifier.Verify(ctx, r); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(Window + time.Second)
		if _, err := e.verifier.Verify(ctx, r); !errors.Is(err, reqsig.ErrStaleTimestamp) {
			t.Fatalf("stale replay: got %v, want ErrStaleTimestamp", err)
		}
	})

	t.Run("resolver and store failures refuse", func(t *testing.T) {
		down := errors.New("registry unreachable")
		e := newEnv(t, 0)
		v, err := reqsig.NewVerifier(reqsig.VerifierConfig{
			Keys: reqsig.KeyResolverFunc(func(context.Context, string, string) (*sm2.PublicKey, error) {
				return nil, down
			}),
			Nonces: e.store, Now: e.clock.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, e.request(t, "POST", path, nil)); !errors.Is(err, down) || errors.Is(err, reqsig.ErrUnknownKey) {
			t.Fatalf("resolver down: %v", err)
		}
		v, _ = reqsig.NewVerifier(reqsig.VerifierConfig{
			Keys: reqsig.KeyResolverFunc(func(context.Context, string, string) (*sm2.PublicKey, error) {
				return nil, nil
			}),
			Nonces: e.store, Now: e.clock.Now,
		})
		if _, err := v.Verify(ctx, e.request(t, "POST", path, nil)); !errors.Is(err, reqsig.ErrUnknownKey) {
			t.Fatalf("resolver returned no key: %v", err)
		}
		v, _ = reqsig.NewVerifier(reqsig.VerifierConfig{Keys: e.keys, Nonces: failingStore{down}, Now: e.clock.Now})
		if _, err := v.Verify(ctx, e.request(t, "POST", path, nil)); !errors.Is(err, down) {
			t.Fatalf("store down: %v", err)
		}
	})

	t.Run("nonce remembered for twice the window", func(t *testing.T) {
		e := newEnv(t, 0)
		rec := &recordingStore{}
		v, _ := reqsig.NewVerifier(reqsig.VerifierConfig{Keys: e.keys, Nonces: rec, Now: e.clock.Now})
		r := e.request(t, "GET", "/v1/batches/b1", nil)
		e.clock.Advance(-Window) // the request's timestamp is a full window ahead
		if _, err := v.Verify(ctx, r); err != nil {
			t.Fatal(err)
		}
		if want := e.clock.Now().Add(600 * time.Second); !rec.until.Equal(want) || rec.principal != "police.411528" || rec.nonce != r.Headers.Nonce {
			t.Fatalf("Remember(%q, %q, %v), want until %v", rec.principal, rec.nonce, rec.until, want)
		}
		ts, _ := time.Parse(time.RFC3339, r.Headers.Timestamp)
		if last := ts.Add(Window); rec.until.Before(last) {
			t.Fatalf("nonce forgotten at %v, before its timestamp stops being accepted at %v", rec.until, last)
		}
	})
}

// Window is the acceptance window, restated so that a change to the
// constant shows up in these tests.
const Window = 300 * time.Second

func TestWindowEdges(t *testing.T) {
	if reqsig.Window != Window || reqsig.NonceLifetime != 2*Window {
		t.Fatalf("Window %v, NonceLifetime %v", reqsig.Window, reqsig.NonceLifetime)
	}
	for _, tc := range []struct {
		offset time.Duration // verifier's clock minus the timestamp
		ok     bool
	}{
		{-301 * time.Second, false},
		{-300*time.Second - time.Millisecond, false},
		{-300 * time.Second, true},
		{-299 * time.Second, true},
		{0, true},
		{299 * time.Second, true},
		{300 * time.Second, true},
		{300*time.Second + time.Millisecond, false},
		{301 * time.Second, false},
	} {
		t.Run(tc.offset.String(), func(t *testing.T) {
			e := newEnv(t, 0)
			r := e.request(t, "GET", "/v1/catalogue", nil)
			e.clock.Advance(tc.offset)
			_, err := e.verifier.Verify(t.Context(), r)
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && !errors.Is(err, reqsig.ErrStaleTimestamp) {
				t.Fatalf("got %v, want ErrStaleTimestamp", err)
			}
		})
	}
}

func TestConcurrentReplays(t *testing.T) {
	e := newEnv(t, 0)
	for round := range 10 {
		r := e.request(t, "POST", "/qiao.exchange.v1.Datasets/PushBatch", []byte(fmt.Sprint("batch ", round)))
		var ok, replays atomic.Int32
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				switch _, err := e.verifier.Verify(context.Background(), r); {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, reqsig.ErrReplay):
					replays.Add(1)
				default:
					t.Errorf("unexpected: %v", err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 1 || replays.Load() != 15 {
			t.Fatalf("round %d: %d accepted, %d replays; want 1 and 15", round, ok.Load(), replays.Load())
		}
	}
}

func TestSigner(t *testing.T) {
	key := exampleKey(t)
	for _, p := range []string{"", "police 411528", "警察", strings.Repeat("a", 129), "a\nb"} {
		if _, err := reqsig.NewSigner(reqsig.SignerConfig{Principal: p, Key: key}); err == nil {
			t.Errorf("principal %q accepted", p)
		}
	}
	for _, p := range []string{"police.411528", "user:alice", "model:medins.third_party_injury", "a@b-c_d"} {
		if _, err := reqsig.NewSigner(reqsig.SignerConfig{Principal: p, Key: key}); err != nil {
			t.Errorf("principal %q: %v", p, err)
		}
	}
	if _, err := reqsig.NewSigner(reqsig.SignerConfig{Principal: "police.411528"}); err == nil {
		t.Error("no key accepted")
	}
	if _, err := reqsig.NewVerifier(reqsig.VerifierConfig{Nonces: reqsig.NewMemoryNonceStore(0, nil)}); err == nil {
		t.Error("verifier without KeyResolver accepted")
	}
	if _, err := reqsig.NewVerifier(reqsig.VerifierConfig{Keys: keyring{}}); err == nil {
		t.Error("verifier without NonceStore accepted")
	}

	s, err := reqsig.NewSigner(reqsig.SignerConfig{Principal: "police.411528", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][2]string{
		{"", "/v1"}, {"GE T", "/v1"}, {"GET\n", "/v1"}, {"GET", ""}, {"GET", "v1/batches"},
		{"GET", "/v1/a b"}, {"GET", "/v1/\n"}, {"GET", "/v1/死亡"},
	} {
		if _, err := s.Sign(bad[0], bad[1], nil); err == nil {
			t.Errorf("Sign(%q, %q) accepted", bad[0], bad[1])
		}
	}

	before := time.Now().UTC().Truncate(time.Second)
	h, err := s.Sign("post", "/v1/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := time.Parse(time.RFC3339, h.Timestamp)
	if err != nil || ts.Before(before) || ts.After(time.Now()) || !strings.HasSuffix(h.Timestamp, "Z") || len(h.Timestamp) != 20 {
		t.Errorf("timestamp %q (%v)", h.Timestamp, err)
	}
	if n, err := base64.RawURLEncoding.DecodeString(h.Nonce); err != nil || len(n) != 16 {
		t.Errorf("nonce %q: %d bytes, %v", h.Nonce, len(n), err)
	}
	if h.ContentSM3 != "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b" {
		t.Errorf("empty body SM3 %s", h.ContentSM3)
	}
	if h2, _ := s.Sign("POST", "/v1/x", nil); h2.Nonce == h.Nonce {
		t.Error("nonce repeated")
	}
	if err := key.PublicKey().Verify([]byte(reqsig.CanonicalString(h, "POST", "/v1/x")), mustB64(t, h.Signature)); err != nil {
		t.Errorf("lower-case method is signed upper-cased: %v", err)
	}

	// A failing nonce source fails Sign.
	s, _ = reqsig.NewSigner(reqsig.SignerConfig{Principal: "police.411528", Key: key, Rand: strings.NewReader("short")})
	if _, err := s.Sign("GET", "/v1", nil); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short nonce source: %v", err)
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCanonicalString(t *testing.T) {
	h := reqsig.Headers{Principal: "p", KeyID: "k", Timestamp: "t", Nonce: "n", ContentSM3: "c", Signature: "ignored"}
	if got, want := reqsig.CanonicalString(h, "get", "/a?b=c"), "QIAO-SM2-SM3\np\nk\nt\nn\nGET\n/a?b=c\nc"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// Only ASCII letters are upper-cased: U+017F (ſ) upper-cases to S in Unicode.
	if got := reqsig.CanonicalString(h, "poſt", "/"); strings.Contains(got, "POST") {
		t.Errorf("non-ASCII method folded: %q", got)
	}
}

type failingStore struct{ err error }

func (f failingStore) Remember(context.Context, string, string, time.Time) error { return f.err }

type recordingStore struct {
	principal, nonce string
	until            time.Time
}

func (r *recordingStore) Remember(_ context.Context, principal, nonce string, until time.Time) error {
	r.principal, r.nonce, r.until = principal, nonce, until
	return nil
}
