package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/qiao-exchange/qiao/adapters"
	"github.com/qiao-exchange/qiao/crypto/envelope"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/crypto/sm3"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/schema"
)

// BatchContentType is the media type a pushed envelope's associated data
// names: the payload is a BatchPayload's protobuf encoding
// (api/qiao/exchange/v1/datasets.proto). It is the gateway's own constant,
// copied rather than imported, since a client knows nothing of the
// gateway's internals; cmd/qiao's tests check that the two agree.
const BatchContentType = "application/x-protobuf; proto=qiao.exchange.v1.BatchPayload"

const (
	// DefaultBatchRows is how many rows a pushed batch holds unless
	// PushOptions.BatchRows says otherwise.
	DefaultBatchRows = 1000
	// MaxBatchRows is the most rows a batch may hold: the gateway's default
	// limit.
	MaxBatchRows = 100_000
	// DefaultInFlight is how many batches are pushed at once unless
	// PushOptions.InFlight says otherwise.
	DefaultInFlight = 4
)

// Errors of Pusher.Push, returned with the Result filled in.
var (
	// ErrInvalidInput means the input has problems: rows the reader or the
	// schema refused, or a header it could not map. None of its rows were
	// pushed. Show the problems to whoever made the export; they fix the
	// rows and push the file again.
	ErrInvalidInput = errors.New("the input has problems; none of its rows were pushed")

	// ErrRejected means the gateway rejected one or more batches for their
	// rows. Those batches changed nothing; the others are stored. Fix the
	// rows the problems name and push the file again: only what is missing
	// goes.
	ErrRejected = errors.New("the gateway rejected rows")

	// ErrChanged means the input read differently the second time (rows or
	// problems appeared or vanished between validating it and pushing it):
	// it changed while being pushed. Push it again once it is complete.
	ErrChanged = errors.New("the input changed while it was being pushed")

	// ErrBatchRows means the input was pushed before, wholly or in part,
	// with another number of rows per batch, as its state file records.
	// Its batches would differ, and the gateway would store the rows again
	// under other batch IDs. Push it with the batch size the error names.
	ErrBatchRows = errors.New("the input was pushed before with another batch size")
)

// Row is one record of an input: the line it starts on and its values, one
// per field of the dataset, in the schema's order — the adapters' row.
type Row = adapters.Row

// Problem is one thing wrong with an input: a value, a row or a header that
// the reader or the schema refused, or a row the gateway rejected; Line 0
// is the input as a whole. It says where and why, never what the value
// was — the adapters' problem.
type Problem = adapters.Problem

// Source is one pass over the rows of an input, in order. Next returns the
// next row and its problems, and io.EOF after the last row. A row with
// problems is not pushed; problems may also come with an empty row (no
// values) when they concern the input as a whole, such as its header.
type Source interface {
	Next() (Row, []Problem, error)
	Close() error
}

// Input is one file (or other export) to push.
type Input struct {
	// Name names the input in problems and messages; for a file, its path.
	// Unless PushOptions.StateDir is set, the state file is Name +
	// ".qiao-push".
	Name string
	// Digest identifies the input's content: the lower-case hex SM3 of the
	// file's bytes (and of anything else that shapes its rows, such as a
	// column mapping). Batch IDs derive from it, so a rerun over the same
	// content makes the same batches.
	Digest string
	// Open starts a pass over the rows. Push calls it twice: once to
	// validate every row, once to push.
	Open func() (Source, error)
}

// Phase is where a push of one input stands.
type Phase int

// The phases of a push.
const (
	// Validating: the first pass, reading and checking every row.
	Validating Phase = iota + 1
	// Pushing: the second pass, sending batches.
	Pushing
	// Done: the input is finished, pushed or not.
	Done
)

// Progress is a snapshot of a push, given to PushOptions.Progress.
type Progress struct {
	File  string
	Phase Phase
	// Read is how many rows this phase has read.
	Read int
	// Total is the number of rows of the input, once validated; 0 before.
	Total int
	// Pushed is how many rows the gateway holds from this input: stored by
	// this run, already stored, or skipped as recorded in the state file.
	Pushed int
	// Batches is how many batches have been settled (pushed, skipped or
	// rejected).
	Batches int
}

