package policy

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// Fixtures shared by the Go tests, mirroring those of the Rego tests.
var (
	now = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

	settlements = Resource{
		Dataset: "medins.settlements", Owner: "medins", Classification: "sensitive",
		Fields: []Field{{"settlement_no", false}, {"id_number", true}, {"name", true}, {"total_cost", false}},
	}
	accidents = Resource{
		Dataset: "police.traffic_accidents", Owner: "police", Classification: "internal",
		Fields: []Field{{"accident_no", false}, {"id_number", true}, {"name", true}, {"responsibility", false}},
	}

	requester    = Subject{Principal: "user:li", Kind: "user", Agency: "procuratorate.411528", Roles: []string{"requester"}}
	policeAgency = Subject{Principal: "police.411528", Kind: "agency", Agency: "police.411528"}
	model        = Subject{Principal: "model:medins.third_party_injury", Kind: "model",
		Datasets: []string{"medins.settlements", "police.traffic_accidents"}}
)

func approverSubject(p string) Subject {
	return Subject{Principal: p, Kind: "user", Agency: "procuratorate.411528", Roles: []string{"approver"}}
}

// request returns a pending request by user:li for fields.
func request(fields ...FieldMasking) *Request {
	if len(fields) == 0 {
		fields = []FieldMasking{{"settlement_no", ""}, {"id_number", "token"}, {"name", ""}}
	}
	return &Request{
		ID: "req-1", Requester: "user:li", State: "pending",
		Purpose: "核查医保基金第三方责任支付", LegalBasis: "社会保险法 第三十条", CaseNumber: "（2026）豫1528检123号",
		Fields: fields,
	}
}

// granted returns request() approved by two approvers, with a grant to
// user:li that lives another day.
func granted() *Request {
	r := request()
	r.State = "approved"
	r.Approvals = []Approval{{"user:a", true}, {"user:b", true}}
	r.Grant = &Grant{ID: "grant-1", Holder: "user:li", ExpireTime: now.Add(24 * time.Hour),
		MaxPulls: 10, Fields: slices.Clone(r.Fields)}
	return r
}

// testTimeout bounds decisions in tests other than those of timeouts: long,
// so that a loaded machine does not turn a test into a timeout.
const testTimeout = 10 * time.Second

