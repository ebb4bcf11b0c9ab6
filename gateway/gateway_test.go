package gateway_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/qiao-exchange/qiao/config"
	"github.com/qiao-exchange/qiao/crypto/gmtls"
	"github.com/qiao-exchange/qiao/crypto/reqsig"
	"github.com/qiao-exchange/qiao/gateway"
	"github.com/qiao-exchange/qiao/gateway/gatewaytest"
	"github.com/qiao-exchange/qiao/gateway/rpcerr"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/store"
)

// Every refusal of authentication on the gRPC path answers UNAUTHENTICATED,
// is counted by reason, and calls with a good signature go through.
func TestGRPCAuthentication(t *testing.T) {
	e := startGateway(t, nil)
	p := e.pki
	stale, err := reqsig.NewSigner(reqsig.SignerConfig{Principal: police, Key: p.sign[police].Key,
		Now: func() time.Time { return time.Now().Add(-6 * time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	wrongKey, err := reqsig.NewSigner(reqsig.SignerConfig{Principal: police, Key: p.sign[court].Key})
	if err != nil {
		t.Fatal(err)
	}
	replayer := &gatewaytest.Replayer{Signer: p.signer(t, police)}
	replayed := exchangev1.NewDirectoryClient(e.conn(police, replayer.Interceptor()))
	if _, err := replayed.ListPrincipals(t.Context(), &exchangev1.ListPrincipalsRequest{}); err != nil {
		t.Fatalf("first call of the replayer: %v", err)
	}

	for _, tc := range []struct {
		name        string
		interceptor func() exchangev1.DirectoryClient
		want        codes.Code
		reason      string
	}{
		{"signed", func() exchangev1.DirectoryClient { return e.directory(police) }, codes.OK, ""},
		{"unsigned", func() exchangev1.DirectoryClient {
			return exchangev1.NewDirectoryClient(e.conn(police, gatewaytest.Unsigned()))
		}, codes.Unauthenticated, "missing_header"},
		{"wrongly signed", func() exchangev1.DirectoryClient {
			// court's key signs, police's key ID is claimed.
			return exchangev1.NewDirectoryClient(e.conn(police, gatewaytest.SigningInterceptor(wrongKey, func(h *reqsig.Headers) {
				h.KeyID = p.sign[police].Key.PublicKey().KeyID()
			})))
		}, codes.Unauthenticated, "bad_signature"},
		{"body altered", func() exchangev1.DirectoryClient {
			return exchangev1.NewDirectoryClient(e.conn(police, gatewaytest.SigningInterceptor(p.signer(t, police), func(h *reqsig.Headers) {
				h.ContentSM3 = reqsig.ContentSM3([]byte("something else"))
			})))
		}, codes.Unauthenticated, "bad_signature"},
		{"replayed", func() exchangev1.DirectoryClient { return replayed }, codes.Unauthenticated, "replay"},
		{"stale", func() exchangev1.DirectoryClient {
			return exchangev1.NewDirectoryClient(e.conn(police, gatewaytest.SigningInterceptor(stale, nil)))
		}, codes.Unauthenticated, "stale_timestamp"},
		{"unknown principal", func() exchangev1.DirectoryClient {
			// hrss holds a certificate from the root but is not registered.
			return exchangev1.NewDirectoryClient(e.conn(hrss, gatewaytest.SigningInterceptor(p.signer(t, hrss), nil)))
		}, codes.Unauthenticated, "unknown_key"},
		{"encryption key", func() exchangev1.DirectoryClient {
			s, err := reqsig.NewSigner(reqsig.SignerConfig{Principal: police, Key: p.enc[police].Key})
			if err != nil {
				t.Fatal(err)
			}
			return exchangev1.NewDirectoryClient(e.conn(police, gatewaytest.SigningInterceptor(s, nil)))
		}, codes.Unauthenticated, "unknown_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.metric("qiao_auth_failures_total", map[string]string{"transport": "grpc", "reason": tc.reason})
			resp, err := tc.interceptor().ListPrincipals(t.Context(), &exchangev1.ListPrincipalsRequest{})
			if got := status.Code(err); got != tc.want {
				t.Fatalf("code %v (%v), want %v", got, err, tc.want)
			}
			if tc.want == codes.OK {
				if len(resp.GetPrincipals()) != 5 {
					t.Errorf("got %d principals, want 5", len(resp.GetPrincipals()))
				}
				return
			}
			if after := e.metric("qiao_auth_failures_total", map[string]string{"transport": "grpc", "reason": tc.reason}); after != before+1 {
				t.Errorf("qiao_auth_failures_total{reason=%q} went from %v to %v", tc.reason, before, after)
			}
		})
	}
	// The log says why, without the signature, nonce or body.
	if !strings.Contains(e.logs.String(), `"reason":"replay"`) {
		t.Errorf("the replay was not logged:\n%s", e.logs.String())
	}
}

// A disabled principal is refused; an admin changes the directory, nobody
// else does.
func TestDirectoryAdmin(t *testing.T) {
	e := startGateway(t, nil)
	ctx := t.Context()
	admin := e.directory(erin)

	_, err := e.directory(police).SetPrincipalStatus(ctx, &exchangev1.SetPrincipalStatusRequest{
		Name: court, Status: exchangev1.PrincipalStatus_PRINCIPAL_STATUS_DISABLED})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("police disabling court: %v, want PermissionDenied", err)
	}
	resp, err := admin.SetPrincipalStatus(ctx, &exchangev1.SetPrincipalStatusRequest{
		Name: court, Status: exchangev1.PrincipalStatus_PRINCIPAL_STATUS_DISABLED})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetPrincipal().GetStatus() != exchangev1.PrincipalStatus_PRINCIPAL_STATUS_DISABLED {
		t.Errorf("status %v after disabling", resp.GetPrincipal().GetStatus())
	}
	if _, err := e.directory(court).ListPrincipals(ctx, &exchangev1.ListPrincipalsRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("disabled court: %v, want Unauthenticated", err)
	}
	if _, err := admin.SetPrincipalStatus(ctx, &exchangev1.SetPrincipalStatusRequest{
		Name: "nobody.1", Status: exchangev1.PrincipalStatus_PRINCIPAL_STATUS_ACTIVE}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown principal: %v, want NotFound", err)
	}

	// hrss registers with its double certificate; once registered it may call.
	reg := &exchangev1.RegisterPrincipalRequest{
		Name: hrss, Kind: exchangev1.PrincipalKind_PRINCIPAL_KIND_AGENCY, Agency: "hrss",
		SigningCertificatePem:    string(e.pki.sign[hrss].Cert.PEM()),
		EncryptionCertificatePem: string(e.pki.enc[hrss].Cert.PEM()),
	}
	if _, err := e.directory(alice).RegisterPrincipal(ctx, reg); status.Code(err) != codes.PermissionDenied {
		t.Errorf("alice registering: %v, want PermissionDenied", err)
	}
	swapped := &exchangev1.RegisterPrincipalRequest{Name: hrss, Kind: reg.Kind,
		SigningCertificatePem: reg.EncryptionCertificatePem, EncryptionCertificatePem: reg.SigningCertificatePem}
	_, err = admin.RegisterPrincipal(ctx, swapped)
	checkViolation(t, err, "signing_certificate_pem")
	foreign := &exchangev1.RegisterPrincipalRequest{Name: "medins.411528", Kind: reg.Kind,
		SigningCertificatePem: reg.SigningCertificatePem, EncryptionCertificatePem: reg.EncryptionCertificatePem}
	_, err = admin.RegisterPrincipal(ctx, foreign)
	checkViolation(t, err, "signing_certificate_pem")

	got, err := admin.RegisterPrincipal(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.GetPrincipal().GetCertificates()); n != 2 {
		t.Errorf("registered with %d certificates, want 2", n)
	}
	if _, err := admin.RegisterPrincipal(ctx, reg); status.Code(err) != codes.AlreadyExists {
		t.Errorf("registering twice: %v, want AlreadyExists", err)
	}
	if _, err := e.directory(hrss).GetPrincipal(ctx, &exchangev1.GetPrincipalRequest{Name: "gateway"}); err != nil {
		t.Errorf("hrss after registration: %v", err)
	}
}

// checkViolation checks that err is INVALID_ARGUMENT with a field violation
// of field.
func checkViolation(t *testing.T, err error, field string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("%v, want InvalidArgument", err)
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return
				}
			}
		}
	}
	t.Errorf("no field violation of %s in %v", field, st.Details())
}

