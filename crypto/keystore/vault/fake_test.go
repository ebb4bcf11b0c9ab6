package vault

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl"
)

// fakeVault is a FAKE Vault server, not Vault: no Vault server can be built
// or installed where these tests run (Debian packages none, Vault's server
// does not build from the Go module proxy, OpenBao publishes no server
// module), so the backend is tested against this stand-in on loopback. When
// VAULT_ADDR is set, TestConformance runs against that real server instead;
// the tests that move time, revoke tokens or seal the server stay on the fake.
//
// It implements only the endpoints the backend calls, each with the status
// codes and JSON shapes Vault uses:
//
//	GET        /v1/sys/internal/ui/mounts/<path>      mount of a path (type kv, options.version)
//	GET        /v1/<mount>/data/<path>                 KV v2 read; 404 {"errors":[]} if missing
//	PUT, POST  /v1/<mount>/data/<path>                 KV v2 write; options.cas checked (400 on mismatch)
//	LIST, GET  /v1/<mount>/metadata/<path>/?list=true  KV v2 key listing; 404 {"errors":[]} if empty
//	PUT, POST  /v1/auth/approle/login                  AppRole login; 400 for a wrong role or secret ID
//	GET        /v1/auth/token/lookup-self              the token's ttl and renewable
//	PUT, POST  /v1/auth/token/renew-self               renewal up to the token's maximum TTL
//
// A missing, expired or revoked token gets 403 "permission denied", and so
// does a path the token's policy does not grant. Policies are Vault's HCL
// (path rules with capabilities, exact or with a trailing "*", the most
// specific rule winning); as in Vault, writing a new secret needs "create"
// and overwriting one needs "update". Every token may look itself up and
// renew itself (Vault's "default" policy). A sealed fake answers 503.
// Nothing else of Vault is there: no leases, namespaces, versions beyond
// the latest, deletion or audit.
type fakeVault struct {
	t     *testing.T
	srv   *httptest.Server
	mount string
	now   func() time.Time

	mu        sync.Mutex
	kvVersion string
	sealed    bool
	secrets   map[string]*fakeSecret // by path below <mount>/data/
	tokens    map[string]*fakeToken
	role      fakeRole
	logins    int
	renewals  int
	// namespaces records the X-Vault-Namespace headers seen; the fake
	// serves the root namespace only.
	namespaces []string
}

type fakeSecret struct {
	versions []map[string]any
	created  []time.Time
}

type fakeToken struct {
	policy    fakePolicy // nil: root
	ttl       time.Duration
	maxTTL    time.Duration
	renewable bool
	issued    time.Time
	expires   time.Time // zero: never
}

type fakeRole struct {
	roleID, secretID string
	policy           fakePolicy
	ttl, maxTTL      time.Duration
}

// fakePolicy maps Vault path rules to capabilities.
type fakePolicy map[string][]string

// parsePolicy reads a Vault policy in HCL.
func parsePolicy(t *testing.T, src string) fakePolicy {
	t.Helper()
	var doc struct {
		Path map[string]struct {
			Capabilities []string `hcl:"capabilities"`
		} `hcl:"path"`
	}
	if err := hcl.Decode(&doc, src); err != nil {
		t.Fatalf("parsing policy: %v", err)
	}
	p := fakePolicy{}
	for rule, r := range doc.Path {
		if strings.Contains(rule, "+") || strings.Contains(strings.TrimSuffix(rule, "*"), "*") {
			t.Fatalf("policy rule %q: the fake understands exact paths and a trailing * only", rule)
		}
		p[rule] = r.Capabilities
	}
	return p
}

// deployedPolicy is the policy of deploy/vault, which the docs tell
// operators to attach.
func deployedPolicy(t *testing.T) fakePolicy {
	t.Helper()
	src, err := os.ReadFile("../../../deploy/vault/qiao-policy.hcl")
	if err != nil {
		t.Fatal(err)
	}
	return parsePolicy(t, string(src))
}

// allows reports whether the policy grants capability on path: the exact
// rule if there is one, else the longest matching "*" rule.
func (p fakePolicy) allows(path, capability string) bool {
	if p == nil {
		return true
	}
	caps, ok := p[path]
	if !ok {
		best := -1
		for rule, c := range p {
			if g, isGlob := strings.CutSuffix(rule, "*"); isGlob && strings.HasPrefix(path, g) && len(g) > best {
				best, caps = len(g), c
			}
		}
	}
	for _, c := range caps {
		if c == "deny" {
			return false
		}
	}
	for _, c := range caps {
		if c == capability {
			return true
		}
	}
	return false
}

