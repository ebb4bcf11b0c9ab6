package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/qiao-exchange/qiao/adapters/client"
	"github.com/qiao-exchange/qiao/crypto/envelope"
	"github.com/qiao-exchange/qiao/gateway/gatewaytest"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/leads"
	"github.com/qiao-exchange/qiao/leads/forward"
	"github.com/qiao-exchange/qiao/schema"
	"github.com/qiao-exchange/qiao/store"
)

// client returns a signed client of the running gateway as principal.
func (d *deployment) client(t testing.TB, principal string) *client.Client {
	t.Helper()
	cfg, err := client.FromDeployment(t.Context(), d.dir, principal)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Address = d.addrs.GRPC.String()
	c, err := client.Dial(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// settlementRows are n medins.settlements rows of distinct people of the
// demo county.
func settlementRows(t testing.TB, n int) [][]string {
	t.Helper()
	rows := make([][]string, n)
	for i := range n {
		first := fmt.Sprintf("%s1958%02d%02d%03d", region, 1+i%12, 1+i%28, 100+i)
		c, err := schema.IDCheckDigit(first)
		if err != nil {
			t.Fatal(err)
		}
		rows[i] = []string{fmt.Sprintf("JS2026%05d", i), first + string(c), "王小" + string(rune('明'+i)), "息县人民医院",
			"2026-03-0" + fmt.Sprint(1+i%9), "2026-03-15", "S72.001", "股骨颈骨折", "是", "12000.50", "8400.00"}
	}
	return rows
}

// pushRows pushes rows of dataset as principal through the client.
func pushRows(t testing.TB, c *client.Client, dataset, batchID string, fields []string, rows [][]string) {
	t.Helper()
	p := &exchangev1.BatchPayload{Fields: fields}
	for _, r := range rows {
		p.Rows = append(p.Rows, &exchangev1.BatchPayload_Row{Values: r})
	}
	body, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.Config()
	env, err := envelope.Seal(cfg.Sign.Key, cfg.GatewayEnc.PublicKey(), envelope.AssociatedData{
		Dataset: dataset, BatchID: batchID, ContentType: client.PullContentType}, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Datasets.PushBatch(t.Context(), &exchangev1.PushBatchRequest{Dataset: dataset, BatchId: batchID, Envelope: env})
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	if got := resp.GetBatch().GetState(); got != exchangev1.BatchState_BATCH_STATE_COMMITTED {
		t.Fatalf("push: batch %v", got)
	}
}

func wantCode(t *testing.T, what string, err error, code codes.Code) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("%s: %v, want %v", what, err, code)
	}
}

// TestAccessWorkflow is docs/access.md's walk-through on a running gateway: alice
// (procuratorate) requests medical-insurance settlements for a case, bob
// and carol approve, alice pulls masked rows, and every step is on the
// audit log.
func TestAccessWorkflow(t *testing.T) {
	d := serveDeployment(t)
	ctx := t.Context()
	medins, alice, bob, carol, dave := d.client(t, "medins."+region), d.client(t, "user:alice"),
		d.client(t, "user:bob"), d.client(t, "user:carol"), d.client(t, "user:dave")
	fields := []string{"settlement_no", "id_number", "name", "hospital", "admission_date", "discharge_date",
		"diagnosis_code", "diagnosis_name", "injury", "total_cost", "fund_paid"}
	rows := settlementRows(t, 5)
	pushRows(t, medins, "medins.settlements", "ms-2026-03", fields, rows)
	// Another agency's dataset is refused, and the refusal audited.
	police := d.client(t, "police."+region)
	pcfg := police.Config()
	env, err := envelope.Seal(pcfg.Sign.Key, pcfg.GatewayEnc.PublicKey(), envelope.AssociatedData{
		Dataset: "medins.settlements", BatchID: "not-ours", ContentType: client.PullContentType}, []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = police.Datasets.PushBatch(ctx, &exchangev1.PushBatchRequest{Dataset: "medins.settlements", BatchId: "not-ours", Envelope: env})
	wantCode(t, "police pushing medins.settlements", err, codes.PermissionDenied)

	create := &exchangev1.CreateRequestRequest{
		Dataset: "medins.settlements", Purpose: "核查医保基金第三方责任支付线索",
		LegalBasis: "《中华人民共和国人民检察院组织法》第二十一条", CaseNumber: "(2026)豫1528民监12号",
		Fields: []*exchangev1.FieldMasking{
			{Field: "settlement_no"}, {Field: "id_number"}, {Field: "name"}, {Field: "fund_paid"},
		},
		MaxPulls: 1,
	}

	// Without a legal basis the request is denied, with the reason.
	noBasis := proto.Clone(create).(*exchangev1.CreateRequestRequest)
	noBasis.LegalBasis = ""
	var r *exchangev1.CreateRequestResponse
	r, err = alice.Access.CreateRequest(ctx, noBasis)
	if err != nil {
		t.Fatal(err)
	}
	if r.GetRequest().GetState() != exchangev1.RequestState_REQUEST_STATE_DENIED || !strings.Contains(strings.Join(r.GetRequest().GetReasons(), " "), "法律依据") {
		t.Fatalf("a request without legal basis: %v %v", r.GetRequest().GetState(), r.GetRequest().GetReasons())
	}

	r, err = alice.Access.CreateRequest(ctx, create)
	if err != nil {
		t.Fatal(err)
	}
	req := r.GetRequest()
	if req.GetState() != exchangev1.RequestState_REQUEST_STATE_PENDING || req.GetApprovalsRequired() != 2 {
		t.Fatalf("request: %v, needs %d approvals; want pending, 2 (sensitive data)", req.GetState(), req.GetApprovalsRequired())
	}
	id := req.GetRequestId()

	// No grant before approval: nothing to pull.
	_, err = alice.Access.Pull(ctx, &exchangev1.PullRequest{GrantId: id})
	wantCode(t, "a pull before approval", err, codes.NotFound)

	ap, err := bob.Access.Approve(ctx, &exchangev1.ApproveRequest{RequestId: id, Reason: "案件办理需要"})
	if err != nil {
		t.Fatal(err)
	}
	if ap.GetRequest().GetState() != exchangev1.RequestState_REQUEST_STATE_PENDING || ap.GetRequest().GetGrant() != nil {
		t.Fatalf("after one approval: %v, grant %v", ap.GetRequest().GetState(), ap.GetRequest().GetGrant())
	}
	_, err = bob.Access.Approve(ctx, &exchangev1.ApproveRequest{RequestId: id, Reason: "again"})
	wantCode(t, "bob approving twice", err, codes.PermissionDenied)
	_, err = alice.Access.Approve(ctx, &exchangev1.ApproveRequest{RequestId: id, Reason: "自批"})
	wantCode(t, "alice approving her own request", err, codes.PermissionDenied)
	_, err = dave.Access.Approve(ctx, &exchangev1.ApproveRequest{RequestId: id, Reason: "auditor"})
	wantCode(t, "an auditor approving", err, codes.PermissionDenied)

	ap, err = carol.Access.Approve(ctx, &exchangev1.ApproveRequest{RequestId: id, Reason: "同意调取"})
	if err != nil {
		t.Fatal(err)
	}
	grant := ap.GetRequest().GetGrant()
	if ap.GetRequest().GetState() != exchangev1.RequestState_REQUEST_STATE_APPROVED || grant == nil {
		t.Fatalf("after two approvals: %v, grant %v", ap.GetRequest().GetState(), grant)
	}

	_, err = bob.Access.Pull(ctx, &exchangev1.PullRequest{GrantId: grant.GetGrantId()})
	wantCode(t, "bob pulling alice's grant", err, codes.PermissionDenied)
	_, err = dave.Access.Pull(ctx, &exchangev1.PullRequest{GrantId: grant.GetGrantId()})
	wantCode(t, "an auditor pulling", err, codes.PermissionDenied)

	p, err := alice.Pull(ctx, grant.GetGrantId())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"settlement_no", "id_number", "name", "fund_paid"}; !slices.Equal(p.Fields, want) {
		t.Fatalf("pulled fields %v, want exactly the granted %v", p.Fields, want)
	}
	if len(p.Rows) != len(rows) {
		t.Fatalf("pulled %d rows, want %d", len(p.Rows), len(rows))
	}
	for i, row := range p.Rows {
		id, name := rows[i][1], rows[i][2]
		if want := id[:6] + "********" + id[14:]; row[1] != want {
			t.Errorf("row %d id_number %q, want %q", i, row[1], want)
		}
		if want := string([]rune(name)[0]) + "**"; row[2] != want {
			t.Errorf("row %d name %q, want %q", i, row[2], want)
		}
		if row[0] != rows[i][0] || row[3] != rows[i][10] {
			t.Errorf("row %d = %v", i, row)
		}
	}
	out := filepath.Join(t.TempDir(), "pulled.csv")
	if err := client.WritePulled(p, out, client.WriteOptions{Format: client.FormatCSV}); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(out); err != nil || !bytes.Contains(data, []byte("********")) || bytes.Contains(data, []byte(rows[0][1])) {
		t.Fatalf("CSV written: %v\n%s", err, data)
	}

	// The grant allowed one pull.
	_, err = alice.Access.Pull(ctx, &exchangev1.PullRequest{GrantId: grant.GetGrantId()})
	wantCode(t, "a pull past the limit", err, codes.PermissionDenied)

	// A grant of one second expires.
	short := proto.Clone(create).(*exchangev1.CreateRequestRequest)
	short.Dataset, short.Fields, short.Duration = "medins.settlements", []*exchangev1.FieldMasking{{Field: "settlement_no"}}, durationpb.New(time.Second)
	r, err = alice.Access.CreateRequest(ctx, short)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{bob, carol} {
		if ap, err = c.Access.Approve(ctx, &exchangev1.ApproveRequest{RequestId: r.GetRequest().GetRequestId(), Reason: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1100 * time.Millisecond)
	_, err = alice.Access.Pull(ctx, &exchangev1.PullRequest{GrantId: ap.GetRequest().GetGrant().GetGrantId()})
	wantCode(t, "a pull after expiry", err, codes.PermissionDenied)

	// Each step is on the audit log.
	q, err := dave.Audit.QueryEntries(ctx, &exchangev1.QueryEntriesRequest{Dataset: "medins.settlements"})
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, e := range q.GetEntries() {
		var got struct {
			Action string `json:"action"`
			Actor  struct {
				Principal string `json:"principal"`
			} `json:"actor"`
			Decision struct {
				Effect         string `json:"effect"`
				PolicyRevision string `json:"policy_revision"`
			} `json:"decision"`
		}
		if err := json.Unmarshal(e.GetEncoding(), &got); err != nil {
			t.Fatal(err)
		}
		if got.Decision.PolicyRevision == "" {
			t.Errorf("entry %d (%s) has no policy revision", e.GetSeq(), got.Action)
		}
		steps = append(steps, got.Action+" "+got.Actor.Principal+" "+got.Decision.Effect)
	}
	for _, want := range []string{
		"dataset.push medins." + region + " allow",
		"dataset.push police." + region + " deny",
		"request.create user:alice deny",
		"request.create user:alice allow",
		"dataset.pull user:alice deny",
		"request.approve user:bob allow",
		"request.approve user:bob deny",
		"request.approve user:alice deny",
		"request.approve user:dave deny",
		"request.approve user:carol allow",
		"dataset.pull user:bob deny",
		"dataset.pull user:dave deny",
		"dataset.pull user:alice allow",
	} {
		if !slices.Contains(steps, want) {
			t.Errorf("no %q on the audit log; have:\n%s", want, strings.Join(steps, "\n"))
		}
	}
	if n := count(steps, "dataset.pull user:alice deny"); n < 2 {
		t.Errorf("%d refused pulls by alice on the log, want the one past the limit and the expired one", n)
	}

	// Operators see the decisions in the metrics, by action and outcome.
	resp, err := http.Get("http://" + d.addrs.Admin.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`qiao_access_decisions_total{action="dataset.pull",effect="allow"} 1`,
		`qiao_access_pulled_rows_total{dataset="medins.settlements"} 5`,
		`qiao_policy_decisions_total{action="request.approve",outcome="deny"} 3`,
		`qiao_policy_decision_seconds_count`,
	} {
		if !strings.Contains(string(m), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func count(xs []string, x string) int {
	n := 0
	for _, y := range xs {
		if y == x {
			n++
		}
	}
	return n
}

// TestAccessCLI runs the same workflow through the qiao commands people
// use: request create, approve, pull into a file, and the auditor's token,
// query and export through the gateway, verified offline.
func TestAccessCLI(t *testing.T) {
	d := serveDeployment(t)
	fields := []string{"settlement_no", "id_number", "name", "hospital", "admission_date", "discharge_date",
		"diagnosis_code", "diagnosis_name", "injury", "total_cost", "fund_paid"}
	rows := settlementRows(t, 3)
	pushRows(t, d.client(t, "medins."+region), "medins.settlements", "ms-cli", fields, rows)
	as := func(p string) []string {
		return []string{"--dir", d.dir, "--gateway", d.addrs.GRPC.String(), "--as", p}
	}

	out, err := run(t, append([]string{"request", "create", "--dataset", "medins.settlements", "--purpose", "核查",
		"--legal-basis", "《人民检察院组织法》第二十一条", "--case-number", "(2026)豫1528民监1号",
		"--field", "settlement_no", "--field", "id_number:token", "--field", "fund_paid"}, as("user:alice")...)...)
	if err != nil {
		t.Fatalf("request create: %v\n%s", err, out)
	}
	id := strings.TrimSuffix(strings.Fields(strings.SplitN(out, "\n", 2)[0])[2], ":")
	if !strings.HasPrefix(id, "R") || !strings.Contains(out, "待审批 pending") {
		t.Fatalf("request create printed:\n%s", out)
	}
	if out, err = run(t, append([]string{"request", "create", "--dataset", "medins.settlements", "--purpose", "x",
		"--case-number", "1", "--field", "settlement_no"}, as("user:alice")...)...); err == nil || !strings.Contains(out, "已驳回 denied") {
		t.Fatalf("a request without legal basis: %v\n%s", err, out)
	}
	if out, err = run(t, append([]string{"approve", id}, as("user:bob")...)...); err == nil {
		t.Fatalf("approve without --reason: %s", out)
	}
	for _, who := range []string{"user:bob", "user:carol"} {
		if out, err = run(t, append([]string{"approve", id, "--reason", "同意"}, as(who)...)...); err != nil {
			t.Fatalf("approve as %s: %v\n%s", who, err, out)
		}
	}
	i := strings.Index(out, "授权 grant")
	if i < 0 {
		t.Fatalf("no grant after two approvals:\n%s", out)
	}
	grant := strings.TrimSuffix(strings.Fields(out[i:])[2], ",")
	if out, err = run(t, append([]string{"request", "list"}, as("user:alice")...)...); err != nil || !strings.Contains(out, id) {
		t.Fatalf("request list: %v\n%s", err, out)
	}

	file := filepath.Join(t.TempDir(), "pulled.xlsx")
	if out, err = run(t, append([]string{"pull", "--grant", grant, "--out", file}, as("user:alice")...)...); err != nil {
		t.Fatalf("pull: %v\n%s", err, out)
	}
	if !strings.Contains(out, "已调取 pulled 3 rows") {
		t.Fatalf("pull printed:\n%s", out)
	}
	if out, err = run(t, append([]string{"pull", "--grant", grant, "--out", file + ".csv"}, as("user:alice")...)...); err != nil {
		t.Fatalf("second pull (default 10 allowed): %v\n%s", err, out)
	}
	csvData, err := os.ReadFile(file + ".csv")
	if err != nil || bytes.Contains(csvData, []byte(rows[0][1])) || !bytes.Contains(csvData, []byte("id_number")) {
		t.Fatalf("pulled CSV holds a plaintext ID number, or no header: %v\n%s", err, csvData)
	}

	// The auditor finds alice's pull by the token of a person's ID number.
	token, err := run(t, append([]string{"audit", "token", rows[0][1]}, as("user:dave")...)...)
	if err != nil {
		t.Fatalf("audit token: %v\n%s", err, token)
	}
	token = strings.TrimSpace(token)
	if !bytes.Contains(csvData, []byte(token)) {
		t.Fatalf("the token %s is not the token the pull returned for that person:\n%s", token, csvData)
	}
	if out, err = run(t, append([]string{"audit", "token", "411528195801011234"}, as("user:dave")...)...); err == nil {
		t.Fatalf("a token of an invalid ID number: %s", out)
	}
	if out, err = run(t, append([]string{"audit", "token", rows[0][1]}, as("user:alice")...)...); err == nil {
		t.Fatalf("a requester computing a token: %s", out)
	}
	out, err = run(t, append([]string{"audit", "query", "--action", "audit.read", "--decision", "deny"}, as("user:dave")...)...)
	if err != nil || !strings.Contains(out, `"principal":"user:alice"`) || !strings.Contains(out, `"policy_revision":"sm3:`) {
		t.Fatalf("alice's refused read of the log is not on it with the policy's revision: %v\n%s", err, out)
	}
	out, err = run(t, append([]string{"audit", "query", "--action", "dataset.pull"}, as("user:dave")...)...)
	if err != nil || strings.Count(out, `"action":"dataset.pull"`) != 2 {
		t.Fatalf("audit query: %v\n%s", err, out)
	}
	out, err = run(t, append([]string{"audit", "query", "--token", token}, as("user:dave")...)...)
	if err != nil || !strings.Contains(out, `"action":"audit.token"`) {
		t.Fatalf("audit query --token: %v\n%s", err, out)
	}

	export := filepath.Join(t.TempDir(), "audit.jsonl")
	if out, err = run(t, append([]string{"audit", "export", export}, as("user:dave")...)...); err != nil {
		t.Fatalf("audit export through the gateway: %v\n%s", err, out)
	}
	if out, err = run(t, "audit", "verify", export, "--cert", filepath.Join(d.dir, "certs", "gateway.sign.pem")); err != nil {
		t.Fatalf("audit verify of the export: %v\n%s", err, out)
	}
	if !strings.Contains(out, "export verified") {
		t.Fatalf("audit verify printed:\n%s", out)
	}
}

// TestConfigReload: SIGHUP makes the running gateway re-read qiao.yaml; the
// log level applies at once, other changes at the next start, a broken file
// is refused and the previous configuration kept — each reload on the audit
// log with the file's digest.
func TestConfigReload(t *testing.T) {
	d := serveDeployment(t)
	dave := d.client(t, "user:dave")
	path := filepath.Join(d.dir, "qiao.yaml")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	reloads := func(n int) []string {
		t.Helper()
		var out []string
		for range 100 {
			q, err := dave.Audit.QueryEntries(t.Context(), &exchangev1.QueryEntriesRequest{Action: "config.reload"})
			if err != nil {
				t.Fatal(err)
			}
			out = out[:0]
			for _, e := range q.GetEntries() {
				out = append(out, string(e.GetEncoding()))
			}
			if len(out) >= n {
				return out
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%d config.reload entries, want %d: %v", len(out), n, out)
		return nil
	}

	changed := strings.Replace(string(orig), "level: info", "level: debug", 1)
	changed = strings.Replace(changed, "checkpoint_interval: 1m0s", "checkpoint_interval: 2m0s", 1)
	if changed == string(orig) {
		t.Fatal("the template has no log level or checkpoint interval to change")
	}
	if err := os.WriteFile(path, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	got := reloads(1)
	if !strings.Contains(got[0], `"applied: log.level"`) || !strings.Contains(got[0], "next start: audit.checkpoint_interval") ||
		!strings.Contains(got[0], `"effect":"allow"`) {
		t.Fatalf("reload entry: %s", got[0])
	}

	if err := os.WriteFile(path, []byte(changed+"\nno_such_option: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	got = reloads(2)
	if !strings.Contains(got[1], `"effect":"deny"`) || !strings.Contains(got[1], "no_such_option") {
		t.Fatalf("refused reload entry: %s", got[1])
	}
}

// TestPolicyDecidesDirectoryChanges: on a running gateway the policy
// engine decides who changes the directory; the change carries its
// revision and a refusal is on the log.
func TestPolicyDecidesDirectoryChanges(t *testing.T) {
	d := serveDeployment(t)
	ctx := t.Context()
	req := &exchangev1.SetPrincipalStatusRequest{Name: "user:carol", Status: exchangev1.PrincipalStatus_PRINCIPAL_STATUS_DISABLED}
	_, err := d.client(t, "user:alice").Directory.SetPrincipalStatus(ctx, req)
	wantCode(t, "a requester disabling a principal", err, codes.PermissionDenied)
	if _, err := d.client(t, "user:erin").Directory.SetPrincipalStatus(ctx, req); err != nil {
		t.Fatalf("the admin disabling a principal: %v", err)
	}
	dave := d.client(t, "user:dave")
	for action, want := range map[string]string{"principal.manage": `"effect":"deny"`, "principal.disable": `"effect":"allow"`} {
		q, err := dave.Audit.QueryEntries(ctx, &exchangev1.QueryEntriesRequest{Action: action})
		if err != nil {
			t.Fatal(err)
		}
		if len(q.GetEntries()) != 1 {
			t.Fatalf("%d %s entries, want 1", len(q.GetEntries()), action)
		}
		e := string(q.GetEntries()[0].GetEncoding())
		if !strings.Contains(e, want) || !strings.Contains(e, `"policy_revision":"sm3:`) {
			t.Errorf("%s entry: %s", action, e)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAuditFollow: `qiao audit query --follow` prints entries appended
// after it started, until interrupted.
func TestAuditFollow(t *testing.T) {
	d := serveDeployment(t)
	ctx, cancel := context.WithCancel(t.Context())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- auditQuery(ctx, d.client(t, "user:dave"), &exchangev1.QueryEntriesRequest{Action: "request.create"}, true, 20*time.Millisecond, out)
	}()
	time.Sleep(100 * time.Millisecond)
	if strings.Contains(out.String(), "request.create") {
		t.Fatalf("entries before any request: %s", out.String())
	}
	if _, err := d.client(t, "user:alice").Access.CreateRequest(t.Context(), &exchangev1.CreateRequestRequest{
		Dataset: "police.deaths", Purpose: "p", LegalBasis: "b", CaseNumber: "c", Fields: []*exchangev1.FieldMasking{{Field: "death_date"}},
	}); err != nil {
		t.Fatal(err)
	}
	for i := 0; !strings.Contains(out.String(), `"action":"request.create"`); i++ {
		if i == 200 {
			t.Fatalf("--follow did not print the new entry: %q", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("follow ended with %v", err)
	}
}

// TestPolicyReload: a gateway pointed at an operator's bundle directory
// reloads it on change without a restart, refuses a bundle that does not
// compile and keeps the previous one, and audits each with the revision.
func TestPolicyReload(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "policy")
	mustRun(t, "policy", "export", dir)
	d := serveDeploymentWith(t, map[string]string{"policy.dir": dir, "policy.reload_interval": "1s"})
	dave := d.client(t, "user:dave")
	entries := func(n int) []string {
		t.Helper()
		var out []string
		for range 200 {
			q, err := dave.Audit.QueryEntries(t.Context(), &exchangev1.QueryEntriesRequest{Action: "policy.reload"})
			if err != nil {
				t.Fatal(err)
			}
			out = out[:0]
			for _, e := range q.GetEntries() {
				out = append(out, string(e.GetEncoding()))
			}
			if len(out) >= n {
				return out
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%d policy.reload entries, want %d: %v", len(out), n, out)
		return nil
	}
	got := entries(1)
	if !strings.Contains(got[0], "policy loaded at start: bundle "+dir) {
		t.Fatalf("start entry: %s", got[0])
	}
	if err := os.WriteFile(filepath.Join(dir, "note.rego"), []byte("package qiao\n\nbundle_note := \"v2\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got = entries(2)
	if !strings.Contains(got[1], `"effect":"allow"`) || !strings.Contains(got[1], "previous revision sm3:") {
		t.Fatalf("reload entry: %s", got[1])
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.rego"), []byte("package qiao\n\nx := \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got = entries(3)
	if !strings.Contains(got[2], `"effect":"deny"`) || !strings.Contains(got[2], "bundle refused, previous kept") {
		t.Fatalf("refused reload entry: %s", got[2])
	}
	// The previous bundle still decides.
	pushRows(t, d.client(t, "police."+region), "police.deaths", "after-refused-reload",
		[]string{"id_number", "name", "death_date", "cancel_date"}, demoRows(t))
}

func demoRows(t *testing.T) [][]string {
	t.Helper()
	rows, err := demoDeaths(2, false)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestAccessREST: the access workflow over REST on TLS 1.3, as an agency's
// own system in another language would call it: JSON bodies, signed
// requests, and the same refusals.
func TestAccessREST(t *testing.T) {
	d := serveDeployment(t)
	ctx := t.Context()
	rest := "https://" + d.addrs.RESTTLS13.String()
	call := func(principal, method, path, body string) (int, string) {
		t.Helper()
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		req, err := gatewaytest.NewRequest(ctx, d.signer(t, principal, nil), method, rest+path, b, nil)
		if err != nil {
			t.Fatal(err)
		}
		return get(t, d.http, req)
	}
	code, body := call("user:alice", "POST", "/v1/requests", `{"dataset":"court.enforcement_cases","purpose":"行政非诉执行监督",
		"legalBasis":"《中华人民共和国行政诉讼法》第十一条","caseNumber":"(2026)豫1528行监3号",
		"fields":[{"field":"case_no"},{"field":"respondent_id","masking":"MASKING_TOKEN"}]}`)
	if code != http.StatusOK || !strings.Contains(body, `"state":"REQUEST_STATE_PENDING"`) || !strings.Contains(body, `"approvalsRequired":1`) {
		t.Fatalf("create over REST: %d %s", code, body)
	}
	var created struct {
		Request struct {
			RequestID string `json:"requestId"`
		} `json:"request"`
	}
	if err := json.Unmarshal([]byte(body), &created); err != nil || created.Request.RequestID == "" {
		t.Fatalf("create over REST: %v %s", err, body)
	}
	id := created.Request.RequestID
	if code, body = call("user:alice", "POST", "/v1/requests/"+id+":approve", `{"reason":"自批"}`); code != http.StatusForbidden {
		t.Fatalf("alice approving her own request over REST: %d %s", code, body)
	}
	if code, body = call("user:bob", "POST", "/v1/requests/"+id+":approve", `{"reason":"同意"}`); code != http.StatusOK ||
		!strings.Contains(body, `"state":"REQUEST_STATE_APPROVED"`) || !strings.Contains(body, `"grantId":"G`) {
		t.Fatalf("bob approving over REST: %d %s", code, body)
	}
	if code, body = call("user:alice", "GET", "/v1/requests?state=REQUEST_STATE_APPROVED", ""); code != http.StatusOK || !strings.Contains(body, id) {
		t.Fatalf("listing over REST: %d %s", code, body)
	}
	if code, body = call("user:carol", "GET", "/v1/requests/"+id, ""); code != http.StatusOK || !strings.Contains(body, `"approver":"user:bob"`) {
		t.Fatalf("an approver reading the request over REST: %d %s", code, body)
	}
}

// TestServeForwardsOutbox: with leads.kafka_brokers set, the running
// gateway publishes what waits in its outbox to the broker (kfake, a
// Kafka-protocol broker in Go on loopback; no Apache Kafka runs here).
func TestServeForwardsOutbox(t *testing.T) {
	broker, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, forward.DefaultTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	addr := broker.ListenAddrs()[0]
	d := serveDeploymentWith(t, map[string]string{"leads.kafka_brokers": addr})

	// A lead stored with its outbox message, as the model runner does, in
	// the gateway's own state database (SQLite takes a second connection).
	db, err := store.Open(t.Context(), store.Config{DSN: filepath.Join(d.dir, "state.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id := strings.Repeat("5e", 32)
	if err := db.InTx(t.Context(), func(tx *store.Tx) error {
		_, err := tx.Enqueue(t.Context(), store.Message{Topic: forward.DefaultTopic, Key: id, Value: []byte(`{"lead":"` + id + `"}`)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: forward.DefaultTopic, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	m, err := r.ReadMessage(ctx)
	if err != nil || string(m.Key) != id {
		t.Fatalf("consumed %q, %v", m.Key, err)
	}
	for i := 0; ; i++ {
		if ms, err := db.Pending(t.Context(), 10); err == nil && len(ms) == 0 {
			break
		}
		if i == 200 {
			t.Fatal("the published message is still pending")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeRunsModels: agencies push synthetic exports to a running
// gateway; the supervision models run after the pushes; every planted case
// of the ground truth becomes one lead, stored with its audit entry, and
// its signed message reaches the Kafka topic (kfake on loopback).
func TestServeRunsModels(t *testing.T) {
	broker, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, forward.DefaultTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	d := serveDeploymentWith(t, map[string]string{"leads.kafka_brokers": broker.ListenAddrs()[0]})
	if err := demoSynthPush(t.Context(), d.dir, d.addrs, io.Discard); err != nil {
		t.Fatal(err)
	}
	truth, err := os.ReadFile(filepath.Join(d.dir, "synth", "truth.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	planted := strings.Count(string(truth), `"kind":"planted"`)
	if planted == 0 {
		t.Fatal("no planted case in truth.jsonl")
	}

	db, err := store.Open(t.Context(), store.Config{DSN: filepath.Join(d.dir, "state.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ls []store.Lead
	for i := 0; ; i++ {
		if ls, err = db.ListLeads(t.Context(), store.LeadQuery{Limit: 1000}); err != nil {
			t.Fatal(err)
		}
		if len(ls) >= planted {
			break
		}
		if i == 300 {
			t.Fatalf("%d leads stored, want %d planted cases", len(ls), planted)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // nothing more should come
	if ls, _ = db.ListLeads(t.Context(), store.LeadQuery{Limit: 1000}); len(ls) != planted {
		t.Fatalf("%d leads stored, want exactly the %d planted cases", len(ls), planted)
	}

	// Each lead is on the audit log and its signed message on the topic.
	q, err := d.client(t, "user:dave").Audit.QueryEntries(t.Context(), &exchangev1.QueryEntriesRequest{Action: "lead.create"})
	if err != nil || len(q.GetEntries()) != planted {
		t.Fatalf("%d lead.create entries (%v), want %d", len(q.GetEntries()), err, planted)
	}
	gwCert := d.client(t, "user:dave").Config().GatewaySign
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: broker.ListenAddrs(), Topic: forward.DefaultTopic, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	seen := map[string]bool{}
	for len(seen) < planted {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("after %d of %d messages: %v", len(seen), planted, err)
		}
		var msg leads.Message
		if err := json.Unmarshal(m.Value, &msg); err != nil {
			t.Fatal(err)
		}
		sig, err := base64.StdEncoding.DecodeString(msg.Signature)
		if err != nil || gwCert.PublicKey().Verify(msg.Lead, sig) != nil {
			t.Fatalf("message %s: the gateway's signature does not verify", m.Key)
		}
		seen[string(m.Key)] = true
	}

	// Alice (procuratorate) reads them through the API; the auditor may not;
	// both are on the log.
	out := mustRun(t, "leads", "list", "--limit", "1000", "--dir", d.dir, "--gateway", d.addrs.GRPC.String(), "--as", "user:alice")
	if n := strings.Count(strings.TrimSpace(out), "\n") + 1; n != planted {
		t.Fatalf("qiao leads list shows %d leads, want %d:\n%s", n, planted, out)
	}
	first := strings.Fields(out)[0]
	var full string
	for _, l := range ls {
		if strings.HasPrefix(l.ID, first) {
			full = l.ID
		}
	}
	if out = mustRun(t, "leads", "show", full, "--dir", d.dir, "--gateway", d.addrs.GRPC.String(), "--as", "user:alice"); !strings.Contains(out, `"evidence"`) {
		t.Fatalf("qiao leads show:\n%s", out)
	}
	if out, err := run(t, "leads", "list", "--dir", d.dir, "--gateway", d.addrs.GRPC.String(), "--as", "user:dave"); err == nil {
		t.Fatalf("an auditor listing leads: %s", out)
	}
	q, err = d.client(t, "user:dave").Audit.QueryEntries(t.Context(), &exchangev1.QueryEntriesRequest{Action: "lead.read"})
	if err != nil {
		t.Fatal(err)
	}
	var allowed, denied int
	for _, e := range q.GetEntries() {
		switch {
		case strings.Contains(string(e.GetEncoding()), `"effect":"allow"`):
			allowed++
		default:
			denied++
		}
	}
	// demoSynthPush read them as alice too, until all were stored.
	if allowed < 3 || denied != 1 {
		t.Fatalf("lead.read entries: %d allowed, %d denied; want at least 3 and 1", allowed, denied)
	}
}

func TestModelsCmd(t *testing.T) {
	out := mustRun(t, "models", "list")
	for _, id := range []string{"medins.third_party_injury", "hrss.pension_after_death", "medins.claims_after_death",
		"police.wage_transfer_not_filed", "court.settlement_unperformed", "court.probation_detained"} {
		if !strings.Contains(out, id) {
			t.Errorf("qiao models list lacks %s:\n%s", id, out)
		}
	}
	out = mustRun(t, "models", "show", "medins.third_party_injury")
	for _, want := range []string{"社会保险法", "window_days = 30", "SELECT", "_tok"} {
		if !strings.Contains(out, want) {
			t.Errorf("qiao models show lacks %q:\n%s", want, out)
		}
	}
	if _, err := run(t, "models", "show", "no.such_model"); err == nil {
		t.Error("an unknown model was shown")
	}
}
