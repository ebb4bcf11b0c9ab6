package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// BatchState is where a pushed batch stands.
type BatchState string

// The states of a batch.
const (
	// BatchReceived batches are being processed: their rows are not
	// visible. They end committed or rejected.
	BatchReceived BatchState = "received"
	// BatchCommitted batches' rows are in the warehouse and visible.
	BatchCommitted BatchState = "committed"
	// BatchRejected batches stored no rows; Rejected says why.
	BatchRejected BatchState = "rejected"
)

// BatchKey identifies a batch. As the envelope defines it, a batch ID is the
// sender's and unique per dataset and sender, so two agencies may use the
// same ID.
type BatchKey struct {
	Dataset   string // e.g. "police.deaths"
	Principal string // who pushed it
	ID        string // the sender's batch ID
}

func (k BatchKey) String() string { return k.Principal + "/" + k.Dataset + "/" + k.ID }

// RejectedRow is one reason a batch was rejected. It names the row and the
// field, never the value: Reason must not quote personal data.
type RejectedRow struct {
	// Row is the row's number in the batch, from 1; 0 means the batch as a
	// whole.
	Row int64 `json:"row"`
	// Field is the canonical field name, empty if the row as a whole is bad.
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Batch is the record of a pushed batch.
type Batch struct {
	BatchKey
	State BatchState
	// Rows is the number of rows the batch holds.
	Rows int64
	// RejectedRows is the number of rows with at least one error; zero
	// unless the batch is rejected.
	RejectedRows int64
	// Rejected lists every error of a rejected batch; empty otherwise.
	Rejected []RejectedRow
	// EvidenceRef names the stored envelope (store/evidence); it may be
	// empty only for a rejected batch.
	EvidenceRef string
	// EnvelopeSM3 is hex SM3 of the envelope as received.
	EnvelopeSM3 string
	// ContentSM3 is hex SM3 of the batch's decrypted payload. It is the
	// batch's identity for idempotence: the same content pushed again under
	// the same key is the same batch, even if sealed in a new envelope.
	ContentSM3 string
	// Created and Updated are set by the store.
	Created, Updated time.Time
}

// BatchQuery selects batches; empty fields select all.
type BatchQuery struct {
	Dataset   string
	Principal string
	State     BatchState
	// Limit is the most batches returned, newest first; 100 when zero.
	Limit int
}

// DatasetTotals sums up the committed batches of one dataset.
type DatasetTotals struct {
	Dataset string
	Batches int64
	Rows    int64
	// Latest is when the newest committed batch was committed.
	Latest time.Time
}

// checkText checks a printable-ASCII identifier of 1 to max bytes, as the
// envelope's associated data requires.
func checkText(what, s string, max int) error {
	if s == "" || len(s) > max {
		return fmt.Errorf("%w: %s must be 1 to %d bytes", ErrInvalid, what, max)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return fmt.Errorf("%w: %s must be printable ASCII", ErrInvalid, what)
		}
	}
	return nil
}

func checkKey(k BatchKey) error {
	if err := checkText("dataset", k.Dataset, 128); err != nil {
		return err
	}
	if err := checkName("principal", k.Principal, true); err != nil {
		return err
	}
	return checkText("batch ID", k.ID, 128)
}

func checkDigest(what, d string) error {
	if len(d) != 64 || !isLowerHex(d) {
		return fmt.Errorf("%w: %s is not 64 lower-case hex digits", ErrInvalid, what)
	}
	return nil
}

func checkRejected(rejectedRows, rows int64, rejected []RejectedRow) error {
	if rejectedRows < 0 || rejectedRows > rows {
		return fmt.Errorf("%w: %d rejected rows of %d", ErrInvalid, rejectedRows, rows)
	}
	if len(rejected) == 0 {
		return fmt.Errorf("%w: a rejected batch lists at least one reason", ErrInvalid)
	}
	for _, r := range rejected {
		if r.Row < 0 || r.Row > rows || len(r.Field) > 128 || r.Reason == "" || len(r.Reason) > 1024 {
			return fmt.Errorf("%w: rejected row %d: row out of range, field over 128 bytes or reason empty or over 1024 bytes", ErrInvalid, r.Row)
		}
	}
	return nil
}

