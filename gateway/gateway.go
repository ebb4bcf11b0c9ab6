// Package gateway is Qiao's exchange server: the gRPC services of
// api/qiao/exchange/v1, the same services as REST/JSON through grpc-gateway,
// the OpenAPI document, and an admin listener with health, readiness and
// Prometheus metrics.
//
// A Server is composed explicitly from its parts (Options): the listener and
// limit settings of qiao.yaml, the gateway's own certificates and keys, the
// trusted SM2 roots, the state store (through the Store interface, which
// names just what the gateway reads and writes), the dataset schemas, a
// Policy, an optional Pusher, a nonce store, a metrics registry and a logger.
// cmd/qiao builds them from the configuration.
//
// Every call, on either transport, goes through one admission step before
// any service code runs: its SM2 request signature is verified against the
// caller's registered certificate (gateway/authn), then the caller's rate
// limit is checked. On gRPC a unary interceptor does it, over the request
// message's bytes as received; on REST an HTTP middleware does it over the
// body as received, before grpc-gateway decodes anything, because
// grpc-gateway's in-process handlers skip gRPC interceptors. Errors become
// gRPC statuses once, at the edge of each transport, through
// gateway/rpcerr.
//
// It is not the push pipeline (opening envelopes, validating and storing
// rows): that is a Pusher, injected; nor the Access service (requests,
// approvals, grants, pulls: gateway/access), injected too. Nor is it the
// policy engine: pushes are decided by a Policy — EnginePolicy over the
// policy package's engine in qiao serve, the built-in OwnDatasets (agencies
// push their own datasets) when none is given.
package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/qiao-exchange/qiao/config"
	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/gmtls"
	"github.com/qiao-exchange/qiao/crypto/reqsig"
	"github.com/qiao-exchange/qiao/gateway/auditsvc"
	"github.com/qiao-exchange/qiao/gateway/authn"
	"github.com/qiao-exchange/qiao/gateway/catalogue"
	"github.com/qiao-exchange/qiao/gateway/directory"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/schema"
	"github.com/qiao-exchange/qiao/store"
)

// Store is what the gateway reads and writes in the state store: the
// principals and certificates (authentication and the Directory service)
// and the batch records (the Catalogue and Datasets services).
type Store interface {
	authn.Store
	directory.Store
	catalogue.Store
	// GetBatch returns the batch key names, or an error wrapping
	// store.ErrNotFound.
	GetBatch(ctx context.Context, key store.BatchKey) (store.Batch, error)
}

var _ Store = (*store.DB)(nil)

// Auditor is what the gateway's services record in the audit log with:
// *audit.Log is one.
type Auditor interface {
	authn.Auditor
	directory.Auditor
}

// Metrics is the registry the gateway's metrics are registered on and
// served from.
type Metrics interface {
	prometheus.Registerer
	prometheus.Gatherer
}

// Check is one readiness check of /readyz.
type Check struct {
	// Name identifies the check in /readyz's answer, e.g. "store".
	Name string
	// Func returns nil when the part it checks is ready.
	Func func(ctx context.Context) error
}

