package gateway_test

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/qiao-exchange/qiao/audit"
	"github.com/qiao-exchange/qiao/audit/checkpoint"
	"github.com/qiao-exchange/qiao/audit/merkle"
	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/gmtls"
	"github.com/qiao-exchange/qiao/crypto/reqsig"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/gateway"
	"github.com/qiao-exchange/qiao/gateway/directory"
	"github.com/qiao-exchange/qiao/gateway/gatewaytest"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/store"
)

// dave is the auditor of the Audit service's tests, registered by them
// alone so that the shared deployment stays as other tests expect it.
const dave = "user:dave"

// auditEnv is a gateway with a real audit log and dave registered as an
// auditor, with dave's double certificate.
type auditEnv struct {
	*env
	log  *audit.Log
	dave gmtls.KeyPair
}

func startAuditGateway(t *testing.T) *auditEnv {
	t.Helper()
	a := &auditEnv{}
	a.env = startGateway(t, func(o *gateway.Options) {
		db := o.Store.(*store.DB)
		p := testPKI(t)
		sk, err := sm2.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		ek, err := sm2.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		pair, err := p.root.IssuePair(ca.Request{Principal: dave, Kind: ca.KindUser}, sk.PublicKey(), ek.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		a.dave = gmtls.KeyPair{Cert: pair.Sign, Key: sk}
		dir, err := directory.New(directory.Config{Store: db, Roots: p.roots()})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := dir.Register(t.Context(), store.Principal{Name: dave, Kind: store.KindUser, Agency: "audit.411528",
			Roles: []store.Role{store.RoleAuditor}}, pair.Sign.PEM(), pair.Enc.PEM()); err != nil {
			t.Fatal(err)
		}
		k, err := sm2.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		if a.log, err = audit.New(audit.Config{DB: db, Key: k, Origin: "gateway.example.gov.cn/qiao/audit"}); err != nil {
			t.Fatal(err)
		}
		o.Audit = a.log
	})
	return a
}

func (a *auditEnv) daveSigner() *reqsig.Signer {
	a.t.Helper()
	s, err := reqsig.NewSigner(reqsig.SignerConfig{Principal: dave, Key: a.dave.Key})
	if err != nil {
		a.t.Fatal(err)
	}
	return s
}

// auditClient returns an Audit client signing as principal; dave uses the
// certificate issued by startAuditGateway.
func (a *auditEnv) auditClient(principal string) exchangev1.AuditClient {
	a.t.Helper()
	if principal != dave {
		return exchangev1.NewAuditClient(a.conn(principal, gatewaytest.SigningInterceptor(a.pki.signer(a.t, principal), nil)))
	}
	cfg, err := gmtls.ClientConfig(a.dave, a.pki.roots(), "127.0.0.1")
	if err != nil {
		a.t.Fatal(err)
	}
	cc := a.dial(a.addrs.GRPC.String(), cfg.TransportCredentials(), gatewaytest.SigningInterceptor(a.daveSigner(), nil))
	return exchangev1.NewAuditClient(cc)
}

// reads returns the audit.read entries in the log.
func (a *auditEnv) reads() []audit.Entry {
	a.t.Helper()
	got, err := a.log.Query(a.t.Context(), audit.Filter{Action: audit.ActionAuditRead})
	if err != nil {
		a.t.Fatal(err)
	}
	return got
}

// An auditor queries the log over gRPC and gets an entry whose inclusion
// proof verifies against the signed checkpoint; every read is recorded.
func TestAuditServiceAuditor(t *testing.T) {
	a := startAuditGateway(t)
	ctx := t.Context()
	if _, err := a.directory(erin).SetPrincipalStatus(ctx, &exchangev1.SetPrincipalStatusRequest{
		Name: court, Status: exchangev1.PrincipalStatus_PRINCIPAL_STATUS_DISABLED}); err != nil {
		t.Fatal(err)
	}
	c := a.auditClient(dave)
	token := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

	q, err := c.QueryEntries(ctx, &exchangev1.QueryEntriesRequest{Action: audit.ActionPrincipalDisable})
	if err != nil {
		t.Fatal(err)
	}
	if len(q.GetEntries()) != 1 {
		t.Fatalf("%d entries, want 1", len(q.GetEntries()))
	}
	qe := q.GetEntries()[0]
	if parsed, err := audit.ParseEntry(qe.GetEncoding()); err != nil || parsed.Resource.ID != court {
		t.Fatalf("entry %s: %+v, %v", qe.GetEncoding(), parsed, err)
	}
	if q.GetNextSeq() != qe.GetSeq()+1 {
		t.Errorf("next_seq %d after entry %d", q.GetNextSeq(), qe.GetSeq())
	}
	if reads := a.reads(); len(reads) != 1 || reads[0].Actor.Principal != dave {
		t.Fatalf("after a query: audit.read entries %+v", reads)
	}

	g, err := c.GetEntry(ctx, &exchangev1.GetEntryRequest{Seq: qe.GetSeq()})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := checkpoint.Open([]byte(g.GetProof().GetCheckpoint()), a.log.Verifier())
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != uint64(g.GetProof().GetTreeSize()) {
		t.Fatalf("checkpoint size %d, proof tree size %d", cp.Size, g.GetProof().GetTreeSize())
	}
	var proof []merkle.Hash
	for _, h := range g.GetProof().GetHashes() {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != merkle.HashSize {
			t.Fatalf("proof hash %q", h)
		}
		proof = append(proof, merkle.Hash(b))
	}
	leaf := merkle.LeafHash(g.GetEntry().GetEncoding())
	if leaf.String() != g.GetEntry().GetLeafHash() {
		t.Errorf("leaf hash %s, want %s", g.GetEntry().GetLeafHash(), leaf)
	}
	if err := merkle.VerifyInclusion(uint64(g.GetProof().GetLeafIndex()), cp.Size, leaf, proof, cp.Hash); err != nil {
		t.Fatalf("inclusion proof: %v", err)
	}

	ck, err := c.GetCheckpoint(ctx, &exchangev1.GetCheckpointRequest{})
	if err != nil {
		t.Fatal(err)
	}
	latest, err := checkpoint.Open([]byte(ck.GetCheckpoint()), a.log.Verifier())
	if err != nil || latest.Size != uint64(ck.GetTreeSize()) || latest.Hash.String() != ck.GetRootHash() {
		t.Fatalf("checkpoint %+v: %v", ck, err)
	}
	if latest.Size <= cp.Size {
		t.Fatalf("a fresh checkpoint of size %d does not cover the read of size %d", latest.Size, cp.Size)
	}
	cons, err := c.GetConsistencyProof(ctx, &exchangev1.GetConsistencyProofRequest{Size1: int64(cp.Size), Size2: int64(latest.Size)})
	if err != nil {
		t.Fatal(err)
	}
	var cproof []merkle.Hash
	for _, h := range cons.GetHashes() {
		b, _ := hex.DecodeString(h)
		cproof = append(cproof, merkle.Hash(b))
	}
	if err := merkle.VerifyConsistency(cp.Size, latest.Size, cproof, cp.Hash, latest.Hash); err != nil {
		t.Fatalf("consistency proof: %v", err)
	}

	if _, err := c.QueryEntries(ctx, &exchangev1.QueryEntriesRequest{Token: token}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetEntry(ctx, &exchangev1.GetEntryRequest{Seq: 1 << 40})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("missing entry: %v", err)
	}

	reads := a.reads()
	if len(reads) != 5 {
		t.Fatalf("%d audit.read entries, want 5: %+v", len(reads), reads)
	}
	tokenRead := reads[4]
	if tokenRead.Decision.Reasons[1] != "read entries" || len(tokenRead.Tokens) != 0 {
		t.Errorf("token query recorded as %+v", tokenRead)
	}
	raw, _ := json.Marshal(tokenRead)
	if want := "token " + token[:8]; !slices.Contains(tokenRead.Decision.Reasons, want+"…") || strings.Contains(string(raw), token) {
		t.Errorf("token query reasons %q", tokenRead.Decision.Reasons)
	}
}

// Principals without the auditor role — an agency, an admin, a requester —
// are refused on both transports, and their refusals read nothing.
func TestAuditServiceRefused(t *testing.T) {
	a := startAuditGateway(t)
	ctx := t.Context()
	for _, p := range []string{police, erin, alice} {
		_, err := a.auditClient(p).QueryEntries(ctx, &exchangev1.QueryEntriesRequest{})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s QueryEntries: %v, want PermissionDenied", p, err)
		}
		_, err = a.auditClient(p).GetCheckpoint(ctx, &exchangev1.GetCheckpointRequest{})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s GetCheckpoint: %v, want PermissionDenied", p, err)
		}
		if code, _, body := a.rest(p, http.MethodGet, "/v1/audit/entries", nil, nil); code != http.StatusForbidden {
			t.Errorf("%s REST: %d %s", p, code, body)
		}
	}
	if reads := a.reads(); len(reads) != 0 {
		t.Errorf("refused calls recorded as reads: %+v", reads)
	}
}

