package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "qiao.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The template is the documentation of every option: it must load into the
// defaults exactly, name every option, and say something about each.
func TestTemplateDocumentsEveryOption(t *testing.T) {
	p := writeConfig(t, string(Template()))
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := Default(filepath.Dir(p))
	want.File = p
	if !reflect.DeepEqual(c, want) {
		t.Errorf("template differs from defaults:\n got %+v\nwant %+v", c, want)
	}

	var root yaml.Node
	if err := yaml.Unmarshal(Template(), &root); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	var visit func(n *yaml.Node, prefix string)
	visit = func(n *yaml.Node, prefix string) {
		if n.Kind == yaml.DocumentNode {
			visit(n.Content[0], prefix)
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			path := strings.TrimPrefix(prefix+"."+k.Value, ".")
			if v.Kind == yaml.MappingNode {
				visit(v, path)
				continue
			}
			documented[path] = true
			if k.HeadComment == "" {
				t.Errorf("option %s has no comment in qiao.yaml", path)
			}
		}
	}
	visit(&root, "")
	for _, k := range Keys() {
		if _, ok := documented[k]; !ok {
			t.Errorf("option %s is missing from qiao.yaml", k)
		}
	}
}

func TestLoadPrecedenceAndErrors(t *testing.T) {
	p := writeConfig(t, "log:\n  level: debug\nauth:\n  clock_skew: 2m\n")
	t.Setenv("QIAO_LOG_LEVEL", "warn")
	t.Setenv("QIAO_AUTH_NONCE_CAPACITY", "5000")
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Log.Level != "warn" || c.Auth.NonceCapacity != 5000 || c.Auth.ClockSkew != 2*time.Minute {
		t.Errorf("precedence: got level=%s capacity=%d skew=%s", c.Log.Level, c.Auth.NonceCapacity, c.Auth.ClockSkew)
	}

	for name, tc := range map[string]struct{ body, env, want string }{
		"unknown key":     {body: "keystor:\n  backend: file\n", want: "field keystor not found"},
		"bad backend":     {body: "keystore:\n  backend: s3\n", want: `keystore.backend: "s3" is not file or vault`},
		"vault no addr":   {body: "keystore:\n  backend: vault\n", want: "keystore.vault.address: must be set"},
		"approle partial": {body: "keystore:\n  backend: vault\n  vault:\n    address: https://v:8200\n    auth: approle\n", want: "approle auth needs role_id and secret_id_file"},
		"skew":            {body: "auth:\n  clock_skew: 2h\n", want: "auth.clock_skew: 2h0m0s is outside"},
		"bad env":         {body: "", env: "abc", want: "QIAO_AUTH_NONCE_CAPACITY"},
		"admin not local": {body: "server:\n  admin_address: 0.0.0.0:9090\n", want: "server.admin_address: \"0.0.0.0:9090\" is not a loopback address"},
		"bad address":     {body: "server:\n  grpc_address: localhost\n", want: "server.grpc_address: \"localhost\" is not host:port"},
		"bad transport":   {body: "server:\n  grpc_transport: tls12\n", want: `server.grpc_transport: "tls12" is not tlcp or tls13`},
		"tiny messages":   {body: "limits:\n  max_message_bytes: 100\n", want: "limits.max_message_bytes: 100 is outside"},
		"no rate":         {body: "limits:\n  requests_per_second: 0\n", want: "limits.requests_per_second: 0 is below 1"},
		"no idle":         {body: "limits:\n  idle_timeout: 0s\n", want: "limits.idle_timeout: 0s is outside"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("QIAO_LOG_LEVEL", "info")
			if tc.env != "" {
				t.Setenv("QIAO_AUTH_NONCE_CAPACITY", tc.env)
			} else {
				t.Setenv("QIAO_AUTH_NONCE_CAPACITY", "5000")
			}
			_, err := Load(writeConfig(t, tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestPath(t *testing.T) {
	c := Default("/srv/qiao")
	if got := c.Path("keys"); got != "/srv/qiao/keys" {
		t.Errorf("Path(keys) = %s", got)
	}
	if got := c.Path("/etc/qiao/keys"); got != "/etc/qiao/keys" {
		t.Errorf("absolute path changed: %s", got)
	}
}

func TestChanged(t *testing.T) {
	a := Default("/srv/qiao")
	b := a
	if got := Changed(a, b); len(got) != 0 {
		t.Fatalf("Changed(a, a) = %v", got)
	}
	b.Log.Level = "debug"
	b.Limits.Burst++
	b.Keystore.Vault.Address = "https://vault.example:8200"
	got := Changed(a, b)
	want := []string{"keystore.vault.address", "log.level", "limits.burst"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("Changed = %v, want %v", got, want)
	}
}