// The REST path authenticates before grpc-gateway runs: unsigned or altered
// calls never reach a service; signed ones do, on TLS 1.3 and on TLCP.
func TestREST(t *testing.T) {
	e := startGateway(t, nil)

	code, _, body := e.rest(police, "GET", "/v1/principals?kind=PRINCIPAL_KIND_AGENCY", nil, nil)
	if code != http.StatusOK {
		t.Fatalf("signed GET: %d %s", code, body)
	}
	var list struct {
		Principals []struct {
			Name         string
			Certificates []struct{ KeyID string }
		}
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Principals) != 2 || list.Principals[0].Name != court || len(list.Principals[1].Certificates) != 2 {
		t.Errorf("agencies: %s", body)
	}

	code, hdr, body := e.rest("", "GET", "/v1/principals", nil, nil)
	if code != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") != reqsig.Scheme || !strings.Contains(body, `"code":16`) {
		t.Errorf("unsigned GET: %d %v %s", code, hdr, body)
	}
	// An unsigned call that would change the directory is refused before
	// grpc-gateway decodes it: the admin check never runs.
	code, _, body = e.rest("", "POST", "/v1/principals", []byte(`{"name":"x.1","kind":"PRINCIPAL_KIND_AGENCY"}`), nil)
	if code != http.StatusUnauthorized {
		t.Errorf("unsigned POST: %d %s", code, body)
	}
	// The path is signed: a signature for one query does not serve another.
	code, _, _ = e.rest(police, "GET", "/v1/principals?kind=PRINCIPAL_KIND_USER", nil, func(h *reqsig.Headers) {
		h.ContentSM3 = reqsig.ContentSM3([]byte("x"))
	})
	if code != http.StatusUnauthorized {
		t.Errorf("altered content digest: %d", code)
	}
	// A user's name in the path, as sent.
	code, _, body = e.rest(police, "GET", "/v1/principals/user:erin", nil, nil)
	if code != http.StatusOK || !strings.Contains(body, `"ROLE_ADMIN"`) {
		t.Errorf("GET user:erin: %d %s", code, body)
	}
	code, _, body = e.rest(police, "GET", "/v1/nothing", nil, nil)
	if code != http.StatusNotFound || !strings.Contains(body, `"code":5`) {
		t.Errorf("unknown path: %d %s", code, body)
	}
	code, _, body = e.rest(police, "GET", "/v1/datasets/police.deaths", nil, nil)
	if code != http.StatusOK || !strings.Contains(body, `"classification":"CLASSIFICATION_SENSITIVE"`) ||
		!strings.Contains(body, `"batchCount":"0"`) {
		t.Errorf("GET dataset: %d %s", code, body)
	}
	code, _, body = e.rest(police, "POST", "/v1/principals", []byte(`{"name": "x.1", "bogus": 1}`), nil)
	if code != http.StatusBadRequest || strings.Contains(body, "bogus") {
		t.Errorf("undecodable body: %d %s", code, body)
	}
	if e.metric("qiao_auth_failures_total", map[string]string{"transport": "rest"}) < 3 {
		t.Error("REST authentication failures not counted")
	}

	// The same on TLCP, with police's certificate.
	cfg, err := gmtls.ClientConfig(e.pki.sign[police], e.pki.roots(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	tlcp := &http.Client{Transport: &http.Transport{DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return cfg.Dial(ctx, network, addr)
	}}}
	req, err := gatewaytest.NewRequest(t.Context(), e.pki.signer(t, police), "GET", "https://"+e.addrs.RESTTLCP.String()+"/v1/principals/police.411528", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, body := do(t, tlcp, req); code != http.StatusOK || !strings.Contains(body, `"name":"police.411528"`) {
		t.Errorf("REST on TLCP: %d %s", code, body)
	}
	for _, path := range []string{"https://" + e.addrs.RESTTLS13.String(), "https://" + e.addrs.RESTTLCP.String()} {
		req, _ := http.NewRequest("GET", path+"/openapi.json", nil)
		c := e.restClient()
		if strings.Contains(path, e.addrs.RESTTLCP.String()) {
			c = tlcp
		}
		code, hdr, body := do(t, c, req)
		if code != http.StatusOK || hdr.Get("Content-Type") != "application/json" || !strings.Contains(body, `"/v1/datasets/{dataset}/batches"`) {
			t.Errorf("%s/openapi.json: %d %.200s", path, code, body)
		}
	}
}

// Messages over the limit are refused with RESOURCE_EXHAUSTED on both
// transports; so are calls over a principal's rate.
func TestLimits(t *testing.T) {
	e := startGateway(t, func(o *gateway.Options) {
		o.Limits.RequestsPerSecond = 1
		o.Limits.Burst = 3
	})
	ctx := t.Context()
	big := &exchangev1.PushBatchRequest{Dataset: "police.deaths", BatchId: "b1",
		Envelope: &exchangev1.Envelope{Content: make([]byte, 70<<10), Signature: []byte{1}}}
	ds := exchangev1.NewDatasetsClient(e.conn(police, gatewaytest.SigningInterceptor(e.pki.signer(t, police), nil)))
	if _, err := ds.PushBatch(ctx, big); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("oversized gRPC message: %v, want ResourceExhausted", err)
	}
	// The REST limit is 4/3 of the message limit plus 64 KiB: base64.
	body, _ := json.Marshal(map[string]any{"batchId": "b1", "envelope": map[string]any{"content": make([]byte, 120<<10)}})
	code, _, resp := e.rest(police, "POST", "/v1/datasets/police.deaths/batches", body, nil)
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(resp, `"code":8`) {
		t.Errorf("oversized REST body: %d %s", code, resp)
	}

	dir := e.directory(court)
	var limited error
	for range 5 {
		if _, err := dir.GetPrincipal(ctx, &exchangev1.GetPrincipalRequest{Name: court}); err != nil {
			limited = err
			break
		}
	}
	st := status.Convert(limited)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("over the rate: %v, want ResourceExhausted", limited)
	}
	var retry bool
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay().AsDuration() > 0 {
			retry = true
		}
	}
	if !retry {
		t.Errorf("no RetryInfo in %v", st.Details())
	}
	code, hdr, _ := e.rest(court, "GET", "/v1/principals/court.411528", nil, nil)
	if code != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
		t.Errorf("REST over the rate: %d %v", code, hdr)
	}
	// Another principal has its own bucket.
	if _, err := e.directory(erin).GetPrincipal(ctx, &exchangev1.GetPrincipalRequest{Name: court}); err != nil {
		t.Errorf("erin: %v", err)
	}
	if e.metric("qiao_api_rate_limited_total", nil) < 2 {
		t.Error("rate-limited calls not counted")
	}
}

