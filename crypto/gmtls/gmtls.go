// Package gmtls configures Qiao's transport security. Its main part is TLCP
// (GM-TLS, GB/T 38636 / GM/T 0024): SM2 double certificates from crypto/ca,
// mutual authentication, SM4 and SM3, for net listeners, dialers and gRPC.
// Beside it are the TLS 1.3 configurations that use the P-256 server
// certificate, for browsers and clients whose TLS stack has no SM2.
//
// TLCP comes from the GM-TLS library Qiao interoperates with; callers see only
// crypto/ca certificates, crypto/sm2 keys, net.Conn and gRPC credentials.
// Only the ECC_SM4_SM3 cipher suite (0xe013) is offered and accepted: the
// library's ECDHE suite is unfinished. Session tickets are disabled, so every
// connection is a full handshake with certificate checks.
//
// It is not an authorization layer: a completed handshake says who the peer
// is (Handshake, PeerFromContext); what the peer may do is decided by policy.
package gmtls

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"

	tjgmtls "github.com/tjfoc/gmsm/gmtls"
	"github.com/tjfoc/gmsm/gmtls/gmcredentials"
	tjsm2 "github.com/tjfoc/gmsm/sm2"
	tjx509 "github.com/tjfoc/gmsm/x509"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/sm2"
)

// ErrNotTLCP means a connection or gRPC peer did not come through a TLCP
// Config from this package, so it carries no verified certificate. Treat the
// peer as unauthenticated.
var ErrNotTLCP = errors.New("gmtls: not a TLCP connection")

// cipherSuites are the suites offered and accepted: ECC_SM4_SM3 only.
var cipherSuites = []uint16{tjgmtls.GMTLS_SM2_WITH_SM4_SM3}

// KeyPair is a certificate with its private key.
type KeyPair struct {
	Cert *ca.Certificate
	Key  *sm2.PrivateKey
}

// check verifies that the key matches the certificate and that the
// certificate is for purpose and one of kinds.
func (p KeyPair) check(role string, purpose ca.Purpose, kinds ...ca.Kind) error {
	if p.Cert == nil || p.Key == nil {
		return fmt.Errorf("gmtls: %s: certificate and key are both required", role)
	}
	if !p.Cert.PublicKey().Equal(p.Key.PublicKey()) {
		return fmt.Errorf("gmtls: %s %s: %w", role, p.Cert.Principal(), ca.ErrKeyMismatch)
	}
	if p.Cert.Purpose() != purpose {
		return fmt.Errorf("gmtls: %s %s is a %v certificate: %w", role, p.Cert.Principal(), p.Cert.Purpose(), ca.ErrKeyUsage)
	}
	for _, k := range kinds {
		if p.Cert.Kind() == k {
			return nil
		}
	}
	return fmt.Errorf("gmtls: %s %s is a certificate of kind %q, want %v: %w", role, p.Cert.Principal(), p.Cert.Kind(), kinds, ca.ErrKeyUsage)
}

// tlcpCertificate converts a key pair to the TLS library's form.
func (p KeyPair) tlcpCertificate() tjgmtls.Certificate {
	x, y := p.Key.PublicKey().Coordinates()
	key := &tjsm2.PrivateKey{
		PublicKey: tjsm2.PublicKey{Curve: tjsm2.P256Sm2(), X: x, Y: y},
		D:         new(big.Int).SetBytes(p.Key.Scalar()),
	}
	return tjgmtls.Certificate{Certificate: [][]byte{p.Cert.DER()}, PrivateKey: key}
}

// Config is a TLCP configuration for one side of a connection. It is safe
// for concurrent use and must not be copied.
type Config struct {
	c *tjgmtls.Config
}

