package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/qiao-exchange/qiao/crypto/envelope"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/crypto/sm3"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/schema"
)

// memSource is an in-memory Source: row i is on line i+2, under a header.
type memSource struct {
	header []Problem
	rows   [][]string
	probs  map[int][]Problem // by row index
	i      int
}

func (s *memSource) Next() (Row, []Problem, error) {
	if s.header != nil {
		h := s.header
		s.header = nil
		return Row{}, h, nil
	}
	if s.i >= len(s.rows) {
		return Row{}, nil, io.EOF
	}
	i := s.i
	s.i++
	return Row{Line: i + 2, Values: s.rows[i]}, s.probs[i], nil
}

func (s *memSource) Close() error { return nil }

// memInput is an input of rows, its digest the SM3 of their text.
func memInput(name string, rows [][]string) Input {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(strings.Join(r, ",") + "\n")
	}
	return Input{Name: name, Digest: sm3.SumHex([]byte(b.String())), Open: func() (Source, error) {
		return &memSource{rows: rows}, nil
	}}
}

// deaths returns n valid police.deaths rows, person i with sequence from+i.
func deaths(t testing.TB, from, n int) [][]string {
	t.Helper()
	rows := make([][]string, n)
	for i := range n {
		first := fmt.Sprintf("411528%04d0101%03d", 1940+(from+i)%60, (from+i)%1000)
		c, err := schema.IDCheckDigit(first)
		if err != nil {
			t.Fatal(err)
		}
		rows[i] = []string{first + string(c), fmt.Sprintf("死者%d", from+i), "2023/3/1", "2023年3月5日"}
	}
	return rows
}

func deathsSchema(t testing.TB) *schema.Dataset {
	t.Helper()
	reg, err := schema.Load("")
	if err != nil {
		t.Fatal(err)
	}
	ds, err := reg.Get("police.deaths")
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// fakeGateway is an in-process stand-in for the gateway's Datasets service.
// The real gateway runs in cmd/qiao's end-to-end tests; here a fake is used
// because those tests need failures a real gateway does not produce on
// demand (Unavailable twice, then success; a row the schema accepts but the
// gateway rejects). It opens and checks every envelope as the gateway does.
type fakeGateway struct {
	t      testing.TB
	key    *sm2.PrivateKey // the gateway's encryption key
	sender *sm2.PublicKey
	ds     *schema.Dataset

	mu      sync.Mutex
	batches map[string]*exchangev1.Batch
	stored  map[string][][]string // committed rows by batch ID
	calls   map[string]int        // PushBatch calls by batch ID
	fail    func(id string, call int) error
	reject  func(row []string) string // a reason to reject a valid row, or ""
	onPush  func(id string)
}

func newFakeGateway(t testing.TB, sender *sm2.PrivateKey, ds *schema.Dataset) *fakeGateway {
	key, err := sm2.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return &fakeGateway{t: t, key: key, sender: sender.PublicKey(), ds: ds,
		batches: map[string]*exchangev1.Batch{}, stored: map[string][][]string{}, calls: map[string]int{}}
}

func (g *fakeGateway) PushBatch(ctx context.Context, in *exchangev1.PushBatchRequest, _ ...grpc.CallOption) (*exchangev1.PushBatchResponse, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls[in.GetBatchId()]++
	if g.fail != nil {
		if err := g.fail(in.GetBatchId(), g.calls[in.GetBatchId()]); err != nil {
			return nil, err
		}
	}
	ad, body, err := envelope.Open(in.GetEnvelope(), g.key, g.sender)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, "bad envelope")
	}
	if ad.Dataset != in.GetDataset() || ad.BatchID != in.GetBatchId() || ad.ContentType != BatchContentType {
		return nil, status.Errorf(codes.InvalidArgument, "associated data %+v", ad)
	}
	var bp exchangev1.BatchPayload
	if err := proto.Unmarshal(body, &bp); err != nil {
		return nil, status.Error(codes.InvalidArgument, "bad payload")
	}
	var want []string
	for _, f := range g.ds.Fields {
		want = append(want, f.Name)
	}
	if !slices.Equal(bp.GetFields(), want) || len(bp.GetRows()) == 0 {
		return nil, status.Errorf(codes.InvalidArgument, "fields %v", bp.GetFields())
	}
	sum := sm3.SumHex(body)
	if b, ok := g.batches[in.GetBatchId()]; ok && b.GetState() == exchangev1.BatchState_BATCH_STATE_COMMITTED {
		if b.GetContentSm3() != sum {
			return nil, status.Error(codes.FailedPrecondition, "other content")
		}
		return &exchangev1.PushBatchResponse{Batch: b}, nil
	}
	b := &exchangev1.Batch{Dataset: in.GetDataset(), BatchId: in.GetBatchId(), ContentSm3: sum, RowCount: int64(len(bp.GetRows()))}
	var rows [][]string
	for i, r := range bp.GetRows() {
		v, errs := g.ds.ValidateRow(r.GetValues())
		for _, e := range errs {
			b.RejectedRows = append(b.RejectedRows, &exchangev1.RejectedRow{Row: int64(i + 1), Field: e.Field, Reason: e.Reason})
		}
		if g.reject != nil && len(errs) == 0 {
			if why := g.reject(v); why != "" {
				b.RejectedRows = append(b.RejectedRows, &exchangev1.RejectedRow{Row: int64(i + 1), Field: "name", Reason: why})
				errs = append(errs, schema.FieldError{})
			}
		}
		if len(errs) > 0 {
			b.RejectedRowCount++
		}
		rows = append(rows, v)
	}
	if b.RejectedRowCount > 0 {
		b.State = exchangev1.BatchState_BATCH_STATE_REJECTED
		g.batches[b.BatchId] = b
		return nil, status.Error(codes.InvalidArgument, "invalid rows")
	}
	b.State = exchangev1.BatchState_BATCH_STATE_COMMITTED
	g.batches[b.BatchId] = b
	g.stored[b.BatchId] = rows
	if g.onPush != nil {
		g.onPush(b.BatchId)
	}
	return &exchangev1.PushBatchResponse{Batch: b, Created: true}, nil
}

