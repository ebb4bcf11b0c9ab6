package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestInitCreatesADeploymentAndIsIdempotent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "qiao-data")
	out := mustRun(t, "init", "--dir", dir)
	if !strings.Contains(out, "完成 done") {
		t.Fatalf("init output:\n%s", out)
	}
	first := snapshot(t, dir)

	want := []string{
		"qiao.yaml", "principals.yaml",
		"certs/ca-sm2.pem", "certs/ca-tls.pem",
		"certs/gateway.sign.pem", "certs/gateway.enc.pem", "certs/gateway.tls.pem",
		"keys/ca/sm2-root.pem", "keys/ca/tls-root.pem", "keys/gateway/master.pem",
		"keys/principals/gateway/sign.pem", "keys/principals/gateway/enc.pem", "keys/principals/gateway/tls.pem",
	}
	for _, p := range devPrincipals() {
		want = append(want, "certs/"+p.Name+".sign.pem", "certs/"+p.Name+".enc.pem",
			"keys/principals/"+p.Name+"/sign.pem", "keys/principals/"+p.Name+"/enc.pem")
	}
	for _, f := range want {
		if _, ok := first[f]; !ok {
			t.Errorf("init did not create %s", f)
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(f, "keys/") && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %s, want 0600", f, fi.Mode())
		}
	}

	var seed struct{ Principals []seedPrincipal }
	if err := yaml.Unmarshal(first["principals.yaml"], &seed); err != nil {
		t.Fatal(err)
	}
	roles := map[string]string{}
	for _, p := range seed.Principals {
		roles[p.Name] = strings.Join(p.Roles, ",")
	}
	for name, role := range map[string]string{"user:alice": "requester", "user:bob": "approver", "user:carol": "approver", "user:dave": "auditor", "user:erin": "admin"} {
		if roles[name] != role {
			t.Errorf("%s has roles %q, want %q", name, roles[name], role)
		}
	}

	// The deployment it made passes its own check.
	check := mustRun(t, "config", "check", "--config", filepath.Join(dir, "qiao.yaml"))
	if !strings.Contains(check, "the deployment is in order") {
		t.Errorf("config check:\n%s", check)
	}

	// A rerun changes nothing: no key, certificate or file is rewritten.
	out = mustRun(t, "init", "--dir", dir)
	if strings.Contains(out, "created") {
		t.Errorf("second init created something:\n%s", out)
	}
	second := snapshot(t, dir)
	if len(second) != len(first) {
		t.Errorf("second init changed the file count: %d → %d", len(first), len(second))
	}
	for f, v := range first {
		if !bytes.Equal(second[f], v) {
			t.Errorf("second init changed %s", f)
		}
	}

	// A lost key is recreated and nothing else changes.
	os.Remove(filepath.Join(dir, "keys/gateway/master.pem"))
	out = mustRun(t, "init", "--dir", dir)
	if !strings.Contains(out, "created  storage master key") {
		t.Errorf("init did not recreate the missing master key:\n%s", out)
	}
}

func TestConfigCheckFindsProblems(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "init", "--dir", dir)
	cfg := filepath.Join(dir, "qiao.yaml")

	// A certificate from another deployment's CA does not chain.
	other := t.TempDir()
	mustRun(t, "init", "--dir", other)
	data, err := os.ReadFile(filepath.Join(other, "certs/police.411528.sign.pem"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "certs/police.411528.sign.pem"), data, 0o644)
	// A master key others can read is refused.
	os.Chmod(filepath.Join(dir, "keys/gateway/master.pem"), 0o644)

	out, err := run(t, "config", "check", "--config", cfg)
	if err == nil {
		t.Fatalf("config check passed a broken deployment:\n%s", out)
	}
	for _, want := range []string{"FAIL  police.411528.sign.pem", "FAIL  storage master key", "chmod 600"} {
		if !strings.Contains(out, want) {
			t.Errorf("config check output lacks %q:\n%s", want, out)
		}
	}
}