// ServerConfig returns the configuration of a TLCP server presenting the
// double certificate sign and enc (server certificates, as `qiao ca issue
// --kind server` makes them) and requiring every client to present a
// signing certificate that chains to one of clientRoots; crypto/ca's Verify
// checks it, so expired, foreign and wrong-usage certificates are refused.
func ServerConfig(sign, enc KeyPair, clientRoots []*ca.Certificate) (*Config, error) {
	if err := sign.check("server signing certificate", ca.PurposeSign, ca.KindServer); err != nil {
		return nil, err
	}
	if err := enc.check("server encryption certificate", ca.PurposeEncrypt, ca.KindServer); err != nil {
		return nil, err
	}
	if sign.Cert.Principal() != enc.Cert.Principal() {
		return nil, fmt.Errorf("gmtls: the signing certificate is %s's, the encryption certificate %s's", sign.Cert.Principal(), enc.Cert.Principal())
	}
	pool, err := rootPool(clientRoots)
	if err != nil {
		return nil, err
	}
	roots := append([]*ca.Certificate(nil), clientRoots...)
	return &Config{c: &tjgmtls.Config{
		GMSupport:                &tjgmtls.GMSupport{WorkMode: tjgmtls.ModeGMSSLOnly},
		Certificates:             []tjgmtls.Certificate{sign.tlcpCertificate(), enc.tlcpCertificate()},
		ClientAuth:               tjgmtls.RequireAndVerifyClientCert,
		ClientCAs:                pool,
		CipherSuites:             cipherSuites,
		PreferServerCipherSuites: true,
		SessionTicketsDisabled:   true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*tjx509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("gmtls: client sent no certificate")
			}
			return verifyPeer(raw[0], roots, ca.PurposeSign, ca.KindAgency, ca.KindUser)
		},
	}}, nil
}

// ClientConfig returns the configuration of a TLCP client that
// authenticates with the signing certificate sign (an agency's or a user's)
// and accepts a server only if both of its certificates chain to one of
// serverRoots, are server certificates for the right uses, and name
// serverName (a DNS name or IP address).
func ClientConfig(sign KeyPair, serverRoots []*ca.Certificate, serverName string) (*Config, error) {
	if err := sign.check("client signing certificate", ca.PurposeSign, ca.KindAgency, ca.KindUser); err != nil {
		return nil, err
	}
	if serverName == "" {
		return nil, errors.New("gmtls: client configuration needs the server's name")
	}
	pool, err := rootPool(serverRoots)
	if err != nil {
		return nil, err
	}
	roots := append([]*ca.Certificate(nil), serverRoots...)
	return &Config{c: &tjgmtls.Config{
		GMSupport:    &tjgmtls.GMSupport{WorkMode: tjgmtls.ModeGMSSLOnly},
		Certificates: []tjgmtls.Certificate{sign.tlcpCertificate()},
		RootCAs:      pool,
		ServerName:   serverName,
		CipherSuites: cipherSuites,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*tjx509.Certificate) error {
			if len(raw) < 2 {
				return errors.New("gmtls: server did not send a signing and an encryption certificate")
			}
			if err := verifyPeer(raw[0], roots, ca.PurposeSign, ca.KindServer); err != nil {
				return err
			}
			if err := verifyPeer(raw[1], roots, ca.PurposeEncrypt, ca.KindServer); err != nil {
				return err
			}
			s, _ := ca.ParseCertificate(raw[0])
			e, _ := ca.ParseCertificate(raw[1])
			if s.Principal() != e.Principal() {
				return fmt.Errorf("gmtls: server's signing certificate names %s, its encryption certificate %s", s.Principal(), e.Principal())
			}
			return nil
		},
	}}, nil
}

// rootPool builds the TLS library's pool of trusted roots.
func rootPool(roots []*ca.Certificate) (*tjx509.CertPool, error) {
	if len(roots) == 0 {
		return nil, errors.New("gmtls: no trusted SM2 root certificates")
	}
	pool := tjx509.NewCertPool()
	for _, r := range roots {
		c, err := tjx509.ParseCertificate(r.DER())
		if err != nil {
			return nil, fmt.Errorf("gmtls: root %s: %w", r.Principal(), err)
		}
		pool.AddCert(c)
	}
	return pool, nil
}

// verifyPeer checks a peer certificate with crypto/ca, which adds the key
// usage, kind and principal checks the TLS library does not make.
func verifyPeer(der []byte, roots []*ca.Certificate, purpose ca.Purpose, kinds ...ca.Kind) error {
	c, err := ca.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("gmtls: peer certificate: %w", err)
	}
	id, err := ca.Verify(c, roots, purpose, time.Now())
	if err != nil {
		return fmt.Errorf("gmtls: peer certificate: %w", err)
	}
	for _, k := range kinds {
		if id.Kind == k {
			return nil
		}
	}
	return fmt.Errorf("gmtls: peer %s is of kind %q, want %v: %w", id.Principal, id.Kind, kinds, ca.ErrKeyUsage)
}

