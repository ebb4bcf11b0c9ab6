package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/qiao-exchange/qiao/store"
)

var (
	alice = store.Principal{Name: "user:alice", Kind: store.KindUser, Agency: "procuratorate.411528", Roles: []store.Role{"requester"}}
	bob   = store.Principal{Name: "user:bob", Kind: store.KindUser, Agency: "procuratorate.411528", Roles: []store.Role{"approver"}}
	carol = store.Principal{Name: "user:carol", Kind: store.KindUser, Agency: "procuratorate.411528", Roles: []store.Role{"approver"}}
)

func sampleRequest(id string) store.AccessRequest {
	return store.AccessRequest{
		ID: id, Requester: alice.Name, Dataset: "medins.settlements",
		Purpose: "核查医保基金第三方责任支付", LegalBasis: "《人民检察院组织法》第二十一条", CaseNumber: "(2026)豫1528民监1号",
		Fields:   []store.FieldMasking{{Field: "id_number", Masking: "partial"}, {Field: "fund_paid"}},
		Filter:   store.RowFilter{DateField: "admission_date", FromDate: "2026-01-01", SubjectTokens: []string{}},
		Duration: 48 * time.Hour, MaxPulls: 3, State: store.RequestPending, ApprovalsRequired: 2,
		Reasons: []string{"敏感数据需两人审批 / sensitive data needs two approvals"}, PolicyRevision: "sha256:x",
	}
}

// testAccessWorkflow stores a request, two approvers' decisions, the grant
// and its pulls, and checks every refusal the store itself enforces.
func testAccessWorkflow(t *testing.T, open func(t *testing.T) *store.DB) {
	ctx := t.Context()
	db := open(t)
	register(t, db, alice, bob, carol)

	inTx(t, db, func(tx *store.Tx) error {
		_, err := tx.InsertRequest(ctx, sampleRequest("R1"))
		return err
	})
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.InsertRequest(ctx, sampleRequest("R1"))
		return err
	}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a second request R1: %v, want ErrConflict", err)
	}
	r, err := db.GetRequest(ctx, "R1")
	if err != nil {
		t.Fatal(err)
	}
	want := sampleRequest("R1")
	if r.Purpose != want.Purpose || r.CaseNumber != want.CaseNumber || r.Duration != want.Duration ||
		len(r.Fields) != 2 || r.Fields[0] != want.Fields[0] || r.Filter.FromDate != "2026-01-01" ||
		r.State != store.RequestPending || r.ApprovalsRequired != 2 || len(r.Reasons) != 1 || len(r.Decisions) != 0 {
		t.Fatalf("GetRequest = %+v", r)
	}

	inTx(t, db, func(tx *store.Tx) error {
		_, err := tx.AddDecision(ctx, "R1", store.ApproverDecision{Approver: bob.Name, Approved: true, Reason: "案件需要"})
		return err
	})
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.AddDecision(ctx, "R1", store.ApproverDecision{Approver: bob.Name, Approved: true, Reason: "again"})
		return err
	}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("bob's second decision: %v, want ErrConflict", err)
	}
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.AddDecision(ctx, "R9", store.ApproverDecision{Approver: bob.Name, Approved: true, Reason: "x"})
		return err
	}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a decision on an unknown request: %v, want ErrNotFound", err)
	}

	var g store.Grant
	inTx(t, db, func(tx *store.Tx) error {
		if _, err := tx.AddDecision(ctx, "R1", store.ApproverDecision{Approver: carol.Name, Approved: true, Reason: "同意"}); err != nil {
			return err
		}
		if _, err := tx.SetRequestState(ctx, "R1", store.RequestApproved, []string{"approved"}, "sha256:y"); err != nil {
			return err
		}
		var err error
		g, err = tx.InsertGrant(ctx, store.Grant{ID: "G1", RequestID: "R1", Holder: alice.Name, Dataset: "medins.settlements",
			Fields: want.Fields, Mask: map[string]string{"id_number": "partial", "fund_paid": "none", "name": "drop"},
			MaxRows: 100, MaxPulls: 2, Expires: time.Now().Add(48 * time.Hour)})
		return err
	})
	r, err = db.GetRequest(ctx, "R1")
	if err != nil {
		t.Fatal(err)
	}
	if r.State != store.RequestApproved || r.Approvals() != 2 || r.Decisions[0].Approver != bob.Name || r.PolicyRevision != "sha256:y" {
		t.Fatalf("after two approvals: %+v", r)
	}
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.SetRequestState(ctx, "R1", store.RequestDenied, nil, "")
		return err
	}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("denying an approved request: %v, want ErrConflict", err)
	}
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.AddDecision(ctx, "R1", store.ApproverDecision{Approver: "user:dave", Approved: true, Reason: "late"})
		return err
	}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a decision on an approved request: %v, want ErrConflict", err)
	}
	if got, err := db.GrantOf(ctx, "R1"); err != nil || got.ID != g.ID || got.Mask["name"] != "drop" || got.MaxPulls != 2 {
		t.Fatalf("GrantOf(R1) = %+v, %v", got, err)
	}

	for i := 1; i <= 3; i++ {
		err := db.InTx(ctx, func(tx *store.Tx) error {
			got, err := tx.CountPull(ctx, "G1")
			if err == nil && got.Pulls != i {
				t.Errorf("pull %d counted as %d", i, got.Pulls)
			}
			return err
		})
		if i <= 2 && err != nil {
			t.Fatalf("pull %d: %v", i, err)
		}
		if i == 3 && !errors.Is(err, store.ErrConflict) {
			t.Fatalf("pull past the limit: %v, want ErrConflict", err)
		}
	}
	inTx(t, db, func(tx *store.Tx) error {
		got, err := tx.RevokeGrant(ctx, "G1", "案件已结 case closed")
		if err == nil && (got.Revoked.IsZero() || got.RevokeReason == "") {
			t.Errorf("revoked grant = %+v", got)
		}
		return err
	})
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.RevokeGrant(ctx, "G1", "again")
		return err
	}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("revoking twice: %v, want ErrConflict", err)
	}
}

