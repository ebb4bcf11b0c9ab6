// Package client is how an agency's side talks to a Qiao gateway: it dials
// the gateway's gRPC API over GM-TLS (TLCP) with the principal's double
// certificate and signs every call with the principal's SM2 key, as
// docs/request-signing.md describes, so callers only see the generated
// service clients.
//
// It speaks only the API: it knows nothing of the gateway's storage or
// internals. Pushing files (readers, batching, retries) and pulling grants
// are built on it; so is every `qiao` command that calls a gateway.
package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"gopkg.in/yaml.v3"

	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/gmtls"
	"github.com/qiao-exchange/qiao/crypto/keystore"
	"github.com/qiao-exchange/qiao/crypto/reqsig"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
)

// Config is what a client needs to reach a gateway as a principal.
type Config struct {
	// Address is the gateway's gRPC address, host:port.
	Address string
	// ServerName is the name the gateway's TLCP certificate must carry;
	// "localhost" when empty.
	ServerName string
	// Principal is the caller, e.g. police.411528 or user:alice.
	Principal string
	// Sign is the principal's signing certificate and key: it signs the
	// TLCP handshake, every request and every pushed envelope.
	Sign gmtls.KeyPair
	// Enc is the principal's encryption certificate and key: TLCP's key
	// exchange, and the key pulled data is sealed to.
	Enc gmtls.KeyPair
	// Roots are the SM2 roots the gateway's certificates chain to.
	Roots []*ca.Certificate
	// GatewaySign is the gateway's signing certificate: pulled data must be
	// signed by it.
	GatewaySign *ca.Certificate
	// GatewayEnc is the gateway's encryption certificate: pushed batches are
	// sealed to it.
	GatewayEnc *ca.Certificate
}

// Validate reports the first missing part of c.
func (c Config) Validate() error {
	switch {
	case c.Address == "":
		return errors.New("client: no gateway address")
	case c.Principal == "":
		return errors.New("client: no principal")
	case c.Sign.Cert == nil || c.Sign.Key == nil:
		return fmt.Errorf("client: %s: no signing certificate and key", c.Principal)
	case c.Enc.Cert == nil || c.Enc.Key == nil:
		return fmt.Errorf("client: %s: no encryption certificate and key", c.Principal)
	case len(c.Roots) == 0:
		return errors.New("client: no SM2 root to verify the gateway with")
	case c.GatewaySign == nil || c.GatewayEnc == nil:
		return errors.New("client: the gateway's signing and encryption certificates are both required")
	}
	if !c.Sign.Cert.PublicKey().Equal(c.Sign.Key.PublicKey()) {
		return fmt.Errorf("client: %s: the signing key does not match its certificate", c.Principal)
	}
	if !c.Enc.Cert.PublicKey().Equal(c.Enc.Key.PublicKey()) {
		return fmt.Errorf("client: %s: the encryption key does not match its certificate", c.Principal)
	}
	return nil
}

// Client is a connection to a gateway as one principal. Its service clients
// sign every call.
type Client struct {
	cfg Config
	cc  *grpc.ClientConn

	Directory exchangev1.DirectoryClient
	Catalogue exchangev1.CatalogueClient
	Datasets  exchangev1.DatasetsClient
	Access    exchangev1.AccessClient
	Audit     exchangev1.AuditClient
	Leads     exchangev1.LeadsClient
}

// Dial connects to the gateway cfg names. The connection is made lazily, on
// the first call.
func Dial(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	name := cfg.ServerName
	if name == "" {
		name = "localhost"
	}
	tlcp, err := gmtls.ClientConfig(cfg.Sign, cfg.Roots, name)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	signer, err := reqsig.NewSigner(reqsig.SignerConfig{Principal: cfg.Principal, Key: cfg.Sign.Key})
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	cc, err := grpc.NewClient(cfg.Address,
		grpc.WithTransportCredentials(tlcp.TransportCredentials()),
		grpc.WithUnaryInterceptor(SigningInterceptor(signer)),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20), grpc.MaxCallSendMsgSize(256<<20)))
	if err != nil {
		return nil, fmt.Errorf("client: dialing %s: %w", cfg.Address, err)
	}
	return &Client{
		cfg:       cfg,
		cc:        cc,
		Directory: exchangev1.NewDirectoryClient(cc),
		Catalogue: exchangev1.NewCatalogueClient(cc),
		Datasets:  exchangev1.NewDatasetsClient(cc),
		Access:    exchangev1.NewAccessClient(cc),
		Audit:     exchangev1.NewAuditClient(cc),
		Leads:     exchangev1.NewLeadsClient(cc),
	}, nil
}