func newDefault(t testing.TB) *Engine {
	t.Helper()
	e, err := New(context.Background(), Options{Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// unpreparedReference returns a function that decides by evaluating the
// default bundle as written: no partial evaluation, compiled on every call.
func unpreparedReference(t *testing.T) func(Input) Decision {
	files, err := readBundle("")
	if err != nil {
		t.Fatal(err)
	}
	modules, err := parse(files)
	if err != nil {
		t.Fatal(err)
	}
	return func(in Input) Decision {
		t.Helper()
		opts := []func(*rego.Rego){
			rego.Query(Query), rego.ParsedInput(in.value()), rego.Time(in.Time),
			rego.StrictBuiltinErrors(true), rego.GenerateJSON(keepAST),
		}
		for _, m := range modules {
			opts = append(opts, rego.ParsedModule(m))
		}
		rs, err := rego.New(opts...).Eval(context.Background())
		if err != nil || len(rs) != 1 {
			t.Fatalf("plain evaluation: %v, %v", rs, err)
		}
		d, err := parseDecision(rs[0].Expressions[0].Value.(ast.Value), &in)
		if err != nil {
			t.Fatalf("plain evaluation: %v", err)
		}
		return d
	}
}

// equal reports whether d and o decide the same, revision aside.
func (d Decision) equal(o Decision) bool {
	return d.Allow == o.Allow && d.NeedsApprovals == o.NeedsApprovals && maps.Equal(d.Mask, o.Mask) &&
		d.MaxRows == o.MaxRows && d.MaxPulls == o.MaxPulls && d.TTL == o.TTL && slices.Equal(d.Reasons, o.Reasons)
}

// TestDefaultRules runs the main rules of the default bundle through Decide.
func TestDefaultRules(t *testing.T) {
	e := newDefault(t)
	withRequest := func(action string, s Subject, res Resource, r *Request) Input {
		return Input{Subject: s, Action: action, Resource: res, Request: r, Time: now}
	}
	pull := func(edit func(r *Request)) Input {
		r := granted()
		if edit != nil {
			edit(r)
		}
		return withRequest(ActionPull, requester, settlements, r)
	}
	create := func(res Resource, edit func(r *Request), fields ...FieldMasking) Input {
		r := request(fields...)
		r.State = ""
		if edit != nil {
			edit(r)
		}
		return withRequest(ActionRequestCreate, requester, res, r)
	}
	auditor := Subject{Principal: "user:wang", Kind: "user", Roles: []string{"auditor"}}
	admin := Subject{Principal: "user:zhao", Kind: "user", Roles: []string{"admin"}}
	requesterAdmin := requester
	requesterAdmin.Roles = []string{"requester", "admin"}

	tests := []struct {
		name     string
		in       Input
		allow    bool
		needs    int
		mask     map[string]string // nil: not checked
		reasons  []string          // nil: not checked
		ttl      time.Duration     // 0: not checked
		maxPulls int               // 0: not checked
		maxRows  int               // 0: not checked
	}{
		{name: "agency pushes own dataset", in: Input{Subject: policeAgency, Action: ActionPush, Resource: accidents, Time: now},
			allow: true, reasons: []string{"机构推送本机构数据集 / an agency pushes its own dataset"}},
		{name: "agency pushes another's dataset", in: Input{Subject: policeAgency, Action: ActionPush, Resource: settlements, Time: now},
			reasons: []string{"机构只能推送本机构数据集 / an agency pushes only its own datasets"}},
		{name: "user pushes", in: Input{Subject: requester, Action: ActionPush, Resource: accidents, Time: now},
			reasons: []string{"仅机构可推送数据 / only agencies push datasets", "机构只能推送本机构数据集 / an agency pushes only its own datasets"}},

		{name: "sensitive request needs two", in: create(settlements, nil), allow: true, needs: 2,
			mask: map[string]string{"settlement_no": "none", "id_number": "token", "name": "partial", "total_cost": "drop"},
			ttl:  7 * 24 * time.Hour, maxPulls: 10, maxRows: 100000},
		{name: "internal request needs one", in: create(accidents, nil, FieldMasking{"accident_no", ""}, FieldMasking{"id_number", "partial"}),
			allow: true, needs: 1,
			mask: map[string]string{"accident_no": "none", "id_number": "partial", "name": "drop", "responsibility": "drop"}},
		{name: "full masking needs two", in: create(accidents, nil, FieldMasking{"id_number", "full"}, FieldMasking{"name", "token"}),
			allow: true, needs: 2,
			mask: map[string]string{"accident_no": "drop", "id_number": "none", "name": "token", "responsibility": "drop"}},
		{name: "request without justification", in: create(settlements, func(r *Request) { r.Purpose, r.LegalBasis, r.CaseNumber = "", " ", "" }),
			needs: 2, reasons: []string{"缺少案号 / case number missing", "缺少法律依据 / legal basis missing", "缺少用途 / purpose missing"}},
		{name: "request for a field not in the dataset", in: create(accidents, nil, FieldMasking{"diagnosis_code", ""}),
			needs: 1, reasons: []string{"申请字段不属于该数据集 / a requested field is not in the dataset"}},
		{name: "request with unknown masking", in: create(accidents, nil, FieldMasking{"name", "hash"}),
			needs: 1, reasons: []string{"脱敏方式无效 / unknown masking requested"}},
		{name: "request for three days", in: create(settlements, func(r *Request) { r.Duration = 72 * time.Hour; r.MaxPulls = 5 }),
			allow: true, needs: 2, ttl: 72 * time.Hour, maxPulls: 5},
		{name: "request for 31 days", in: create(settlements, func(r *Request) { r.Duration = 31 * 24 * time.Hour }),
			needs: 2, reasons: []string{"申请期限超过30天 / duration longer than 30 days"}},
		{name: "request for 101 pulls", in: create(settlements, func(r *Request) { r.MaxPulls = 101 }),
			needs: 2, reasons: []string{"提取次数超出范围(1至100) / max pulls out of range (1 to 100)"}},
		{name: "request without requester role", in: withRequest(ActionRequestCreate, approverSubject("user:li"), settlements, request()),
			needs: 2, reasons: []string{"需要申请人角色 / requester role required"}},

		{name: "approver approves", in: withRequest(ActionRequestApprove, approverSubject("user:a"), settlements, request()),
			allow: true, needs: 2, reasons: []string{"审批人可审批该申请 / approver may approve this request"}},
		{name: "approver denies", in: withRequest(ActionRequestDeny, approverSubject("user:a"), settlements, request()),
			allow: true, needs: 2},
		{name: "own approval refused", in: withRequest(ActionRequestApprove, Subject{Principal: "user:li", Kind: "user", Roles: []string{"requester", "approver"}}, settlements, request()),
			needs: 2, reasons: []string{"申请人不能审批本人申请 / a requester cannot decide their own request"}},
		{name: "second approval by the same approver refused", in: withRequest(ActionRequestApprove, approverSubject("user:a"), settlements,
			func() *Request { r := request(); r.Approvals = []Approval{{"user:a", true}}; return r }()),
			needs: 2, reasons: []string{"该审批人已处理此申请 / this approver already decided the request"}},
		{name: "approving a request that is not pending", in: withRequest(ActionRequestApprove, approverSubject("user:a"), settlements,
			func() *Request { r := request(); r.State = "approved"; return r }()),
			needs: 2, reasons: []string{"申请不在待审批状态 / request is not pending"}},

		{name: "holder pulls", in: pull(nil), allow: true, needs: 2,
			mask: map[string]string{"settlement_no": "none", "id_number": "token", "name": "partial", "total_cost": "drop"},
			ttl:  24 * time.Hour, maxPulls: 10, maxRows: 100000,
			reasons: []string{"授权有效，可提取 / grant is valid, pull allowed"}},
		{name: "expired grant", in: pull(func(r *Request) { r.Grant.ExpireTime = now }), needs: 2,
			reasons: []string{"授权已过期 / grant expired"}},
		{name: "exhausted grant", in: pull(func(r *Request) { r.Grant.Pulls = 10 }), needs: 2,
			reasons: []string{"提取次数已用尽 / pulls exhausted"}},
		{name: "revoked grant", in: pull(func(r *Request) { r.Grant.Revoked = true }), needs: 2,
			reasons: []string{"授权已撤销 / grant revoked"}},
		{name: "no grant", in: pull(func(r *Request) { r.Grant = nil }), needs: 2,
			reasons: []string{"无授权 / no grant"}},
		{name: "someone else pulls", in: func() Input {
			in := pull(nil)
			in.Subject = Subject{Principal: "user:zhang", Kind: "user", Roles: []string{"requester"}}
			return in
		}(), needs: 2, reasons: []string{"非授权持有人 / not the grant holder"}},
		{name: "sensitive pull with one approver", in: pull(func(r *Request) { r.Approvals = []Approval{{"user:a", true}, {"user:a", true}} }),
			needs: 2, reasons: []string{"审批人数不足 / not enough approvals"}},
		{name: "requester's own approval does not count", in: pull(func(r *Request) { r.Approvals = []Approval{{"user:li", true}, {"user:a", true}} }),
			needs: 2, reasons: []string{"审批人数不足 / not enough approvals"}},
		{name: "internal pull with one approver", in: func() Input {
			r := granted()
			r.Approvals = r.Approvals[:1]
			r.Grant.Fields = []FieldMasking{{"id_number", "token"}}
			return withRequest(ActionPull, requester, accidents, r)
		}(), allow: true, needs: 1,
			mask: map[string]string{"accident_no": "drop", "id_number": "token", "name": "drop", "responsibility": "drop"}},
		{name: "full grant of internal data with one approver", in: func() Input {
			r := granted()
			r.Approvals = r.Approvals[:1]
			r.Grant.Fields = []FieldMasking{{"id_number", "full"}}
			return withRequest(ActionPull, requester, accidents, r)
		}(), needs: 2, reasons: []string{"审批人数不足 / not enough approvals"}},
		{name: "admin holding a grant pulls nothing", in: func() Input {
			in := pull(nil)
			in.Subject = requesterAdmin
			return in
		}(), needs: 2, reasons: []string{"审计员与管理员不提取数据 / auditors and admins read no data"}},

		{name: "auditor reads the audit log", in: Input{Subject: auditor, Action: ActionAuditRead, Time: now}, allow: true},
		{name: "requester reads the audit log", in: Input{Subject: requester, Action: ActionAuditRead, Time: now},
			reasons: []string{"需要审计员角色 / auditor role required"}},
		{name: "admin manages principals", in: Input{Subject: admin, Action: ActionPrincipalManage, Time: now}, allow: true},
		{name: "auditor manages principals", in: Input{Subject: auditor, Action: ActionPrincipalManage, Time: now},
			reasons: []string{"需要管理员角色 / admin role required"}},
		{name: "model reads a declared dataset as tokens", in: Input{Subject: model, Action: ActionModelRead, Resource: settlements, Time: now},
			allow: true, mask: map[string]string{"settlement_no": "none", "id_number": "token", "name": "token", "total_cost": "none"}},
		{name: "model reads an undeclared dataset", in: Input{Subject: model, Action: ActionModelRead, Time: now,
			Resource: Resource{Dataset: "hrss.pension_payments", Owner: "hrss", Classification: "sensitive"}},
			reasons: []string{"模型未声明该数据集 / dataset not declared by the model"}},
		{name: "unknown action", in: Input{Subject: admin, Action: "dataset.delete", Resource: accidents, Time: now},
			reasons: []string{"未知操作 / unknown action"}},
	}
	ref := unpreparedReference(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := e.Decide(context.Background(), tc.in)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			// The Engine prepares the query with partial evaluation; the
			// plain evaluation of the bundle must agree with it.
			if want := ref(tc.in); !d.equal(want) {
				t.Errorf("Decide = %+v, plain evaluation %+v", d, want)
			}
			if d.Allow != tc.allow {
				t.Errorf("Allow = %v, want %v (reasons %q)", d.Allow, tc.allow, d.Reasons)
			}
			if d.NeedsApprovals != tc.needs {
				t.Errorf("NeedsApprovals = %d, want %d", d.NeedsApprovals, tc.needs)
			}
			if tc.mask != nil && !maps.Equal(d.Mask, tc.mask) {
				t.Errorf("Mask = %v, want %v", d.Mask, tc.mask)
			}
			if len(d.Mask) != len(tc.in.Resource.Fields) {
				t.Errorf("Mask has %d fields, the resource %d", len(d.Mask), len(tc.in.Resource.Fields))
			}
			if tc.reasons != nil && !slices.Equal(d.Reasons, tc.reasons) {
				t.Errorf("Reasons = %q, want %q", d.Reasons, tc.reasons)
			}
			if len(d.Reasons) == 0 {
				t.Error("no reasons")
			}
			if tc.ttl != 0 && d.TTL != tc.ttl {
				t.Errorf("TTL = %v, want %v", d.TTL, tc.ttl)
			}
			if tc.maxPulls != 0 && d.MaxPulls != tc.maxPulls {
				t.Errorf("MaxPulls = %d, want %d", d.MaxPulls, tc.maxPulls)
			}
			if tc.maxRows != 0 && d.MaxRows != tc.maxRows {
				t.Errorf("MaxRows = %d, want %d", d.MaxRows, tc.maxRows)
			}
			if d.Revision != e.Revision() {
				t.Errorf("Revision = %q, want %q", d.Revision, e.Revision())
			}
		})
	}
}