// hasMountAccess reports whether the policy grants anything in the mount.
func (p fakePolicy) hasMountAccess(mount string) bool {
	if p == nil {
		return true
	}
	for rule := range p {
		if strings.HasPrefix(rule, mount+"/") {
			return true
		}
	}
	return false
}

// fakeClock is a clock the test moves forward.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 25, 19, 22, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newFake starts a fake with a KV v2 engine at "secret" and an AppRole
// whose tokens carry the deployed policy, live an hour and may be renewed
// up to three.
func newFake(t *testing.T, clock *fakeClock) *fakeVault {
	t.Helper()
	f := &fakeVault{
		t:         t,
		mount:     DefaultMount,
		now:       clock.Now,
		kvVersion: "2",
		secrets:   map[string]*fakeSecret{},
		tokens:    map[string]*fakeToken{},
		role: fakeRole{
			roleID:   "9f2c1a3e-0b7d-4c55-8e21-5d6f7a8b9c0d",
			secretID: "4b1e9d2a-7c3f-4e8a-9b6d-1a2b3c4d5e6f",
			policy:   deployedPolicy(t),
			ttl:      time.Hour,
			maxTTL:   3 * time.Hour,
		},
	}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// issue makes a token; a nil policy makes a root token.
func (f *fakeVault) issue(policy fakePolicy, ttl, maxTTL time.Duration, renewable bool) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issueLocked(policy, ttl, maxTTL, renewable)
}

func (f *fakeVault) issueLocked(policy fakePolicy, ttl, maxTTL time.Duration, renewable bool) string {
	b := make([]byte, 18)
	rand.Read(b)
	tok := "hvs." + hex.EncodeToString(b)
	ft := &fakeToken{policy: policy, ttl: ttl, maxTTL: maxTTL, renewable: renewable, issued: f.now()}
	if ttl > 0 {
		ft.expires = ft.issued.Add(ttl)
	}
	f.tokens[tok] = ft
	return tok
}

// revokeAll revokes every token.
func (f *fakeVault) revokeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.tokens)
}

func (f *fakeVault) counts() (logins, renewals int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logins, f.renewals
}

func (f *fakeVault) setSealed(sealed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sealed = sealed
}

// secretData returns the latest data of the secret at path below
// <mount>/data/, or nil.
func (f *fakeVault) secretData(path string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.secrets[path]
	if s == nil {
		return nil
	}
	return s.versions[len(s.versions)-1]
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeErrors(w http.ResponseWriter, code int, errs ...string) {
	if errs == nil {
		errs = []string{}
	}
	writeJSON(w, code, map[string]any{"errors": errs})
}

// writeResponse writes Vault's response envelope around data or auth.
func writeResponse(w http.ResponseWriter, data, auth any) {
	b := make([]byte, 16)
	rand.Read(b)
	writeJSON(w, http.StatusOK, map[string]any{
		"request_id":     hex.EncodeToString(b),
		"lease_id":       "",
		"renewable":      false,
		"lease_duration": 0,
		"data":           data,
		"wrap_info":      nil,
		"warnings":       nil,
		"auth":           auth,
		"mount_type":     "",
	})
}

func readBody(r *http.Request) (map[string]any, bool) {
	body := map[string]any{}
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		return nil, false
	}
	return body, true
}

