package auditsvc_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/qiao-exchange/qiao/audit"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/gateway/auditsvc"
	"github.com/qiao-exchange/qiao/gateway/authn"
	"github.com/qiao-exchange/qiao/gateway/rpcerr"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/store"
)

// failingAppend is the real log over a real store, except that appending
// the audit.read entry fails: a full disk cannot be provoked here.
type failingAppend struct{ *audit.Log }

var errAppend = errors.New("disk full")

func (failingAppend) Append(context.Context, audit.Tx, audit.Entry) (uint64, error) {
	return 0, errAppend
}

// A read whose audit.read entry cannot be appended fails, and returns no
// data; one that can is recorded.
func TestReadFailsClosed(t *testing.T) {
	ctx := t.Context()
	db, err := store.Open(ctx, store.Config{DSN: filepath.Join(t.TempDir(), "state.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	k, err := sm2.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.New(audit.Config{DB: db, Key: k, Origin: "gateway.example.gov.cn/qiao/audit"})
	if err != nil {
		t.Fatal(err)
	}
	ctx = authn.NewContext(ctx, &authn.Caller{Principal: "user:dave", Roles: []store.Role{store.RoleAuditor}})

	bad, err := auditsvc.New(auditsvc.Config{Log: failingAppend{l}, Store: db})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := bad.GetCheckpoint(ctx, &exchangev1.GetCheckpointRequest{})
	if !errors.Is(err, errAppend) || resp != nil {
		t.Fatalf("GetCheckpoint with a failing append: %v, %v", resp, err)
	}
	if st, _ := rpcerr.Status(err); st.Code() != codes.Internal {
		t.Errorf("code %v, want Internal", st.Code())
	}
	q, err := bad.QueryEntries(ctx, &exchangev1.QueryEntriesRequest{})
	if !errors.Is(err, errAppend) || q != nil {
		t.Fatalf("QueryEntries with a failing append: %v, %v", q, err)
	}

	good, err := auditsvc.New(auditsvc.Config{Log: l, Store: db})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := good.GetCheckpoint(ctx, &exchangev1.GetCheckpointRequest{}); err != nil {
		t.Fatal(err)
	}
	got, err := l.Query(ctx, audit.Filter{Action: audit.ActionAuditRead})
	if err != nil || len(got) != 1 || got[0].Actor.Principal != "user:dave" {
		t.Fatalf("audit.read entries %+v, %v", got, err)
	}
}