func checkBatch(b *Batch) error {
	if err := checkKey(b.BatchKey); err != nil {
		return err
	}
	if b.Rows < 0 {
		return fmt.Errorf("%w: batch %s: negative row count", ErrInvalid, b.BatchKey)
	}
	switch b.State {
	case BatchReceived, BatchCommitted:
		if b.RejectedRows != 0 || len(b.Rejected) != 0 {
			return fmt.Errorf("%w: batch %s is %s but has rejected rows", ErrInvalid, b.BatchKey, b.State)
		}
		if b.EvidenceRef == "" {
			return fmt.Errorf("%w: batch %s has no evidence reference", ErrInvalid, b.BatchKey)
		}
		b.Rejected = []RejectedRow{}
	case BatchRejected:
		if err := checkRejected(b.RejectedRows, b.Rows, b.Rejected); err != nil {
			return fmt.Errorf("batch %s: %w", b.BatchKey, err)
		}
	default:
		return fmt.Errorf("%w: batch state %q is not received, committed or rejected", ErrInvalid, b.State)
	}
	if b.EvidenceRef != "" {
		if err := checkText("evidence reference", b.EvidenceRef, 256); err != nil {
			return err
		}
	}
	if err := checkDigest("envelope SM3", b.EnvelopeSM3); err != nil {
		return err
	}
	return checkDigest("content SM3", b.ContentSM3)
}

