// Package config is the gateway's one typed configuration: defaults, the YAML
// file (qiao.yaml), QIAO_* environment variables and flags, in rising order of
// precedence, checked by Validate at start-up.
//
// It holds no secrets: keys live in the keystore, and a Vault secret ID is
// read from a file. It is not a registry of per-agency settings; those are
// principals and policies in the state store.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is qiao.yaml. Relative paths are relative to DataDir.
type Config struct {
	// File is the configuration file Load read, as an absolute path; empty
	// for a Config made otherwise. It is not an option.
	File string `yaml:"-"`
	// DataDir holds the deployment: keys/, certs/ and state.
	DataDir string `yaml:"data_dir"`
	// Principal is the gateway's own principal name; its certificates are
	// certs/<principal>.{sign,enc,tls}.pem.
	Principal string `yaml:"principal"`
	// Keystore says where private keys live.
	Keystore Keystore `yaml:"keystore"`
	// PKI names the trust roots.
	PKI PKI `yaml:"pki"`
	// Auth tunes request-signature checks.
	Auth Auth `yaml:"auth"`
	// Store says where the state store is.
	Store Store `yaml:"store"`
	// Schema says where extra dataset schemas are.
	Schema Schema `yaml:"schema"`
	// Evidence says where received envelopes are kept.
	Evidence Evidence `yaml:"evidence"`
	// Warehouse says where the canonical rows are kept.
	Warehouse Warehouse `yaml:"warehouse"`
	// Audit configures the tamper-evident audit log.
	Audit Audit `yaml:"audit"`
	// Policy says which policy bundle decides access.
	Policy Policy `yaml:"policy"`
	// Leads configures where leads are forwarded.
	Leads Leads `yaml:"leads"`
	// Server says where the gateway listens and how it shuts down.
	Server Server `yaml:"server"`
	// Limits bound what one call or one caller can make the gateway do.
	Limits Limits `yaml:"limits"`
	// Log sets logging.
	Log Log `yaml:"log"`
}

// Keystore selects and configures the key backend.
type Keystore struct {
	// Backend is "file" or "vault".
	Backend string `yaml:"backend"`
	// Dir is the file backend's directory.
	Dir string `yaml:"dir"`
	// Vault configures the vault backend.
	Vault Vault `yaml:"vault"`
}

// Vault configures the HashiCorp Vault keystore (KV v2).
type Vault struct {
	Address      string        `yaml:"address"`
	Namespace    string        `yaml:"namespace"`
	CACertFile   string        `yaml:"ca_cert_file"`
	Mount        string        `yaml:"mount"`
	Prefix       string        `yaml:"prefix"`
	Auth         string        `yaml:"auth"`
	TokenFile    string        `yaml:"token_file"`
	RoleID       string        `yaml:"role_id"`
	SecretIDFile string        `yaml:"secret_id_file"`
	Timeout      time.Duration `yaml:"timeout"`
}

// PKI names the CA certificates principals and servers are checked against.
type PKI struct {
	// SM2Root is the SM2 root that issues principals' and TLCP certificates.
	SM2Root string `yaml:"sm2_root"`
	// TLSRoot is the P-256 root that issues the TLS 1.3 server certificate.
	TLSRoot string `yaml:"tls_root"`
	// CertDir holds the issued certificates.
	CertDir string `yaml:"cert_dir"`
}

// Auth tunes request signatures.
type Auth struct {
	// ClockSkew is how far a request's timestamp may be from the gateway's clock.
	ClockSkew time.Duration `yaml:"clock_skew"`
	// NonceCapacity bounds the nonces remembered at once.
	NonceCapacity int `yaml:"nonce_capacity"`
}

// Store says where the state store is.
type Store struct {
	// Path is the SQLite database file of principals, certificates and
	// batch records; created if missing.
	Path string `yaml:"path"`
}

// Schema says where extra dataset schemas are.
type Schema struct {
	// Dir holds schema files (*.yaml) of datasets beyond the built-in ones;
	// empty for none.
	Dir string `yaml:"dir"`
}

// Evidence says where received envelopes are kept.
type Evidence struct {
	// Dir holds every envelope the gateway received, encrypted under a key
	// derived from the storage master key; created (mode 0700) if missing.
	Dir string `yaml:"dir"`
}

// Warehouse says where the canonical rows are kept.
// Audit configures the audit log's checkpoints.
type Audit struct {
	// Origin is the log's name: the first line of every checkpoint and the
	// name of the key that signs them.
	Origin string `yaml:"origin"`
	// CheckpointInterval is how often a signed checkpoint is issued while
	// entries are appended.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
}

// Leads configures the forwarding of leads.
type Leads struct {
	// KafkaBrokers are the Kafka bootstrap brokers, host:port, separated by
	// commas; empty keeps leads in the outbox, served by the API.
	KafkaBrokers string `yaml:"kafka_brokers"`
}

