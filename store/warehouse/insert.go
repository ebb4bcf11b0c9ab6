package warehouse

import (
	"context"
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/qiao-exchange/qiao/crypto/sm3"
	"github.com/qiao-exchange/qiao/schema"
)

// MaxIDLen is the longest batch ID or principal the warehouse stores, in
// bytes.
const MaxIDLen = 200

// chunkRows is how many rows one worker protects at a time; the batch
// digest is made of chunk digests, so it does not depend on the number of
// workers.
const chunkRows = 64

// digestLabel starts every batch digest.
const digestLabel = "qiao/warehouse/batch/v1"

// prepared is a batch ready to append: the cells of every row, in the order
// of the table's appendCols, with personal data sealed and tokenised.
type prepared struct {
	t      *table
	key    BatchKey
	rows   int
	cells  []driver.Value // rows × len(t.appendCols); the batch_seq cell is set when appended
	digest string
}

// InsertBatch stores the rows of batch key, invisible until MakeVisible, and
// reports whether it stored them now. rows hold one canonical value per
// field in the dataset's field order, as schema.Dataset.ValidateRow returns
// them; "" is an empty value, stored as NULL. Row numbers (row_no) count
// from 1 in the order given.
//
// Personal data is sealed (associated data dataset|principal|batch|row|field)
// and tokenised before anything is written, on every available core; the
// batch is then appended in one transaction, together with other batches
// being inserted at the same time, so it is stored whole or not at all.
//
// If the batch is already stored with the same rows (the digest of its
// values, with tokens in place of personal data, matches), nothing is stored
// and inserted is false: a repeated push is idempotent. If it is stored with
// other rows the error wraps ErrBatchConflict. If ctx ends while the batch
// waits for the writer, InsertBatch returns ctx's error and the batch may
// still be stored, invisible: inserting it again is harmless, and
// RemoveInvisible clears it if it is never committed.
func (w *Warehouse) InsertBatch(ctx context.Context, key BatchKey, rows [][]string) (inserted bool, err error) {
	t, err := w.table(key.Dataset)
	if err != nil {
		return false, err
	}
	if err := checkKey(key); err != nil {
		return false, err
	}
	p, err := w.prepare(ctx, t, key, rows)
	if err != nil {
		return false, err
	}
	var outcome error
	err = w.w.do(ctx, func(g *group) { inserted, outcome = g.insert(p) })
	if err != nil {
		return false, fmt.Errorf("warehouse: inserting batch into %s: %w", t.name, err)
	}
	return inserted, outcome
}

func (w *Warehouse) table(dataset string) (*table, error) {
	t, ok := w.tables[dataset]
	if !ok {
		_, err := w.reg.Get(dataset)
		if err == nil {
			err = schema.ErrUnknownDataset
		}
		return nil, fmt.Errorf("warehouse: %w", err)
	}
	return t, nil
}

// checkKey accepts a principal and a batch ID of 1 to MaxIDLen bytes of
// UTF-8 without control characters, and a principal without "|", which
// separates the parts of associated data.
func checkKey(k BatchKey) error {
	for _, s := range []struct{ what, v string }{{"principal", k.Principal}, {"batch ID", k.ID}} {
		if s.v == "" || len(s.v) > MaxIDLen || !utf8.ValidString(s.v) {
			return fmt.Errorf("warehouse: %s must be 1 to %d bytes of UTF-8", s.what, MaxIDLen)
		}
		for _, r := range s.v {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				return fmt.Errorf("warehouse: %s contains a control character", s.what)
			}
		}
	}
	if strings.ContainsRune(k.Principal, '|') {
		return errors.New("warehouse: principal contains '|'")
	}
	return nil
}

// prepare protects and converts every row, in chunks spread over the
// available cores, and computes the batch digest.
func (w *Warehouse) prepare(ctx context.Context, t *table, key BatchKey, rows [][]string) (*prepared, error) {
	ncol := len(t.appendCols)
	p := &prepared{t: t, key: key, rows: len(rows), cells: make([]driver.Value, len(rows)*ncol)}
	chunks := (len(rows) + chunkRows - 1) / chunkRows
	sums := make([][sm3.Size]byte, chunks)

	// Chunks are taken in order and a taken chunk is finished unless it
	// fails, so the first bad row is always found and reported, whatever
	// the scheduling; after a failure no new chunk is taken.
	var (
		next     atomic.Int64
		failed   atomic.Bool
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		firstErr = cmpErr(firstErr, err)
		mu.Unlock()
		failed.Store(true)
	}
	work := func() {
		f := filler{w: w, t: t, key: key, h: sm3.New()}
		for !failed.Load() {
			c := int(next.Add(1) - 1)
			if c >= chunks {
				return
			}
			if err := ctx.Err(); err != nil {
				fail(err)
				return
			}
			f.h.Reset()
			end := min((c+1)*chunkRows, len(rows))
			for r := c * chunkRows; r < end; r++ {
				if err := f.fill(r+1, rows[r], p.cells[r*ncol:(r+1)*ncol]); err != nil {
					fail(err)
					return
				}
			}
			f.h.Sum(sums[c][:0])
		}
	}
	workers := min(runtime.GOMAXPROCS(0), chunks)
	for range workers - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}

	h := sm3.New()
	h.Write([]byte(digestLabel))
	h.Write([]byte{0})
	h.Write([]byte(t.ds.ID))
	h.Write(binary.AppendUvarint([]byte{0}, uint64(len(rows))))
	for i := range sums {
		h.Write(sums[i][:])
	}
	p.digest = hex.EncodeToString(h.Sum(nil))
	return p, nil
}