// Config returns the configuration the client was dialed with.
func (c *Client) Config() Config { return c.cfg }

// Close closes the connection.
func (c *Client) Close() error { return c.cc.Close() }

// SigningInterceptor signs every gRPC call with s over the request message's
// protobuf encoding, as docs/request-signing.md describes.
func SigningInterceptor(s *reqsig.Signer) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		m, ok := req.(proto.Message)
		if !ok {
			return fmt.Errorf("client: %s: request %T is not a protobuf message", method, req)
		}
		body, err := proto.Marshal(m)
		if err != nil {
			return fmt.Errorf("client: encoding %s request: %w", method, err)
		}
		h, err := s.Sign(reqsig.GRPCMethod, method, body)
		if err != nil {
			return err
		}
		return invoker(h.OutgoingContext(ctx), method, req, reply, cc, opts...)
	}
}

// FromDeployment reads a client configuration for principal from a
// deployment directory laid out by `qiao init`: keys in dir/keys (the file
// keystore), certificates in dir/certs, the gateway's address from
// dir/qiao.yaml's server.grpc_address (a wildcard host becomes 127.0.0.1).
// It is how the development deployment's agencies and users act; a real
// agency keeps the same files on its own side.
func FromDeployment(ctx context.Context, dir, principal string) (Config, error) {
	cfg := Config{Principal: principal}
	addr, gw, err := deploymentGateway(filepath.Join(dir, "qiao.yaml"))
	if err != nil {
		return cfg, err
	}
	cfg.Address = addr
	ks, err := keystore.NewFile(filepath.Join(dir, "keys"))
	if err != nil {
		return cfg, err
	}
	certs := filepath.Join(dir, "certs")
	for _, half := range []struct {
		name string
		kp   *gmtls.KeyPair
	}{{"sign", &cfg.Sign}, {"enc", &cfg.Enc}} {
		key, err := keystore.LoadSM2(ctx, ks, "principals/"+principal+"/"+half.name)
		if err != nil {
			return cfg, fmt.Errorf("client: %s's %s key: %w", principal, half.name, err)
		}
		cert, err := readCertificate(filepath.Join(certs, principal+"."+half.name+".pem"))
		if err != nil {
			return cfg, err
		}
		*half.kp = gmtls.KeyPair{Cert: cert, Key: key}
	}
	if cfg.GatewaySign, err = readCertificate(filepath.Join(certs, gw+".sign.pem")); err != nil {
		return cfg, err
	}
	if cfg.GatewayEnc, err = readCertificate(filepath.Join(certs, gw+".enc.pem")); err != nil {
		return cfg, err
	}
	data, err := os.ReadFile(filepath.Join(certs, "ca-sm2.pem"))
	if err != nil {
		return cfg, fmt.Errorf("client: SM2 root: %w", err)
	}
	if cfg.Roots, err = ca.ParseCertificatesPEM(data); err != nil {
		return cfg, fmt.Errorf("client: SM2 root: %w", err)
	}
	return cfg, nil
}

// deploymentGateway reads the gateway's principal and gRPC address from a
// qiao.yaml, without the gateway's configuration package: a client knows
// nothing of the gateway's internals.
func deploymentGateway(path string) (addr, principal string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("client: %w", err)
	}
	var y struct {
		Principal string `yaml:"principal"`
		Server    struct {
			GRPCAddress string `yaml:"grpc_address"`
		} `yaml:"server"`
	}
	if err := yaml.Unmarshal(data, &y); err != nil {
		return "", "", fmt.Errorf("client: %s: %w", path, err)
	}
	principal, addr = y.Principal, y.Server.GRPCAddress
	if principal == "" {
		principal = "gateway"
	}
	if addr == "" {
		addr = "127.0.0.1:7443"
	}
	if len(addr) > 0 && addr[0] == ':' {
		addr = "127.0.0.1" + addr
	}
	return addr, principal, nil
}

func readCertificate(path string) (*ca.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	c, err := ca.ParseCertificatePEM(data)
	if err != nil {
		return nil, fmt.Errorf("client: %s: %w", path, err)
	}
	return c, nil
}

// CallTimeout bounds one call when the caller's context has no deadline.
const CallTimeout = 60 * time.Second

// WithTimeout returns ctx bounded by CallTimeout unless it already has a
// deadline.
func WithTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, CallTimeout)
}