func (g *fakeGateway) GetBatch(ctx context.Context, in *exchangev1.GetBatchRequest, _ ...grpc.CallOption) (*exchangev1.GetBatchResponse, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	b, ok := g.batches[in.GetBatchId()]
	if !ok {
		return nil, status.Error(codes.NotFound, "no such batch")
	}
	return &exchangev1.GetBatchResponse{Batch: b}, nil
}

// rowsStored returns how many times each ID number is stored.
func (g *fakeGateway) rowsStored() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := map[string]int{}
	for _, rows := range g.stored {
		for _, r := range rows {
			n[r[0]]++
		}
	}
	return n
}

func (g *fakeGateway) totalCalls() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, c := range g.calls {
		n += c
	}
	return n
}

// fixture is a Pusher of police.deaths against a fake gateway, with state
// files in a temporary directory and no real sleeping.
type fixture struct {
	gw     *fakeGateway
	key    *sm2.PrivateKey
	ds     *schema.Dataset
	dir    string
	sleeps []time.Duration
	mu     sync.Mutex
}

func newFixture(t *testing.T) *fixture {
	key, err := sm2.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ds := deathsSchema(t)
	return &fixture{gw: newFakeGateway(t, key, ds), key: key, ds: ds, dir: t.TempDir()}
}

func (f *fixture) pusher(t *testing.T, opts PushOptions) *Pusher {
	t.Helper()
	if opts.StateDir == "" {
		opts.StateDir = f.dir
	}
	p, err := newPusher(f.gw, "police.411528", f.key, f.gw.key.PublicKey(), f.ds, opts)
	if err != nil {
		t.Fatal(err)
	}
	p.sleep = func(ctx context.Context, d time.Duration) error {
		f.mu.Lock()
		f.sleeps = append(f.sleeps, d)
		f.mu.Unlock()
		return ctx.Err()
	}
	return p
}

