package vault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qiao-exchange/qiao/crypto/keystore"
	"github.com/qiao-exchange/qiao/crypto/keystore/keystoretest"
)

// The conformance suite runs against a real Vault when VAULT_ADDR is set
// (with VAULT_TOKEN, and VAULT_CACERT or VAULT_NAMESPACE if needed; KV v2
// must be mounted at secret/, as on a dev server), each subtest under its
// own prefix qiao-test/<random>, removed afterwards. Otherwise, and for the
// tests that need to move time, revoke tokens or seal the server, it runs
// against fakeVault (fake_test.go), a stand-in on loopback, because no Vault
// server can be built or installed where these tests run.
func TestConformance(t *testing.T) {
	if addr := os.Getenv("VAULT_ADDR"); addr != "" {
		t.Logf("running against the Vault server at %s", addr)
		keystoretest.Run(t, func(t *testing.T) keystore.Keystore { return realStore(t, addr) })
		return
	}
	t.Log("VAULT_ADDR is not set: running against the fake Vault of fake_test.go")
	keystoretest.Run(t, func(t *testing.T) keystore.Keystore {
		clock := newClock()
		f := newFake(t, clock)
		return tokenStore(t, f, clock, f.issue(nil, 0, 0, false))
	})
}

// TestConformanceAppRole runs the suite as the gateway runs in production:
// logged in with AppRole, holding only the policy of deploy/vault.
func TestConformanceAppRole(t *testing.T) {
	keystoretest.Run(t, func(t *testing.T) keystore.Keystore {
		clock := newClock()
		return appRoleStore(t, newFake(t, clock), clock)
	})
}

func realStore(t *testing.T, addr string) *Vault {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	cfg := Config{
		Address:    addr,
		Namespace:  os.Getenv("VAULT_NAMESPACE"),
		CACertFile: os.Getenv("VAULT_CACERT"),
		Prefix:     "qiao-test/" + hex.EncodeToString(b),
	}
	v, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		names, err := v.List(ctx, "")
		if err != nil {
			t.Errorf("cleaning up %s: %v", v.cfg.Prefix, err)
			return
		}
		for _, n := range names {
			if _, err := v.client.Logical().DeleteWithContext(ctx, v.cfg.Mount+"/metadata/"+v.cfg.Prefix+"/"+n); err != nil {
				t.Errorf("cleaning up %s: %v", n, err)
			}
		}
	})
	return v
}