// Options are the parts a Server is made of.
type Options struct {
	// Server and Limits are qiao.yaml's server and limits sections.
	Server config.Server
	Limits config.Limits
	// ClockSkew is qiao.yaml's auth.clock_skew: how far a request's
	// timestamp may be from the clock, at most reqsig.Window.
	ClockSkew time.Duration

	// Sign and Enc are the gateway's TLCP double certificate with its keys.
	Sign, Enc gmtls.KeyPair
	// TLSCert and TLSKey are the gateway's TLS 1.3 certificate (from the
	// P-256 root) and key.
	TLSCert *x509.Certificate
	TLSKey  *ecdsa.PrivateKey
	// Roots are the SM2 roots that TLCP client certificates and principals'
	// registered certificates must chain to.
	Roots []*ca.Certificate

	// Store is the state store.
	Store Store
	// Schemas are the datasets' schemas.
	Schemas *schema.Registry
	// Policy decides pushes; OwnDatasets when nil.
	Policy Policy
	// Pusher runs the push pipeline; nil answers PushBatch with
	// UNIMPLEMENTED.
	Pusher Pusher
	// Access serves requests, approvals, grants and pulls
	// (gateway/access); nil answers them with UNIMPLEMENTED.
	Access exchangev1.AccessServer
	// Leads serves the models' leads (gateway/leadsvc); nil serves no
	// Leads service.
	Leads exchangev1.LeadsServer
	// Nonces remembers the nonces of signed requests.
	Nonces reqsig.NonceStore
	// Audit is the audit log (*audit.Log): each directory change is
	// recorded in the change's own transaction, failed authentications at
	// a bounded rate. nil records nothing, for tests that keep no audit
	// log. With Audit, Sign.Cert is required: its principal is the actor
	// of directory changes made outside any call. When Audit also serves
	// reads (auditsvc.Log, as *audit.Log does), the Audit service is served.
	Audit Auditor
	// Engine, when set, is the policy engine that decides reads of the
	// audit log (action audit.read) and changes of the directory
	// (principal.manage); without it the auditor and admin roles do.
	Engine Engine
	// Tokens computes identifiers' tokens (*fieldcrypt.Keys) for the Audit
	// service's ComputeToken and the Access service's row filters.
	Tokens auditsvc.Tokens

	// Metrics takes and serves the metrics.
	Metrics Metrics
	// Logger receives the server's log; nil discards it.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Ready are readiness checks besides the gateway's own (listening,
	// not shutting down).
	Ready []Check
}

// Server is a running or runnable gateway. Create it with New, then call
// Listen (optional: Serve listens if needed) and Serve.
type Server struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	auth    *authn.Authenticator
	codec   *authn.Codec
	limiter *rateLimiter
	metrics *metrics

	directory *directory.Service
	auditsvc  *auditsvc.Service // nil without an audit log
	catalogue *catalogue.Service
	datasets  *datasetsService
	access    exchangev1.AccessServer
	leads     exchangev1.LeadsServer

	tlcp  *gmtls.Config
	tls13 *tls.Config
	grpc  *grpc.Server
	rest  http.Handler
	admin http.Handler

	mu        sync.Mutex
	listeners listeners
	ready     atomic.Bool
}

// listeners are the bound sockets; nil when the listener is disabled.
type listeners struct {
	grpc, restTLS13, restTLCP, admin net.Listener
}

// Addrs are the addresses a Server listens on; nil when a listener is
// disabled or not yet bound.
type Addrs struct {
	GRPC      net.Addr
	RESTTLS13 net.Addr
	RESTTLCP  net.Addr
	Admin     net.Addr
}