// Brokers returns KafkaBrokers as a list, without blanks.
func (l Leads) Brokers() []string {
	var out []string
	for _, b := range strings.Split(l.KafkaBrokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// Policy configures the policy engine.
type Policy struct {
	// Dir is a directory of Rego files (package qiao) that replaces the
	// built-in bundle; empty for the built-in one. See docs/policy.md.
	Dir string `yaml:"dir"`
	// ReloadInterval is how often Dir is checked for changes; a changed
	// bundle that compiles replaces the one in force, and every reload is
	// audited.
	ReloadInterval time.Duration `yaml:"reload_interval"`
	// DecisionTimeout bounds one decision; a decision that takes longer is
	// a deny.
	DecisionTimeout time.Duration `yaml:"decision_timeout"`
}

type Warehouse struct {
	// Path is the DuckDB database file of the datasets' rows, personal data
	// encrypted; created if missing.
	Path string `yaml:"path"`
}

// Server says where the gateway listens. Addresses are host:port; port 0
// picks a free port.
type Server struct {
	// GRPCAddress is the gRPC listener's address.
	GRPCAddress string `yaml:"grpc_address"`
	// GRPCTransport is the gRPC listener's security: "tlcp" (GM-TLS) or
	// "tls13".
	GRPCTransport string `yaml:"grpc_transport"`
	// RESTTLS13Address is the address of REST and /openapi.json on TLS 1.3;
	// empty disables it.
	RESTTLS13Address string `yaml:"rest_tls13_address"`
	// RESTTLCPAddress is the address of REST and /openapi.json on TLCP;
	// empty disables it.
	RESTTLCPAddress string `yaml:"rest_tlcp_address"`
	// AdminAddress is the plain-HTTP admin listener (/healthz, /readyz,
	// /metrics); it must be on a loopback address.
	AdminAddress string `yaml:"admin_address"`
	// ShutdownTimeout bounds a graceful shutdown: calls in flight get this
	// long to finish before connections are closed.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// TransportTLCP and TransportTLS13 are the values of Server.GRPCTransport.
const (
	TransportTLCP  = "tlcp"
	TransportTLS13 = "tls13"
)

// Limits bound what one call or one caller can make the gateway do.
type Limits struct {
	// MaxMessageBytes is the largest gRPC request message; a REST body may
	// be 4/3 of it plus 64 KiB, since JSON carries bytes as base64.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// RequestsPerSecond is each principal's sustained rate of calls.
	RequestsPerSecond int `yaml:"requests_per_second"`
	// Burst is how many calls a principal may make at once above that rate.
	Burst int `yaml:"burst"`
	// ReadHeaderTimeout bounds the TLS handshake and reading an HTTP
	// request's headers, or a gRPC connection's handshake.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole REST request, headers and body.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// IdleTimeout closes a connection that has carried no call for this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
}

// MaxRESTBodyBytes is the REST body limit that goes with MaxMessageBytes.
func (l Limits) MaxRESTBodyBytes() int64 {
	return int64(l.MaxMessageBytes)/3*4 + 4 + 64<<10
}

// Log sets logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

//go:embed qiao.yaml
var template []byte

// Template returns the documented qiao.yaml that `qiao init` writes: every
// option with its default and what it does.
func Template() []byte { return bytes.Clone(template) }

// Default returns the embedded defaults for a deployment in dataDir.
func Default(dataDir string) Config {
	return Config{
		DataDir:   dataDir,
		Principal: "gateway",
		Keystore: Keystore{
			Backend: "file",
			Dir:     "keys",
			Vault:   Vault{Mount: "secret", Prefix: "qiao/keys", Auth: "token", Timeout: 10 * time.Second},
		},
		PKI:       PKI{SM2Root: "certs/ca-sm2.pem", TLSRoot: "certs/ca-tls.pem", CertDir: "certs"},
		Auth:      Auth{ClockSkew: 300 * time.Second, NonceCapacity: 1 << 20},
		Store:     Store{Path: "state.db"},
		Evidence:  Evidence{Dir: "evidence"},
		Warehouse: Warehouse{Path: "warehouse.duckdb"},
		Audit:     Audit{Origin: "qiao.local/audit", CheckpointInterval: time.Minute},
		Policy:    Policy{ReloadInterval: 10 * time.Second, DecisionTimeout: 250 * time.Millisecond},
		Server: Server{
			GRPCAddress:      "127.0.0.1:7443",
			GRPCTransport:    TransportTLCP,
			RESTTLS13Address: "127.0.0.1:8443",
			RESTTLCPAddress:  "127.0.0.1:8444",
			AdminAddress:     "127.0.0.1:9090",
			ShutdownTimeout:  30 * time.Second,
		},
		Limits: Limits{
			MaxMessageBytes:   16 << 20,
			RequestsPerSecond: 50,
			Burst:             100,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       2 * time.Minute,
			IdleTimeout:       2 * time.Minute,
		},
		Log: Log{Level: "info", Format: "text"},
	}
}

// Load reads path over the defaults, then applies QIAO_* environment
// variables (QIAO_LOG_LEVEL sets log.level), and validates the result.
// Unknown keys in the file are errors, so a misspelt option is not ignored.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c := Default(filepath.Dir(abs))
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	if err := applyEnv(&c, os.LookupEnv); err != nil {
		return Config{}, err
	}
	if c.DataDir != "" && !filepath.IsAbs(c.DataDir) {
		c.DataDir = filepath.Join(filepath.Dir(abs), c.DataDir)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	c.File = abs
	return c, nil
}

// Changed lists the YAML paths of the options whose values differ between a
// and b, in declaration order.
func Changed(a, b Config) []string {
	var va, vb []reflect.Value
	collect := func(dst *[]reflect.Value) func(string, reflect.Value) error {
		return func(_ string, v reflect.Value) error { *dst = append(*dst, v); return nil }
	}
	_ = walk(reflect.ValueOf(&a).Elem(), "", collect(&va))
	_ = walk(reflect.ValueOf(&b).Elem(), "", collect(&vb))
	var out []string
	for i, k := range Keys() {
		if !reflect.DeepEqual(va[i].Interface(), vb[i].Interface()) {
			out = append(out, k)
		}
	}
	return out
}

// Path resolves p against DataDir.
func (c Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.DataDir, p)
}

// Validate reports every invalid option at once, each by its YAML path.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.DataDir == "" {
		bad("data_dir", "must be set")
	}
	if c.Principal == "" {
		bad("principal", "must be set")
	}
	switch c.Keystore.Backend {
	case "file":
		if c.Keystore.Dir == "" {
			bad("keystore.dir", "must be set for the file backend")
		}
	case "vault":
		v := c.Keystore.Vault
		if v.Address == "" {
			bad("keystore.vault.address", "must be set for the vault backend")
		}
		switch v.Auth {
		case "token":
		case "approle":
			if v.RoleID == "" || v.SecretIDFile == "" {
				bad("keystore.vault", "approle auth needs role_id and secret_id_file")
			}
		default:
			bad("keystore.vault.auth", "%q is not token or approle", v.Auth)
		}
	default:
		bad("keystore.backend", "%q is not file or vault", c.Keystore.Backend)
	}
	if c.PKI.SM2Root == "" {
		bad("pki.sm2_root", "must be set")
	}
	if c.PKI.TLSRoot == "" {
		bad("pki.tls_root", "must be set")
	}
	// Request signatures are never accepted further than 300 s from the
	// clock (crypto/reqsig.Window); a larger skew could not be honoured.
	if c.Auth.ClockSkew < time.Second || c.Auth.ClockSkew > 5*time.Minute {
		bad("auth.clock_skew", "%s is outside 1s to 5m", c.Auth.ClockSkew)
	}
	if c.Auth.NonceCapacity < 1000 {
		bad("auth.nonce_capacity", "%d is below 1000", c.Auth.NonceCapacity)
	}
	if c.Store.Path == "" {
		bad("store.path", "must be set")
	}
	if c.Evidence.Dir == "" {
		bad("evidence.dir", "must be set")
	}
	switch {
	case c.Warehouse.Path == "":
		bad("warehouse.path", "must be set")
	case strings.ContainsRune(c.Warehouse.Path, '?'):
		bad("warehouse.path", "must be a file name without '?'")
	}
	if c.Evidence.Dir != "" && c.Warehouse.Path != "" && c.Path(c.Evidence.Dir) == c.Path(c.Warehouse.Path) {
		bad("warehouse.path", "must differ from evidence.dir")
	}
	errs = append(errs, unjoin(c.Server.Validate())...)
	errs = append(errs, unjoin(c.Limits.Validate())...)
	if c.Audit.Origin == "" || strings.ContainsAny(c.Audit.Origin, " \t\n+") {
		bad("audit.origin", "must be set, without spaces or '+'")
	}
	if c.Policy.ReloadInterval < time.Second || c.Policy.ReloadInterval > time.Hour {
		bad("policy.reload_interval", "%s is outside 1s to 1h", c.Policy.ReloadInterval)
	}
	for _, b := range c.Leads.Brokers() {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			bad("leads.kafka_brokers", "%q is not host:port", b)
		}
	}
	if c.Policy.DecisionTimeout < time.Millisecond || c.Policy.DecisionTimeout > 10*time.Second {
		bad("policy.decision_timeout", "%s is outside 1ms to 10s", c.Policy.DecisionTimeout)
	}
	if c.Audit.CheckpointInterval < time.Second || c.Audit.CheckpointInterval > 24*time.Hour {
		bad("audit.checkpoint_interval", "%s is outside 1s to 24h", c.Audit.CheckpointInterval)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q is not text or json", c.Log.Format)
	}
	return errors.Join(errs...)
}