// Result is what became of one input.
type Result struct {
	File string
	// Digest is Input.Digest; BatchPrefix starts every batch ID of the input.
	Digest, BatchPrefix string
	// StateFile records the batches the gateway accepted; empty in a dry run.
	StateFile string

	// Rows is the number of rows read; Invalid how many of them had
	// problems; Problems how many problems the reader and the schema found.
	Rows, Invalid, Problems int
	// Pushed is the number of rows this run stored; AlreadyStored the rows
	// of batches the gateway had already stored (a rerun after a crash);
	// Skipped the rows of batches the state file records as pushed, not
	// sent again; Rejected the rows the gateway rejected.
	Pushed, AlreadyStored, Skipped, Rejected int
	// Batches is the number of batches of the input; the others count them
	// by outcome.
	Batches, BatchesPushed, BatchesAlreadyStored, BatchesSkipped, BatchesRejected int
	// RejectedRows lists the rows the gateway rejected, by line and field.
	RejectedRows []Problem
	// Elapsed is how long the input took.
	Elapsed time.Duration
	// DryRun says the input was only validated.
	DryRun bool
}

// OK reports whether every row of the input is on the gateway (or, in a
// dry run, valid).
func (r Result) OK() bool {
	if r.Problems > 0 || r.Invalid > 0 || r.Rejected > 0 || r.BatchesRejected > 0 {
		return false
	}
	if r.DryRun {
		return true
	}
	return r.Pushed+r.AlreadyStored+r.Skipped == r.Rows
}

// PushOptions tune a Pusher. The zero value is the default.
type PushOptions struct {
	// BatchRows is the number of rows per batch: DefaultBatchRows when 0,
	// at most MaxBatchRows.
	BatchRows int
	// InFlight is how many batches are pushed at once: DefaultInFlight
	// when 0.
	InFlight int
	// StateDir holds the state files; empty puts each beside its input.
	StateDir string
	// DryRun validates only: nothing is pushed and no state is written.
	DryRun bool
	// Retry says how a batch is retried when the gateway is unavailable,
	// busy or slow.
	Retry Retry
	// Progress, if set, is called (never concurrently) as a push advances.
	Progress func(Progress)
	// Problem, if set, is called (never concurrently) with every problem
	// found: by the reader, by the schema, and rows the gateway rejected.
	Problem func(Problem)
}

// Pusher pushes inputs of one dataset to a gateway as one principal.
type Pusher struct {
	datasets  exchangev1.DatasetsClient
	principal string
	key       *sm2.PrivateKey
	recipient *sm2.PublicKey
	ds        *schema.Dataset
	opts      PushOptions
	sleep     func(context.Context, time.Duration) error
}

// NewPusher returns a Pusher of dataset ds through c: batches are sealed to
// the gateway's encryption certificate and signed with the principal's
// signing key, as c's configuration names them.
func NewPusher(c *Client, ds *schema.Dataset, opts PushOptions) (*Pusher, error) {
	if c == nil {
		return nil, errors.New("client: push: no client")
	}
	cfg := c.Config()
	if cfg.GatewayEnc == nil {
		return nil, errors.New("client: push: no gateway encryption certificate to seal batches to")
	}
	return newPusher(c.Datasets, cfg.Principal, cfg.Sign.Key, cfg.GatewayEnc.PublicKey(), ds, opts)
}

// NewDryRunPusher returns a Pusher of dataset ds that only validates
// inputs, as PushOptions.DryRun says: it needs no gateway and no keys.
func NewDryRunPusher(ds *schema.Dataset, opts PushOptions) (*Pusher, error) {
	opts.DryRun = true
	return newPusher(nil, "", nil, nil, ds, opts)
}

