package gateway_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/qiao-exchange/qiao/config"
	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/gmtls"
	"github.com/qiao-exchange/qiao/crypto/reqsig"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/gateway"
	"github.com/qiao-exchange/qiao/gateway/directory"
	"github.com/qiao-exchange/qiao/gateway/gatewaytest"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/schema"
	"github.com/qiao-exchange/qiao/store"
)

// pki is a test deployment's certificate authority and the principals it
// issued double certificates to.
type pki struct {
	root    *ca.Root
	tlsRoot *ca.TLSRoot
	sign    map[string]gmtls.KeyPair
	enc     map[string]gmtls.KeyPair
}

// The principals of the test deployment. hrss has certificates but is
// never registered.
const (
	police = "police.411528"
	court  = "court.411528"
	hrss   = "hrss.411528"
	erin   = "user:erin"
	alice  = "user:alice"
)

var (
	pkiOnce   sync.Once
	sharedPKI *pki
	pkiErr    error
)

// testPKI returns the test deployment's PKI, made once per test binary.
func testPKI(t *testing.T) *pki {
	t.Helper()
	pkiOnce.Do(func() { sharedPKI, pkiErr = newPKI() })
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return sharedPKI
}

func newPKI() (*pki, error) {
	rk, err := sm2.GenerateKey()
	if err != nil {
		return nil, err
	}
	root, err := ca.NewRoot(rk, ca.RootOptions{})
	if err != nil {
		return nil, err
	}
	tk, err := ca.GenerateTLSKey()
	if err != nil {
		return nil, err
	}
	tlsRoot, err := ca.NewTLSRoot(tk, ca.RootOptions{})
	if err != nil {
		return nil, err
	}
	p := &pki{root: root, tlsRoot: tlsRoot, sign: map[string]gmtls.KeyPair{}, enc: map[string]gmtls.KeyPair{}}
	for name, kind := range map[string]ca.Kind{
		"gateway": ca.KindServer, police: ca.KindAgency, court: ca.KindAgency, hrss: ca.KindAgency,
		erin: ca.KindUser, alice: ca.KindUser,
	} {
		req := ca.Request{Principal: name, Kind: kind}
		if kind == ca.KindServer {
			req.DNSNames = []string{"localhost"}
			req.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		}
		sk, err := sm2.GenerateKey()
		if err != nil {
			return nil, err
		}
		ek, err := sm2.GenerateKey()
		if err != nil {
			return nil, err
		}
		pair, err := root.IssuePair(req, sk.PublicKey(), ek.PublicKey())
		if err != nil {
			return nil, err
		}
		p.sign[name] = gmtls.KeyPair{Cert: pair.Sign, Key: sk}
		p.enc[name] = gmtls.KeyPair{Cert: pair.Enc, Key: ek}
	}
	return p, nil
}

func (p *pki) roots() []*ca.Certificate { return []*ca.Certificate{p.root.Certificate()} }