// The REST paths serve the same answers, int64 fields as JSON strings, and
// record their reads.
func TestAuditServiceREST(t *testing.T) {
	a := startAuditGateway(t)
	ctx := t.Context()
	get := func(path string) map[string]any {
		t.Helper()
		req, err := gatewaytest.NewRequest(ctx, a.daveSigner(), http.MethodGet, "https://"+a.addrs.RESTTLS13.String()+path, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		code, _, body := do(t, a.restClient(), req)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	ck := get("/v1/audit/checkpoint")
	if _, ok := ck["treeSize"].(string); !ok {
		t.Fatalf("checkpoint %v: treeSize not a string", ck)
	}
	q := get("/v1/audit/entries?action=audit.read&limit=10")
	entries, _ := q["entries"].([]any)
	if len(entries) != 1 {
		t.Fatalf("entries %v", q)
	}
	seq, _ := entries[0].(map[string]any)["seq"].(string)
	if _, err := strconv.ParseInt(seq, 10, 64); err != nil {
		t.Fatalf("seq %q: %v", seq, err)
	}
	e := get("/v1/audit/entries/" + seq)
	if p, _ := e["proof"].(map[string]any); p["checkpoint"] == "" {
		t.Fatalf("entry %v has no proof", e)
	}
	get("/v1/audit/consistency?size1=1&size2=2")
	if reads := a.reads(); len(reads) != 4 {
		t.Fatalf("%d audit.read entries, want 4", len(reads))
	}
}