// Validate reports every invalid option of the server section, each by its
// YAML path.
func (s Server) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	checkAddr := func(key, addr string, optional bool) {
		if addr == "" {
			if !optional {
				bad(key, "must be set")
			}
			return
		}
		if _, port, err := net.SplitHostPort(addr); err != nil {
			bad(key, "%q is not host:port", addr)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			bad(key, "%q has no port number", addr)
		}
	}
	checkAddr("server.grpc_address", s.GRPCAddress, false)
	checkAddr("server.rest_tls13_address", s.RESTTLS13Address, true)
	checkAddr("server.rest_tlcp_address", s.RESTTLCPAddress, true)
	checkAddr("server.admin_address", s.AdminAddress, false)
	if host, _, err := net.SplitHostPort(s.AdminAddress); err == nil && !isLoopback(host) {
		bad("server.admin_address", "%q is not a loopback address (127.0.0.1, ::1 or localhost)", s.AdminAddress)
	}
	switch s.GRPCTransport {
	case TransportTLCP, TransportTLS13:
	default:
		bad("server.grpc_transport", "%q is not tlcp or tls13", s.GRPCTransport)
	}
	if s.ShutdownTimeout < time.Second || s.ShutdownTimeout > 10*time.Minute {
		bad("server.shutdown_timeout", "%s is outside 1s to 10m", s.ShutdownTimeout)
	}
	return errors.Join(errs...)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Validate reports every invalid option of the limits section, each by its
