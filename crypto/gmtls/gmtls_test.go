package gmtls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	tjgmtls "github.com/tjfoc/gmsm/gmtls"
	tjx509 "github.com/tjfoc/gmsm/x509"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/sm2"
)

// pki is one deployment's SM2 root with a server and two clients.
type pki struct {
	root             *ca.Root
	serverSign       KeyPair
	serverEnc        KeyPair
	agency, agencyE  KeyPair
	user             KeyPair
	rootCertificates []*ca.Certificate
}

func newKey(t *testing.T) *sm2.PrivateKey {
	t.Helper()
	k, err := sm2.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func issue(t *testing.T, r *ca.Root, req ca.Request) (sign, enc KeyPair) {
	t.Helper()
	sk, ek := newKey(t), newKey(t)
	p, err := r.IssuePair(req, sk.PublicKey(), ek.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return KeyPair{p.Sign, sk}, KeyPair{p.Enc, ek}
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	r, err := ca.NewRoot(newKey(t), ca.RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{root: r, rootCertificates: []*ca.Certificate{r.Certificate()}}
	p.serverSign, p.serverEnc = issue(t, r, ca.Request{
		Principal:   "gateway.411528",
		Kind:        ca.KindServer,
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	})
	p.agency, p.agencyE = issue(t, r, ca.Request{Principal: "police.411528", Kind: ca.KindAgency})
	p.user, _ = issue(t, r, ca.Request{Principal: "user:alice", Kind: ca.KindUser})
	return p
}

func (p *pki) server(t *testing.T) *Config {
	t.Helper()
	c, err := ServerConfig(p.serverSign, p.serverEnc, p.rootCertificates)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (p *pki) client(t *testing.T, sign KeyPair, serverName string) *Config {
	t.Helper()
	c, err := ClientConfig(sign, p.rootCertificates, serverName)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type result struct {
	peer *ca.Certificate
	err  error
}

// message is what the tests send.
const message = "案号 (2023)豫1528执123号"

// serve accepts one connection on a loopback listener, completes the
// handshake, echoes one line and reports the peer.
func serve(t *testing.T, cfg *Config) (addr string, done <-chan result) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := cfg.NewListener(inner)
	t.Cleanup(func() { ln.Close() })
	ch := make(chan result, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		peer, err := Handshake(ctx, conn)
		if err != nil {
			ch <- result{err: err}
			return
		}
		// Records may split a message (TLCP sends the first byte of CBC
		// data on its own), so read the whole message.
		buf := make([]byte, len(message))
		_, err = io.ReadFull(conn, buf)
		if err == nil {
			_, err = conn.Write(append([]byte("echo: "), buf...))
		}
		ch <- result{peer: peer, err: err}
	}()
	return inner.Addr().String(), ch
}

func TestHandshakeAndExchange(t *testing.T) {
	p := newPKI(t)
	for _, tc := range []struct {
		name       string
		client     KeyPair
		serverName string
	}{
		{"agency by IP", p.agency, "127.0.0.1"},
		{"user by DNS name", p.user, "localhost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, done := serve(t, p.server(t))
			conn, err := p.client(t, tc.client, tc.serverName).Dial(t.Context(), "tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()

			state := conn.(*tjgmtls.Conn).ConnectionState()
			if state.Version != tjgmtls.VersionGMSSL || state.CipherSuite != tjgmtls.GMTLS_SM2_WITH_SM4_SM3 {
				t.Errorf("version %#x suite %#x, want TLCP 0x0101 with ECC_SM4_SM3", state.Version, state.CipherSuite)
			}
			serverPeer, err := Handshake(t.Context(), conn) // already complete: reports the peer
			if err != nil || serverPeer.Principal() != "gateway.411528" || serverPeer.Purpose() != ca.PurposeSign {
				t.Fatalf("server seen by client: %v, %v", serverPeer, err)
			}
			if len(state.PeerCertificates) != 2 || !state.PeerCertificates[1].Equal(mustTJ(t, p.serverEnc.Cert)) {
				t.Fatalf("server sent %d certificates, want its double certificate", len(state.PeerCertificates))
			}

			if _, err := conn.Write([]byte(message)); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, len("echo: ")+len(message))
			if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "echo: "+message {
				t.Fatalf("read %q, %v", buf, err)
			}
			r := <-done
			if r.err != nil {
				t.Fatal(r.err)
			}
			if !r.peer.Equal(tc.client.Cert) {
				t.Errorf("server saw client %v, want %v", r.peer, tc.client.Cert)
			}
		})
	}
}

// dialRefused dials with client and expects both sides to fail the handshake.
func dialRefused(t *testing.T, server *Config, client *tjgmtls.Config) (clientErr, serverErr error) {
	t.Helper()
	addr, done := serve(t, server)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := (&Config{c: client}).Dial(ctx, "tcp", addr)
	if err == nil {
		// The client may finish before the server's verdict arrives; the
		// first read then fails.
		_, err = conn.Write([]byte("x"))
		if err == nil {
			_, err = conn.Read(make([]byte, 1))
		}
		conn.Close()
	}
	if err == nil {
		t.Fatal("client completed an exchange the server should refuse")
	}
	r := <-done
	if r.err == nil {
		t.Fatalf("server accepted client %v", r.peer)
	}
	return err, r.err
}

func TestServerRefusesClients(t *testing.T) {
	p := newPKI(t)
	other := newPKI(t)

	t.Run("certificate from another root", func(t *testing.T) {
		_, err := dialRefused(t, p.server(t), other.client(t, other.agency, "127.0.0.1").c.Clone())
		if !strings.Contains(err.Error(), "certificate") {
			t.Errorf("server error %v", err)
		}
	})

	t.Run("no certificate", func(t *testing.T) {
		c := p.client(t, p.agency, "127.0.0.1").c.Clone()
		c.Certificates = nil
		_, err := dialRefused(t, p.server(t), c)
		if !strings.Contains(err.Error(), "didn't provide a certificate") {
			t.Errorf("server error %v", err)
		}
	})

	// The TLS library ignores key usage; the Config's check refuses an
	// encryption certificate used to authenticate.
	t.Run("encryption certificate", func(t *testing.T) {
		c := p.client(t, p.agency, "127.0.0.1").c.Clone()
		c.Certificates = []tjgmtls.Certificate{p.agencyE.tlcpCertificate()}
		_, err := dialRefused(t, p.server(t), c)
		if !errors.Is(err, ca.ErrKeyUsage) {
			t.Errorf("server error %v, want ca.ErrKeyUsage", err)
		}
	})

	// The library panics if it selects its unfinished ECDHE suite; the
	// server must refuse a client that offers nothing else.
	t.Run("ECDHE only", func(t *testing.T) {
		c := p.client(t, p.agency, "127.0.0.1").c.Clone()
		c.CipherSuites = []uint16{tjgmtls.GMTLS_ECDHE_SM2_WITH_SM4_SM3}
		_, err := dialRefused(t, p.server(t), c)
		if !strings.Contains(err.Error(), "no cipher suite") {
			t.Errorf("server error %v", err)
		}
	})
}

func TestClientRefusesServers(t *testing.T) {
	p := newPKI(t)
	other := newPKI(t)
	for _, tc := range []struct {
		name       string
		server     *Config
		serverName string
		want       string
	}{
		{"server from another root", other.server(t), "127.0.0.1", "unknown authority"},
		{"wrong server name", p.server(t), "qiao.example.gov.cn", "qiao.example.gov.cn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, done := serve(t, tc.server)
			_, err := p.client(t, p.agency, tc.serverName).Dial(t.Context(), "tcp", addr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("client error %v, want it to mention %q", err, tc.want)
			}
			if r := <-done; r.err == nil {
				t.Fatal("server completed the handshake")
			}
		})
	}

	t.Run("canceled", func(t *testing.T) {
		// A listener that never answers: Dial gives up with the context.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		_, err = p.client(t, p.agency, "127.0.0.1").Dial(ctx, "tcp", ln.Addr().String())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestConfigRefusesMisuse(t *testing.T) {
	p := newPKI(t)
	roots := p.rootCertificates
	swapped := KeyPair{p.serverSign.Cert, p.serverEnc.Key}
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"server key does not match", second(ServerConfig(swapped, p.serverEnc, roots)), ca.ErrKeyMismatch},
		{"server certificates swapped", second(ServerConfig(p.serverEnc, p.serverSign, roots)), ca.ErrKeyUsage},
		{"agency certificate on a server", second(ServerConfig(p.agency, p.agencyE, roots)), ca.ErrKeyUsage},
		{"agency encryption certificate on a server", second(ServerConfig(p.serverSign, p.agencyE, roots)), ca.ErrKeyUsage},
		{"server certificate on a client", second(ClientConfig(p.serverSign, roots, "localhost")), ca.ErrKeyUsage},
		{"encryption certificate on a client", second(ClientConfig(p.agencyE, roots, "localhost")), ca.ErrKeyUsage},
		{"client key does not match", second(ClientConfig(KeyPair{p.agency.Cert, p.user.Key}, roots, "localhost")), ca.ErrKeyMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.want) {
				t.Fatalf("got %v, want %v", tc.err, tc.want)
			}
		})
	}
	otherSign, _ := issue(t, p.root, ca.Request{Principal: "gateway2", Kind: ca.KindServer, DNSNames: []string{"localhost"}})
	if _, err := ServerConfig(otherSign, p.serverEnc, roots); err == nil || !strings.Contains(err.Error(), "gateway2") {
		t.Errorf("sign and enc certificates of two servers: %v", err)
	}
	if _, err := ServerConfig(p.serverSign, p.serverEnc, nil); err == nil {
		t.Error("server without client roots")
	}
	if _, err := ClientConfig(p.agency, roots, ""); err == nil {
		t.Error("client without server name")
	}
	if _, err := ClientConfig(KeyPair{}, roots, "localhost"); err == nil {
		t.Error("client without certificate")
	}
	if _, err := Handshake(t.Context(), &net.TCPConn{}); !errors.Is(err, ErrNotTLCP) {
		t.Errorf("Handshake on a TCP connection: %v", err)
	}
	if _, err := PeerFromContext(t.Context()); !errors.Is(err, ErrNotTLCP) {
		t.Errorf("PeerFromContext without a peer: %v", err)
	}
}