func tokenStore(t *testing.T, f *fakeVault, clock *fakeClock, tok string) *Vault {
	t.Helper()
	v, err := newVault(t.Context(), Config{Address: f.srv.URL, TokenFile: tokenFile(t, tok), MaxRetries: -1}, clock.Now)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

func appRoleConfig(t *testing.T, f *fakeVault) Config {
	t.Helper()
	return Config{
		Address:      f.srv.URL,
		Auth:         AuthAppRole,
		RoleID:       f.role.roleID,
		SecretIDFile: tokenFile(t, f.role.secretID),
		MaxRetries:   -1,
	}
}

func appRoleStore(t *testing.T, f *fakeVault, clock *fakeClock) *Vault {
	t.Helper()
	v, err := newVault(t.Context(), appRoleConfig(t, f), clock.Now)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

func TestLayout(t *testing.T) {
	clock := newClock()
	f := newFake(t, clock)
	v := appRoleStore(t, f, clock)
	pem := "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQg\n-----END PRIVATE KEY-----\n"
	if err := v.Create(t.Context(), "principals/police.411528/sign", []byte(pem)); err != nil {
		t.Fatal(err)
	}
	got := f.secretData("qiao/keys/principals/police.411528/sign")
	if got == nil || got["pem"] != pem || len(got) != 1 {
		t.Errorf("secret/data/qiao/keys/principals/police.411528/sign holds %v, want only the field pem", got)
	}
	// The policy's 403 on an existing key is ErrExists, and does not make
	// the backend log in again.
	if err := v.Create(t.Context(), "principals/police.411528/sign", []byte("other")); !errors.Is(err, keystore.ErrExists) {
		t.Errorf("second Create: err = %v, want ErrExists", err)
	}
	if logins, _ := f.counts(); logins != 1 {
		t.Errorf("%d logins, want 1", logins)
	}
}

func TestMountCheck(t *testing.T) {
	clock := newClock()
	f := newFake(t, clock)
	f.kvVersion = "1"
	_, err := newVault(t.Context(), appRoleConfig(t, f), clock.Now)
	if err == nil || !strings.Contains(err.Error(), "not KV version 2") {
		t.Errorf("New on a KV version 1 mount: err = %v, want a refusal naming KV version 2", err)
	}

	f = newFake(t, clock)
	cfg := appRoleConfig(t, f)
	cfg.Mount = "kv"
	if _, err := newVault(t.Context(), cfg, clock.Now); !errors.Is(err, ErrDenied) {
		t.Errorf("New with a mount that does not exist: err = %v, want ErrDenied", err)
	}
}

func TestUnavailable(t *testing.T) {
	ctx := t.Context()
	t.Run("never reachable", func(t *testing.T) {
		srv := httptest.NewServer(nil)
		addr := srv.URL
		srv.Close()
		cfg := Config{Address: addr, TokenFile: tokenFile(t, "hvs.x"), MaxRetries: -1}
		_, err := New(ctx, cfg)
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), addr) {
			t.Errorf("New with Vault down: err = %v, want ErrUnavailable naming %s", err, addr)
		}
		cfg.Auth, cfg.TokenFile, cfg.RoleID, cfg.SecretIDFile = AuthAppRole, "", "r", tokenFile(t, "s")
		if _, err := New(ctx, cfg); !errors.Is(err, ErrUnavailable) {
			t.Errorf("AppRole New with Vault down: err = %v, want ErrUnavailable", err)
		}
	})
	t.Run("goes down", func(t *testing.T) {
		clock := newClock()
		f := newFake(t, clock)
		v := appRoleStore(t, f, clock)
		if err := v.Create(ctx, "gateway/sign", []byte("pem")); err != nil {
			t.Fatal(err)
		}
		f.srv.Close()
		if _, err := v.Get(ctx, "gateway/sign"); !errors.Is(err, ErrUnavailable) || errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("Get: err = %v, want ErrUnavailable", err)
		}
		if _, err := v.Get(ctx, "gateway/enc"); !errors.Is(err, ErrUnavailable) || errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("Get of a missing key: err = %v, want ErrUnavailable, never ErrNotFound", err)
		}
		if err := v.Create(ctx, "gateway/enc", []byte("pem")); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Create: err = %v, want ErrUnavailable", err)
		}
		if _, err := v.List(ctx, ""); !errors.Is(err, ErrUnavailable) {
			t.Errorf("List: err = %v, want ErrUnavailable", err)
		}
		// EnsureSM2 must not take an outage for a missing key.
		if _, _, err := keystore.EnsureSM2(ctx, v, "gateway/enc"); !errors.Is(err, ErrUnavailable) {
			t.Errorf("EnsureSM2: err = %v, want ErrUnavailable", err)
		}
	})
	t.Run("sealed", func(t *testing.T) {
		clock := newClock()
		f := newFake(t, clock)
		v := appRoleStore(t, f, clock)
		f.setSealed(true)
		_, err := v.Get(ctx, "gateway/sign")
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "Vault is sealed") {
			t.Errorf("Get from a sealed Vault: err = %v, want ErrUnavailable saying it is sealed", err)
		}
		f.setSealed(false)
		if _, err := v.Get(ctx, "gateway/sign"); !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("Get after unsealing: err = %v, want ErrNotFound", err)
		}
	})
}