// YAML path.
func (l Limits) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if l.MaxMessageBytes < 64<<10 || l.MaxMessageBytes > 1<<30 {
		bad("limits.max_message_bytes", "%d is outside 64 KiB to 1 GiB", l.MaxMessageBytes)
	}
	if l.RequestsPerSecond < 1 {
		bad("limits.requests_per_second", "%d is below 1", l.RequestsPerSecond)
	}
	if l.Burst < 1 {
		bad("limits.burst", "%d is below 1", l.Burst)
	}
	if l.ReadHeaderTimeout < time.Second || l.ReadHeaderTimeout > 5*time.Minute {
		bad("limits.read_header_timeout", "%s is outside 1s to 5m", l.ReadHeaderTimeout)
	}
	if l.ReadTimeout < l.ReadHeaderTimeout || l.ReadTimeout > time.Hour {
		bad("limits.read_timeout", "%s is outside read_header_timeout to 1h", l.ReadTimeout)
	}
	if l.IdleTimeout < time.Second || l.IdleTimeout > time.Hour {
		bad("limits.idle_timeout", "%s is outside 1s to 1h", l.IdleTimeout)
	}
	return errors.Join(errs...)
}

// unjoin returns the errors of errors.Join, or err alone; none for nil.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// EnvName is the environment variable that overrides the option at a YAML
// path: "keystore.vault.address" → QIAO_KEYSTORE_VAULT_ADDRESS.
func EnvName(yamlPath string) string {
	return "QIAO_" + strings.ToUpper(strings.ReplaceAll(yamlPath, ".", "_"))
}

// Keys lists every option's YAML path, in declaration order.
func Keys() []string {
	var keys []string
	walk(reflect.ValueOf(&Config{}).Elem(), "", func(path string, _ reflect.Value) error {
		keys = append(keys, path)
		return nil
	})
	return keys
}

func applyEnv(c *Config, lookup func(string) (string, bool)) error {
	return walk(reflect.ValueOf(c).Elem(), "", func(path string, v reflect.Value) error {
		s, ok := lookup(EnvName(path))
		if !ok {
			return nil
		}
		if err := setScalar(v, s); err != nil {
			return fmt.Errorf("config: %s: %w", EnvName(path), err)
		}
		return nil
	})
}

// walk calls fn for every scalar option under v with its YAML path.
func walk(v reflect.Value, prefix string, fn func(string, reflect.Value) error) error {
	t := v.Type()
	for i := range t.NumField() {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		path := tag
		if prefix != "" {
			path = prefix + "." + tag
		}
		f := v.Field(i)
		if f.Kind() == reflect.Struct {
			if err := walk(f, path, fn); err != nil {
				return err
			}
			continue
		}
		if err := fn(path, f); err != nil {
			return err
		}
	}
	return nil
}

func setScalar(v reflect.Value, s string) error {
	switch {
	case v.Type() == reflect.TypeOf(time.Duration(0)):
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(n))
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		v.SetBool(b)
	default:
		return fmt.Errorf("unsupported option type %s", v.Type())
	}
	return nil
}