// PushBatch checks the request and asks policy before the Pusher sees
// anything; the Pusher's errors are mapped at the edge without leaking.
func TestPushBatch(t *testing.T) {
	pusher := &fakePusher{}
	e := startGateway(t, func(o *gateway.Options) { o.Pusher = pusher })
	ctx := t.Context()
	client := func(principal string) exchangev1.DatasetsClient {
		return exchangev1.NewDatasetsClient(e.conn(principal, gatewaytest.SigningInterceptor(e.pki.signer(t, principal), nil)))
	}
	env := &exchangev1.Envelope{Content: []byte("sealed"), Signature: []byte("sig")}
	resp, err := client(police).PushBatch(ctx, &exchangev1.PushBatchRequest{Dataset: "police.deaths", BatchId: "b-1", Envelope: env})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.GetCreated() || resp.GetBatch().GetState() != exchangev1.BatchState_BATCH_STATE_COMMITTED || resp.GetBatch().GetRowCount() != 3 {
		t.Errorf("response %v", resp)
	}
	if len(pusher.calls) != 1 || pusher.calls[0].Decision.Revision != gateway.OwnDatasetsRevision || pusher.calls[0].Caller.Principal != police {
		t.Errorf("pusher got %+v", pusher.calls)
	}

	for _, tc := range []struct {
		name      string
		principal string
		req       *exchangev1.PushBatchRequest
		want      codes.Code
	}{
		{"another agency's dataset", police, &exchangev1.PushBatchRequest{Dataset: "court.criminal_judgments", BatchId: "b-2", Envelope: env}, codes.PermissionDenied},
		{"a person", alice, &exchangev1.PushBatchRequest{Dataset: "police.deaths", BatchId: "b-2", Envelope: env}, codes.PermissionDenied},
		{"unknown dataset", police, &exchangev1.PushBatchRequest{Dataset: "police.nothing", BatchId: "b-2", Envelope: env}, codes.NotFound},
		{"no envelope", police, &exchangev1.PushBatchRequest{Dataset: "police.deaths", BatchId: "b-2"}, codes.InvalidArgument},
		{"bad batch ID", police, &exchangev1.PushBatchRequest{Dataset: "police.deaths", BatchId: "b\n2", Envelope: env}, codes.InvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := client(tc.principal).PushBatch(ctx, tc.req); status.Code(err) != tc.want {
				t.Errorf("%v, want %v", err, tc.want)
			}
		})
	}
	if len(pusher.calls) != 1 {
		t.Errorf("the pusher saw %d pushes, want 1", len(pusher.calls))
	}

	// Rejected rows: one field violation per row, capped.
	var vs []rpcerr.Violation
	for i := range 150 {
		vs = append(vs, rpcerr.RowViolation(int64(i+1), "id_number", "check digit does not match"))
	}
	pusher.err = rpcerr.Invalid(vs...)
	_, err = client(police).PushBatch(ctx, &exchangev1.PushBatchRequest{Dataset: "police.deaths", BatchId: "b-3", Envelope: env})
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("rejected rows: %v", err)
	}
	br, ok := st.Details()[0].(*errdetails.BadRequest)
	if !ok || len(br.GetFieldViolations()) != rpcerr.MaxViolations || br.GetFieldViolations()[0].GetField() != "rows[1].id_number" {
		t.Errorf("details %v", st.Details())
	}
	// A failure inside the pipeline reaches the client as INTERNAL, with no
	// detail; the detail is in the log.
	pusher.err = errBoom
	_, err = client(police).PushBatch(ctx, &exchangev1.PushBatchRequest{Dataset: "police.deaths", BatchId: "b-4", Envelope: env})
	if st := status.Convert(err); st.Code() != codes.Internal || strings.Contains(st.Message(), "state.db") {
		t.Errorf("pipeline failure: %v", err)
	}
	if !strings.Contains(e.logs.String(), "state.db is locked") {
		t.Error("the pipeline failure is not in the log")
	}

	// GetBatch reads the caller's own batches only.
	if _, err := e.db.GetBatch(ctx, store.BatchKey{Dataset: "police.deaths", Principal: police, ID: "b-1"}); err == nil {
		t.Fatal("the fake pusher stored a batch")
	}
	if _, err := client(police).GetBatch(ctx, &exchangev1.GetBatchRequest{Dataset: "police.deaths", BatchId: "b-1"}); status.Code(err) != codes.NotFound {
		t.Errorf("GetBatch of an unstored batch: %v", err)
	}
}

