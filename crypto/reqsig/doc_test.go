package reqsig_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/qiao-exchange/qiao/crypto/reqsig"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/crypto/sm3"
	"github.com/qiao-exchange/qiao/internal/openssltest"
)

// docPath is the page that specifies the wire format. Its worked example is
// checked here value by value, and its shell commands are run, so the page
// cannot drift from the code.
const docPath = "../../docs/request-signing.md"

var docBlock = regexp.MustCompile("(?s)<!-- example:([a-z0-9.-]+) -->\n```[a-z]*\n(.*?)\n```")

// docExample holds the page's marked code blocks by name, and the page.
type docExample struct {
	text   string
	blocks map[string]string
}

func readDoc(t *testing.T) docExample {
	t.Helper()
	text, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	d := docExample{text: string(text), blocks: map[string]string{}}
	for _, m := range docBlock.FindAllStringSubmatch(d.text, -1) {
		if _, dup := d.blocks[m[1]]; dup {
			t.Fatalf("%s: block %q twice", docPath, m[1])
		}
		d.blocks[m[1]] = m[2]
	}
	for _, name := range []string{
		"inputs", "key.pem", "pub.pem", "key-id", "nonce", "content-sm3", "canonical", "signature",
		"request", "curl", "canonical-grpc", "verify.sh", "sign.sh", "curl-usage",
	} {
		if _, ok := d.blocks[name]; !ok {
			t.Fatalf("%s: no block marked <!-- example:%s -->", docPath, name)
		}
	}
	return d
}

// inputs are the worked example's inputs, parsed from the page.
type inputs struct {
	key        *sm2.PrivateKey
	scalar     []byte
	principal  string
	time       time.Time
	nonce      []byte
	method     string
	path       string
	body       []byte
	grpcMethod string
}

func (d docExample) inputs(t *testing.T) inputs {
	t.Helper()
	kv := map[string]string{}
	for _, line := range strings.Split(d.blocks["inputs"], "\n") {
		k, v, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("inputs line %q", line)
		}
		kv[k] = strings.TrimLeft(v, " ")
	}
	var in inputs
	var err error
	if in.scalar, err = hex.DecodeString(kv["private key d"]); err != nil {
		t.Fatalf("private key d: %v", err)
	}
	if in.key, err = sm2.NewPrivateKey(in.scalar); err != nil {
		t.Fatal(err)
	}
	if in.time, err = time.Parse(time.RFC3339, kv["time"]); err != nil {
		t.Fatalf("time: %v", err)
	}
	if in.nonce, err = hex.DecodeString(kv["nonce bytes"]); err != nil {
		t.Fatalf("nonce bytes: %v", err)
	}
	in.principal, in.method, in.path = kv["principal"], kv["method"], kv["path"]
	in.body, in.grpcMethod = []byte(kv["body"]), kv["grpc method"]
	for k, v := range kv {
		if v == "" {
			t.Fatalf("inputs: %s empty", k)
		}
	}
	if len(kv) != 8 {
		t.Fatalf("inputs: %d lines, want 8", len(kv))
	}
	return in
}