// testListRequests lists by requester, state and dataset, newest first.
func testListRequests(t *testing.T, open func(t *testing.T) *store.DB) {
	ctx := t.Context()
	db := open(t)
	register(t, db, alice, bob)
	for _, id := range []string{"R1", "R2", "R3"} {
		inTx(t, db, func(tx *store.Tx) error {
			r := sampleRequest(id)
			if id == "R3" {
				r.Dataset = "police.deaths"
			}
			_, err := tx.InsertRequest(ctx, r)
			return err
		})
		time.Sleep(time.Millisecond)
	}
	inTx(t, db, func(tx *store.Tx) error {
		_, err := tx.SetRequestState(ctx, "R2", store.RequestWithdrawn, []string{"withdrawn"}, "")
		return err
	})
	for _, tc := range []struct {
		q    store.RequestQuery
		want []string
	}{
		{store.RequestQuery{}, []string{"R3", "R2", "R1"}},
		{store.RequestQuery{State: store.RequestPending}, []string{"R3", "R1"}},
		{store.RequestQuery{Dataset: "medins.settlements"}, []string{"R2", "R1"}},
		{store.RequestQuery{Requester: bob.Name}, nil},
		{store.RequestQuery{Limit: 1}, []string{"R3"}},
	} {
		rs, err := db.ListRequests(ctx, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rs {
			got = append(got, r.ID)
		}
		if len(got) != len(tc.want) {
			t.Errorf("ListRequests(%+v) = %v, want %v", tc.q, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("ListRequests(%+v) = %v, want %v", tc.q, got, tc.want)
				break
			}
		}
	}
}

// testInvalidRequests refuses malformed requests and stores nothing.
func testInvalidRequests(t *testing.T, open func(t *testing.T) *store.DB) {
	ctx := t.Context()
	db := open(t)
	register(t, db, alice)
	for name, mutate := range map[string]func(r *store.AccessRequest){
		"no ID":             func(r *store.AccessRequest) { r.ID = "" },
		"unknown requester": func(r *store.AccessRequest) { r.Requester = "user:nobody" },
		"control character": func(r *store.AccessRequest) { r.Purpose = "a\x00b" },
		"invalid UTF-8":     func(r *store.AccessRequest) { r.LegalBasis = "\xff" },
		"negative duration": func(r *store.AccessRequest) { r.Duration = -time.Second },
		"no state":          func(r *store.AccessRequest) { r.State = "" },
		"overlong case no.": func(r *store.AccessRequest) { r.CaseNumber = string(make([]byte, 201)) },
	} {
		r := sampleRequest("RX")
		mutate(&r)
		err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.InsertRequest(ctx, r)
			return err
		})
		if !errors.Is(err, store.ErrInvalid) && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %v, want ErrInvalid or ErrNotFound", name, err)
		}
	}
	if rs, err := db.ListRequests(ctx, store.RequestQuery{}); err != nil || len(rs) != 0 {
		t.Fatalf("after refusals: %d requests, %v", len(rs), err)
	}
}