// Without a Pusher PushBatch is UNIMPLEMENTED, as is every Access method.
func TestUnimplemented(t *testing.T) {
	e := startGateway(t, nil)
	ctx := t.Context()
	cc := e.conn(police, gatewaytest.SigningInterceptor(e.pki.signer(t, police), nil))
	_, err := exchangev1.NewDatasetsClient(cc).PushBatch(ctx, &exchangev1.PushBatchRequest{Dataset: "police.deaths", BatchId: "b",
		Envelope: &exchangev1.Envelope{Content: []byte{1}, Signature: []byte{1}}})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("PushBatch without a pusher: %v", err)
	}
	if _, err := exchangev1.NewAccessClient(cc).ListRequests(ctx, &exchangev1.ListRequestsRequest{}); status.Code(err) != codes.Unimplemented {
		t.Errorf("ListRequests: %v", err)
	}
	code, _, body := e.rest(police, "POST", "/v1/requests/r1:approve", []byte(`{"reason":"ok"}`), nil)
	if code != http.StatusNotImplemented {
		t.Errorf("REST Approve: %d %s", code, body)
	}
}

func TestCatalogue(t *testing.T) {
	e := startGateway(t, nil)
	ctx := t.Context()
	cat := exchangev1.NewCatalogueClient(e.conn(court, gatewaytest.SigningInterceptor(e.pki.signer(t, court), nil)))
	list, err := cat.ListDatasets(ctx, &exchangev1.ListDatasetsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetDatasets()) != 10 {
		t.Errorf("%d datasets, want 10", len(list.GetDatasets()))
	}
	police, err := cat.ListDatasets(ctx, &exchangev1.ListDatasetsRequest{Owner: "police"})
	if err != nil || len(police.GetDatasets()) != 4 {
		t.Errorf("police datasets: %v %v", police, err)
	}
	d, err := cat.GetDataset(ctx, &exchangev1.GetDatasetRequest{Dataset: "medins.settlements"})
	if err != nil {
		t.Fatal(err)
	}
	ds := d.GetDataset()
	if ds.GetOwner() != "medins" || ds.GetClassification() != exchangev1.Classification_CLASSIFICATION_SENSITIVE ||
		ds.GetFields()[0].GetName() != "settlement_no" {
		t.Errorf("medins.settlements: %v", ds)
	}
	if _, err := cat.GetDataset(ctx, &exchangev1.GetDatasetRequest{Dataset: "nope.nothing"}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown dataset: %v", err)
	}
}

