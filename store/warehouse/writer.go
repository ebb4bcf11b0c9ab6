package warehouse

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// maxGroup bounds how many requests one transaction commits together.
const maxGroup = 32

// batchInfo is a registry row.
type batchInfo struct {
	key     BatchKey
	seq     int64
	rows    int
	digest  string
	visible bool
}

// writer owns the one connection that writes, and the registry as
// committed. Requests are queued; each round takes every request waiting
// (up to maxGroup) and commits them in one transaction, so that concurrent
// pushes share a commit and its disk sync, and the batches of one dataset
// share one appender. If the transaction fails, each request is retried
// alone, so that one bad request fails only itself.
type writer struct {
	wh      *Warehouse
	conn    *sql.Conn
	reqs    chan *request
	quit    chan struct{}
	done    chan struct{}
	stopped sync.Once

	// Owned by the loop goroutine.
	batches map[BatchKey]*batchInfo
	nextSeq int64
}

// request is one unit of writing. stage decides, from the registry as the
// group sees it, what the request does: it records its outcome in variables
// it closes over and queues database work on the group. It may run more
// than once (alone, after a failed group), so it sets its outcome afresh
// each time.
type request struct {
	ctx   context.Context
	stage func(g *group)
	done  chan error
}

func startWriter(ctx context.Context, wh *Warehouse) (*writer, error) {
	conn, err := wh.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("warehouse: writer connection: %w", err)
	}
	w := &writer{
		wh:      wh,
		conn:    conn,
		reqs:    make(chan *request, maxGroup),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		batches: map[BatchKey]*batchInfo{},
		nextSeq: 1,
	}
	rows, err := conn.QueryContext(ctx, `SELECT dataset, principal, batch_id, seq, row_count, digest, visible FROM main.`+registryTable)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("warehouse: reading batches: %w", err)
	}
	for rows.Next() {
		b := &batchInfo{}
		if err := rows.Scan(&b.key.Dataset, &b.key.Principal, &b.key.ID, &b.seq, &b.rows, &b.digest, &b.visible); err != nil {
			rows.Close()
			conn.Close()
			return nil, fmt.Errorf("warehouse: reading batches: %w", err)
		}
		w.batches[b.key] = b
		w.nextSeq = max(w.nextSeq, b.seq+1)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		conn.Close()
		return nil, fmt.Errorf("warehouse: reading batches: %w", err)
	}
	go w.loop()
	return w, nil
}

// do queues stage and waits until its work is committed. If ctx ends first
// it returns ctx's error; the work may still be done, unless the writer
// sees the cancellation before starting the request.
func (w *writer) do(ctx context.Context, stage func(g *group)) error {
	r := &request{ctx: ctx, stage: stage, done: make(chan error, 1)}
	select {
	case w.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.done:
		return ErrClosed
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-w.done:
		select {
		case err := <-r.done:
			return err
		default:
			return ErrClosed
		}
	}
}

func (w *writer) loop() {
	defer close(w.done)
	for {
		select {
		case <-w.quit:
			for {
				select {
				case r := <-w.reqs:
					r.done <- ErrClosed
				default:
					return
				}
			}
		case r := <-w.reqs:
			group := []*request{r}
		collect:
			for len(group) < maxGroup {
				select {
				case r := <-w.reqs:
					group = append(group, r)
				default:
					break collect
				}
			}
			w.run(group)
		}
	}
}

// run commits a group, or each of its requests alone if the group fails.
func (w *writer) run(group []*request) {
	live := group[:0]
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.done <- err
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	err := w.commit(live)
	if err == nil || len(live) == 1 {
		for _, r := range live {
			r.done <- err
		}
		return
	}
	for _, r := range live {
		r.done <- w.commit([]*request{r})
	}
}

// commit stages requests and does their work in one transaction.
func (w *writer) commit(reqs []*request) (err error) {
	g := &group{w: w, staged: map[BatchKey]*batchInfo{}, nextSeq: w.nextSeq}
	for _, r := range reqs {
		r.stage(g)
	}
	if len(g.inserts)+len(g.publishes)+len(g.removes) == 0 {
		return nil
	}
	// The writer's statements are not cut short by one caller's context:
	// they serve several callers, and DuckDB rolls back what it did not
	// commit.
	ctx := context.Background()
	if _, err := w.conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		w.resetConn()
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			if _, rbErr := w.conn.ExecContext(ctx, "ROLLBACK"); rbErr != nil {
				w.resetConn()
			}
		}
	}()
	if err := g.write(ctx); err != nil {
		return err
	}
	if _, err := w.conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for k, b := range g.staged {
		if b == nil {
			delete(w.batches, k)
		} else {
			w.batches[k] = b
		}
	}
	w.nextSeq = g.nextSeq
	return nil
}

