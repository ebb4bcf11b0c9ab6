// Package vault is the HashiCorp Vault backend of keystore.Keystore: keys
// are PEM documents in a KV version 2 secrets engine, read and created over
// Vault's HTTP API with token or AppRole authentication.
//
// A key called gateway/sign is the secret <mount>/data/<prefix>/gateway/sign
// (by default secret/data/qiao/keys/gateway/sign) with the PEM in its field
// "pem". Create writes with check-and-set 0, so Vault itself refuses to
// overwrite a key; the policy in docs/keystore.md grants "create" but not
// "update" on the keys, so a token cannot overwrite one either.
//
// The backend fails closed: an unreachable or sealed Vault is ErrUnavailable,
// a refused token or policy is ErrDenied, and neither is ever taken for a
// missing key. It is not a general Vault client: it reads and creates keys
// and lists their names, nothing else.
package vault

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/qiao-exchange/qiao/crypto/keystore"
)

var (
	// ErrUnavailable means Vault could not be reached, timed out, is sealed
	// or answered with a server error. Nothing is known about the key: refuse
	// the operation that needed it (fail closed), answer 503 Service
	// Unavailable, and retry later.
	ErrUnavailable = errors.New("vault keystore: Vault unavailable")
	// ErrDenied means Vault refused the credentials (an invalid, expired or
	// revoked token, a wrong AppRole secret ID) or the policy does not grant
	// the path. Retrying does not help: fix the credentials or attach the
	// policy of docs/keystore.md.
	ErrDenied = errors.New("vault keystore: permission denied")
)

// Auth methods of Config.Auth.
const (
	AuthToken   = "token"
	AuthAppRole = "approle"
)

// Defaults of Config.
const (
	DefaultMount        = "secret"
	DefaultPrefix       = "qiao/keys"
	DefaultAppRoleMount = "approle"
	DefaultTimeout      = 10 * time.Second
	DefaultMaxRetries   = 2
)

// Config configures the Vault backend. It holds no secret: a token or an
// AppRole secret ID is read from a file or an environment variable, never
// from a flag or the configuration file.
type Config struct {
	// Address is Vault's URL, e.g. https://vault.example.internal:8200.
	// Plain http is accepted only for a loopback address.
	Address string
	// Namespace is the Vault Enterprise namespace; empty for none.
	Namespace string
	// Mount is the path of the KV version 2 secrets engine. Default "secret".
	Mount string
	// Prefix is the path under the mount that holds the keys. Default
	// "qiao/keys".
	Prefix string

	// Auth is AuthToken (the default) or AuthAppRole.
	Auth string
	// TokenFile is a file holding the Vault token (mode 0600 or stricter).
	// Empty means the environment variable VAULT_TOKEN.
	TokenFile string
	// AppRoleMount is where the AppRole auth method is mounted. Default
	// "approle".
	AppRoleMount string
	// RoleID is the AppRole role ID (an identifier, not a secret).
	RoleID string
	// SecretIDFile is a file holding the AppRole secret ID (mode 0600 or
	// stricter). Exactly one of SecretIDFile and SecretIDEnv is set.
	SecretIDFile string
	// SecretIDEnv names an environment variable holding the secret ID.
	SecretIDEnv string

	// CACertFile is a PEM file of the CAs that issued Vault's TLS
	// certificate. Empty means the system's roots.
	CACertFile string
	// TLSServerName is the name checked in Vault's certificate, if not the
	// host of Address.
	TLSServerName string
	// Timeout bounds each request to Vault, retries included. Default 10s.
	Timeout time.Duration
	// MaxRetries is how often a request that could not connect or got a 5xx
	// answer is retried. 0 means DefaultMaxRetries; negative means never.
	MaxRetries int
}