func (f *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ns := r.Header.Get("X-Vault-Namespace"); ns != "" {
		f.namespaces = append(f.namespaces, ns)
	}
	if f.sealed {
		writeErrors(w, http.StatusServiceUnavailable, "Vault is sealed")
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok {
		writeErrors(w, http.StatusNotFound)
		return
	}
	method := r.Method
	if method == http.MethodGet && r.URL.Query().Get("list") == "true" {
		method = "LIST"
	}
	write := method == http.MethodPut || method == http.MethodPost

	if path == "auth/approle/login" && write {
		f.login(w, r)
		return
	}

	tok, ok := f.tokens[r.Header.Get("X-Vault-Token")]
	if ok && !tok.expires.IsZero() && !f.now().Before(tok.expires) {
		ok = false
	}
	if !ok {
		writeErrors(w, http.StatusForbidden, "permission denied")
		return
	}

	switch {
	case path == "auth/token/lookup-self" && method == http.MethodGet:
		f.lookupSelf(w, tok, r.Header.Get("X-Vault-Token"))
	case path == "auth/token/renew-self" && write:
		f.renewSelf(w, tok, r.Header.Get("X-Vault-Token"))
	case strings.HasPrefix(path, "sys/internal/ui/mounts/") && method == http.MethodGet:
		p := strings.TrimPrefix(path, "sys/internal/ui/mounts/")
		if p != f.mount && !strings.HasPrefix(p, f.mount+"/") || !tok.policy.hasMountAccess(f.mount) {
			writeErrors(w, http.StatusForbidden, "preflight capability check returned 403, please ensure client's policies grant access to path \""+p+"/\"")
			return
		}
		writeResponse(w, map[string]any{
			"accessor":                "kv_6c5a0b9e",
			"config":                  map[string]any{"default_lease_ttl": 0, "force_no_cache": false, "max_lease_ttl": 0},
			"description":             "key/value secret storage",
			"external_entropy_access": false,
			"local":                   false,
			"options":                 map[string]any{"version": f.kvVersion},
			"path":                    f.mount + "/",
			"seal_wrap":               false,
			"type":                    "kv",
			"uuid":                    "5d0f6a7e-1b2c-4d3e-8f9a-0b1c2d3e4f5a",
		}, nil)
	case strings.HasPrefix(path, f.mount+"/data/") && method == http.MethodGet:
		if !tok.policy.allows(path, "read") {
			writeErrors(w, http.StatusForbidden, "1 error occurred:\n\t* permission denied\n\n")
			return
		}
		s := f.secrets[strings.TrimPrefix(path, f.mount+"/data/")]
		if s == nil {
			writeErrors(w, http.StatusNotFound)
			return
		}
		v := len(s.versions)
		writeResponse(w, map[string]any{
			"data":     s.versions[v-1],
			"metadata": versionMetadata(s, v),
		}, nil)
	case strings.HasPrefix(path, f.mount+"/data/") && write:
		f.writeData(w, r, tok, path)
	case strings.HasPrefix(path, f.mount+"/metadata/") && method == "LIST":
		dir := strings.TrimSuffix(path, "/") + "/"
		if !tok.policy.allows(dir, "list") {
			writeErrors(w, http.StatusForbidden, "1 error occurred:\n\t* permission denied\n\n")
			return
		}
		f.list(w, strings.TrimPrefix(dir, f.mount+"/metadata/"))
	default:
		writeErrors(w, http.StatusNotFound, "no handler for route \""+path+"\". route entry not found.")
	}
}

func versionMetadata(s *fakeSecret, v int) map[string]any {
	return map[string]any{
		"created_time":    s.created[v-1].Format(time.RFC3339Nano),
		"custom_metadata": nil,
		"deletion_time":   "",
		"destroyed":       false,
		"version":         v,
	}
}

func (f *fakeVault) writeData(w http.ResponseWriter, r *http.Request, tok *fakeToken, path string) {
	key := strings.TrimPrefix(path, f.mount+"/data/")
	s := f.secrets[key]
	// Vault's existence check: a new secret needs "create", an existing one
	// "update", both checked before the request is looked at.
	capability := "create"
	if s != nil {
		capability = "update"
	}
	if !tok.policy.allows(path, capability) {
		writeErrors(w, http.StatusForbidden, "1 error occurred:\n\t* permission denied\n\n")
		return
	}
	body, ok := readBody(r)
	if !ok {
		writeErrors(w, http.StatusBadRequest, "failed to parse JSON input")
		return
	}
	data, ok := body["data"].(map[string]any)
	if !ok {
		writeErrors(w, http.StatusBadRequest, "no data provided")
		return
	}
	current := 0
	if s != nil {
		current = len(s.versions)
	}
	if opts, ok := body["options"].(map[string]any); ok {
		if raw, ok := opts["cas"]; ok {
			n, ok := raw.(json.Number)
			cas, err := n.Int64()
			if !ok || err != nil {
				writeErrors(w, http.StatusBadRequest, "error parsing check-and-set parameter")
				return
			}
			if cas != int64(current) {
				writeErrors(w, http.StatusBadRequest, "check-and-set parameter did not match the current version")
				return
			}
		}
	}
	if s == nil {
		s = &fakeSecret{}
		f.secrets[key] = s
	}
	s.versions = append(s.versions, data)
	s.created = append(s.created, f.now())
	writeResponse(w, versionMetadata(s, len(s.versions)), nil)
}

func (f *fakeVault) list(w http.ResponseWriter, dir string) {
	seen := map[string]bool{}
	for key := range f.secrets {
		rest, ok := strings.CutPrefix(key, dir)
		if !ok || rest == "" {
			continue
		}
		if i := strings.Index(rest, "/"); i >= 0 {
			rest = rest[:i+1]
		}
		seen[rest] = true
	}
	if len(seen) == 0 {
		writeErrors(w, http.StatusNotFound)
		return
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	writeResponse(w, map[string]any{"keys": keys}, nil)
}

func (f *fakeVault) login(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(r)
	if !ok {
		writeErrors(w, http.StatusBadRequest, "failed to parse JSON input")
		return
	}
	roleID, _ := body["role_id"].(string)
	secretID, _ := body["secret_id"].(string)
	if roleID == "" {
		writeErrors(w, http.StatusBadRequest, "missing role_id")
		return
	}
	if roleID != f.role.roleID || secretID != f.role.secretID {
		writeErrors(w, http.StatusBadRequest, "invalid role or secret ID")
		return
	}
	f.logins++
	tok := f.issueLocked(f.role.policy, f.role.ttl, f.role.maxTTL, true)
	writeResponse(w, nil, f.authBlock(tok, f.tokens[tok], f.role.ttl))
}

func (f *fakeVault) authBlock(tok string, ft *fakeToken, ttl time.Duration) map[string]any {
	policies := []string{"default", "qiao-keystore"}
	if ft.policy == nil {
		policies = []string{"root"}
	}
	return map[string]any{
		"client_token":   tok,
		"accessor":       "acc." + tok[len(tok)-8:],
		"policies":       policies,
		"token_policies": policies,
		"metadata":       map[string]any{"role_name": "qiao-gateway"},
		"lease_duration": int(ttl / time.Second),
		"renewable":      ft.renewable,
		"entity_id":      "",
		"token_type":     "service",
		"orphan":         true,
	}
}

func (f *fakeVault) lookupSelf(w http.ResponseWriter, ft *fakeToken, tok string) {
	ttl := 0
	var expire any
	if !ft.expires.IsZero() {
		ttl = int(ft.expires.Sub(f.now()) / time.Second)
		expire = ft.expires.Format(time.RFC3339Nano)
	}
	policies := []string{"default", "qiao-keystore"}
	if ft.policy == nil {
		policies = []string{"root"}
	}
	writeResponse(w, map[string]any{
		"accessor":         "acc." + tok[len(tok)-8:],
		"creation_time":    ft.issued.Unix(),
		"creation_ttl":     int(ft.ttl / time.Second),
		"display_name":     "token",
		"entity_id":        "",
		"expire_time":      expire,
		"explicit_max_ttl": 0,
		"id":               tok,
		"issue_time":       ft.issued.Format(time.RFC3339Nano),
		"meta":             nil,
		"num_uses":         0,
		"orphan":           false,
		"path":             "auth/token/create",
		"policies":         policies,
		"renewable":        ft.renewable,
		"ttl":              ttl,
		"type":             "service",
	}, nil)
}

func (f *fakeVault) renewSelf(w http.ResponseWriter, ft *fakeToken, tok string) {
	if !ft.renewable || ft.expires.IsZero() {
		writeErrors(w, http.StatusBadRequest, "lease is not renewable")
		return
	}
	f.renewals++
	now := f.now()
	ttl := ft.ttl
	if ft.maxTTL > 0 {
		if left := ft.issued.Add(ft.maxTTL).Sub(now); left < ttl {
			ttl = left
		}
	}
	ft.expires = now.Add(ttl)
	writeResponse(w, nil, f.authBlock(tok, ft, ttl))
}

// tokenFile writes tok to a 0600 file and returns its name.
func tokenFile(t *testing.T, tok string) string {
	t.Helper()
	p := t.TempDir() + "/token"
	if err := os.WriteFile(p, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