func newPusher(dc exchangev1.DatasetsClient, principal string, key *sm2.PrivateKey, recipient *sm2.PublicKey, ds *schema.Dataset, opts PushOptions) (*Pusher, error) {
	switch {
	case opts.DryRun:
	case dc == nil:
		return nil, errors.New("client: push: no Datasets client")
	case principal == "" || key == nil || recipient == nil:
		return nil, errors.New("client: push: the principal, its signing key and the gateway's encryption key are all required")
	}
	switch {
	case ds == nil:
		return nil, errors.New("client: push: no dataset")
	case opts.BatchRows < 0 || opts.BatchRows > MaxBatchRows:
		return nil, fmt.Errorf("client: push: %d rows per batch; choose 1 to %d", opts.BatchRows, MaxBatchRows)
	case opts.InFlight < 0:
		return nil, fmt.Errorf("client: push: %d batches in flight", opts.InFlight)
	}
	if opts.BatchRows == 0 {
		opts.BatchRows = DefaultBatchRows
	}
	if opts.InFlight == 0 {
		opts.InFlight = DefaultInFlight
	}
	opts.Retry = opts.Retry.withDefaults()
	return &Pusher{datasets: dc, principal: principal, key: key, recipient: recipient, ds: ds, opts: opts, sleep: sleepContext}, nil
}

// BatchPrefix returns the prefix of the batch IDs of an input with digest
// as this Pusher makes them: "qp-" and 32 hex digits of SM3 over the
// principal, the dataset, the digest and the rows per batch. Batch i (from
// 1) is prefix + "-" + i in six or more digits.
func (p *Pusher) BatchPrefix(digest string) string {
	h := sm3.SumHex([]byte("qiao push v1\x00" + p.principal + "\x00" + p.ds.ID + "\x00" + digest + "\x00" + strconv.Itoa(p.opts.BatchRows)))
	return "qp-" + h[:32]
}

func batchID(prefix string, i int) string { return fmt.Sprintf("%s-%06d", prefix, i) }

// Push validates every row of in, then, unless this is a dry run and only
// if no row has a problem, pushes its rows in batches, skipping the batches
// its state file records as accepted and recording each batch the gateway
// accepts. It returns ErrInvalidInput if any row has a problem (nothing is
// pushed), ErrRejected if the gateway rejected rows, and another error if
// the push stopped (the context ended, the gateway refused the caller or
// stayed unreachable); the Result says how far it got either way.
func (p *Pusher) Push(ctx context.Context, in Input) (res Result, err error) {
	start := time.Now()
	res = Result{File: in.Name, Digest: in.Digest, BatchPrefix: p.BatchPrefix(in.Digest), DryRun: p.opts.DryRun}
	defer func() { res.Elapsed = time.Since(start) }()
	if in.Open == nil || in.Digest == "" {
		return res, errors.New("client: push: an input needs Open and Digest")
	}
	pr := &progress{fn: p.opts.Progress, problem: p.opts.Problem, cur: Progress{File: in.Name, Phase: Validating}}

	// Pass 1: read and check every row.
	rows, invalid, problems, err := p.validate(ctx, in, pr)
	res.Rows, res.Invalid, res.Problems = rows, invalid, problems
	if err != nil {
		return res, err
	}
	res.Batches = (rows + p.opts.BatchRows - 1) / p.opts.BatchRows
	if invalid > 0 || problems > 0 {
		pr.done()
		return res, fmt.Errorf("%s: %w", in.Name, ErrInvalidInput)
	}
	if p.opts.DryRun {
		pr.done()
		return res, nil
	}

	// Pass 2: push what the state file lacks.
	st, err := openState(p.statePath(in), stateKey{prefix: res.BatchPrefix, dataset: p.ds.ID, principal: p.principal, digest: in.Digest, batchRows: p.opts.BatchRows})
	if err != nil {
		return res, err
	}
	defer st.close()
	res.StateFile = st.path
	pr.set(func(g *Progress) { g.Phase, g.Read, g.Total = Pushing, 0, rows })
	err = p.push(ctx, in, st, pr, &res)
	pr.done()
	if err != nil {
		return res, err
	}
	if res.Rejected > 0 || res.BatchesRejected > 0 {
		return res, fmt.Errorf("%s: %w", in.Name, ErrRejected)
	}
	return res, nil
}

