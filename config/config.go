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
		PKI:  PKI{SM2Root: "certs/ca-sm2.pem", TLSRoot: "certs/ca-tls.pem", CertDir: "certs"},
		Auth: Auth{ClockSkew: 300 * time.Second, NonceCapacity: 1 << 20},
		Log:  Log{Level: "info", Format: "text"},
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
	return c, nil
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
	if c.Auth.ClockSkew < time.Second || c.Auth.ClockSkew > time.Hour {
		bad("auth.clock_skew", "%s is outside 1s to 1h", c.Auth.ClockSkew)
	}
	if c.Auth.NonceCapacity < 1000 {
		bad("auth.nonce_capacity", "%d is below 1000", c.Auth.NonceCapacity)
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