// sign signs the example's request as the code does, with the example's
// clock and nonce.
func (in inputs) sign(t *testing.T, method, path string, body []byte) reqsig.Headers {
	t.Helper()
	s, err := reqsig.NewSigner(reqsig.SignerConfig{
		Principal: in.principal, Key: in.key,
		Now: func() time.Time { return in.time }, Rand: bytes.NewReader(in.nonce),
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Sign(method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestDocWorkedExample(t *testing.T) {
	d := readDoc(t)
	in := d.inputs(t)
	b := d.blocks
	if in.principal != "police.411528" || !strings.EqualFold(hex.EncodeToString(in.scalar), exampleScalar) {
		t.Errorf("the example is no longer GB/T 32918.2's key for police.411528")
	}

	// Keys.
	k, err := sm2.ParsePrivateKeyPEM([]byte(b["key.pem"]))
	if err != nil || !k.Equal(in.key) {
		t.Errorf("key.pem is not the key with scalar d (%v)", err)
	}
	pub := in.key.PublicKey()
	if got := strings.TrimSuffix(string(pub.MarshalPEM()), "\n"); got != b["pub.pem"] {
		t.Errorf("pub.pem: the code gives\n%s", got)
	}
	if full := sm3.SumHex(pub.DER()); !strings.Contains(d.text, "`"+full+"`") {
		t.Errorf("the page does not show SM3 over the public key's DER, %s", full)
	}

	// Intermediate values.
	h := in.sign(t, in.method, in.path, in.body)
	canonical := reqsig.CanonicalString(h, in.method, in.path)
	for name, want := range map[string]string{
		"key-id":      h.KeyID,
		"nonce":       h.Nonce,
		"content-sm3": h.ContentSM3,
		"canonical":   canonical,
	} {
		if b[name] != want {
			t.Errorf("block %s:\n%s\nthe code gives:\n%s", name, b[name], want)
		}
	}
	for _, s := range []string{
		fmt.Sprintf("these exact %d bytes", len(canonical)),
		fmt.Sprintf("SM3 of the %d-byte body", len(in.body)),
	} {
		if !strings.Contains(d.text, s) {
			t.Errorf("the page does not say %q", s)
		}
	}
	grpc := reqsig.CanonicalString(in.sign(t, reqsig.GRPCMethod, in.grpcMethod, nil), reqsig.GRPCMethod, in.grpcMethod)
	if b["canonical-grpc"] != grpc {
		t.Errorf("block canonical-grpc:\n%s\nthe code gives:\n%s", b["canonical-grpc"], grpc)
	}

	// The example signature verifies.
	sig, err := base64.StdEncoding.DecodeString(b["signature"])
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	if err := pub.Verify([]byte(canonical), sig); err != nil {
		t.Errorf("the example signature does not verify: %v", err)
	}
	h.Signature = b["signature"]

	// The request as on the wire passes the verifier, with the example's
	// clock, through the same path the gateway's HTTP handler takes.
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(b["request"])))
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("request body: %v", err)
	}
	if !bytes.Equal(body, in.body) || r.Method != in.method || r.RequestURI != in.path {
		t.Errorf("request: %s %s %q, want the inputs", r.Method, r.RequestURI, body)
	}
	req := reqsig.RequestFromHTTP(r, body)
	if req.Headers != h {
		t.Errorf("request headers %+v\nthe code gives %+v", req.Headers, h)
	}
	keys := keyring{}
	keys.add(in.principal, pub)
	v, err := reqsig.NewVerifier(reqsig.VerifierConfig{
		Keys: keys, Nonces: reqsig.NewMemoryNonceStore(1, nil), Now: func() time.Time { return in.time },
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), req); err != nil {
		t.Errorf("the example request does not verify: %v", err)
	}

	// The curl command sends the same headers to the same target.
	curl := http.Header{}
	for _, m := range regexp.MustCompile(`-H '([^:']+): ([^']*)'`).FindAllStringSubmatch(b["curl"], -1) {
		curl.Add(m[1], m[2])
	}
	if got := reqsig.HeadersFromHTTP(curl); got != h {
		t.Errorf("curl headers %+v\nthe code gives %+v", got, h)
	}
	if url := "'https://" + r.Host + in.path + "'"; !strings.HasSuffix(b["curl"], url) {
		t.Errorf("curl does not end with %s", url)
	}
}

// shell runs script with sh in dir and returns its standard output.
func shell(t *testing.T, dir, script string, args ...string) string {
	t.Helper()
	file := filepath.Join(dir, "script.sh")
	if err := os.WriteFile(file, []byte(script+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", append([]string{file}, args...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sh %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return string(out)
}

func TestDocOpenSSL(t *testing.T) {
	d := readDoc(t)
	in := d.inputs(t)
	b := d.blocks
	h := in.sign(t, in.method, in.path, in.body)
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("pub.pem", b["pub.pem"]+"\n")
	write("key.pem", b["key.pem"]+"\n")

	t.Run("key.pem holds d", func(t *testing.T) {
		out := openssltest.Run(t, nil, "pkey", "-in", filepath.Join(dir, "key.pem"), "-text", "-noout")
		priv := regexp.MustCompile(`(?s)priv:\n(.*?)\npub:`).FindSubmatch(out)
		if priv == nil || strings.NewReplacer(" ", "", ":", "", "\n", "").Replace(string(priv[1])) != hex.EncodeToString(in.scalar) {
			t.Errorf("openssl reads key.pem as\n%s", out)
		}
	})

	t.Run("verify.sh", func(t *testing.T) {
		openssltest.Path(t) // the script runs openssl
		out := strings.Split(strings.TrimSpace(shell(t, dir, b["verify.sh"])), "\n")
		if len(out) != 3 || out[0] != h.KeyID || out[1] != h.ContentSM3 || out[2] != "Signature Verified Successfully" {
			t.Errorf("verify.sh printed %q, want the key ID, the content SM3 and success", out)
		}
		canonical, err := os.ReadFile(filepath.Join(dir, "canonical.txt"))
		if err != nil || string(canonical) != b["canonical"] {
			t.Errorf("verify.sh wrote canonical.txt %q, want the canonical block (%v)", canonical, err)
		}
		if body, err := os.ReadFile(filepath.Join(dir, "body.json")); err != nil || !bytes.Equal(body, in.body) {
			t.Errorf("verify.sh wrote body.json %q (%v)", body, err)
		}
	})

	t.Run("sign.sh", func(t *testing.T) {
		openssltest.Path(t) // the script runs openssl
		keys := keyring{}
		keys.add(in.principal, in.key.PublicKey())
		v, err := reqsig.NewVerifier(reqsig.VerifierConfig{Keys: keys, Nonces: reqsig.NewMemoryNonceStore(0, nil)})
		if err != nil {
			t.Fatal(err)
		}
		body := []byte("名称,金额\r\n张三,12.50\r\n\x00")
		write("body.bin", string(body))
		for _, tc := range []struct {
			args   []string
			method string
			body   []byte
		}{
			{[]string{"key.pem", in.principal, "post", "/v1/datasets/police.deaths/batches?region=411528&q=%E5%90%8D", "body.bin"}, "POST", body},
			{[]string{"key.pem", in.principal, "GET", "/v1/batches/b1"}, "GET", nil},
			{[]string{"key.pem", in.principal, "POST", in.grpcMethod, "/dev/null"}, reqsig.GRPCMethod, nil},
		} {
			out := shell(t, dir, b["sign.sh"], tc.args...)
			hdr := http.Header{}
			for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				name, value, ok := strings.Cut(line, ": ")
				if !ok {
					t.Fatalf("sign.sh printed %q", out)
				}
				hdr.Add(name, value)
			}
			req := reqsig.Request{Headers: reqsig.HeadersFromHTTP(hdr), Method: tc.method, Path: tc.args[3], Body: tc.body}
			if _, err := v.Verify(t.Context(), req); err != nil {
				t.Errorf("sign.sh %s: %v\n%s", strings.Join(tc.args[2:], " "), err, out)
			}
		}
	})

	t.Run("curl-usage parses", func(t *testing.T) {
		cmd := exec.Command("sh", "-n")
		cmd.Stdin = strings.NewReader(b["curl-usage"] + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sh -n: %v\n%s", err, out)
		}
	})
}