// signer returns a request signer for principal with its registered key.
func (p *pki) signer(t *testing.T, principal string) *reqsig.Signer {
	t.Helper()
	s, err := reqsig.NewSigner(reqsig.SignerConfig{Principal: principal, Key: p.sign[principal].Key})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// env is a running gateway on loopback with its store and clients.
type env struct {
	t      *testing.T
	pki    *pki
	db     *store.DB
	srv    *gateway.Server
	addrs  gateway.Addrs
	reg    *prometheus.Registry
	logs   *syncBuffer
	client *http.Client
	cancel context.CancelFunc
	done   chan error
}

// syncBuffer is a bytes.Buffer safe for concurrent writers: the log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testLimits are small limits, so that tests reach them quickly.
func testLimits() config.Limits {
	return config.Limits{
		MaxMessageBytes:   64 << 10,
		RequestsPerSecond: 1000,
		Burst:             1000,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       time.Minute,
	}
}

// startGateway starts a gateway on loopback with every listener, over a new
// store in which police, court, erin (admin) and alice are registered.
// modify may change the options before the server is made.
func startGateway(t *testing.T, modify func(*gateway.Options)) *env {
	t.Helper()
	p := testPKI(t)
	ctx := t.Context()
	db, err := store.Open(ctx, store.Config{DSN: filepath.Join(t.TempDir(), "state.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	dir, err := directory.New(directory.Config{Store: db, Roots: p.roots()})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []store.Principal{
		{Name: "gateway", Kind: store.KindServer},
		{Name: police, Kind: store.KindAgency, Agency: "police"},
		{Name: court, Kind: store.KindAgency, Agency: "court"},
		{Name: erin, Kind: store.KindUser, Agency: "procuratorate.411528", Roles: []store.Role{store.RoleAdmin}},
		{Name: alice, Kind: store.KindUser, Agency: "procuratorate.411528", Roles: []store.Role{store.RoleRequester}},
	} {
		if _, _, err := dir.Register(ctx, r, p.sign[r.Name].Cert.PEM(), p.enc[r.Name].Cert.PEM()); err != nil {
			t.Fatalf("registering %s: %v", r.Name, err)
		}
	}
	schemas, err := schema.Load("")
	if err != nil {
		t.Fatal(err)
	}
	tk, err := ca.GenerateTLSKey()
	if err != nil {
		t.Fatal(err)
	}
	tlsCert, err := p.tlsRoot.IssueServer(ca.Request{
		Principal: "gateway", Kind: ca.KindServer,
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}, &tk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, pki: p, db: db, reg: prometheus.NewRegistry(), logs: &syncBuffer{}, done: make(chan error, 1)}
	opts := gateway.Options{
		Server: config.Server{
			GRPCAddress:      "127.0.0.1:0",
			GRPCTransport:    config.TransportTLCP,
			RESTTLS13Address: "127.0.0.1:0",
			RESTTLCPAddress:  "127.0.0.1:0",
			AdminAddress:     "127.0.0.1:0",
			ShutdownTimeout:  5 * time.Second,
		},
		Limits:  testLimits(),
		Sign:    p.sign["gateway"],
		Enc:     p.enc["gateway"],
		TLSCert: tlsCert,
		TLSKey:  tk,
		Roots:   p.roots(),
		Store:   db,
		Schemas: schemas,
		Nonces:  reqsig.NewMemoryNonceStore(10000, nil),
		Metrics: e.reg,
		Logger:  slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Ready: []gateway.Check{{Name: "store", Func: func(ctx context.Context) error {
			_, err := db.GetPrincipal(ctx, "gateway")
			return err
		}}},
	}
	if modify != nil {
		modify(&opts)
	}
	srv, err := gateway.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	e.srv, e.addrs = srv, srv.Addrs()
	sctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go func() { e.done <- srv.Serve(sctx) }()
	t.Cleanup(e.stop)
	e.waitReady()
	return e
}

// stop shuts the gateway down and checks that it stopped cleanly.
func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	if e.client != nil {
		// An HTTP/2 client that keeps its connection makes the server wait
		// a second for it on shutdown.
		e.client.CloseIdleConnections()
	}
	e.cancel()
	e.cancel = nil
	select {
	case err := <-e.done:
		if err != nil {
			e.t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		e.t.Error("the gateway did not stop within 10 s")
	}
}

func (e *env) waitReady() {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + e.addrs.Admin.String() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatal("the gateway did not become ready")
}

// conn returns a gRPC connection over TLCP authenticated with principal's
// certificate, whose calls go through the interceptor.
func (e *env) conn(principal string, interceptor grpc.UnaryClientInterceptor) *grpc.ClientConn {
	e.t.Helper()
	cfg, err := gmtls.ClientConfig(e.pki.sign[principal], e.pki.roots(), "127.0.0.1")
	if err != nil {
		e.t.Fatal(err)
	}
	return e.dial(e.addrs.GRPC.String(), cfg.TransportCredentials(), interceptor)
}

func (e *env) dial(addr string, creds credentials.TransportCredentials, interceptor grpc.UnaryClientInterceptor) *grpc.ClientConn {
	e.t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	if interceptor != nil {
		opts = append(opts, grpc.WithUnaryInterceptor(interceptor))
	}
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cc.Close() })
	return cc
}

// directory returns a Directory client signing as principal.
func (e *env) directory(principal string) exchangev1.DirectoryClient {
	return exchangev1.NewDirectoryClient(e.conn(principal, gatewaytest.SigningInterceptor(e.pki.signer(e.t, principal), nil)))
}

// restClient is a plain net/http client on TLS 1.3 trusting the P-256 root.
func (e *env) restClient() *http.Client {
	if e.client == nil {
		roots := []*x509.Certificate{e.pki.tlsRoot.Certificate()}
		e.client = &http.Client{
			Transport: &http.Transport{TLSClientConfig: gmtls.TLS13ClientConfig(roots, "localhost"), ForceAttemptHTTP2: true},
			Timeout:   10 * time.Second,
		}
	}
	return e.client
}

// rest makes a REST call on TLS 1.3 signed as principal ("" for unsigned)
// and returns the status and body.
func (e *env) rest(principal, method, path string, body []byte, tamper gatewaytest.Tamper) (int, http.Header, string) {
	e.t.Helper()
	var s *reqsig.Signer
	if principal != "" {
		s = e.pki.signer(e.t, principal)
	}
	req, err := gatewaytest.NewRequest(e.t.Context(), s, method, "https://"+e.addrs.RESTTLS13.String()+path, body, tamper)
	if err != nil {
		e.t.Fatal(err)
	}
	return do(e.t, e.restClient(), req)
}

func do(t *testing.T, c *http.Client, req *http.Request) (int, http.Header, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// metric returns the value of the sample of name whose labels include
// every pair of want, summed over the other labels.
func (e *env) metric(name string, want map[string]string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

// noPersonalData fails if the log holds any of the strings.
func (e *env) noPersonalData(secrets ...string) {
	e.t.Helper()
	log := e.logs.String()
	for _, s := range secrets {
		if strings.Contains(log, s) {
			e.t.Errorf("the log holds %q:\n%s", s, log)
		}
	}
}

// fakePusher is a Pusher that records what it was given and answers err,
// or a committed batch. It stands in for the push pipeline, which is not
// part of this package.
type fakePusher struct {
	mu    sync.Mutex
	calls []gateway.Push
	err   error
}

func (f *fakePusher) PushBatch(_ context.Context, p gateway.Push) (store.Batch, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, p)
	if f.err != nil {
		return store.Batch{}, false, f.err
	}
	return store.Batch{
		BatchKey: store.BatchKey{Dataset: p.Dataset.ID, Principal: p.Caller.Principal, ID: p.BatchID},
		State:    store.BatchCommitted,
		Rows:     3,
	}, true, nil
}

var _ gateway.Pusher = (*fakePusher)(nil)

var errBoom = errors.New("boom: /var/lib/qiao/state.db is locked by pid 4242")
