package policy_test

import (
	"context"
	"fmt"
	"log"
	"maps"
	"slices"
	"time"

	"github.com/qiao-exchange/qiao/policy"
)

// A requester files a request for two fields of a sensitive dataset; the
// default bundle lets it be filed and says it needs two approvers, and how
// each field would be masked.
func ExampleEngine_Decide() {
	ctx := context.Background()
	e, err := policy.New(ctx, policy.Options{}) // the embedded default bundle
	if err != nil {
		log.Fatal(err)
	}
	d, err := e.Decide(ctx, policy.Input{
		Subject: policy.Subject{Principal: "user:li", Kind: "user", Roles: []string{"requester"}},
		Action:  policy.ActionRequestCreate,
		Resource: policy.Resource{
			Dataset: "medins.settlements", Owner: "medins", Classification: "sensitive",
			Fields: []policy.Field{{Name: "settlement_no"}, {Name: "id_number", PII: true}, {Name: "fund_paid"}},
		},
		Request: &policy.Request{
			Requester: "user:li",
			Purpose:   "核查医保基金第三方责任支付", LegalBasis: "社会保险法 第三十条", CaseNumber: "（2026）豫1528检123号",
			Fields:   []policy.FieldMasking{{Field: "settlement_no"}, {Field: "id_number", Masking: "token"}},
			Duration: 72 * time.Hour,
		},
		Time: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC),
	})
	if err != nil {
		// Decide fails closed: d is a deny; log err for the operators.
		log.Print(err)
	}
	fmt.Println("allow:", d.Allow)
	fmt.Println("approvals needed:", d.NeedsApprovals)
	for _, f := range slices.Sorted(maps.Keys(d.Mask)) {
		fmt.Printf("  %s: %s\n", f, d.Mask[f])
	}
	fmt.Println("grant lives:", d.TTL, "pulls:", d.MaxPulls)
	fmt.Println(d.Reasons[0])
	// Output:
	// allow: true
	// approvals needed: 2
	//   fund_paid: drop
	//   id_number: token
	//   settlement_no: none
	// grant lives: 72h0m0s pulls: 10
	// 申请已受理，待审批 / request may be filed, awaiting approval
}

// An operator's bundle directory is watched and reloaded when it changes;
// a bundle that does not compile is refused and the previous one kept.
func ExampleEngine_Watch() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e, err := policy.New(ctx, policy.Options{
		Dir: "/etc/qiao/policy",
		OnReload: func(_ context.Context, r policy.Reload) {
			if r.Err != nil {
				log.Printf("policy reload refused, %s kept: %v", r.Revision, r.Err)
			}
		},
	})
	if err != nil {
		log.Print(err) // no such directory here
		return
	}
	go e.Watch(ctx, 10*time.Second)
}