func TestDenied(t *testing.T) {
	ctx := t.Context()
	clock := newClock()
	f := newFake(t, clock)

	cfg := Config{Address: f.srv.URL, TokenFile: tokenFile(t, "hvs.not-a-token"), MaxRetries: -1}
	if _, err := newVault(ctx, cfg, clock.Now); !errors.Is(err, ErrDenied) {
		t.Errorf("New with a bad token: err = %v, want ErrDenied", err)
	}

	cfg = appRoleConfig(t, f)
	cfg.SecretIDFile = tokenFile(t, "wrong-secret-id")
	_, err := newVault(ctx, cfg, clock.Now)
	if !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "invalid role or secret ID") {
		t.Errorf("New with a wrong secret ID: err = %v, want ErrDenied", err)
	}
	if err != nil && strings.Contains(err.Error(), "wrong-secret-id") {
		t.Errorf("the error shows the secret ID: %v", err)
	}

	// A token that may read and list but not create.
	readOnly := parsePolicy(t, `
path "secret/data/qiao/keys/*" { capabilities = ["read"] }
path "secret/metadata/qiao/keys/*" { capabilities = ["list"] }
`)
	v := tokenStore(t, f, clock, f.issue(readOnly, 0, 0, false))
	if err := v.Create(ctx, "gateway/sign", []byte("pem")); !errors.Is(err, ErrDenied) || errors.Is(err, keystore.ErrExists) {
		t.Errorf("Create without the create capability: err = %v, want ErrDenied", err)
	}
	if _, err := v.Get(ctx, "gateway/sign"); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("Get: err = %v, want ErrNotFound", err)
	}

	// A token that may not read: a refusal, never "not found".
	writeOnly := parsePolicy(t, `path "secret/data/qiao/keys/*" { capabilities = ["create"] }`)
	v = tokenStore(t, f, clock, f.issue(writeOnly, 0, 0, false))
	if _, err := v.Get(ctx, "gateway/sign"); !errors.Is(err, ErrDenied) {
		t.Errorf("Get without the read capability: err = %v, want ErrDenied", err)
	}
	if _, err := v.List(ctx, ""); !errors.Is(err, ErrDenied) {
		t.Errorf("List without the list capability: err = %v, want ErrDenied", err)
	}
	if _, _, err := keystore.EnsureSM2(ctx, v, "gateway/sign"); !errors.Is(err, ErrDenied) {
		t.Errorf("EnsureSM2 without the read capability: err = %v, want ErrDenied", err)
	}
}

func TestTokenRenewal(t *testing.T) {
	ctx := t.Context()
	clock := newClock()
	f := newFake(t, clock)
	tok := f.issue(deployedPolicy(t), time.Hour, 90*time.Minute, true)
	v := tokenStore(t, f, clock, tok)
	if err := v.Create(ctx, "gateway/sign", []byte("pem")); err != nil {
		t.Fatal(err)
	}

	clock.Advance(39 * time.Minute)
	if _, err := v.Get(ctx, "gateway/sign"); err != nil {
		t.Fatal(err)
	}
	if _, renewals := f.counts(); renewals != 0 {
		t.Errorf("renewed %d times before two thirds of the TTL", renewals)
	}

	// Past two thirds of the TTL, concurrent requests renew once.
	clock.Advance(2 * time.Minute)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := v.Get(ctx, "gateway/sign"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if _, renewals := f.counts(); renewals != 1 {
		t.Errorf("renewed %d times, want 1", renewals)
	}

	// Renewals continue up to the maximum TTL (90 minutes) ...
	clock.Advance(34 * time.Minute)
	if _, err := v.Get(ctx, "gateway/sign"); err != nil {
		t.Fatalf("Get at 75 minutes: %v", err)
	}
	// ... after which a token cannot be renewed, and token auth cannot log
	// in again: refused, never "not found".
	clock.Advance(16 * time.Minute)
	_, err := v.Get(ctx, "gateway/sign")
	if !errors.Is(err, ErrDenied) {
		t.Errorf("Get after the token's maximum TTL: err = %v, want ErrDenied", err)
	}
	if err != nil && strings.Contains(err.Error(), tok) {
		t.Errorf("the error shows the token: %v", err)
	}
}

func TestTokenExpiresWithoutRenewal(t *testing.T) {
	clock := newClock()
	f := newFake(t, clock)
	v := tokenStore(t, f, clock, f.issue(deployedPolicy(t), time.Hour, 0, false))
	clock.Advance(50 * time.Minute)
	if _, err := v.Get(t.Context(), "gateway/sign"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("Get with a valid token: err = %v, want ErrNotFound", err)
	}
	clock.Advance(11 * time.Minute)
	_, err := v.Get(t.Context(), "gateway/sign")
	if !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Get with an expired token: err = %v, want ErrDenied saying it expired", err)
	}
	if _, renewals := f.counts(); renewals != 0 {
		t.Errorf("tried to renew a non-renewable token %d times", renewals)
	}
}

