package gateway_test

import (
	"testing"

	"github.com/qiao-exchange/qiao/gateway"
	"github.com/qiao-exchange/qiao/gateway/authn"
	"github.com/qiao-exchange/qiao/schema"
	"github.com/qiao-exchange/qiao/store"
)

func TestOwnDatasets(t *testing.T) {
	reg, err := schema.Load("")
	if err != nil {
		t.Fatal(err)
	}
	deaths, err := reg.Get("police.deaths")
	if err != nil {
		t.Fatal(err)
	}
	agency := &authn.Caller{Principal: "police.411528", Kind: store.KindAgency}
	for _, tc := range []struct {
		name  string
		in    gateway.PolicyInput
		allow bool
	}{
		{"own dataset", gateway.PolicyInput{Subject: agency, Action: gateway.ActionPush, Dataset: deaths}, true},
		{"region-less agency", gateway.PolicyInput{Subject: &authn.Caller{Principal: "police", Kind: store.KindAgency}, Action: gateway.ActionPush, Dataset: deaths}, true},
		{"another agency's", gateway.PolicyInput{Subject: &authn.Caller{Principal: "court.411528", Kind: store.KindAgency}, Action: gateway.ActionPush, Dataset: deaths}, false},
		{"a person", gateway.PolicyInput{Subject: &authn.Caller{Principal: "user:alice", Kind: store.KindUser}, Action: gateway.ActionPush, Dataset: deaths}, false},
		{"a lookalike name", gateway.PolicyInput{Subject: &authn.Caller{Principal: "policex.1", Kind: store.KindAgency}, Action: gateway.ActionPush, Dataset: deaths}, false},
		{"another action", gateway.PolicyInput{Subject: agency, Action: "dataset.pull", Dataset: deaths}, false},
		{"no dataset", gateway.PolicyInput{Subject: agency, Action: gateway.ActionPush}, false},
		{"no subject", gateway.PolicyInput{Action: gateway.ActionPush, Dataset: deaths}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := gateway.OwnDatasets{}.Decide(t.Context(), tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow != tc.allow || len(d.Reasons) == 0 || d.Revision != gateway.OwnDatasetsRevision {
				t.Errorf("decision %+v, want allow=%v with reasons", d, tc.allow)
			}
		})
	}
}