// validate reads every row of in once and reports its problems.
func (p *Pusher) validate(ctx context.Context, in Input, pr *progress) (rows, invalid, problems int, err error) {
	src, err := in.Open()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("client: push: %s: %w", in.Name, err)
	}
	defer src.Close()
	for {
		if rows%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return rows, invalid, problems, err
			}
		}
		_, _, probs, err := p.next(src, in.Name)
		if err == io.EOF {
			return rows, invalid, problems, nil
		}
		if err != nil {
			return rows, invalid, problems, fmt.Errorf("client: push: reading %s: %w", in.Name, err)
		}
		if probs.row {
			rows++
			if len(probs.list) > 0 {
				invalid++
			}
		}
		problems += len(probs.list)
		pr.problems(probs.list)
		if probs.row && rows%p.opts.BatchRows == 0 {
			pr.set(func(g *Progress) { g.Read = rows })
		}
	}
}

// rowProblems is what next found about one read.
type rowProblems struct {
	row  bool // a row was read (not only problems of the input as a whole)
	list []Problem
}

// next reads one row of src and checks it against the schema: the values
// it pushes are the schema's canonical ones. line is the row's line.
func (p *Pusher) next(src Source, name string) (line int, vals []string, rp rowProblems, err error) {
	r, probs, err := src.Next()
	if err != nil {
		return 0, nil, rowProblems{}, err
	}
	rp = rowProblems{row: len(r.Values) > 0 || len(probs) == 0 || r.Line > 0, list: probs}
	for i := range rp.list {
		if rp.list[i].File == "" {
			rp.list[i].File = name
		}
	}
	if !rp.row || len(probs) > 0 {
		return r.Line, nil, rp, nil
	}
	vals, errs := p.ds.ValidateRow(r.Values)
	for _, e := range errs {
		rp.list = append(rp.list, Problem{File: name, Line: r.Line, Field: e.Field, Reason: e.Reason})
	}
	return r.Line, vals, rp, nil
}

// batch is one batch on its way.
type batch struct {
	index int
	id    string
	lines []int
	rows  [][]string
}

