package gateway_test

import (
	"net/http"
	"testing"

	"github.com/qiao-exchange/qiao/audit"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/gateway"
	"github.com/qiao-exchange/qiao/gateway/authn"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/store"
)

// With Options.Audit set, directory changes and failed authentications on
// both transports reach the real audit log over the gateway's store.
func TestAuditWiring(t *testing.T) {
	var l *audit.Log
	e := startGateway(t, func(o *gateway.Options) {
		k, err := sm2.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		if l, err = audit.New(audit.Config{DB: o.Store.(*store.DB), Key: k, Origin: "gateway.example.gov.cn/qiao/audit"}); err != nil {
			t.Fatal(err)
		}
		o.Audit = l
	})
	ctx := t.Context()
	if _, err := e.directory(erin).SetPrincipalStatus(ctx, &exchangev1.SetPrincipalStatusRequest{
		Name: court, Status: exchangev1.PrincipalStatus_PRINCIPAL_STATUS_DISABLED}); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := e.rest("", http.MethodGet, "/v1/principals/"+alice, nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("unsigned REST call: %d", code)
	}
	if _, err := e.directory(court).ListPrincipals(ctx, &exchangev1.ListPrincipalsRequest{}); err == nil {
		t.Fatal("disabled principal authenticated")
	}

	got, err := l.Query(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	type summary struct{ action, actor, code string }
	want := []summary{
		{audit.ActionPrincipalDisable, erin, ""},
		{audit.ActionAuthFailed, authn.UnknownPrincipal, "missing_header"},
		{audit.ActionAuthFailed, court, "unknown_key"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(got), len(want), got)
	}
	for i, en := range got {
		if s := (summary{en.Action, en.Actor.Principal, en.Result.Code}); s != want[i] {
			t.Errorf("entry %d: %+v, want %+v", i, s, want[i])
		}
	}
}