// resetConn replaces a connection left in an unknown state by a failed
// begin or rollback: the old one is discarded, not returned to the pool.
func (w *writer) resetConn() {
	w.conn.Raw(func(any) error { return driver.ErrBadConn })
	w.conn.Close()
	if c, err := w.wh.db.Conn(context.Background()); err == nil {
		w.conn = c
	}
}

// stop ends the loop after the group it is committing and closes the
// writer's connection.
func (w *writer) stop() error {
	w.stopped.Do(func() { close(w.quit) })
	<-w.done
	if err := w.conn.Close(); err != nil && !errors.Is(err, sql.ErrConnDone) {
		return err
	}
	return nil
}

// group is one transaction: the registry changes staged until it commits
// and the database work that makes them.
type group struct {
	w         *writer
	staged    map[BatchKey]*batchInfo // nil: removed
	nextSeq   int64
	inserts   []insertion
	publishes []*batchInfo
	removes   []*batchInfo
}

type insertion struct {
	p   *prepared
	seq int64
}

func (g *group) lookup(k BatchKey) *batchInfo {
	if b, ok := g.staged[k]; ok {
		return b
	}
	return g.w.batches[k]
}

// insert stages a prepared batch unless it is stored. outcome is
// ErrBatchConflict when it is stored with other rows.
func (g *group) insert(p *prepared) (inserted bool, outcome error) {
	if b := g.lookup(p.key); b != nil {
		if b.rows != p.rows || b.digest != p.digest {
			return false, fmt.Errorf("%w: batch %s", ErrBatchConflict, p.key)
		}
		return false, nil
	}
	seq := g.nextSeq
	g.nextSeq++
	g.inserts = append(g.inserts, insertion{p: p, seq: seq})
	g.staged[p.key] = &batchInfo{key: p.key, seq: seq, rows: p.rows, digest: p.digest}
	return true, nil
}

// publish stages making a stored batch visible. outcome is ErrUnknownBatch
// if it is not stored.
func (g *group) publish(k BatchKey) (outcome error) {
	b := g.lookup(k)
	if b == nil {
		return fmt.Errorf("%w: %s", ErrUnknownBatch, k)
	}
	if b.visible {
		return nil
	}
	if _, ok := g.w.wh.tables[k.Dataset]; !ok {
		return fmt.Errorf("batch %s is of a dataset the schema registry no longer defines", k)
	}
	nb := *b
	nb.visible = true
	g.staged[k] = &nb
	g.publishes = append(g.publishes, &nb)
	return nil
}

// remove stages deleting a stored batch: its rows and its registry entry.
func (g *group) remove(b *batchInfo) {
	g.staged[b.key] = nil
	g.removes = append(g.removes, b)
}

// write does the group's work: appends, one appender per table; the new
// registry rows in one statement; then publishing and removal, one
// statement per table and one on the registry.
func (g *group) write(ctx context.Context) error {
	conn := g.w.conn
	byTable := map[*table][]insertion{}
	var order []*table
	for _, in := range g.inserts {
		if _, ok := byTable[in.p.t]; !ok {
			order = append(order, in.p.t)
		}
		byTable[in.p.t] = append(byTable[in.p.t], in)
	}
	for _, t := range order {
		err := conn.Raw(func(dc any) error {
			a, err := duckdb.NewAppenderWithColumns(dc.(driver.Conn), "", "main", t.name, t.appendCols)
			if err != nil {
				return err
			}
			ncol := len(t.appendCols)
			for _, in := range byTable[t] {
				seq := driver.Value(in.seq)
				for r := range in.p.rows {
					row := in.p.cells[r*ncol : (r+1)*ncol]
					row[cellBatchSeq] = seq
					if err := a.AppendRow(row...); err != nil {
						return errors.Join(err, a.Close())
					}
				}
			}
			return a.Close()
		})
		if err != nil {
			return fmt.Errorf("appending to %s: %w", t.name, err)
		}
	}
	if len(g.inserts) > 0 {
		var q strings.Builder
		q.WriteString(`INSERT INTO main.` + registryTable + ` (dataset, principal, batch_id, seq, row_count, digest, visible, inserted_at) VALUES `)
		args := make([]any, 0, 6*len(g.inserts))
		for i, in := range g.inserts {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, false, now())")
			k := in.p.key
			args = append(args, k.Dataset, k.Principal, k.ID, in.seq, in.p.rows, in.p.digest)
		}
		if _, err := conn.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("registering batches: %w", err)
		}
	}
	if err := g.bySeq(ctx, g.publishes, "UPDATE %s SET visible = true WHERE %s", "UPDATE %s SET visible = true, published_at = now() WHERE %s"); err != nil {
		return fmt.Errorf("publishing: %w", err)
	}
	if err := g.bySeq(ctx, g.removes, "DELETE FROM %s WHERE %s", "DELETE FROM %s WHERE %s"); err != nil {
		return fmt.Errorf("removing: %w", err)
	}
	return nil
}