func TestPushBatchesAndSkipsWhatWasPushed(t *testing.T) {
	f := newFixture(t)
	rows := deaths(t, 0, 2500)
	in := memInput("deaths.csv", rows)
	var last Progress
	p := f.pusher(t, PushOptions{Progress: func(g Progress) { last = g }})
	res, err := p.Push(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || res.Rows != 2500 || res.Pushed != 2500 || res.Batches != 3 || res.BatchesPushed != 3 || res.Skipped != 0 {
		t.Errorf("first push: %+v", res)
	}
	if last.Phase != Done || last.Pushed != 2500 || last.Total != 2500 || last.Batches != 3 {
		t.Errorf("last progress %+v", last)
	}
	for id, n := range f.gw.rowsStored() {
		if n != 1 {
			t.Errorf("%s stored %d times", id[:6], n)
		}
	}
	if len(f.gw.rowsStored()) != 2500 {
		t.Errorf("%d rows stored, want 2500", len(f.gw.rowsStored()))
	}
	// Batches of 1,000, 1,000 and 500 rows, with the IDs BatchPrefix says.
	for i, want := range []int64{1000, 1000, 500} {
		id := batchID(res.BatchPrefix, i+1)
		if b := f.gw.batches[id]; b.GetRowCount() != want {
			t.Errorf("batch %s: %v, want %d rows", id, b, want)
		}
	}
	state, err := os.ReadFile(res.StateFile)
	if err != nil || strings.Count(string(state), res.BatchPrefix+"-") != 3 {
		t.Errorf("state file %s: %v\n%s", res.StateFile, err, state)
	}

	// A rerun sends nothing.
	calls := f.gw.totalCalls()
	res, err = f.pusher(t, PushOptions{}).Push(t.Context(), in)
	if err != nil || !res.OK() || res.Skipped != 2500 || res.BatchesSkipped != 3 || res.Pushed != 0 {
		t.Errorf("rerun: %+v %v", res, err)
	}
	if f.gw.totalCalls() != calls {
		t.Errorf("the rerun made %d calls", f.gw.totalCalls()-calls)
	}
}

// A push stopped after some batches, and one whose state file lost lines,
// push only what is missing when run again; every row is stored once.
func TestPushResumes(t *testing.T) {
	f := newFixture(t)
	rows := deaths(t, 0, 1000)
	in := memInput("deaths.csv", rows)

	ctx, cancel := context.WithCancel(t.Context())
	var pushed int
	f.gw.onPush = func(string) {
		if pushed++; pushed == 4 {
			cancel()
		}
	}
	res, err := f.pusher(t, PushOptions{BatchRows: 100, InFlight: 1}).Push(ctx, in)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted push: %v", err)
	}
	if res.BatchesPushed > 4 || res.BatchesPushed < 3 {
		t.Errorf("interrupted after %d batches", res.BatchesPushed)
	}
	f.gw.onPush = nil

	maps := func() map[string]int {
		f.gw.mu.Lock()
		defer f.gw.mu.Unlock()
		m := map[string]int{}
		for id, c := range f.gw.calls {
			m[id] = c
		}
		return m
	}
	before := maps()
	res, err = f.pusher(t, PushOptions{BatchRows: 100, InFlight: 3}).Push(t.Context(), in)
	if err != nil || !res.OK() {
		t.Fatalf("resumed push: %+v %v", res, err)
	}
	if res.BatchesSkipped+res.BatchesAlreadyStored != 4 || res.BatchesPushed != 6 {
		t.Errorf("resumed: %d skipped, %d already stored, %d pushed; want 4 done before and 6 pushed", res.BatchesSkipped, res.BatchesAlreadyStored, res.BatchesPushed)
	}
	after := maps()
	for id, n := range before {
		if f.gw.batches[id].GetState() == exchangev1.BatchState_BATCH_STATE_COMMITTED && after[id] != n && res.BatchesSkipped == 4 {
			t.Errorf("batch %s, recorded as pushed, was sent again", id)
		}
	}
	stored := f.gw.rowsStored()
	if len(stored) != 1000 {
		t.Errorf("%d rows stored, want 1000", len(stored))
	}
	for _, n := range stored {
		if n != 1 {
			t.Fatalf("a row stored %d times", n)
		}
	}

	// Lose the state file's last lines: those batches go again, and the
	// gateway, which has them, stores nothing twice.
	data, err := os.ReadFile(res.StateFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	cut := strings.Join(lines[:len(lines)-4], "") + lines[len(lines)-4][:10] // and a torn line
	if err := os.WriteFile(res.StateFile, []byte(cut), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err = f.pusher(t, PushOptions{BatchRows: 100}).Push(t.Context(), in)
	if err != nil || !res.OK() || res.BatchesAlreadyStored != 3 || res.BatchesSkipped != 7 || res.Pushed != 0 {
		t.Errorf("after losing state: %+v %v", res, err)
	}
	for _, n := range f.gw.rowsStored() {
		if n != 1 {
			t.Fatalf("a row stored %d times", n)
		}
	}
	if data, _ := os.ReadFile(res.StateFile); strings.Count(string(data), res.BatchPrefix+"-") != 10 {
		t.Errorf("state file after the rerun:\n%s", data)
	}

	// Another batch size would make other batches, and store the rows
	// again: refused, naming the size to use.
	res, err = f.pusher(t, PushOptions{BatchRows: 250}).Push(t.Context(), in)
	if !errors.Is(err, ErrBatchRows) || !strings.Contains(err.Error(), "--batch-rows 100") || res.BatchesPushed != 0 {
		t.Errorf("other batch size: %+v %v", res, err)
	}
	// Another input under the same name starts the state afresh.
	res, err = f.pusher(t, PushOptions{BatchRows: 250}).Push(t.Context(), memInput("deaths.csv", deaths(t, 1000, 500)))
	if err != nil || res.BatchesPushed != 2 {
		t.Errorf("another input: %+v %v", res, err)
	}
}

func TestPushRefusesInvalidInputWhole(t *testing.T) {
	f := newFixture(t)
	rows := deaths(t, 0, 30)
	secret := rows[17][0]
	rows[17][0] = secret[:17] + map[bool]string{true: "1", false: "0"}[secret[17] == '0'] // wrong check digit
	rows[25][2] = "2023-02-30"
	var got []Problem
	for _, dry := range []bool{false, true} {
		got = nil
		res, err := f.pusher(t, PushOptions{BatchRows: 10, DryRun: dry, Problem: func(p Problem) { got = append(got, p) }}).Push(t.Context(), memInput("bad.csv", rows))
		if !errors.Is(err, ErrInvalidInput) || res.OK() || res.Invalid != 2 || res.Problems != 2 || res.Pushed != 0 {
			t.Errorf("dry run %v: %+v %v", dry, res, err)
		}
	}
	if f.gw.totalCalls() != 0 {
		t.Errorf("%d batches pushed", f.gw.totalCalls())
	}
	if len(got) != 2 || got[0].Line != 19 || got[0].Field != "id_number" || got[1].Line != 27 || got[1].Field != "death_date" || got[0].File != "bad.csv" {
		t.Errorf("problems: %+v", got)
	}
	for _, p := range got {
		if strings.Contains(p.Error(), secret[:14]) {
			t.Errorf("a problem quotes the value: %s", p.Error())
		}
	}
	if _, err := os.Stat(filepath.Join(f.dir, "bad.csv"+stateSuffix)); err == nil {
		t.Error("a state file was written for an input that was not pushed")
	}

	// Problems of the reader (a header, a row) count too.
	in := memInput("header.csv", deaths(t, 0, 3))
	in.Open = func() (Source, error) {
		return &memSource{header: []Problem{{Column: "备注", Reason: "no field of police.deaths"}}, rows: deaths(t, 0, 3),
			probs: map[int][]Problem{1: {{Line: 3, Column: "死亡日期", Field: "death_date", Reason: "not a date"}}}}, nil
	}
	res, err := f.pusher(t, PushOptions{}).Push(t.Context(), in)
	if !errors.Is(err, ErrInvalidInput) || res.Rows != 3 || res.Invalid != 1 || res.Problems != 2 {
		t.Errorf("reader problems: %+v %v", res, err)
	}
}

func TestPushDryRun(t *testing.T) {
	f := newFixture(t)
	res, err := f.pusher(t, PushOptions{DryRun: true}).Push(t.Context(), memInput("ok.csv", deaths(t, 0, 40)))
	if err != nil || !res.OK() || res.Rows != 40 || res.Pushed != 0 || res.StateFile != "" {
		t.Errorf("%+v %v", res, err)
	}
	if f.gw.totalCalls() != 0 {
		t.Error("a dry run pushed")
	}
	if entries, _ := os.ReadDir(f.dir); len(entries) != 0 {
		t.Errorf("a dry run wrote %v", entries)
	}
}

func TestPushRetries(t *testing.T) {
	busy := status.New(codes.ResourceExhausted, "too many calls from this principal; slow down")
	busy, _ = busy.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(3 * time.Second)})
	for _, tc := range []struct {
		name   string
		err    error
		times  int // failing calls before success
		calls  int // calls made
		code   codes.Code
		sleeps int
		inMsg  string
	}{
		{"unavailable twice", status.Error(codes.Unavailable, "connection refused"), 2, 3, codes.OK, 2, ""},
		{"deadline exceeded", status.Error(codes.DeadlineExceeded, "slow"), 1, 2, codes.OK, 1, ""},
		{"rate limited", busy.Err(), 1, 2, codes.OK, 1, ""},
		{"unavailable for good", status.Error(codes.Unavailable, "down"), 100, 5, codes.Unavailable, 4, "网关不可达"},
		{"message too large", status.Error(codes.ResourceExhausted, "grpc: received message larger than max (70000 vs. 65536)"), 100, 1, codes.ResourceExhausted, 0, "--batch-rows"},
		{"permission denied", status.Error(codes.PermissionDenied, "not allowed"), 100, 1, codes.PermissionDenied, 0, "may not push dataset police.deaths"},
		{"unauthenticated", status.Error(codes.Unauthenticated, "bad signature"), 100, 1, codes.Unauthenticated, 0, "身份验证失败"},
		{"invalid request", status.Error(codes.InvalidArgument, "bad envelope"), 100, 1, codes.InvalidArgument, 0, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.gw.fail = func(_ string, call int) error {
				if call <= tc.times {
					return tc.err
				}
				return nil
			}
			p := f.pusher(t, PushOptions{Retry: Retry{Attempts: 5}})
			res, err := p.Push(t.Context(), memInput("d.csv", deaths(t, 0, 10)))
			if status.Code(err) != tc.code {
				t.Fatalf("%v, want %v", err, tc.code)
			}
			if n := f.gw.totalCalls(); n != tc.calls {
				t.Errorf("%d calls, want %d", n, tc.calls)
			}
			if len(f.sleeps) != tc.sleeps {
				t.Errorf("%d waits %v, want %d", len(f.sleeps), f.sleeps, tc.sleeps)
			}
			if tc.name == "rate limited" && f.sleeps[0] < 3*time.Second {
				t.Errorf("waited %v, the gateway asked for 3 s", f.sleeps[0])
			}
			if tc.code == codes.OK && (res.Pushed != 10 || !res.OK()) {
				t.Errorf("%+v", res)
			}
			var pe *PushError
			if tc.code != codes.OK && (!errors.As(err, &pe) || !strings.Contains(err.Error(), tc.inMsg)) {
				t.Errorf("%v, want a PushError saying %q", err, tc.inMsg)
			}
		})
	}
}