// gRPC on TLS 1.3, the option to TLCP.
func TestGRPCOnTLS13(t *testing.T) {
	e := startGateway(t, func(o *gateway.Options) {
		o.Server.GRPCTransport = config.TransportTLS13
		o.Server.RESTTLCPAddress = ""
	})
	if e.addrs.RESTTLCP != nil {
		t.Errorf("disabled REST TLCP listener bound at %v", e.addrs.RESTTLCP)
	}
	creds := credentials.NewTLS(gmtls.TLS13ClientConfig([]*x509.Certificate{e.pki.tlsRoot.Certificate()}, "localhost"))
	cc := e.dial(e.addrs.GRPC.String(), creds, gatewaytest.SigningInterceptor(e.pki.signer(t, police), nil))
	if _, err := exchangev1.NewDirectoryClient(cc).GetPrincipal(t.Context(), &exchangev1.GetPrincipalRequest{Name: police}); err != nil {
		t.Fatal(err)
	}
}

// The admin listener answers health, readiness and metrics; a failing
// readiness check turns /readyz to 503; shutdown is graceful.
func TestAdminAndShutdown(t *testing.T) {
	ready := true
	e := startGateway(t, func(o *gateway.Options) {
		o.Ready = append(o.Ready, gateway.Check{Name: "flag", Func: func(context.Context) error {
			if !ready {
				return fmt.Errorf("flag down")
			}
			return nil
		}})
	})
	if _, err := e.directory(police).ListPrincipals(t.Context(), &exchangev1.ListPrincipalsRequest{}); err != nil {
		t.Fatal(err)
	}
	e.rest("", "GET", "/v1/principals", nil, nil)
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + e.addrs.Admin.String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = fmt.Fprint(&b, readAll(t, resp))
		return resp.StatusCode, b.String()
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz: %d %q", code, body)
	}
	code, metrics := get("/metrics")
	for _, want := range []string{
		`qiao_api_requests_total{code="OK",method="/qiao.exchange.v1.Directory/ListPrincipals",transport="grpc"} 1`,
		`qiao_api_requests_total{code="Unauthenticated",method="unrouted",transport="rest"} 1`,
		`qiao_auth_failures_total{reason="missing_header",transport="rest"} 1`,
		`qiao_api_request_seconds_bucket`,
		`qiao_api_request_bytes_bucket`,
	} {
		if code != 200 || !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, police) {
		t.Error("/metrics names a principal")
	}
	ready = false
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "flag: failing") || strings.Contains(body, "flag down") {
		t.Errorf("/readyz with a failing check: %d %q", code, body)
	}

	start := time.Now()
	e.stop()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %s", d)
	}
	if _, err := net.DialTimeout("tcp", e.addrs.GRPC.String(), time.Second); err == nil {
		t.Error("the gRPC listener still accepts after shutdown")
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

// Failed authentications are logged at a bounded rate, without personal
// data; the ones left out are counted.
func TestFailureLogging(t *testing.T) {
	e := startGateway(t, nil)
	ctx := t.Context()
	bad := exchangev1.NewDirectoryClient(e.conn(police, gatewaytest.SigningInterceptor(e.pki.signer(t, alice), func(h *reqsig.Headers) {
		h.KeyID = e.pki.sign[police].Key.PublicKey().KeyID()
		h.Principal = police
	})))
	for range 80 {
		if _, err := bad.GetPrincipal(ctx, &exchangev1.GetPrincipalRequest{Name: "user:alice 411528199001011234"}); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("%v", err)
		}
	}
	lines := strings.Count(e.logs.String(), `"msg":"request not authenticated"`)
	if lines == 0 || lines >= 80 {
		t.Errorf("%d of 80 failures logged", lines)
	}
	if got := e.metric("qiao_auth_failure_logs_suppressed_total", nil); int(got)+lines != 80 {
		t.Errorf("%v suppressed + %d logged != 80", got, lines)
	}
	e.noPersonalData("411528199001011234", "user:alice")
}