// bySeq runs rowStmt on each dataset table and regStmt on the registry for
// the batches bs, each with a filter on their sequence numbers.
func (g *group) bySeq(ctx context.Context, bs []*batchInfo, rowStmt, regStmt string) error {
	if len(bs) == 0 {
		return nil
	}
	byTable := map[string][]int64{}
	var names []string
	all := make([]int64, 0, len(bs))
	for _, b := range bs {
		name := g.w.wh.tables[b.key.Dataset].name
		if _, ok := byTable[name]; !ok {
			names = append(names, name)
		}
		byTable[name] = append(byTable[name], b.seq)
		all = append(all, b.seq)
	}
	for _, name := range names {
		where, args := seqFilter(colBatchSeq, byTable[name])
		if _, err := g.w.conn.ExecContext(ctx, fmt.Sprintf(rowStmt, "main."+quote(name), where), args...); err != nil {
			return err
		}
	}
	where, args := seqFilter("seq", all)
	_, err := g.w.conn.ExecContext(ctx, fmt.Sprintf(regStmt, "main."+registryTable, where), args...)
	return err
}

// seqFilter selects the given sequence numbers. The range comes first so
// that DuckDB skips, by their min/max statistics, the row groups of older
// batches: sequence numbers rise in insertion order.
func seqFilter(col string, seqs []int64) (string, []any) {
	lo, hi := slices.Min(seqs), slices.Max(seqs)
	args := []any{lo, hi}
	if len(seqs) == 1 {
		return quote(col) + " = ?", args[:1]
	}
	marks := strings.Repeat("?, ", len(seqs))
	for _, s := range seqs {
		args = append(args, s)
	}
	return quote(col) + " BETWEEN ? AND ? AND " + quote(col) + " IN (" + marks[:len(marks)-2] + ")", args
}

// MakeVisible publishes a stored batch: its rows become visible to Rows,
// Count and the models. Call it after the batch's state-store transaction
// committed. Publishing a visible batch again does nothing; a batch that is
// not stored is ErrUnknownBatch.
//
// Publishing need not survive a crash: RemoveInvisible publishes at
// start-up every batch the state store committed.
func (w *Warehouse) MakeVisible(ctx context.Context, key BatchKey) error {
	var outcome error
	if err := w.w.do(ctx, func(g *group) { outcome = g.publish(key) }); err != nil {
		return fmt.Errorf("warehouse: publishing batch: %w", err)
	}
	return outcome
}

// Recovery is what RemoveInvisible did, in insertion order.
type Recovery struct {
	// Published are the invisible batches that keep accepted, now visible.
	Published []BatchKey
	// Removed are the invisible batches that keep refused, now deleted.
	Removed []BatchKey
}

// RemoveInvisible is the start-up recovery of the push protocol. It asks
// keep about every batch that is still invisible: keep reports whether the
// batch's state-store transaction committed. Those it accepts are published
// (the gateway stopped between the commit and MakeVisible); the others are
// removed with all their rows (it stopped before the commit, or the commit
// failed). Call it before serving pushes.
//
// If keep returns an error nothing is changed and the error is returned:
// a batch is never removed on a guess.
func (w *Warehouse) RemoveInvisible(ctx context.Context, keep func(BatchKey) (bool, error)) (Recovery, error) {
	var pending []batchInfo
	if err := w.w.do(ctx, func(g *group) {
		pending = pending[:0]
		for _, b := range g.w.batches {
			if !b.visible {
				pending = append(pending, *b)
			}
		}
	}); err != nil {
		return Recovery{}, fmt.Errorf("warehouse: recovery: %w", err)
	}
	slices.SortFunc(pending, func(a, b batchInfo) int { return cmp.Compare(a.seq, b.seq) })

	publish := make(map[BatchKey]bool, len(pending))
	for _, b := range pending {
		ok, err := keep(b.key)
		if err != nil {
			return Recovery{}, fmt.Errorf("warehouse: recovery: asking about batch %s: %w", b.key, err)
		}
		publish[b.key] = ok
	}

	var rec Recovery
	var outcome error
	err := w.w.do(ctx, func(g *group) {
		rec, outcome = Recovery{}, nil
		for _, p := range pending {
			if _, ok := g.w.wh.tables[p.key.Dataset]; !ok {
				outcome = fmt.Errorf("batch %s is of a dataset the schema registry no longer defines", p.key)
				return
			}
		}
		for _, p := range pending {
			b := g.lookup(p.key)
			if b == nil || b.visible || b.seq != p.seq {
				continue
			}
			if publish[b.key] {
				g.publish(b.key) // cannot fail: b is stored, its dataset defined
				rec.Published = append(rec.Published, b.key)
			} else {
				g.remove(b)
				rec.Removed = append(rec.Removed, b.key)
			}
		}
	})
	if err == nil {
		err = outcome
	}
	if err != nil {
		return Recovery{}, fmt.Errorf("warehouse: recovery: %w", err)
	}
	return rec, nil
}
