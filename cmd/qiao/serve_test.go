package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/qiao-exchange/qiao/config"
	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/gmtls"
	"github.com/qiao-exchange/qiao/crypto/keystore"
	"github.com/qiao-exchange/qiao/crypto/reqsig"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/gateway"
	"github.com/qiao-exchange/qiao/gateway/gatewaytest"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
)

// deployment is a `qiao init` deployment with `qiao serve` running on
// loopback.
type deployment struct {
	dir   string
	addrs gateway.Addrs
	ks    keystore.Keystore
	roots []*ca.Certificate
	tls   *x509.Certificate
	http  *http.Client
	stop  func() error
}

// serveDeployment makes a deployment with `qiao init` in a temporary
// directory and runs `qiao serve` on it, with free loopback ports and a
// 64 KiB message limit set through the environment.
func serveDeployment(t testing.TB) *deployment {
	t.Helper()
	return serveDeploymentWith(t, map[string]string{"limits.max_message_bytes": "65536"})
}

// serveDeploymentWith is serveDeployment with the options of settings (by
// YAML path) set through the environment.
func serveDeploymentWith(t testing.TB, settings map[string]string) *deployment {
	t.Helper()
	dir := t.TempDir()
	if err := runInit(t.Context(), dir, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"server.grpc_address", "server.rest_tls13_address", "server.rest_tlcp_address", "server.admin_address"} {
		t.Setenv(config.EnvName(k), "127.0.0.1:0")
	}
	for k, v := range settings {
		t.Setenv(config.EnvName(k), v)
	}
	d := &deployment{dir: dir}
	d.start(t)
	return d
}

func (d *deployment) start(t testing.TB) {
	t.Helper()
	cfg, err := config.Load(filepath.Join(d.dir, "qiao.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan gateway.Addrs, 1)
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, cfg, io.Discard, func(a gateway.Addrs) { addrs <- a }) }()
	select {
	case d.addrs = <-addrs:
	case err := <-done:
		cancel()
		t.Fatalf("qiao serve: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("qiao serve did not listen within 10 s")
	}
	stopped := false
	d.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		if d.http != nil {
			d.http.CloseIdleConnections()
		}
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Error("qiao serve did not stop within 10 s")
			return nil
		}
	}
	t.Cleanup(func() {
		if err := d.stop(); err != nil {
			t.Errorf("qiao serve: %v", err)
		}
	})

	if d.ks, err = keystore.NewFile(filepath.Join(d.dir, "keys")); err != nil {
		t.Fatal(err)
	}
	if d.roots, err = readRoots(filepath.Join(d.dir, "certs", "ca-sm2.pem")); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(d.dir, "certs", "ca-tls.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if d.tls, err = ca.ParseTLSCertificatePEM(data); err != nil {
		t.Fatal(err)
	}
	// A plain net/http client on TLS 1.3 trusting the P-256 root.
	d.http = &http.Client{
		Transport: &http.Transport{TLSClientConfig: gmtls.TLS13ClientConfig([]*x509.Certificate{d.tls}, "localhost"), ForceAttemptHTTP2: true},
		Timeout:   10 * time.Second,
	}
}