// NewListener wraps inner so that accepted connections are TLCP server
// connections. Their handshake runs on first use, or explicitly with
// Handshake.
func (c *Config) NewListener(inner net.Listener) net.Listener {
	return tjgmtls.NewListener(inner, c.c)
}

// Server returns the server side of a TLCP connection over conn.
func (c *Config) Server(conn net.Conn) net.Conn { return tjgmtls.Server(conn, c.c) }

// Client returns the client side of a TLCP connection over conn.
func (c *Config) Client(conn net.Conn) net.Conn { return tjgmtls.Client(conn, c.c) }

// Dial connects to addr and completes the TLCP handshake, giving up when ctx
// ends.
func (c *Config) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("gmtls: dial %s: %w", addr, err)
	}
	conn := c.Client(raw)
	if _, err := Handshake(ctx, conn); err != nil {
		raw.Close()
		return nil, err
	}
	return conn, nil
}

// TransportCredentials returns gRPC transport credentials for this
// configuration: for a server, pass them to grpc.Creds; for a client, to
// grpc.WithTransportCredentials. Handlers learn the peer with
// PeerFromContext.
func (c *Config) TransportCredentials() credentials.TransportCredentials {
	return gmcredentials.NewTLS(c.c)
}

// Handshake completes the TLCP handshake of a connection from NewListener,
// Server or Client, unless it is complete already, giving up when ctx ends.
// It returns the peer's signing certificate, which the Config verified.
func Handshake(ctx context.Context, conn net.Conn) (*ca.Certificate, error) {
	tc, ok := conn.(*tjgmtls.Conn)
	if !ok {
		return nil, fmt.Errorf("%w: %T", ErrNotTLCP, conn)
	}
	// When ctx ends, a deadline in the past aborts the handshake's I/O; the
	// connection is then unusable and the context's error is returned.
	stop := context.AfterFunc(ctx, func() { tc.SetDeadline(time.Unix(1, 0)) })
	err := tc.Handshake()
	if !stop() {
		return nil, fmt.Errorf("gmtls: handshake: %w", ctx.Err())
	}
	if err != nil {
		return nil, fmt.Errorf("gmtls: handshake: %w", err)
	}
	return peerLeaf(tc.ConnectionState())
}

// PeerFromContext returns the verified signing certificate of the peer of a
// gRPC call made over TransportCredentials.
func PeerFromContext(ctx context.Context) (*ca.Certificate, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil, fmt.Errorf("%w: no gRPC peer in context", ErrNotTLCP)
	}
	info, ok := p.AuthInfo.(gmcredentials.TLSInfo)
	if !ok {
		return nil, fmt.Errorf("%w: gRPC peer authenticated by %T", ErrNotTLCP, p.AuthInfo)
	}
	return peerLeaf(info.State)
}

func peerLeaf(state tjgmtls.ConnectionState) (*ca.Certificate, error) {
	if len(state.PeerCertificates) == 0 {
		return nil, fmt.Errorf("%w: peer presented no certificate", ErrNotTLCP)
	}
	return ca.ParseCertificate(state.PeerCertificates[0].Raw)
}

// TLS13ServerConfig returns a TLS 1.3-only server configuration presenting
// cert, a P-256 server certificate from crypto/ca's TLSRoot, with key.
// Clients authenticate by request signatures, not certificates, on this
// transport.
func TLS13ServerConfig(cert *x509.Certificate, key *ecdsa.PrivateKey) (*tls.Config, error) {
	if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, fmt.Errorf("gmtls: TLS certificate %s: %w", cert.Subject.CommonName, ca.ErrKeyMismatch)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}},
	}, nil
}

// TLS13ClientConfig returns a TLS 1.3-only client configuration that trusts
// roots (the P-256 root) and expects the server to be serverName.
func TLS13ClientConfig(roots []*x509.Certificate, serverName string) *tls.Config {
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	return &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, ServerName: serverName}
}