func TestPushReportsRejectedRows(t *testing.T) {
	f := newFixture(t)
	rows := deaths(t, 0, 25)
	rows[12][1] = "拒绝"
	f.gw.reject = func(r []string) string {
		if r[1] == "拒绝" {
			return "not a name"
		}
		return ""
	}
	var got []Problem
	res, err := f.pusher(t, PushOptions{BatchRows: 10, Problem: func(p Problem) { got = append(got, p) }}).Push(t.Context(), memInput("d.csv", rows))
	if !errors.Is(err, ErrRejected) || res.OK() || res.BatchesRejected != 1 || res.Rejected != 1 || res.BatchesPushed != 2 || res.Pushed != 15 {
		t.Fatalf("%+v %v", res, err)
	}
	if len(res.RejectedRows) != 1 || res.RejectedRows[0].Line != 14 || res.RejectedRows[0].Field != "name" || len(got) != 1 {
		t.Errorf("rejected rows %+v, problems %+v", res.RejectedRows, got)
	}
	// The rejected batch is not recorded: once fixed, the rows go. (Here,
	// the gateway changes its mind.)
	f.gw.reject = nil
	delete(f.gw.batches, batchID(res.BatchPrefix, 2))
	res, err = f.pusher(t, PushOptions{BatchRows: 10}).Push(t.Context(), memInput("d.csv", rows))
	if err != nil || res.BatchesSkipped != 2 || res.BatchesPushed != 1 || !res.OK() {
		t.Errorf("again: %+v %v", res, err)
	}
}

