package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// maxGroup is the most InTx calls committed together.
const maxGroup = 256

// errClosed is returned by InTx on a closed store.
var errClosed = errors.New("store: database is closed")

// txRequest is one InTx call waiting for the committer.
type txRequest struct {
	ctx   context.Context
	fn    func(tx *Tx) error
	state atomic.Int32 // reqQueued, reqTaken or reqAbandoned
	done  chan txResult
}

const (
	reqQueued int32 = iota
	reqTaken
	reqAbandoned
)

type txResult struct {
	err      error
	panicked bool
	panicVal any
}

// committer runs the write transactions of InTx: it takes the first waiting
// call and every other already waiting (up to maxGroup), runs them one
// after the other in one SQLite transaction, each inside a SAVEPOINT, and
// commits them with one COMMIT — one fsync for the group. A call whose
// function fails or panics is rolled back to its savepoint, undoing only its
// own work; the others commit.
type committer struct {
	w    *sql.DB
	reqs chan *txRequest
	quit chan struct{}
	wg   sync.WaitGroup
}

func newCommitter(w *sql.DB) *committer {
	c := &committer{w: w, reqs: make(chan *txRequest), quit: make(chan struct{})}
	c.wg.Add(1)
	go c.loop()
	return c
}

// close stops the committer after the group in progress.
func (c *committer) close() {
	select {
	case <-c.quit:
	default:
		close(c.quit)
	}
	c.wg.Wait()
}

// do submits fn and waits for its outcome. Until the committer has taken
// the call, it may leave when ctx ends; once taken, it waits for the group,
// so that fn never runs after InTx returned.
func (c *committer) do(ctx context.Context, fn func(tx *Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	r := &txRequest{ctx: ctx, fn: fn, done: make(chan txResult, 1)}
	select {
	case c.reqs <- r:
	case <-ctx.Done():
		return fmt.Errorf("store: begin: %w", ctx.Err())
	case <-c.quit:
		return errClosed
	}
	select {
	case res := <-r.done:
		return res.finish()
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return fmt.Errorf("store: begin: %w", ctx.Err())
		}
		return (<-r.done).finish()
	}
}

func (res txResult) finish() error {
	if res.panicked {
		panic(res.panicVal)
	}
	return res.err
}

func (c *committer) loop() {
	defer c.wg.Done()
	for {
		var first *txRequest
		select {
		case first = <-c.reqs:
		case <-c.quit:
			return
		}
		group := []*txRequest{first}
	drain:
		for len(group) < maxGroup {
			select {
			case r := <-c.reqs:
				group = append(group, r)
			default:
				break drain
			}
		}
		c.run(group)
	}
}

// run commits one group.
func (c *committer) run(group []*txRequest) {
	ctx := context.Background()
	results := make([]txResult, len(group))
	ran := make([]bool, len(group))
	stx, err := c.w.BeginTx(ctx, nil)
	if err != nil {
		for _, r := range group {
			if r.state.CompareAndSwap(reqQueued, reqTaken) {
				r.done <- txResult{err: fmt.Errorf("store: begin: %w", err)}
			}
		}
		return
	}
	stmts := &stmtCache{stx: stx, m: make(map[string]*sql.Stmt)}
	broken := error(nil)
	for i, r := range group {
		if !r.state.CompareAndSwap(reqQueued, reqTaken) {
			continue // the caller left
		}
		ran[i] = true
		if broken != nil {
			results[i] = txResult{err: broken}
			continue
		}
		if err := r.ctx.Err(); err != nil {
			results[i] = txResult{err: fmt.Errorf("store: begin: %w", err)}
			continue
		}
		results[i], broken = runSavepoint(stmts, r)
	}
	if broken != nil {
		_ = stx.Rollback()
		for i, r := range group {
			if ran[i] {
				if results[i].err == nil && !results[i].panicked {
					results[i] = txResult{err: broken}
				}
				r.done <- results[i]
			}
		}
		return
	}
	cerr := stx.Commit()
	for i, r := range group {
		if !ran[i] {
			continue
		}
		if cerr != nil && results[i].err == nil && !results[i].panicked {
			results[i] = txResult{err: fmt.Errorf("store: commit: %w", cerr)}
		}
		r.done <- results[i]
	}
}

// runSavepoint runs one call's function inside a savepoint of stx and
// releases the savepoint, or rolls back to it if the function failed,
// panicked or its context ended. The second result is non-nil when the
// transaction itself can no longer be used.
func runSavepoint(stmts *stmtCache, r *txRequest) (res txResult, broken error) {
	ctx := context.Background()
	if _, err := stmts.exec(ctx, "SAVEPOINT intx"); err != nil {
		return txResult{}, fmt.Errorf("store: savepoint: %w", err)
	}
	ct := &callerTx{stmts: stmts}
	func() {
		defer func() {
			if p := recover(); p != nil {
				res = txResult{panicked: true, panicVal: p}
			}
		}()
		res.err = r.fn(&Tx{tx: ct})
	}()
	ct.done.Store(true)
	if res.err == nil && !res.panicked {
		if err := r.ctx.Err(); err != nil {
			res.err = fmt.Errorf("store: commit: %w", err)
		}
	}
	if res.err != nil || res.panicked {
		if _, err := stmts.exec(ctx, "ROLLBACK TO intx"); err != nil {
			return res, fmt.Errorf("store: rollback to savepoint: %w", err)
		}
	}
	if _, err := stmts.exec(ctx, "RELEASE intx"); err != nil {
		return res, fmt.Errorf("store: release savepoint: %w", err)
	}
	return res, nil
}

// stmtCache prepares each distinct statement once per group, on the
// group's transaction, so that a statement every call of a group runs — an
// audit append's — is parsed once rather than once per call. The statements
// close with the transaction.
type stmtCache struct {
	stx *sql.Tx
	m   map[string]*sql.Stmt
}

// maxCachedStmts bounds the statements prepared per group.
const maxCachedStmts = 64

func (c *stmtCache) stmt(ctx context.Context, query string) *sql.Stmt {
	if st, ok := c.m[query]; ok {
		return st
	}
	if len(c.m) >= maxCachedStmts {
		return nil
	}
	st, err := c.stx.PrepareContext(ctx, query)
	if err != nil {
		return nil // run it unprepared, which reports the error
	}
	c.m[query] = st
	return st
}

func (c *stmtCache) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.stx.ExecContext(ctx, query, args...)
}

func (c *stmtCache) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.stx.QueryContext(ctx, query, args...)
}

func (c *stmtCache) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.stx.QueryRowContext(ctx, query, args...)
}

// callerTx is one InTx call's view of the group's transaction. Statements
// run under the group's context, not the caller's, so that a caller's
// cancellation cannot interrupt a statement and roll back the others' work;
// the caller's context is checked before each statement instead. It refuses
// use after the call's function returned.
type callerTx struct {
	stmts *stmtCache
	done  atomic.Bool
}

func (t *callerTx) check(ctx context.Context) error {
	if t.done.Load() {
		return sql.ErrTxDone
	}
	return ctx.Err()
}

func (t *callerTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	return t.stmts.exec(context.WithoutCancel(ctx), query, args...)
}

func (t *callerTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	return t.stmts.query(context.WithoutCancel(ctx), query, args...)
}

func (t *callerTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if err := t.check(ctx); err != nil {
		// A *sql.Row can only be made by database/sql: a query under a
		// context that has ended returns one that reports the error
		// without reaching the connection.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		return t.stmts.stx.QueryRowContext(cctx, query, args...)
	}
	return t.stmts.queryRow(context.WithoutCancel(ctx), query, args...)
}