func TestAppRoleRenewalAndLogin(t *testing.T) {
	ctx := t.Context()
	clock := newClock()
	f := newFake(t, clock) // tokens live an hour, renewable up to three
	v := appRoleStore(t, f, clock)
	if err := v.Create(ctx, "gateway/master", []byte("pem")); err != nil {
		t.Fatal(err)
	}
	// Every 41 minutes for ten hours: renewals while they extend the token,
	// fresh logins when the maximum TTL nears.
	for i := range 15 {
		clock.Advance(41 * time.Minute)
		if got, err := v.Get(ctx, "gateway/master"); err != nil || string(got) != "pem" {
			t.Fatalf("Get after %d minutes = %q, %v", 41*(i+1), got, err)
		}
	}
	logins, renewals := f.counts()
	if logins < 3 || renewals < 6 {
		t.Errorf("over ten hours: %d logins and %d renewals, want renewals and logins both", logins, renewals)
	}

	// A token that expired while the gateway was idle is replaced.
	clock.Advance(5 * time.Hour)
	if _, err := v.Get(ctx, "gateway/master"); err != nil {
		t.Fatalf("Get after an idle expiry: %v", err)
	}
	// A revoked token is replaced on Vault's 403.
	before, _ := f.counts()
	f.revokeAll()
	if _, err := v.Get(ctx, "gateway/master"); err != nil {
		t.Fatalf("Get after revocation: %v", err)
	}
	if after, _ := f.counts(); after != before+1 {
		t.Errorf("logins %d → %d after revocation, want one more", before, after)
	}
}

