package push_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/envelope"
	"github.com/qiao-exchange/qiao/crypto/fieldcrypt"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/gateway"
	"github.com/qiao-exchange/qiao/gateway/authn"
	"github.com/qiao-exchange/qiao/gateway/directory"
	"github.com/qiao-exchange/qiao/gateway/push"
	"github.com/qiao-exchange/qiao/gateway/rpcerr"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/schema"
	"github.com/qiao-exchange/qiao/store"
	"github.com/qiao-exchange/qiao/store/evidence"
	"github.com/qiao-exchange/qiao/store/warehouse"
)

const (
	police = "police.411528"
	court  = "court.411528"
)

// fixture is a pusher over a real state store, evidence directory and
// warehouse in a temporary directory, with police and court registered.
type fixture struct {
	pusher  *push.Pusher
	db      *store.DB
	ev      *evidence.Store
	wh      *warehouse.Warehouse
	schemas *schema.Registry
	gateway *sm2.PrivateKey            // the gateway's encryption key
	sign    map[string]*sm2.PrivateKey // the principals' signing keys
	roots   []*ca.Certificate

	mu      sync.Mutex
	audited []store.Batch
	failTx  error // returned by the audit hook when set
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	rk, err := sm2.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	root, err := ca.NewRoot(rk, ca.RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{sign: map[string]*sm2.PrivateKey{}, roots: []*ca.Certificate{root.Certificate()}}
	if f.db, err = store.Open(ctx, store.Config{DSN: filepath.Join(dir, "state.db")}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.db.Close() })
	reg, err := directory.New(directory.Config{Store: f.db, Roots: f.roots})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []store.Principal{
		{Name: police, Kind: store.KindAgency, Agency: "police"},
		{Name: court, Kind: store.KindAgency, Agency: "court"},
	} {
		sk, ek := mustKey(t), mustKey(t)
		pair, err := root.IssuePair(ca.Request{Principal: p.Name, Kind: ca.KindAgency}, sk.PublicKey(), ek.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := reg.Register(ctx, p, pair.Sign.PEM(), pair.Enc.PEM()); err != nil {
			t.Fatal(err)
		}
		f.sign[p.Name] = sk
	}
	f.gateway = mustKey(t)
	master := bytes.Repeat([]byte{7}, 16)
	if f.ev, err = evidence.Open(filepath.Join(dir, "evidence"), master); err != nil {
		t.Fatal(err)
	}
	keys, err := fieldcrypt.New(master)
	if err != nil {
		t.Fatal(err)
	}
	if f.schemas, err = schema.Load(""); err != nil {
		t.Fatal(err)
	}
	if f.wh, err = warehouse.Open(ctx, filepath.Join(dir, "warehouse.duckdb"), f.schemas, keys); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.wh.Close() })
	f.pusher, err = push.New(push.Config{
		Store: f.db, Evidence: f.ev, Warehouse: f.wh, Key: f.gateway, Roots: f.roots,
		Audit: func(ctx context.Context, tx *store.Tx, p gateway.Push, b store.Batch) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.failTx != nil {
				return f.failTx
			}
			f.audited = append(f.audited, b)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mustKey(t *testing.T) *sm2.PrivateKey {
	t.Helper()
	k, err := sm2.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// idNumber returns a valid resident ID number with sequence n.
func idNumber(t *testing.T, n int) string {
	t.Helper()
	first := fmt.Sprintf("411528%04d0101%03d", 1950+n%50, n%1000)
	c, err := schema.IDCheckDigit(first)
	if err != nil {
		t.Fatal(err)
	}
	return first + string(c)
}

// deaths returns n valid police.deaths rows in raw forms the schema
// accepts.
func deaths(t *testing.T, from, n int) [][]string {
	rows := make([][]string, n)
	for i := range n {
		rows[i] = []string{idNumber(t, from+i), fmt.Sprintf("死者%d", from+i), "2023/3/1", "2023年3月5日"}
	}
	return rows
}

// payload encodes rows as a BatchPayload of dataset.
func (f *fixture) payload(t *testing.T, dataset string, rows [][]string) []byte {
	t.Helper()
	ds, err := f.schemas.Get(dataset)
	if err != nil {
		t.Fatal(err)
	}
	bp := &exchangev1.BatchPayload{}
	for _, fl := range ds.Fields {
		bp.Fields = append(bp.Fields, fl.Name)
	}
	for _, r := range rows {
		bp.Rows = append(bp.Rows, &exchangev1.BatchPayload_Row{Values: r})
	}
	b, err := proto.Marshal(bp)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seal seals payload as sender to recipient with the given associated data.
func seal(t *testing.T, sender *sm2.PrivateKey, recipient *sm2.PublicKey, dataset, batchID, contentType string, payload []byte) *exchangev1.Envelope {
	t.Helper()
	env, err := envelope.Seal(sender, recipient, envelope.AssociatedData{Dataset: dataset, BatchID: batchID, ContentType: contentType}, payload)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// push pushes env as caller.
func (f *fixture) push(t *testing.T, caller, dataset, batchID string, env *exchangev1.Envelope) (store.Batch, bool, error) {
	t.Helper()
	ds, err := f.schemas.Get(dataset)
	if err != nil {
		t.Fatal(err)
	}
	return f.pusher.PushBatch(t.Context(), gateway.Push{
		Caller:   &authn.Caller{Principal: caller, Kind: store.KindAgency, KeyID: f.sign[caller].PublicKey().KeyID()},
		Dataset:  ds,
		BatchID:  batchID,
		Envelope: env,
		Decision: gateway.Decision{Allow: true},
	})
}

// pushRows seals rows of police.deaths as police to the gateway and pushes
// them.
func (f *fixture) pushRows(t *testing.T, batchID string, rows [][]string) (store.Batch, bool, error) {
	t.Helper()
	env := seal(t, f.sign[police], f.gateway.PublicKey(), "police.deaths", batchID, push.ContentType, f.payload(t, "police.deaths", rows))
	return f.push(t, police, "police.deaths", batchID, env)
}

func (f *fixture) count(t *testing.T) int64 {
	t.Helper()
	n, err := f.wh.Count(t.Context(), "police.deaths")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// violations returns the code err maps to and its field violations.
func violations(err error) (codes.Code, []string) {
	st, _ := rpcerr.Status(err)
	var out []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField())
			}
		}
	}
	return st.Code(), out
}

func TestPushCommitsOnceAndStoresEvidence(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	rows := deaths(t, 0, 3)
	b, created, err := f.pushRows(t, "2026-11-01", rows)
	if err != nil {
		t.Fatal(err)
	}
	if !created || b.State != store.BatchCommitted || b.Rows != 3 || b.EvidenceRef == "" {
		t.Fatalf("first push: %+v created=%v", b, created)
	}
	if n := f.count(t); n != 3 {
		t.Errorf("%d visible rows, want 3", n)
	}
	if len(f.audited) != 1 || f.audited[0].State != store.BatchCommitted {
		t.Errorf("audit hook saw %+v, want one committed batch", f.audited)
	}
	ref, err := evidence.ParseRef(b.EvidenceRef)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ev.Get(ctx, ref); err != nil {
		t.Errorf("evidence: %v", err)
	}
	got, err := f.wh.Rows(ctx, "police.deaths", warehouse.Query{})
	if err != nil || len(got) != 3 {
		t.Fatalf("rows: %d %v", len(got), err)
	}

	// The same rows, sealed anew: the stored record, nothing stored again.
	again, created, err := f.pushRows(t, "2026-11-01", rows)
	if err != nil || created || again.ContentSM3 != b.ContentSM3 || again.EnvelopeSM3 != b.EnvelopeSM3 {
		t.Errorf("repeat: %+v created=%v %v", again, created, err)
	}
	if n := f.count(t); n != 3 || len(f.audited) != 1 {
		t.Errorf("after the repeat: %d rows, %d audited; want 3 and 1", n, len(f.audited))
	}

	// The same batch ID with other content: FAILED_PRECONDITION.
	_, _, err = f.pushRows(t, "2026-11-01", deaths(t, 10, 2))
	if c, _ := violations(err); c != codes.FailedPrecondition {
		t.Errorf("other content under the same ID: %v (%v)", c, err)
	}
	if n := f.count(t); n != 3 {
		t.Errorf("%d rows after a conflict, want 3", n)
	}
}

func TestPushRejectsInvalidRowsWhole(t *testing.T) {
	f := newFixture(t)
	rows := deaths(t, 0, 4)
	rows[1][0] = wrongCheckDigit(rows[1][0])
	rows[2][2] = "2023-02-30" // impossible date
	rows[3][1] = ""           // missing required name
	_, _, err := f.pushRows(t, "bad-1", rows)
	code, vs := violations(err)
	want := []string{"rows[2].id_number", "rows[3].death_date", "rows[4].name"}
	if code != codes.InvalidArgument || strings.Join(vs, ",") != strings.Join(want, ",") {
		t.Fatalf("invalid rows: %v %v, want InvalidArgument %v (%v)", code, vs, want, err)
	}
	if strings.Contains(err.Error(), idNumber(t, 1)[:17]) {
		t.Errorf("the error quotes an ID number: %v", err)
	}
	b, err := f.db.GetBatch(t.Context(), store.BatchKey{Dataset: "police.deaths", Principal: police, ID: "bad-1"})
	if err != nil {
		t.Fatal(err)
	}
	if b.State != store.BatchRejected || b.Rows != 4 || b.RejectedRows != 3 || len(b.Rejected) != 3 || b.EvidenceRef != "" {
		t.Errorf("rejected record: %+v", b)
	}
	if n := f.count(t); n != 0 {
		t.Errorf("%d rows stored from a rejected batch", n)
	}

	// Corrected, the same batch ID is taken.
	b, created, err := f.pushRows(t, "bad-1", deaths(t, 0, 4))
	if err != nil || !created || b.State != store.BatchCommitted || len(b.Rejected) != 0 {
		t.Errorf("corrected batch: %+v %v %v", b, created, err)
	}
}

func TestPushRefusesBadEnvelopes(t *testing.T) {
	f := newFixture(t)
	payload := f.payload(t, "police.deaths", deaths(t, 0, 2))
	pk := f.sign[police]
	gw := f.gateway.PublicKey()
	otherFields := &exchangev1.BatchPayload{Fields: []string{"name", "id_number", "death_date", "cancel_date"},
		Rows: []*exchangev1.BatchPayload_Row{{Values: []string{"a", "b", "c", "d"}}}}
	otherFieldsBytes, _ := proto.Marshal(otherFields)
	for _, tc := range []struct {
		name   string
		caller string
		env    *exchangev1.Envelope
		code   codes.Code
	}{
		{"malformed", police, &exchangev1.Envelope{Content: []byte("not an envelope"), Signature: []byte{1, 2}}, codes.InvalidArgument},
		{"another recipient", police, seal(t, pk, mustKey(t).PublicKey(), "police.deaths", "b", push.ContentType, payload), codes.InvalidArgument},
		{"signed by another principal's key", police, seal(t, f.sign[court], gw, "police.deaths", "b", push.ContentType, payload), codes.InvalidArgument},
		{"signed by an unregistered key", police, seal(t, mustKey(t), gw, "police.deaths", "b", push.ContentType, payload), codes.InvalidArgument},
		{"another dataset", police, seal(t, pk, gw, "police.detentions", "b", push.ContentType, payload), codes.InvalidArgument},
		{"another batch ID", police, seal(t, pk, gw, "police.deaths", "c", push.ContentType, payload), codes.InvalidArgument},
		{"another content type", police, seal(t, pk, gw, "police.deaths", "b", "application/x-ndjson", payload), codes.InvalidArgument},
		{"not a payload", police, seal(t, pk, gw, "police.deaths", "b", push.ContentType, []byte{0xff, 0xff}), codes.InvalidArgument},
		{"other fields", police, seal(t, pk, gw, "police.deaths", "b", push.ContentType, otherFieldsBytes), codes.InvalidArgument},
		{"no rows", police, seal(t, pk, gw, "police.deaths", "b", push.ContentType, f.payload(t, "police.deaths", nil)), codes.InvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := f.push(t, tc.caller, "police.deaths", "b", tc.env)
			if code, _ := violations(err); code != tc.code {
				t.Errorf("%v (%v), want %v", code, err, tc.code)
			}
			if _, err := f.db.GetBatch(t.Context(), store.BatchKey{Dataset: "police.deaths", Principal: police, ID: "b"}); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a batch record was stored: %v", err)
			}
		})
	}
	if n := f.count(t); n != 0 {
		t.Errorf("%d rows stored", n)
	}
}