// New composes a Server from opts. It binds no socket.
func New(opts Options) (*Server, error) {
	switch {
	case opts.Store == nil, opts.Schemas == nil, opts.Nonces == nil, opts.Metrics == nil:
		return nil, errors.New("gateway: Store, Schemas, Nonces and Metrics are required")
	case len(opts.Roots) == 0:
		return nil, errors.New("gateway: no trusted SM2 roots")
	case opts.TLSCert == nil || opts.TLSKey == nil:
		return nil, errors.New("gateway: no TLS 1.3 certificate and key")
	}
	if err := errors.Join(opts.Server.Validate(), opts.Limits.Validate()); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if opts.Policy == nil {
		opts.Policy = OwnDatasets{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:    opts,
		log:     opts.Logger,
		now:     opts.Now,
		codec:   &authn.Codec{},
		limiter: newRateLimiter(opts.Limits.RequestsPerSecond, opts.Limits.Burst, opts.Now),
	}
	var err error
	if s.metrics, err = newMetrics(opts.Metrics); err != nil {
		return nil, err
	}
	if s.auth, err = authn.New(authn.Config{
		Store:      opts.Store,
		Roots:      opts.Roots,
		Nonces:     opts.Nonces,
		ClockSkew:  opts.ClockSkew,
		Now:        opts.Now,
		Logger:     opts.Logger,
		Registerer: opts.Metrics,
		Audit:      opts.Audit,
	}); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	self := ""
	if opts.Sign.Cert != nil {
		self = opts.Sign.Cert.Principal()
	}
	var dp directory.Policy
	if opts.Engine != nil {
		dp = opts.Engine
	}
	if s.directory, err = directory.New(directory.Config{Store: opts.Store, Roots: opts.Roots, Now: opts.Now, Logger: opts.Logger,
		Audit: opts.Audit, Self: self, Policy: dp}); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if l, ok := opts.Audit.(auditsvc.Log); ok {
		var p auditsvc.Policy
		if opts.Engine != nil {
			p = opts.Engine
		}
		if s.auditsvc, err = auditsvc.New(auditsvc.Config{Log: l, Store: opts.Store, Tokens: opts.Tokens,
			MaxExport: opts.Limits.MaxMessageBytes, Policy: p, Logger: opts.Logger}); err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
	}
	if s.catalogue, err = catalogue.New(opts.Schemas, opts.Store); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	s.datasets = &datasetsService{store: opts.Store, schemas: opts.Schemas, policy: opts.Policy, pusher: opts.Pusher,
		audit: opts.Audit, tx: opts.Store.InTx, now: opts.Now, log: opts.Logger}
	s.access = opts.Access
	s.leads = opts.Leads
	if s.access == nil {
		s.access = unservedAccess{}
	}

	if s.tls13, err = gmtls.TLS13ServerConfig(opts.TLSCert, opts.TLSKey); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if opts.Server.GRPCTransport == config.TransportTLCP || opts.Server.RESTTLCPAddress != "" {
		if s.tlcp, err = gmtls.ServerConfig(opts.Sign, opts.Enc, opts.Roots); err != nil {
			return nil, fmt.Errorf("gateway: TLCP: %w", err)
		}
	}
	if s.grpc, err = s.newGRPCServer(); err != nil {
		return nil, err
	}
	if s.rest, err = s.newRESTHandler(); err != nil {
		return nil, err
	}
	s.admin = s.newAdminHandler()
	return s, nil
}

// registerServices registers the services on a gRPC server: the Audit
// service only with an audit log.
func (s *Server) registerServices(r grpc.ServiceRegistrar) {
	exchangev1.RegisterDirectoryServer(r, s.directory)
	if s.auditsvc != nil {
		exchangev1.RegisterAuditServer(r, s.auditsvc)
	}
	exchangev1.RegisterCatalogueServer(r, s.catalogue)
	exchangev1.RegisterDatasetsServer(r, s.datasets)
	exchangev1.RegisterAccessServer(r, s.access)
	if s.leads != nil {
		exchangev1.RegisterLeadsServer(r, s.leads)
	}
}

// Listen binds every enabled listener. Serve calls it if it was not called.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listeners.grpc != nil {
		return nil
	}
	var ls listeners
	bind := func(addr string, into *net.Listener) error {
		if addr == "" {
			return nil
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		*into = l
		return nil
	}
	closeAll := func() {
		for _, l := range []net.Listener{ls.grpc, ls.restTLS13, ls.restTLCP, ls.admin} {
			if l != nil {
				l.Close()
			}
		}
	}
	for _, b := range []struct {
		addr string
		into *net.Listener
	}{
		{s.opts.Server.GRPCAddress, &ls.grpc},
		{s.opts.Server.RESTTLS13Address, &ls.restTLS13},
		{s.opts.Server.RESTTLCPAddress, &ls.restTLCP},
		{s.opts.Server.AdminAddress, &ls.admin},
	} {
		if err := bind(b.addr, b.into); err != nil {
			closeAll()
			return err
		}
	}
	s.listeners = ls
	return nil
}

// Addrs returns the bound addresses.
func (s *Server) Addrs() Addrs {
	s.mu.Lock()
	defer s.mu.Unlock()
	addr := func(l net.Listener) net.Addr {
		if l == nil {
			return nil
		}
		return l.Addr()
	}
	return Addrs{
		GRPC:      addr(s.listeners.grpc),
		RESTTLS13: addr(s.listeners.restTLS13),
		RESTTLCP:  addr(s.listeners.restTLCP),
		Admin:     addr(s.listeners.admin),
	}
}