// InsertBatch records a pushed batch, idempotently, and returns the record
// as stored and whether this call stored it:
//
//   - a new key: b is stored; created is true.
//   - a key already stored with the same ContentSM3: nothing changes; the
//     stored record is returned and created is false. The caller answers
//     as it did the first time.
//   - a key stored for other content: ErrConflict, unless the stored batch
//     was rejected — a rejected batch stored nothing, so it does not hold
//     its ID, and the new push replaces its record (created is true).
//
// The principal must be registered (else ErrNotFound); a malformed record
// is ErrInvalid.
func (tx *Tx) InsertBatch(ctx context.Context, b Batch) (stored Batch, created bool, err error) {
	if err := checkBatch(&b); err != nil {
		return Batch{}, false, err
	}
	if err := tx.principalExists(ctx, b.Principal); err != nil {
		return Batch{}, false, err
	}
	detail, err := json.Marshal(b.Rejected)
	if err != nil {
		return Batch{}, false, fmt.Errorf("store: batch %s: %w", b.BatchKey, err)
	}
	t := now()
	b.Created, b.Updated = t, t
	res, err := tx.tx.ExecContext(ctx, `INSERT INTO batches
        (dataset, principal, batch_id, state, row_count, rejected_row_count, rejected_rows,
         evidence_ref, envelope_sm3, content_sm3, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        ON CONFLICT (dataset, principal, batch_id) DO NOTHING`,
		b.Dataset, b.Principal, b.ID, string(b.State), b.Rows, b.RejectedRows, string(detail),
		b.EvidenceRef, b.EnvelopeSM3, b.ContentSM3, micros(t), micros(t))
	if err != nil {
		return Batch{}, false, fmt.Errorf("store: inserting batch %s: %w", b.BatchKey, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return Batch{}, false, fmt.Errorf("store: inserting batch %s: %w", b.BatchKey, err)
	}
	if n == 1 {
		return b, true, nil
	}
	old, err := getBatch(ctx, tx.tx, b.BatchKey)
	if err != nil {
		return Batch{}, false, err
	}
	switch {
	case old.State == BatchRejected:
		b.Created = old.Created
		_, err := tx.tx.ExecContext(ctx, `UPDATE batches SET
            state = $4, row_count = $5, rejected_row_count = $6, rejected_rows = $7,
            evidence_ref = $8, envelope_sm3 = $9, content_sm3 = $10, updated_at = $11
            WHERE dataset = $1 AND principal = $2 AND batch_id = $3`,
			b.Dataset, b.Principal, b.ID, string(b.State), b.Rows, b.RejectedRows, string(detail),
			b.EvidenceRef, b.EnvelopeSM3, b.ContentSM3, micros(t))
		if err != nil {
			return Batch{}, false, fmt.Errorf("store: replacing rejected batch %s: %w", b.BatchKey, err)
		}
		return b, true, nil
	case old.ContentSM3 == b.ContentSM3:
		return old, false, nil
	default:
		return Batch{}, false, fmt.Errorf("%w: batch %s was pushed before with other content (%s, sm3 %.16s…)",
			ErrConflict, b.BatchKey, old.State, old.ContentSM3)
	}
}

// CommitBatch moves a received batch to committed. Committing a committed
// batch changes nothing; a rejected one is ErrConflict, an unknown one
// ErrNotFound.
func (tx *Tx) CommitBatch(ctx context.Context, key BatchKey) (Batch, error) {
	b, err := getBatch(ctx, tx.tx, key)
	switch {
	case err != nil:
		return Batch{}, err
	case b.State == BatchCommitted:
		return b, nil
	case b.State != BatchReceived:
		return Batch{}, fmt.Errorf("%w: batch %s is %s, not received", ErrConflict, key, b.State)
	}
	b.State, b.Updated = BatchCommitted, now()
	if err := tx.setBatchState(ctx, b, "[]"); err != nil {
		return Batch{}, err
	}
	return b, nil
}

// RejectBatch moves a received batch to rejected, with its errors. A batch
// that is not received is ErrConflict, an unknown one ErrNotFound.
func (tx *Tx) RejectBatch(ctx context.Context, key BatchKey, rejectedRows int64, rejected []RejectedRow) (Batch, error) {
	b, err := getBatch(ctx, tx.tx, key)
	if err != nil {
		return Batch{}, err
	}
	if b.State != BatchReceived {
		return Batch{}, fmt.Errorf("%w: batch %s is %s, not received", ErrConflict, key, b.State)
	}
	if err := checkRejected(rejectedRows, b.Rows, rejected); err != nil {
		return Batch{}, fmt.Errorf("batch %s: %w", key, err)
	}
	detail, err := json.Marshal(rejected)
	if err != nil {
		return Batch{}, fmt.Errorf("store: batch %s: %w", key, err)
	}
	b.State, b.RejectedRows, b.Rejected, b.Updated = BatchRejected, rejectedRows, rejected, now()
	if err := tx.setBatchState(ctx, b, string(detail)); err != nil {
		return Batch{}, err
	}
	return b, nil
}

func (tx *Tx) setBatchState(ctx context.Context, b Batch, detail string) error {
	_, err := tx.tx.ExecContext(ctx, `UPDATE batches
        SET state = $4, rejected_row_count = $5, rejected_rows = $6, updated_at = $7
        WHERE dataset = $1 AND principal = $2 AND batch_id = $3`,
		b.Dataset, b.Principal, b.ID, string(b.State), b.RejectedRows, detail, micros(b.Updated))
	if err != nil {
		return fmt.Errorf("store: batch %s: %w", b.BatchKey, err)
	}
	return nil
}

// GetBatch returns the batch key names, or ErrNotFound.
func (tx *Tx) GetBatch(ctx context.Context, key BatchKey) (Batch, error) {
	return getBatch(ctx, tx.tx, key)
}

// GetBatch returns the batch key names, or ErrNotFound.
func (db *DB) GetBatch(ctx context.Context, key BatchKey) (Batch, error) {
	return getBatch(ctx, db.r, key)
}

// ListBatches returns the batches q selects, newest first.
func (tx *Tx) ListBatches(ctx context.Context, q BatchQuery) ([]Batch, error) {
	return listBatches(ctx, tx.tx, q)
}

// ListBatches returns the batches q selects, newest first.
func (db *DB) ListBatches(ctx context.Context, q BatchQuery) ([]Batch, error) {
	return listBatches(ctx, db.r, q)
}

// CommittedBatches returns every committed batch of dataset, oldest first:
// the batches whose rows the warehouse keeps visible.
func (tx *Tx) CommittedBatches(ctx context.Context, dataset string) ([]Batch, error) {
	return committedBatches(ctx, tx.tx, dataset)
}

// CommittedBatches returns every committed batch of dataset, oldest first:
// the batches whose rows the warehouse keeps visible.
func (db *DB) CommittedBatches(ctx context.Context, dataset string) ([]Batch, error) {
	return committedBatches(ctx, db.r, dataset)
}

// BatchTotals returns, per dataset with at least one committed batch, the
// number of committed batches and rows, by dataset.
func (db *DB) BatchTotals(ctx context.Context) ([]DatasetTotals, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT dataset, COUNT(*), CAST(SUM(row_count) AS BIGINT), MAX(updated_at)
        FROM batches WHERE state = 'committed' GROUP BY dataset ORDER BY dataset`)
	if err != nil {
		return nil, fmt.Errorf("store: batch totals: %w", err)
	}
	return collect(rows, func(s interface{ Scan(...any) error }) (DatasetTotals, error) {
		var (
			t      DatasetTotals
			latest int64
		)
		err := s.Scan(&t.Dataset, &t.Batches, &t.Rows, &latest)
		t.Latest = fromMicros(latest)
		return t, err
	}, "batch totals")
}

const batchColumns = `dataset, principal, batch_id, state, row_count, rejected_row_count, rejected_rows,
    evidence_ref, envelope_sm3, content_sm3, created_at, updated_at`

func scanBatch(s interface{ Scan(...any) error }) (Batch, error) {
	var (
		b                Batch
		state, detail    string
		created, updated int64
	)
	err := s.Scan(&b.Dataset, &b.Principal, &b.ID, &state, &b.Rows, &b.RejectedRows, &detail,
		&b.EvidenceRef, &b.EnvelopeSM3, &b.ContentSM3, &created, &updated)
	if err != nil {
		return Batch{}, err
	}
	if err := json.Unmarshal([]byte(detail), &b.Rejected); err != nil {
		return Batch{}, fmt.Errorf("rejected rows of %s: %w", b.BatchKey, err)
	}
	if b.Rejected == nil {
		b.Rejected = []RejectedRow{}
	}
	b.State, b.Created, b.Updated = BatchState(state), fromMicros(created), fromMicros(updated)
	return b, nil
}

func getBatch(ctx context.Context, q querier, key BatchKey) (Batch, error) {
	b, err := scanBatch(q.QueryRowContext(ctx, "SELECT "+batchColumns+`
        FROM batches WHERE dataset = $1 AND principal = $2 AND batch_id = $3`,
		key.Dataset, key.Principal, key.ID))
	if err != nil {
		return Batch{}, notFound(err, "batch "+key.String())
	}
	return b, nil
}

func listBatches(ctx context.Context, q querier, bq BatchQuery) ([]Batch, error) {
	if bq.Limit < 0 {
		return nil, fmt.Errorf("%w: negative limit", ErrInvalid)
	}
	if bq.Limit == 0 {
		bq.Limit = 100
	}
	var w where
	if bq.Dataset != "" {
		w.add("dataset = $%d", bq.Dataset)
	}
	if bq.Principal != "" {
		w.add("principal = $%d", bq.Principal)
	}
	if bq.State != "" {
		w.add("state = $%d", string(bq.State))
	}
	args := append(w.args, bq.Limit)
	rows, err := q.QueryContext(ctx, "SELECT "+batchColumns+" FROM batches"+w.String()+
		fmt.Sprintf(" ORDER BY created_at DESC, principal, dataset, batch_id LIMIT $%d", len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("store: listing batches: %w", err)
	}
	return collect(rows, scanBatch, "listing batches")
}

func committedBatches(ctx context.Context, q querier, dataset string) ([]Batch, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+batchColumns+`
        FROM batches WHERE dataset = $1 AND state = 'committed'
        ORDER BY created_at, principal, batch_id`, dataset)
	if err != nil {
		return nil, fmt.Errorf("store: committed batches of %s: %w", dataset, err)
	}
	return collect(rows, scanBatch, "committed batches of "+dataset)
}