// push reads in again and pushes its batches, InFlight at a time.
func (p *Pusher) push(ctx context.Context, in Input, st *state, pr *progress, res *Result) error {
	src, err := in.Open()
	if err != nil {
		return fmt.Errorf("client: push: %s: %w", in.Name, err)
	}
	defer src.Close()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu   sync.Mutex // guards res
		wg   sync.WaitGroup
		jobs = make(chan *batch)
	)
	settle := func(fn func()) {
		mu.Lock()
		defer mu.Unlock()
		fn()
		pushed := res.Pushed + res.AlreadyStored + res.Skipped
		settled := res.BatchesPushed + res.BatchesAlreadyStored + res.BatchesSkipped + res.BatchesRejected
		pr.set(func(g *Progress) { g.Pushed, g.Batches = pushed, settled })
	}
	for range p.opts.InFlight {
		wg.Go(func() {
			for b := range jobs {
				if ctx.Err() != nil {
					continue // stopping: drain
				}
				out, err := p.pushBatch(ctx, b)
				if err != nil {
					cancel(err)
					continue
				}
				if out.rejected != nil {
					probs := make([]Problem, len(out.rejected))
					for i, r := range out.rejected {
						probs[i] = rejectedProblem(in.Name, b, r)
					}
					pr.problems(probs)
					settle(func() {
						res.BatchesRejected++
						res.Rejected += out.rejectedRows
						res.RejectedRows = append(res.RejectedRows, probs...)
					})
					continue
				}
				if err := st.record(b.id, len(b.rows)); err != nil {
					cancel(err)
					continue
				}
				settle(func() {
					if out.created {
						res.BatchesPushed++
						res.Pushed += len(b.rows)
					} else {
						res.BatchesAlreadyStored++
						res.AlreadyStored += len(b.rows)
					}
				})
			}
		})
	}

	readErr := func() error {
		defer close(jobs)
		var (
			read int
			cur  = &batch{index: 1}
		)
		send := func() error {
			b := cur
			cur = &batch{index: b.index + 1}
			b.id = batchID(res.BatchPrefix, b.index)
			if st.has(b.id) {
				settle(func() { res.BatchesSkipped++; res.Skipped += len(b.rows) })
				return nil
			}
			select {
			case jobs <- b:
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		for {
			line, vals, probs, err := p.next(src, in.Name)
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("client: push: reading %s: %w", in.Name, err)
			}
			if len(probs.list) > 0 || (probs.row && read == res.Rows) {
				return fmt.Errorf("%s: %w", in.Name, ErrChanged)
			}
			if !probs.row {
				continue
			}
			read++
			if line <= 0 {
				line = read
			}
			cur.lines = append(cur.lines, line)
			cur.rows = append(cur.rows, vals)
			if len(cur.rows) == p.opts.BatchRows {
				pr.set(func(g *Progress) { g.Read = read })
				if err := send(); err != nil {
					return err
				}
			}
		}
		if read != res.Rows {
			return fmt.Errorf("%s: %w", in.Name, ErrChanged)
		}
		if len(cur.rows) > 0 {
			pr.set(func(g *Progress) { g.Read = read })
			return send()
		}
		return nil
	}()
	if readErr != nil {
		cancel(readErr)
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// outcome is what the gateway made of a batch.
type outcome struct {
	created      bool
	rejected     []*exchangev1.RejectedRow // nil unless the batch was rejected
	rejectedRows int
}

// pushBatch seals b and pushes it, retrying while the gateway is
// unavailable, busy or slow.
func (p *Pusher) pushBatch(ctx context.Context, b *batch) (outcome, error) {
	payload := &exchangev1.BatchPayload{Fields: make([]string, len(p.ds.Fields)), Rows: make([]*exchangev1.BatchPayload_Row, len(b.rows))}
	for i, f := range p.ds.Fields {
		payload.Fields[i] = f.Name
	}
	for i, r := range b.rows {
		payload.Rows[i] = &exchangev1.BatchPayload_Row{Values: r}
	}
	body, err := proto.Marshal(payload)
	if err != nil {
		return outcome{}, fmt.Errorf("client: push: encoding batch %s: %w", b.id, err)
	}
	env, err := envelope.Seal(p.key, p.recipient, envelope.AssociatedData{Dataset: p.ds.ID, BatchID: b.id, ContentType: BatchContentType}, body)
	if err != nil {
		return outcome{}, fmt.Errorf("client: push: sealing batch %s: %w", b.id, err)
	}
	req := &exchangev1.PushBatchRequest{Dataset: p.ds.ID, BatchId: b.id, Envelope: env}
	var resp *exchangev1.PushBatchResponse
	err = p.retry(ctx, func(ctx context.Context) error {
		var err error
		resp, err = p.datasets.PushBatch(ctx, req)
		return err
	})
	if err == nil {
		return outcome{created: resp.GetCreated()}, nil
	}
	if ctx.Err() != nil {
		return outcome{}, context.Cause(ctx)
	}
	if status.Code(err) == codes.InvalidArgument {
		// Rejected for its rows, or refused as a request? A batch rejected
		// for its rows has a record listing every bad row.
		var got *exchangev1.GetBatchResponse
		gerr := p.retry(ctx, func(ctx context.Context) error {
			var err error
			got, err = p.datasets.GetBatch(ctx, &exchangev1.GetBatchRequest{Dataset: p.ds.ID, BatchId: b.id})
			return err
		})
		if gerr == nil && got.GetBatch().GetState() == exchangev1.BatchState_BATCH_STATE_REJECTED {
			bt := got.GetBatch()
			rej := bt.GetRejectedRows()
			if len(rej) == 0 {
				rej = []*exchangev1.RejectedRow{{Reason: status.Convert(err).Message()}}
			}
			return outcome{rejected: rej, rejectedRows: max(int(bt.GetRejectedRowCount()), 1)}, nil
		}
	}
	return outcome{}, p.refusal(b, err)
}

// rejectedProblem reports a row the gateway rejected by its line in the
// input.
func rejectedProblem(name string, b *batch, r *exchangev1.RejectedRow) Problem {
	pr := Problem{File: name, Field: r.GetField(), Reason: "网关拒绝 rejected by the gateway (batch " + b.id + "): " + r.GetReason()}
	if n := int(r.GetRow()); n >= 1 && n <= len(b.lines) {
		pr.Line = b.lines[n-1]
	}
	return pr
}

// refusal explains a push the gateway refused, or that could not be made,
// to the agency's staff.
func (p *Pusher) refusal(b *batch, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("client: push: batch %s: %w", b.id, err)
	}
	var hint string
	switch st.Code() {
	case codes.PermissionDenied:
		hint = fmt.Sprintf("推送被拒绝 the gateway refused: %s may not push dataset %s (owned by %s agencies)", p.principal, p.ds.ID, p.ds.Owner)
	case codes.Unauthenticated:
		hint = fmt.Sprintf("身份验证失败 the gateway did not accept %s's signature: check the computer's clock and that the keys and certificates are %s's current ones", p.principal, p.principal)
	case codes.NotFound:
		hint = fmt.Sprintf("数据集不存在 the gateway has no dataset %s", p.ds.ID)
	case codes.FailedPrecondition:
		hint = fmt.Sprintf("批次冲突 the gateway holds batch %s with other content: the rows now read differently than when they were first pushed (another qiao version or schema?); ask the gateway's operators", b.id)
	case codes.ResourceExhausted:
		hint = "批次过大或网关繁忙 the batch is too large for the gateway or the gateway stayed busy: push with fewer rows per batch (--batch-rows)"
	case codes.Unavailable, codes.DeadlineExceeded:
		hint = "网关不可达 the gateway stayed unreachable or too slow after every retry; push again later (what was accepted is kept)"
	case codes.Canceled:
		return fmt.Errorf("client: push: batch %s: %w", b.id, err)
	case codes.InvalidArgument:
		hint = "请求被拒绝 the gateway refused the batch as malformed"
	default:
		hint = "推送失败 the push failed"
	}
	return &PushError{Code: st.Code(), Batch: b.id, Hint: hint, Err: err}
}

// PushError is a batch the gateway refused (or could not be reached for):
// Hint explains it to the agency's staff, Err is the call's status.
type PushError struct {
	Code  codes.Code
	Batch string
	Hint  string
	Err   error
}

func (e *PushError) Error() string {
	return e.Hint + ": " + status.Convert(e.Err).Message() + " (" + e.Code.String() + ", batch " + e.Batch + ")"
}

// Unwrap returns the call's error.
func (e *PushError) Unwrap() error { return e.Err }

// GRPCStatus returns the call's status, so that status.Code works on a
// PushError.
func (e *PushError) GRPCStatus() *status.Status { return status.Convert(e.Err) }

// statePath is where the state file of an input lives: beside it, or in
// StateDir under its base name and 16 hex digits of SM3 over the principal,
// the dataset and its digest (not the batch size: a push of the same input
// with another batch size must find it).
func (p *Pusher) statePath(in Input) string {
	if p.opts.StateDir == "" {
		return in.Name + stateSuffix
	}
	h := sm3.SumHex([]byte(p.principal + "\x00" + p.ds.ID + "\x00" + in.Digest))
	return filepath.Join(p.opts.StateDir, filepath.Base(in.Name)+"."+h[:16]+stateSuffix)
}

// progress serialises the Progress and Problem callbacks.
type progress struct {
	mu      sync.Mutex
	fn      func(Progress)
	problem func(Problem)
	cur     Progress
}

func (pr *progress) set(f func(*Progress)) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	f(&pr.cur)
	if pr.fn != nil {
		pr.fn(pr.cur)
	}
}

func (pr *progress) done() { pr.set(func(g *Progress) { g.Phase = Done }) }

func (pr *progress) problems(list []Problem) {
	if len(list) == 0 || pr.problem == nil {
		return
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	for _, x := range list {
		pr.problem(x)
	}
}
