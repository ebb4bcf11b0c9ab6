package policy

import (
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestInputDocument pins the input document built for Rego.
func TestInputDocument(t *testing.T) {
	in := Input{
		Subject: Subject{Principal: "user:li", Kind: "user", Agency: "procuratorate.411528", Roles: []string{"requester"}},
		Action:  ActionPull,
		Resource: Resource{Dataset: "police.deaths", Owner: "police", Classification: "sensitive",
			Fields: []Field{{"id_number", true}, {"death_date", false}}},
		Request: &Request{
			ID: "R1", Requester: "user:li", State: "approved", Purpose: "p", LegalBasis: "l", CaseNumber: "c",
			Fields: []FieldMasking{{"id_number", "token"}}, Duration: 36*time.Hour + 500*time.Millisecond, MaxPulls: 3,
			Approvals: []Approval{{"user:a", true}, {"user:b", false}},
			Grant: &Grant{ID: "G1", Holder: "user:li", ExpireTime: time.Date(2026, 12, 1, 16, 0, 0, 5, time.FixedZone("CST", 8*3600)),
				Pulls: 1, MaxPulls: 3, Fields: []FieldMasking{{"id_number", "token"}}},
		},
		Time: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC),
	}
	want := ast.MustParseTerm(`{
		"subject": {"principal": "user:li", "kind": "user", "agency": "procuratorate.411528", "roles": ["requester"], "datasets": []},
		"action": "dataset.pull",
		"resource": {"dataset": "police.deaths", "owner": "police", "classification": "sensitive",
			"fields": [{"name": "id_number", "pii": true}, {"name": "death_date", "pii": false}]},
		"request": {"id": "R1", "requester": "user:li", "state": "approved", "purpose": "p", "legal_basis": "l", "case_number": "c",
			"fields": [{"field": "id_number", "masking": "token"}], "duration_seconds": 129600, "max_pulls": 3,
			"approvals": [{"approver": "user:a", "approved": true}, {"approver": "user:b", "approved": false}],
			"grant": {"id": "G1", "holder": "user:li", "expire_time": "2026-12-01T08:00:00.000000005Z", "pulls": 1, "max_pulls": 3,
				"revoked": false, "fields": [{"field": "id_number", "masking": "token"}]}},
		"env": {"time": "2026-11-26T08:00:00Z", "time_ns": 1795680000000000000}
	}`).Value
	if got := in.value(); got.Compare(want) != 0 {
		t.Errorf("input document\n got %v\nwant %v", got, want)
	}

	in.Request = nil
	if got := in.value().(ast.Object); got.Get(ast.StringTerm("request")) != nil {
		t.Errorf("input without a request has one: %v", got)
	}
}