func TestAppRoleSecretIDFromEnvironment(t *testing.T) {
	clock := newClock()
	f := newFake(t, clock)
	cfg := appRoleConfig(t, f)
	cfg.SecretIDFile, cfg.SecretIDEnv = "", "QIAO_TEST_VAULT_SECRET_ID"
	t.Setenv("QIAO_TEST_VAULT_SECRET_ID", f.role.secretID)
	// Vault's environment variables do not override the configuration.
	t.Setenv("VAULT_TOKEN", "hvs.not-a-token")
	t.Setenv("VAULT_NAMESPACE", "elsewhere")
	t.Setenv("VAULT_ADDR", "https://vault.invalid:8200")
	v, err := newVault(t.Context(), cfg, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Create(t.Context(), "gateway/enc", []byte("pem")); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	if len(f.namespaces) > 0 {
		t.Errorf("requests named the namespaces %q from the environment", f.namespaces)
	}
	f.mu.Unlock()
	t.Setenv("QIAO_TEST_VAULT_SECRET_ID", "")
	if _, err := newVault(t.Context(), cfg, clock.Now); err == nil || !strings.Contains(err.Error(), "QIAO_TEST_VAULT_SECRET_ID") {
		t.Errorf("New with the secret ID variable empty: err = %v, want it named", err)
	}
}

func TestTokenFromEnvironment(t *testing.T) {
	clock := newClock()
	f := newFake(t, clock)
	t.Setenv("VAULT_TOKEN", f.issue(deployedPolicy(t), 0, 0, false))
	v, err := newVault(t.Context(), Config{Address: f.srv.URL}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.List(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VAULT_TOKEN", "")
	if _, err := newVault(t.Context(), Config{Address: f.srv.URL}, clock.Now); err == nil || !strings.Contains(err.Error(), "VAULT_TOKEN") {
		t.Errorf("New without a token: err = %v, want VAULT_TOKEN named", err)
	}
}

func TestCredentialFilePermissions(t *testing.T) {
	clock := newClock()
	f := newFake(t, clock)
	p := tokenFile(t, f.issue(nil, 0, 0, false))
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := newVault(t.Context(), Config{Address: f.srv.URL, TokenFile: p}, clock.Now)
	if !errors.Is(err, keystore.ErrInsecure) || !strings.Contains(err.Error(), "chmod 600 "+p) {
		t.Errorf("New with a 0644 token file: err = %v, want ErrInsecure with the chmod", err)
	}
	cfg := appRoleConfig(t, f)
	if err := os.Chmod(cfg.SecretIDFile, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := newVault(t.Context(), cfg, clock.Now); !errors.Is(err, keystore.ErrInsecure) {
		t.Errorf("New with a 0640 secret ID file: err = %v, want ErrInsecure", err)
	}
}

func TestValidate(t *testing.T) {
	ok := Config{Address: "https://vault.example.internal:8200"}
	approle := Config{Address: "https://vault.example.internal:8200", Auth: AuthAppRole, RoleID: "r", SecretIDFile: "/run/secrets/qiao-secret-id"}
	for name, tc := range map[string]struct {
		cfg  Config
		want string // "" for valid
	}{
		"token":             {ok, ""},
		"approle":           {approle, ""},
		"loopback http":     {Config{Address: "http://127.0.0.1:8200"}, ""},
		"localhost http":    {Config{Address: "http://localhost:8200"}, ""},
		"ipv6 loopback":     {Config{Address: "http://[::1]:8200"}, ""},
		"nested mount":      {Config{Address: ok.Address, Mount: "kv/qiao", Prefix: "county/411528"}, ""},
		"no address":        {Config{}, "address must be set"},
		"not a URL":         {Config{Address: "vault:8200"}, "is not a URL"},
		"remote http":       {Config{Address: "http://vault.example.internal:8200"}, "plain http"},
		"other scheme":      {Config{Address: "ftp://vault.example.internal"}, "scheme must be https"},
		"bad mount":         {Config{Address: ok.Address, Mount: "/secret/"}, "mount"},
		"bad prefix":        {Config{Address: ok.Address, Prefix: "../keys"}, "prefix"},
		"upper prefix":      {Config{Address: ok.Address, Prefix: "Qiao/Keys"}, "prefix"},
		"bad auth":          {Config{Address: ok.Address, Auth: "ldap"}, `auth "ldap"`},
		"approle no role":   {Config{Address: ok.Address, Auth: AuthAppRole, SecretIDFile: "f"}, "needs a role ID"},
		"approle no secret": {Config{Address: ok.Address, Auth: AuthAppRole, RoleID: "r"}, "exactly one"},
		"approle two secrets": {Config{Address: ok.Address, Auth: AuthAppRole, RoleID: "r", SecretIDFile: "f", SecretIDEnv: "E"},
			"exactly one"},
		"approle and token file": {Config{Address: ok.Address, Auth: AuthAppRole, RoleID: "r", SecretIDFile: "f", TokenFile: "t"},
			"token file"},
		"token with role":  {Config{Address: ok.Address, RoleID: "r"}, "set auth to"},
		"negative timeout": {Config{Address: ok.Address, Timeout: -time.Second}, "negative"},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate: err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	// Every problem is reported at once.
	err := Config{Address: "http://vault.example.internal", Auth: "ldap", Prefix: "X"}.Validate()
	if err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Errorf("Validate of three problems: %v", err)
	}
}