func mustTJ(t *testing.T, c *ca.Certificate) *tjx509.Certificate {
	t.Helper()
	tc, err := tjx509.ParseCertificate(c.DER())
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

func second[T any](_ T, err error) error { return err }

func TestGRPCOverTLCP(t *testing.T) {
	p := newPKI(t)
	seen := make(chan string, 1)
	srv := grpc.NewServer(
		grpc.Creds(p.server(t).TransportCredentials()),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			peer, err := PeerFromContext(ctx)
			if err != nil {
				return nil, err
			}
			seen <- peer.Principal()
			return h(ctx, req)
		}),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Stop()

	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(p.client(t, p.agency, "127.0.0.1").TransportCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("status %v", resp.GetStatus())
	}
	if got := <-seen; got != "police.411528" {
		t.Errorf("server saw %q", got)
	}

	// A client without TLCP gets nothing.
	plain, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	ctx2, cancel2 := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel2()
	if _, err := healthpb.NewHealthClient(plain).Check(ctx2, &healthpb.HealthCheckRequest{}); err == nil {
		t.Error("plaintext client was served")
	}
}

func TestTLS13WithP256Certificate(t *testing.T) {
	rootKey, err := ca.GenerateTLSKey()
	if err != nil {
		t.Fatal(err)
	}
	root, err := ca.NewTLSRoot(rootKey, ca.RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	key, err := ca.GenerateTLSKey()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := root.IssueServer(ca.Request{
		Principal:   "gateway.411528",
		Kind:        ca.KindServer,
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}, &key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	serverCfg, err := TLS13ServerConfig(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", serverCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				buf := make([]byte, 4)
				if _, err := io.ReadFull(conn, buf); err == nil {
					conn.Write(buf)
				}
			}()
		}
	}()

	roots := []*x509.Certificate{root.Certificate()}
	for _, name := range []string{"localhost", "127.0.0.1"} {
		conn, err := tls.Dial("tcp", ln.Addr().String(), TLS13ClientConfig(roots, name))
		if err != nil {
			t.Fatalf("dial %s: %v", name, err)
		}
		state := conn.ConnectionState()
		if state.Version != tls.VersionTLS13 || state.PeerCertificates[0].Subject.CommonName != "gateway.411528" {
			t.Errorf("version %#x, peer %v", state.Version, state.PeerCertificates[0].Subject)
		}
		conn.Write([]byte("ping"))
		buf := make([]byte, 4)
		if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
			t.Errorf("echo %q, %v", buf, err)
		}
		conn.Close()
	}

	// TLS 1.2 clients, clients trusting another root and a key that is not
	// the certificate's are refused.
	old := TLS13ClientConfig(roots, "localhost")
	old.MaxVersion = tls.VersionTLS12
	if conn, err := tls.Dial("tcp", ln.Addr().String(), old); err == nil {
		conn.Close()
		t.Error("TLS 1.2 client accepted")
	}
	otherRoot, _ := ca.NewTLSRoot(key, ca.RootOptions{})
	if conn, err := tls.Dial("tcp", ln.Addr().String(), TLS13ClientConfig([]*x509.Certificate{otherRoot.Certificate()}, "localhost")); err == nil {
		conn.Close()
		t.Error("client trusting another root accepted the server")
	}
	if _, err := TLS13ServerConfig(cert, rootKey); !errors.Is(err, ca.ErrKeyMismatch) {
		t.Errorf("mismatched key: %v", err)
	}
}