// A push whose transaction fails leaves its rows invisible; the start-up
// recovery removes them, and a retry after it stores the batch.
func TestPushFailedCommitIsRecovered(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.failTx = errors.New("audit log unavailable")
	if _, _, err := f.pushRows(t, "b-1", deaths(t, 0, 2)); err == nil {
		t.Fatal("push succeeded with a failing audit hook")
	}
	if _, err := f.db.GetBatch(ctx, store.BatchKey{Dataset: "police.deaths", Principal: police, ID: "b-1"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("batch recorded without its audit entry: %v", err)
	}
	if n := f.count(t); n != 0 {
		t.Errorf("%d rows visible", n)
	}
	rec, err := push.Recover(ctx, f.db, f.wh)
	if err != nil || len(rec.Removed) != 1 || len(rec.Published) != 0 {
		t.Fatalf("recovery: %+v %v", rec, err)
	}
	f.failTx = nil
	if b, created, err := f.pushRows(t, "b-1", deaths(t, 0, 2)); err != nil || !created || b.State != store.BatchCommitted {
		t.Fatalf("retry: %+v %v %v", b, created, err)
	}
	if n := f.count(t); n != 2 {
		t.Errorf("%d rows visible, want 2", n)
	}
	if rec, err := push.Recover(ctx, f.db, f.wh); err != nil || len(rec.Removed)+len(rec.Published) != 0 {
		t.Errorf("second recovery: %+v %v", rec, err)
	}
}

// Concurrent pushes of the same batch store it once.
func TestPushConcurrentRepeats(t *testing.T) {
	f := newFixture(t)
	rows := deaths(t, 0, 5)
	var wg sync.WaitGroup
	var mu sync.Mutex
	createdN := 0
	for range 4 {
		wg.Go(func() {
			_, created, err := f.pushRows(t, "c-1", rows)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			if created {
				createdN++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if createdN != 1 || f.count(t) != 5 {
		t.Errorf("%d pushes created the batch, %d rows; want 1 and 5", createdN, f.count(t))
	}
}

// wrongCheckDigit returns a resident ID number with its check digit
// changed.
func wrongCheckDigit(id string) string {
	if id[17] == '0' {
		return id[:17] + "1"
	}
	return id[:17] + "0"
}