// key returns principal's signing key from the deployment's keystore.
func (d *deployment) key(t testing.TB, principal string) *sm2.PrivateKey {
	t.Helper()
	k, err := keystore.LoadSM2(t.Context(), d.ks, "principals/"+principal+"/sign")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (d *deployment) signer(t testing.TB, principal string, now func() time.Time) *reqsig.Signer {
	t.Helper()
	s, err := reqsig.NewSigner(reqsig.SignerConfig{Principal: principal, Key: d.key(t, principal), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// conn is a gRPC connection on GM-TLS (TLCP) with principal's certificate.
func (d *deployment) conn(t testing.TB, principal string, interceptor grpc.UnaryClientInterceptor) *grpc.ClientConn {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(d.dir, "certs", principal+".sign.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.ParseCertificatePEM(data)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := gmtls.ClientConfig(gmtls.KeyPair{Cert: cert, Key: d.key(t, principal)}, d.roots, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(d.addrs.GRPC.String(), grpc.WithTransportCredentials(cfg.TransportCredentials()), grpc.WithUnaryInterceptor(interceptor))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// get makes a request and returns its status and body.
func get(t *testing.T, c *http.Client, req *http.Request) (int, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// `qiao serve` on a `qiao init` deployment, with no other setup: signed
// calls succeed on GM-TLS gRPC and TLS 1.3 REST, every kind of bad
// signature is refused, limits hold, and the admin listener answers.
func TestServe(t *testing.T) {
	d := serveDeployment(t)
	ctx := t.Context()
	const police = "police." + region

	// gRPC on GM-TLS, as police.
	dir := exchangev1.NewDirectoryClient(d.conn(t, police, gatewaytest.SigningInterceptor(d.signer(t, police, nil), nil)))
	list, err := dir.ListPrincipals(ctx, &exchangev1.ListPrincipalsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(list.GetPrincipals()); n != len(devPrincipals())+1 {
		t.Errorf("%d principals, want the %d of principals.yaml and the gateway", n, len(devPrincipals()))
	}
	gw, err := dir.GetPrincipal(ctx, &exchangev1.GetPrincipalRequest{Name: "gateway"})
	if err != nil || len(gw.GetPrincipal().GetCertificates()) != 2 {
		t.Errorf("the gateway's record: %v %v", gw, err)
	}

	// REST on TLS 1.3 with a plain net/http client.
	rest := "https://" + d.addrs.RESTTLS13.String()
	req, err := gatewaytest.NewRequest(ctx, d.signer(t, police, nil), "GET", rest+"/v1/principals", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	code, body := get(t, d.http, req)
	var got struct{ Principals []struct{ Name string } }
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil || len(got.Principals) != len(devPrincipals())+1 {
		t.Errorf("REST ListPrincipals: %d %.300s", code, body)
	}
	unsigned, _ := gatewaytest.NewRequest(ctx, nil, "GET", rest+"/v1/principals", nil, nil)
	if code, body := get(t, d.http, unsigned); code != http.StatusUnauthorized || !strings.Contains(body, `"code":16`) {
		t.Errorf("unsigned REST call: %d %s", code, body)
	}

	// Refused with UNAUTHENTICATED.
	court := d.signer(t, "court."+region, nil)
	replayer := &gatewaytest.Replayer{Signer: d.signer(t, police, nil)}
	replayed := exchangev1.NewDirectoryClient(d.conn(t, police, replayer.Interceptor()))
	if _, err := replayed.ListPrincipals(ctx, &exchangev1.ListPrincipalsRequest{}); err != nil {
		t.Fatal(err)
	}
	stranger, err := reqsig.NewSigner(reqsig.SignerConfig{Principal: "tax." + region, Key: d.key(t, police)})
	if err != nil {
		t.Fatal(err)
	}
	for name, interceptor := range map[string]grpc.UnaryClientInterceptor{
		"unsigned": gatewaytest.Unsigned(),
		"wrongly signed": gatewaytest.SigningInterceptor(court, func(h *reqsig.Headers) {
			h.Principal, h.KeyID = police, d.key(t, police).PublicKey().KeyID()
		}),
		"replayed":          replayer.Interceptor(),
		"stale":             gatewaytest.SigningInterceptor(d.signer(t, police, func() time.Time { return time.Now().Add(-301 * time.Second) }), nil),
		"unknown principal": gatewaytest.SigningInterceptor(stranger, nil),
	} {
		t.Run(name, func(t *testing.T) {
			c := exchangev1.NewDirectoryClient(d.conn(t, police, interceptor))
			if _, err := c.ListPrincipals(ctx, &exchangev1.ListPrincipalsRequest{}); status.Code(err) != codes.Unauthenticated {
				t.Errorf("%v, want Unauthenticated", err)
			}
		})
	}

	// Oversized message: RESOURCE_EXHAUSTED.
	ds := exchangev1.NewDatasetsClient(d.conn(t, police, gatewaytest.SigningInterceptor(d.signer(t, police, nil), nil)))
	_, err = ds.PushBatch(ctx, &exchangev1.PushBatchRequest{Dataset: "police.deaths", BatchId: "b-1",
		Envelope: &exchangev1.Envelope{Content: make([]byte, 65<<10), Signature: []byte{1}}})
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("oversized message: %v, want ResourceExhausted", err)
	}

	// The admin listener, and the OpenAPI document.
	admin := "http://" + d.addrs.Admin.String()
	for path, want := range map[string]string{
		"/healthz": "ok",
		"/readyz":  "ready",
		"/metrics": `qiao_auth_failures_total{reason="replay",transport="grpc"} 1`,
	} {
		resp, err := http.Get(admin + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d, want %q in\n%.2000s", path, resp.StatusCode, want, b)
		}
	}
	doc, _ := http.NewRequest("GET", rest+"/openapi.json", nil)
	code, body = get(t, d.http, doc)
	var openapi struct {
		Swagger string
		Paths   map[string]any
	}
	if err := json.Unmarshal([]byte(body), &openapi); code != 200 || err != nil || openapi.Swagger != "2.0" || openapi.Paths["/v1/principals"] == nil {
		t.Errorf("/openapi.json: %d %.200s", code, body)
	}

	// A restart over the same store keeps the principals and does not seed
	// again.
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	d.start(t)
	dir = exchangev1.NewDirectoryClient(d.conn(t, police, gatewaytest.SigningInterceptor(d.signer(t, police, nil), nil)))
	if list, err := dir.ListPrincipals(ctx, &exchangev1.ListPrincipalsRequest{}); err != nil || len(list.GetPrincipals()) != len(devPrincipals())+1 {
		t.Errorf("after a restart: %d principals, %v", len(list.GetPrincipals()), err)
	}
}

// `qiao serve` refuses to start without the gateway's certificates.
func TestServeWithoutCertificates(t *testing.T) {
	dir := t.TempDir()
	if err := runInit(t.Context(), dir, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "certs", "gateway.sign.pem")); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(dir, "qiao.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	err = runServe(t.Context(), cfg, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "the gateway's certificate") {
		t.Errorf("got %v", err)
	}
}