// An input whose second pass reads differently is not pushed on.
func TestPushNoticesChangedInput(t *testing.T) {
	f := newFixture(t)
	passes := 0
	in := memInput("grows.csv", nil)
	in.Open = func() (Source, error) {
		passes++
		return &memSource{rows: deaths(t, 0, 10*passes)}, nil
	}
	if _, err := f.pusher(t, PushOptions{BatchRows: 4}).Push(t.Context(), in); !errors.Is(err, ErrChanged) {
		t.Errorf("%v, want ErrChanged", err)
	}
	for _, n := range f.gw.rowsStored() {
		if n != 1 {
			t.Fatal("a row stored twice")
		}
	}
}

func TestBatchPrefix(t *testing.T) {
	f := newFixture(t)
	a := f.pusher(t, PushOptions{}).BatchPrefix("abc")
	if a != f.pusher(t, PushOptions{}).BatchPrefix("abc") {
		t.Error("batch IDs are not deterministic")
	}
	for _, other := range []string{
		f.pusher(t, PushOptions{}).BatchPrefix("abd"),
		f.pusher(t, PushOptions{BatchRows: 999}).BatchPrefix("abc"),
	} {
		if other == a {
			t.Error("different pushes share batch IDs")
		}
	}
	id := batchID(a, 1234567)
	if len(id) > envelope.MaxFieldSize || !strings.HasPrefix(id, "qp-") || !strings.HasSuffix(id, "-1234567") {
		t.Errorf("batch ID %q", id)
	}
}