// Validate checks the configuration without contacting Vault or reading
// the credential files.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("vault keystore: "+format, args...))
	}
	if c.Address == "" {
		bad("address must be set")
	} else if u, err := url.Parse(c.Address); err != nil || u.Host == "" {
		bad("address %q is not a URL like https://vault.example.internal:8200", c.Address)
	} else {
		switch u.Scheme {
		case "https":
		case "http":
			if !isLoopback(u.Hostname()) {
				bad("address %q: plain http would send the token and the keys in clear; use https (http is allowed on loopback only)", c.Address)
			}
		default:
			bad("address %q: scheme must be https", c.Address)
		}
	}
	if c.Mount != "" && !validPath(c.Mount) {
		bad("mount %q is not a path of segments of letters, digits, '.', '_', ':' or '-'", c.Mount)
	}
	if c.Prefix != "" && keystore.ValidName(c.Prefix) != nil {
		bad("prefix %q is not a valid key path (lower-case segments separated by '/')", c.Prefix)
	}
	if c.AppRoleMount != "" && !validPath(c.AppRoleMount) {
		bad("approle mount %q is not a valid path", c.AppRoleMount)
	}
	switch c.Auth {
	case "", AuthToken:
		if c.RoleID != "" || c.SecretIDFile != "" || c.SecretIDEnv != "" {
			bad("role ID and secret ID are set but auth is %q; set auth to %q", AuthToken, AuthAppRole)
		}
	case AuthAppRole:
		if c.RoleID == "" {
			bad("approle auth needs a role ID")
		}
		if (c.SecretIDFile == "") == (c.SecretIDEnv == "") {
			bad("approle auth needs exactly one of a secret ID file and a secret ID environment variable")
		}
		if c.TokenFile != "" {
			bad("a token file is set but auth is %q", AuthAppRole)
		}
	default:
		bad("auth %q is not %q or %q", c.Auth, AuthToken, AuthAppRole)
	}
	if c.Timeout < 0 {
		bad("timeout %s is negative", c.Timeout)
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Mount == "" {
		c.Mount = DefaultMount
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Auth == "" {
		c.Auth = AuthToken
	}
	if c.AppRoleMount == "" {
		c.AppRoleMount = DefaultAppRoleMount
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	return c
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validPath reports whether p is a Vault path of plain segments.
func validPath(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for _, r := range seg {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:-", r)
			if !ok {
				return false
			}
		}
	}
	return true
}

// Vault is the Vault backend. It is safe for concurrent use.
type Vault struct {
	cfg    Config
	client *api.Client // carries the current token
	login  *api.Client // carries no token; for AppRole login
	now    func() time.Time

	mu        sync.Mutex // guards the token's lifetime below
	ttl       time.Duration
	renewAt   time.Time // zero: the token does not expire
	expiresAt time.Time
	renewable bool
}

// New connects to Vault as cfg says: it logs in (AppRole) or checks the
// token (token auth), and checks that the mount is a KV version 2 engine.
// An unreachable Vault is ErrUnavailable and refused credentials ErrDenied,
// so a gateway with a misconfigured keystore does not start.
func New(ctx context.Context, cfg Config) (*Vault, error) {
	return newVault(ctx, cfg, time.Now)
}

// newVault is New with a clock.
func newVault(ctx context.Context, cfg Config, now func() time.Time) (*Vault, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()

	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.TLSServerName}
	if cfg.CACertFile != "" {
		pemCerts, err := os.ReadFile(cfg.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("vault keystore: CA certificates: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemCerts) {
			return nil, fmt.Errorf("vault keystore: CA certificates: no PEM certificate in %s", cfg.CACertFile)
		}
		tlsCfg.RootCAs = pool
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsCfg
	httpClient := &http.Client{
		Transport: transport,
		// The Vault client follows a standby's redirect itself, once, and
		// never from https to http.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	newClient := func() (*api.Client, error) {
		c, err := api.NewClient(&api.Config{
			Address:    cfg.Address,
			HttpClient: httpClient,
			Timeout:    cfg.Timeout,
			MaxRetries: cfg.MaxRetries,
		})
		if err != nil {
			return nil, fmt.Errorf("vault keystore: %w", err)
		}
		// api.NewClient takes a token and a namespace from VAULT_TOKEN and
		// VAULT_NAMESPACE; only cfg decides here.
		c.ClearToken()
		c.ClearNamespace()
		if cfg.Namespace != "" {
			c.SetNamespace(cfg.Namespace)
		}
		return c, nil
	}
	v := &Vault{cfg: cfg, now: now}
	var err error
	if v.client, err = newClient(); err != nil {
		return nil, err
	}
	if v.login, err = newClient(); err != nil {
		return nil, err
	}

	v.mu.Lock()
	err = v.authenticate(ctx)
	v.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := v.checkMount(ctx); err != nil {
		return nil, err
	}
	return v, nil
}

// authenticate logs in with AppRole, or reads the token and looks it up.
// It is called with mu held.
func (v *Vault) authenticate(ctx context.Context) error {
	if v.cfg.Auth == AuthAppRole {
		return v.loginAppRole(ctx)
	}
	token, err := v.readToken()
	if err != nil {
		return err
	}
	v.client.SetToken(token)
	s, err := v.client.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		return v.fail(ctx, "checking the token", "auth/token/lookup-self", err)
	}
	ttl, err := s.TokenTTL()
	if err != nil {
		return fmt.Errorf("vault keystore: checking the token: %w", err)
	}
	renewable, err := s.TokenIsRenewable()
	if err != nil {
		return fmt.Errorf("vault keystore: checking the token: %w", err)
	}
	v.setLease(ttl, renewable)
	return nil
}

func (v *Vault) readToken() (string, error) {
	if v.cfg.TokenFile == "" {
		t := strings.TrimSpace(os.Getenv("VAULT_TOKEN"))
		if t == "" {
			return "", errors.New("vault keystore: token auth needs a token file or the VAULT_TOKEN environment variable")
		}
		return t, nil
	}
	return readSecretFile(v.cfg.TokenFile, "token")
}

func (v *Vault) loginAppRole(ctx context.Context) error {
	var secretID string
	if v.cfg.SecretIDFile != "" {
		s, err := readSecretFile(v.cfg.SecretIDFile, "AppRole secret ID")
		if err != nil {
			return err
		}
		secretID = s
	} else if secretID = strings.TrimSpace(os.Getenv(v.cfg.SecretIDEnv)); secretID == "" {
		return fmt.Errorf("vault keystore: the AppRole secret ID variable %s is not set", v.cfg.SecretIDEnv)
	}
	path := "auth/" + v.cfg.AppRoleMount + "/login"
	s, err := v.login.Logical().WriteWithContext(ctx, path, map[string]any{
		"role_id":   v.cfg.RoleID,
		"secret_id": secretID,
	})
	var re *api.ResponseError
	if err != nil && ctx.Err() == nil && errors.As(err, &re) && re.StatusCode == http.StatusBadRequest {
		// Vault answers a wrong role ID or secret ID with 400.
		return fmt.Errorf("%w: logging in with AppRole at %s/v1/%s: HTTP %d: %s; check the role ID and the secret ID",
			ErrDenied, v.cfg.Address, path, re.StatusCode, vaultMessage(re))
	}
	if err != nil {
		return v.fail(ctx, "logging in with AppRole", path, err)
	}
	if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
		return fmt.Errorf("vault keystore: logging in with AppRole at %s: no token in Vault's answer", path)
	}
	v.client.SetToken(s.Auth.ClientToken)
	v.setLease(time.Duration(s.Auth.LeaseDuration)*time.Second, s.Auth.Renewable)
	return nil
}

// readSecretFile reads a credential from a file that only its owner may
// read, as the file backend requires of key files.
func readSecretFile(path, what string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("vault keystore: reading the %s: %w", what, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("vault keystore: reading the %s: %w", what, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("%w: the %s file %s has mode %04o, so group or others can read or write it; "+
			"restrict it with: chmod 600 %s", keystore.ErrInsecure, what, path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return "", fmt.Errorf("vault keystore: reading the %s from %s: %w", what, path, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("vault keystore: the %s file %s is empty", what, path)
	}
	return s, nil
}

// setLease records a new token's lifetime; it is renewed or replaced after
// two thirds of it. Called with mu held.
func (v *Vault) setLease(ttl time.Duration, renewable bool) {
	v.ttl, v.renewable = ttl, renewable
	if ttl <= 0 {
		v.renewAt, v.expiresAt = time.Time{}, time.Time{}
		return
	}
	now := v.now()
	v.expiresAt = now.Add(ttl)
	v.renewAt = now.Add(ttl * 2 / 3)
}

// ensureToken renews the token, or logs in again, once two thirds of its
// lifetime have passed.
func (v *Vault) ensureToken(ctx context.Context) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.renewAt.IsZero() || v.now().Before(v.renewAt) {
		return nil
	}
	if v.renewable {
		full := v.ttl
		s, err := v.client.Auth().Token().RenewSelfWithContext(ctx, 0)
		if err == nil && s != nil && s.Auth != nil && s.Auth.LeaseDuration > 0 {
			ttl := time.Duration(s.Auth.LeaseDuration) * time.Second
			// Vault grants less than asked once the token nears its maximum
			// lifetime; AppRole then logs in afresh rather than renewing
			// ever more often.
			if v.cfg.Auth != AuthAppRole || ttl >= full/2 {
				v.setLease(ttl, s.Auth.Renewable)
				return nil
			}
		} else if err != nil && v.cfg.Auth != AuthAppRole {
			if v.now().Before(v.expiresAt) {
				return nil // not renewed this time; the token is still valid
			}
			return v.fail(ctx, "renewing the token", "auth/token/renew-self", err)
		}
	}
	if v.cfg.Auth == AuthAppRole {
		return v.loginAppRole(ctx)
	}
	if v.now().Before(v.expiresAt) {
		return nil
	}
	return fmt.Errorf("%w: the Vault token expired at %s and cannot be renewed; issue a new token, or use AppRole auth, which logs in again",
		ErrDenied, v.expiresAt.UTC().Format(time.RFC3339))
}

// relogin replaces a token Vault refused, under AppRole auth, and reports
// whether the request should be tried again. A token that is still valid
// (Vault's 403 was the policy's answer) or that another request already
// replaced is not replaced.
func (v *Vault) relogin(ctx context.Context, refused string) (retry bool, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.client.Token() != refused {
		return true, nil
	}
	if _, err := v.client.Auth().Token().LookupSelfWithContext(ctx); !isStatus(err, http.StatusForbidden) {
		return false, nil
	}
	return true, v.loginAppRole(ctx)
}

// do runs op with a valid token. Under AppRole auth, a request refused with
// 403 because the token was revoked or expired early is tried once more
// after a fresh login.
func (v *Vault) do(ctx context.Context, op func() error) error {
	if err := v.ensureToken(ctx); err != nil {
		return settled{err}
	}
	token := v.client.Token()
	err := op()
	if err == nil || v.cfg.Auth != AuthAppRole || !isStatus(err, http.StatusForbidden) || ctx.Err() != nil {
		return err
	}
	retry, lerr := v.relogin(ctx, token)
	if lerr != nil {
		return settled{lerr}
	}
	if !retry {
		return err
	}
	return op()
}

func isStatus(err error, code int) bool {
	var re *api.ResponseError
	return errors.As(err, &re) && re.StatusCode == code
}

// checkMount refuses a mount that is not a KV version 2 engine: a version 1
// engine ignores check-and-set and would let a key be overwritten.
func (v *Vault) checkMount(ctx context.Context) error {
	path := "sys/internal/ui/mounts/" + v.cfg.Mount + "/" + v.cfg.Prefix
	var s *api.Secret
	err := v.do(ctx, func() error {
		var err error
		s, err = v.client.Logical().ReadWithContext(ctx, path)
		return err
	})
	if err != nil {
		return v.fail(ctx, "checking the mount", path, err)
	}
	if s == nil || s.Data == nil {
		return fmt.Errorf("vault keystore: no secrets engine is mounted at %s/", v.cfg.Mount)
	}
	mountPath, _ := s.Data["path"].(string)
	typ, _ := s.Data["type"].(string)
	var version string
	if opts, ok := s.Data["options"].(map[string]any); ok {
		version, _ = opts["version"].(string)
	}
	if strings.TrimSuffix(mountPath, "/") != v.cfg.Mount {
		return fmt.Errorf("vault keystore: %s is not a mount: the secrets engine there is mounted at %s", v.cfg.Mount, mountPath)
	}
	if typ != "kv" || version != "2" {
		return fmt.Errorf("vault keystore: %s/ is a %q engine of version %q, not KV version 2; "+
			"enable one with: vault secrets enable -path=%s kv-v2", v.cfg.Mount, typ, version, v.cfg.Mount)
	}
	return nil
}

func (v *Vault) dataPath(name string) string {
	return v.cfg.Mount + "/data/" + v.cfg.Prefix + "/" + name
}

// Get returns the PEM stored under name, or keystore.ErrNotFound. A key
// whose latest version was deleted is not found.
func (v *Vault) Get(ctx context.Context, name string) ([]byte, error) {
	if err := keystore.ValidName(name); err != nil {
		return nil, err
	}
	path := v.dataPath(name)
	var s *api.Secret
	err := v.do(ctx, func() error {
		var err error
		s, err = v.client.Logical().ReadWithContext(ctx, path)
		return err
	})
	if err != nil {
		return nil, v.fail(ctx, "reading", path, err)
	}
	if s == nil || s.Data == nil || s.Data["data"] == nil {
		return nil, fmt.Errorf("%w: %s", keystore.ErrNotFound, name)
	}
	data, ok := s.Data["data"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("vault keystore: reading %s: not a KV version 2 secret", path)
	}
	p, ok := data["pem"].(string)
	if !ok {
		return nil, fmt.Errorf("vault keystore: reading %s: the secret has no string field \"pem\"", path)
	}
	return []byte(p), nil
}

// Create stores pem under name, or returns keystore.ErrExists if name is
// taken. It writes with check-and-set 0, so Vault refuses the write if the
// name has any version, also one that was deleted.
func (v *Vault) Create(ctx context.Context, name string, pem []byte) error {
	if err := keystore.ValidName(name); err != nil {
		return err
	}
	path := v.dataPath(name)
	body := map[string]any{
		"options": map[string]any{"cas": 0},
		"data":    map[string]any{"pem": string(pem)},
	}
	var s *api.Secret
	err := v.do(ctx, func() error {
		var err error
		s, err = v.client.Logical().WriteWithContext(ctx, path, body)
		return err
	})
	switch {
	case err == nil:
	case isCASMismatch(err):
		return fmt.Errorf("%w: %s", keystore.ErrExists, name)
	case isStatus(err, http.StatusForbidden) && ctx.Err() == nil:
		// A policy that grants "create" but not "update" makes Vault refuse
		// a write to an existing key before check-and-set is looked at.
		if _, gerr := v.Get(ctx, name); gerr == nil {
			return fmt.Errorf("%w: %s", keystore.ErrExists, name)
		}
		return v.fail(ctx, "creating", path, err)
	default:
		return v.fail(ctx, "creating", path, err)
	}
	if s == nil || s.Data == nil || s.Data["version"] == nil {
		return fmt.Errorf("vault keystore: creating %s: Vault's answer has no version; is %s/ a KV version 2 engine?", path, v.cfg.Mount)
	}
	return nil
}

func isCASMismatch(err error) bool {
	var re *api.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest {
		return false
	}
	for _, e := range re.Errors {
		if strings.Contains(e, "check-and-set parameter did not match the current version") {
			return true
		}
	}
	return false
}

// List returns the names that start with prefix, sorted. It walks the
// metadata of <mount>/metadata/<prefix>/ recursively, so it lists a key
// whose versions were deleted as long as its metadata remains.
func (v *Vault) List(ctx context.Context, prefix string) ([]string, error) {
	// Start at the deepest directory the prefix fixes. If that part of the
	// prefix is not a valid name, no valid name starts with the prefix.
	start := ""
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		if keystore.ValidName(prefix[:i]) != nil {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("vault keystore: listing %q: %w", prefix, err)
			}
			return nil, nil
		}
		start = prefix[:i+1]
	}
	var names []string
	if err := v.walk(ctx, start, prefix, &names); err != nil {
		return nil, err
	}
	sort.Strings(names)
	return names, nil
}

// walk adds the names below the directory dir ("" or ending in "/") that
// start with prefix.
func (v *Vault) walk(ctx context.Context, dir, prefix string, names *[]string) error {
	path := v.cfg.Mount + "/metadata/" + v.cfg.Prefix + "/" + dir
	var s *api.Secret
	err := v.do(ctx, func() error {
		var err error
		s, err = v.client.Logical().ListWithContext(ctx, path)
		return err
	})
	if err != nil {
		return v.fail(ctx, "listing", path, err)
	}
	if s == nil || s.Data == nil {
		return nil // nothing below dir
	}
	keys, ok := s.Data["keys"].([]any)
	if !ok {
		return fmt.Errorf("vault keystore: listing %s: no key list in Vault's answer", path)
	}
	for _, k := range keys {
		key, ok := k.(string)
		if !ok {
			return fmt.Errorf("vault keystore: listing %s: a key is not a string", path)
		}
		full := dir + key
		if sub, isDir := strings.CutSuffix(full, "/"); isDir {
			if keystore.ValidName(sub) == nil && (strings.HasPrefix(full, prefix) || strings.HasPrefix(prefix, full)) {
				if err := v.walk(ctx, full, prefix, names); err != nil {
					return err
				}
			}
			continue
		}
		if keystore.ValidName(full) == nil && strings.HasPrefix(full, prefix) {
			*names = append(*names, full)
		}
	}
	return nil
}

// settled marks an error that is already in its final form, such as a
// failed renewal or login on the way to a request.
type settled struct{ error }

func (e settled) Unwrap() error { return e.error }

// fail turns an error of the Vault client into one of this package's, by
// the operation and the Vault path it concerned. The token never appears.
func (v *Vault) fail(ctx context.Context, op, path string, err error) error {
	var done settled
	if errors.As(err, &done) {
		return done.error
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("vault keystore: %s %s: %w", op, path, cerr)
	}
	var re *api.ResponseError
	if errors.As(err, &re) {
		msg := vaultMessage(re)
		switch {
		case re.StatusCode == http.StatusForbidden || re.StatusCode == http.StatusUnauthorized:
			return fmt.Errorf("%w: %s %s at %s: HTTP %d: %s; check the token or AppRole, and that the policy of docs/keystore.md is attached",
				ErrDenied, op, path, v.cfg.Address, re.StatusCode, msg)
		case re.StatusCode >= 500 || re.StatusCode == http.StatusTooManyRequests:
			return fmt.Errorf("%w: %s %s at %s: HTTP %d: %s", ErrUnavailable, op, path, v.cfg.Address, re.StatusCode, msg)
		default:
			return fmt.Errorf("vault keystore: %s %s at %s: HTTP %d: %s", op, path, v.cfg.Address, re.StatusCode, msg)
		}
	}
	var uerr *url.Error
	var nerr net.Error
	if errors.As(err, &uerr) || errors.As(err, &nerr) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s %s at %s: %w", ErrUnavailable, op, path, v.cfg.Address, err)
	}
	return fmt.Errorf("vault keystore: %s %s at %s: %w", op, path, v.cfg.Address, err)
}

// vaultMessage is Vault's error text on one line.
func vaultMessage(re *api.ResponseError) string {
	msg := strings.Join(re.Errors, "; ")
	if msg == "" {
		msg = http.StatusText(re.StatusCode)
	}
	return strings.Join(strings.Fields(msg), " ")
}

var _ keystore.Keystore = (*Vault)(nil)