// Serve serves on every enabled listener until ctx ends or a listener
// fails, then shuts down gracefully: /readyz turns unready, no new call is
// accepted, and calls in flight get the configured shutdown timeout to
// finish before their connections are closed. It returns nil after a
// shutdown that ctx asked for. A Server serves once: after Serve returns it
// cannot serve again.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	ls := s.listeners
	s.mu.Unlock()

	lim := s.opts.Limits
	newHTTP := func(h http.Handler, name string) *http.Server {
		return &http.Server{
			Handler:           h,
			ReadHeaderTimeout: lim.ReadHeaderTimeout,
			ReadTimeout:       lim.ReadTimeout,
			IdleTimeout:       lim.IdleTimeout,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(s.log.Handler().WithAttrs([]slog.Attr{slog.String("listener", name)}), slog.LevelWarn),
		}
	}
	var servers []*http.Server
	errc := make(chan error, 4)
	var wg sync.WaitGroup
	run := func(name string, serve func() error) {
		wg.Go(func() {
			if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) {
				errc <- fmt.Errorf("gateway: %s listener: %w", name, err)
			}
		})
	}

	run("grpc", func() error { return s.grpc.Serve(ls.grpc) })
	if ls.restTLS13 != nil {
		hs := newHTTP(s.rest, "rest-tls13")
		hs.TLSConfig = s.tls13.Clone()
		servers = append(servers, hs)
		run("rest-tls13", func() error { return hs.ServeTLS(ls.restTLS13, "", "") })
	}
	if ls.restTLCP != nil {
		hs := newHTTP(s.rest, "rest-tlcp")
		servers = append(servers, hs)
		run("rest-tlcp", func() error { return hs.Serve(s.tlcp.NewListener(ls.restTLCP)) })
	}
	adminSrv := newHTTP(s.admin, "admin")
	run("admin", func() error { return adminSrv.Serve(ls.admin) })

	s.ready.Store(true)
	s.log.LogAttrs(ctx, slog.LevelInfo, "gateway serving",
		slog.String("grpc", ls.grpc.Addr().String()), slog.String("grpc_transport", s.opts.Server.GRPCTransport),
		slog.String("rest_tls13", addrString(ls.restTLS13)), slog.String("rest_tlcp", addrString(ls.restTLCP)),
		slog.String("admin", ls.admin.Addr().String()))

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		s.log.LogAttrs(ctx, slog.LevelError, "listener failed; shutting down", slog.String("error", err.Error()))
	}
	s.ready.Store(false)
	s.shutdown(servers, adminSrv)
	wg.Wait()
	return err
}

// shutdown stops the servers gracefully within the shutdown timeout, then
// closes what is left.
func (s *Server) shutdown(servers []*http.Server, admin *http.Server) {
	start := s.now()
	timeout := s.opts.Server.ShutdownTimeout
	s.log.LogAttrs(context.Background(), slog.LevelInfo, "gateway shutting down", slog.Duration("timeout", timeout))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	var wg sync.WaitGroup
	wg.Go(func() {
		done := make(chan struct{})
		go func() { s.grpc.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			s.grpc.Stop()
			<-done
		}
	})
	for _, hs := range servers {
		wg.Go(func() {
			if err := hs.Shutdown(ctx); err != nil {
				hs.Close()
			}
		})
	}
	wg.Wait()
	// The admin listener goes last, so that /readyz says "shutting down"
	// for as long as the others drain.
	if err := admin.Shutdown(ctx); err != nil {
		admin.Close()
	}
	s.log.LogAttrs(context.Background(), slog.LevelInfo, "gateway stopped", slog.Duration("took", s.now().Sub(start)))
}

func addrString(l net.Listener) string {
	if l == nil {
		return "disabled"
	}
	return l.Addr().String()
}