func TestRetryBackoff(t *testing.T) {
	r := Retry{Initial: 100 * time.Millisecond, Max: time.Second}.withDefaults()
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 30: time.Second} {
		for range 50 {
			if d := r.backoff(n); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want %v to %v", n, d, want/2, want)
			}
		}
	}
}

func TestReport(t *testing.T) {
	var b bytes.Buffer
	r, err := NewReport(&b)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []Problem{
		{File: "死亡.csv", Line: 7, Column: "公民身份号码", Field: "id_number", Reason: "check digit does not match"},
		{File: "死亡.csv", Column: "=HYPERLINK(\"x\")", Reason: "no field, with \"quotes\""},
	} {
		if err := r.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "\uFEFF文件 file,行号 line,列 column,字段 field,问题 reason\r\n" +
		"死亡.csv,7,公民身份号码,id_number,check digit does not match\r\n" +
		"死亡.csv,,\"'=HYPERLINK(\"\"x\"\")\",,\"no field, with \"\"quotes\"\"\"\r\n"
	if b.String() != want || r.Len() != 2 {
		t.Errorf("report:\n%q\nwant\n%q", b.String(), want)
	}
}

// A state file of any content opens: what it records for the input is
// kept, anything else is dropped, and the file is rewritten cleanly.
func FuzzState(f *testing.F) {
	const prefix = "qp-0123456789abcdef0123456789abcdef"
	key := stateKey{prefix: prefix, dataset: "police.deaths", principal: "police.411528", digest: "ab12", batchRows: 1000}
	header := key.header() + "\n"
	f.Add(header + prefix + "-000001 1000 2026-11-26T01:00:00Z\n" + prefix + "-000002 10")
	f.Add("# comment\n" + stateMagic + " qp-other police.deaths police.411528 ab13 1000\n" + prefix + "-000001 1000 x\n")
	f.Add(stateMagic + " qp-other police.deaths police.411528 ab12 100\n")
	f.Add(header + prefix + "-000001 many\n\n" + prefix + "-000001 5\n")
	f.Fuzz(func(t *testing.T, data string) {
		path := filepath.Join(t.TempDir(), "x.qiao-push")
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := openState(path, key)
		if errors.Is(err, ErrBatchRows) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		defer st.close()
		for id := range st.done {
			if !strings.HasPrefix(id, prefix+"-") {
				t.Errorf("kept %q", id)
			}
		}
		if err := st.record(prefix+"-999999", 1); err != nil {
			t.Fatal(err)
		}
		again, err := openState(path, key)
		if err != nil {
			t.Fatal(err)
		}
		defer again.close()
		if len(again.done) != len(st.done) || !again.has(prefix+"-999999") {
			t.Errorf("reopened with %d batches, want %d", len(again.done), len(st.done))
		}
	})
}