// cmpErr keeps the error of the lowest row, so that the reported error does
// not depend on scheduling.
func cmpErr(prev, err error) error {
	var a, b *rowError
	if prev == nil {
		return err
	}
	if errors.As(prev, &a) && errors.As(err, &b) && b.row < a.row {
		return err
	}
	return prev
}

// rowError is an invalid value: its row and field, never the value.
type rowError struct {
	row    int
	field  string
	reason string
}

func (e *rowError) Error() string {
	if e.field == "" {
		return fmt.Sprintf("warehouse: row %d: %s", e.row, e.reason)
	}
	return fmt.Sprintf("warehouse: row %d, field %s: %s", e.row, e.field, e.reason)
}

func (e *rowError) Unwrap() error { return ErrInvalidRow }

// filler converts rows of one batch; one per worker.
type filler struct {
	w   *Warehouse
	t   *table
	key BatchKey
	h   hash.Hash // digest of the chunk
	aad []byte
	pt  []byte // the value being sealed
	row []byte // the row's part of the digest input
}

// digestValue adds one stored value to the row's digest input, length
// first.
func (f *filler) digestValue(v string) {
	f.row = binary.AppendUvarint(f.row, uint64(len(v)))
	f.row = append(f.row, v...)
}

// fill converts row number rowNo (from 1) into out.
func (f *filler) fill(rowNo int, values []string, out []driver.Value) error {
	t := f.t
	if len(values) != len(t.cols) {
		return &rowError{row: rowNo, reason: fmt.Sprintf("has %d values, dataset %s has %d fields", len(values), t.ds.ID, len(t.cols))}
	}
	out[cellBatchID] = f.key.ID
	out[cellPrincipal] = f.key.Principal
	out[cellRowNo] = int32(rowNo)
	out[cellVisible] = false
	f.row = f.row[:0]
	j := nFixed
	for i := range t.cols {
		c := &t.cols[i]
		v := values[i]
		bad := func(reason string) error {
			return &rowError{row: rowNo, field: c.field.Name, reason: reason}
		}
		switch c.kind {
		case kindSealed:
			// The digest, kept in the registry, covers the token and never
			// the value.
			if v == "" {
				f.digestValue("")
				out[j], out[j+1] = nil, nil
			} else {
				f.aad = appendAAD(f.aad[:0], f.key, rowNo, c.field.Name)
				f.pt = append(f.pt[:0], v...)
				sealed, err := f.w.keys.Seal(f.pt, f.aad)
				if err != nil {
					return fmt.Errorf("warehouse: sealing row %d, field %s: %w", rowNo, c.field.Name, err)
				}
				tok := f.w.keys.Token(TokenDomain(c.field, v), v)
				f.digestValue(tok)
				out[j], out[j+1] = sealed, tok
			}
			j += 2
			continue
		case kindTokened:
			f.digestValue(v)
			if v == "" {
				out[j], out[j+1] = nil, nil
			} else {
				out[j], out[j+1] = v, f.w.keys.Token(TokenDomain(c.field, v), v)
			}
			j += 2
			continue
		}
		f.digestValue(v)
		if v == "" {
			out[j] = nil
			j++
			continue
		}
		switch c.kind {
		case kindText:
			out[j] = v
		case kindDate:
			d, ok := parseDate(v)
			if !ok {
				return bad("not a date in the form YYYY-MM-DD")
			}
			out[j] = d
		case kindMonth:
			d, ok := parseDate(v + "-01")
			if len(v) != 7 || !ok {
				return bad("not a month in the form YYYY-MM")
			}
			out[j] = d
		case kindMoney:
			m, err := schema.ParseMoney(v)
			if err != nil {
				return bad("not an amount in yuan")
			}
			out[j] = int64(m)
		case kindInt:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return bad("not a whole number")
			}
			out[j] = n
		case kindBool:
			switch v {
			case "true":
				out[j] = true
			case "false":
				out[j] = false
			default:
				return bad("not true or false")
			}
		}
		j++
	}
	f.h.Write(f.row)
	return nil
}

// appendAAD appends the associated data of a sealed value:
// dataset|principal|batch|row|field. Dataset IDs, principals, row numbers
// and field names contain no "|", so the encoding is unambiguous whatever
// the batch ID holds.
func appendAAD(b []byte, k BatchKey, rowNo int, field string) []byte {
	b = append(b, k.Dataset...)
	b = append(b, '|')
	b = append(b, k.Principal...)
	b = append(b, '|')
	b = append(b, k.ID...)
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(rowNo), 10)
	b = append(b, '|')
	return append(b, field...)
}

// parseDate reads a canonical YYYY-MM-DD date as midnight UTC, the form the
// DuckDB appender stores as a DATE.
func parseDate(s string) (time.Time, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	y, ok1 := digits(s[:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d {
		return time.Time{}, false
	}
	return t, true
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
