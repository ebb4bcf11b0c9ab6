package audit

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/qiao-exchange/qiao/audit/checkpoint"
	"github.com/qiao-exchange/qiao/audit/merkle"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/store"
)

// DefaultCheckpointInterval is how often Run issues a checkpoint when given
// no interval.
const DefaultCheckpointInterval = time.Minute

// Config is what a Log is made of. DB, Key and Origin are required.
type Config struct {
	// DB is the state store that holds the log's tables.
	DB *store.DB
	// Key is the gateway's SM2 signing key, which signs checkpoints.
	Key *sm2.PrivateKey
	// Origin is the log's identity, the first line of its checkpoints and
	// the name of its signing key, e.g. "gateway.example.gov.cn/qiao/audit".
	Origin string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives Run's errors; nothing when nil.
	Logger *slog.Logger
}

// Log is the audit log of one gateway: it appends with the log's clock,
// signs and keeps checkpoints, and serves entries, proofs and queries. It
// is safe for concurrent use.
type Log struct {
	db       *store.DB
	key      *sm2.PrivateKey
	origin   string
	now      func() time.Time
	log      *slog.Logger
	verifier *checkpoint.Verifier
}

// New returns the log that cfg describes.
func New(cfg Config) (*Log, error) {
	if cfg.DB == nil || cfg.Key == nil {
		return nil, errors.New("audit: Config needs DB and Key")
	}
	v, err := checkpoint.NewVerifier(cfg.Origin, cfg.Key.PublicKey())
	if err != nil {
		return nil, fmt.Errorf("audit: origin: %w", err)
	}
	l := &Log{db: cfg.DB, key: cfg.Key, origin: cfg.Origin, now: cfg.Now, log: cfg.Logger, verifier: v}
	if l.now == nil {
		l.now = time.Now
	}
	if l.log == nil {
		l.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return l, nil
}

// Record appends e in a transaction of its own, for events that change
// nothing else in the store (a reload, the keys loaded at start).
func (l *Log) Record(ctx context.Context, e Entry) (uint64, error) {
	var seq uint64
	err := l.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		seq, err = l.Append(ctx, tx, e)
		return err
	})
	return seq, err
}

// Export signs a checkpoint of the current tree if the latest does not
// cover every entry, then writes the entries logged in [from, to) with it,
// as the package's Export does.
func (l *Log) Export(ctx context.Context, from, to time.Time, w io.Writer) (ExportSummary, error) {
	if _, err := l.Checkpoint(ctx); err != nil {
		return ExportSummary{}, err
	}
	return Export(ctx, l.db, from, to, w)
}

// Verifier returns the verifier of the log's checkpoints, whose String form
// auditors keep.
func (l *Log) Verifier() *checkpoint.Verifier { return l.verifier }

// Append is the package's Append with the entry's time taken from the log's
// clock.
func (l *Log) Append(ctx context.Context, tx Tx, e Entry) (uint64, error) {
	e.Time = l.now()
	return Append(ctx, tx, e)
}

// SignedCheckpoint is a checkpoint as the log keeps it.
type SignedCheckpoint struct {
	checkpoint.Checkpoint
	// Note is the signed note, as checkpoint.Open reads it.
	Note []byte
	// SignedAt is when the log signed it.
	SignedAt time.Time
}

// Checkpoint signs the current tree as a checkpoint, stores it and returns
// it. If the newest stored checkpoint is of the current size it returns
// that one unchanged, so calling it again without appends signs nothing. An
// empty log is checkpointed at size 0.
func (l *Log) Checkpoint(ctx context.Context) (SignedCheckpoint, error) {
	var out SignedCheckpoint
	err := l.db.InTx(ctx, func(tx *store.Tx) error {
		t, err := readTree(ctx, tx)
		if err != nil {
			return err
		}
		latest, err := latestCheckpoint(ctx, tx)
		if err == nil && latest.Size == t.Size() {
			out = latest
			return nil
		}
		if err != nil && !errors.Is(err, ErrNoCheckpoint) {
			return err
		}
		c := checkpoint.Checkpoint{Origin: l.origin, Size: t.Size(), Hash: t.Root()}
		note, err := checkpoint.Sign(c, l.origin, l.key)
		if err != nil {
			return fmt.Errorf("audit: checkpoint: %w", err)
		}
		at := l.now().UTC().Truncate(time.Microsecond)
		if _, err := tx.ExecContext(ctx, "INSERT INTO audit_checkpoints (size, note, signed_at) VALUES ($1, $2, $3)",
			int64(c.Size), string(note), at.UnixMicro()); err != nil {
			return fmt.Errorf("audit: checkpoint: %w", err)
		}
		out = SignedCheckpoint{Checkpoint: c, Note: note, SignedAt: at}
		return nil
	})
	return out, err
}

// Run issues a checkpoint every interval (DefaultCheckpointInterval when
// zero or negative) until ctx ends, and returns ctx's error. A failed
// checkpoint is logged and tried again at the next tick.
func (l *Log) Run(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		every = DefaultCheckpointInterval
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if c, err := l.Checkpoint(ctx); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				l.log.ErrorContext(ctx, "audit checkpoint failed", slog.Any("err", err))
			} else {
				l.log.DebugContext(ctx, "audit checkpoint", slog.Uint64("size", c.Size))
			}
		}
	}
}

// Latest returns the newest stored checkpoint, or ErrNoCheckpoint.
func (l *Log) Latest(ctx context.Context) (SignedCheckpoint, error) {
	return latestCheckpoint(ctx, l.db)
}

// LatestCheckpoint returns the newest checkpoint stored in db, or
// ErrNoCheckpoint, without verifying its signature: for tools that read a
// database without the signing key.
func LatestCheckpoint(ctx context.Context, db *store.DB) (SignedCheckpoint, error) {
	return latestCheckpoint(ctx, db)
}

// Proof is an entry's inclusion proof against a signed checkpoint.
type Proof struct {
	// Checkpoint is the signed checkpoint the proof leads to.
	Checkpoint SignedCheckpoint
	// Index is the entry's leaf index, its sequence number.
	Index uint64
	// Hashes is the RFC 9162 inclusion proof, nearest the leaf first.
	Hashes []merkle.Hash
}

// Entry returns the entry with sequence number seq, its canonical encoding
// and its inclusion proof against the latest checkpoint. If that checkpoint
// does not yet cover the entry, a new one is issued first.
func (l *Log) Entry(ctx context.Context, seq uint64) (Entry, []byte, Proof, error) {
	e, enc, err := readEntry(ctx, l.db, seq)
	if err != nil {
		return Entry{}, nil, Proof{}, err
	}
	cp, err := l.Latest(ctx)
	if errors.Is(err, ErrNoCheckpoint) || (err == nil && cp.Size <= seq) {
		cp, err = l.Checkpoint(ctx)
	}
	if err != nil {
		return Entry{}, nil, Proof{}, err
	}
	hashes, err := merkle.InclusionProof(ctx, dbHashes{l.db}, seq, cp.Size)
	if err != nil {
		return Entry{}, nil, Proof{}, fmt.Errorf("audit: inclusion proof of entry %d: %w", seq, err)
	}
	return e, enc, Proof{Checkpoint: cp, Index: seq, Hashes: hashes}, nil
}

// ConsistencyProof returns the proof that the tree of size1 is a prefix of
// the tree of size2, for two checkpoints an auditor holds. size2 must not
// exceed the stored tree (ErrNotFound).
func (l *Log) ConsistencyProof(ctx context.Context, size1, size2 uint64) ([]merkle.Hash, error) {
	t, err := readTree(ctx, l.db)
	if err != nil {
		return nil, err
	}
	if size2 > t.Size() {
		return nil, fmt.Errorf("%w: tree size %d, the log has %d entries", ErrNotFound, size2, t.Size())
	}
	p, err := merkle.ConsistencyProof(ctx, dbHashes{l.db}, size1, size2)
	if err != nil {
		return nil, fmt.Errorf("audit: consistency proof %d..%d: %w", size1, size2, err)
	}
	return p, nil
}

// Filter selects entries for Query. Zero fields select everything.
type Filter struct {
	// From and To bound the entries' time: From ≤ time < To.
	From, To time.Time
	// Actor is the acting principal.
	Actor string
	// Action is an action such as ActionDatasetPush.
	Action string
	// Dataset is the dataset concerned.
	Dataset string
	// Decision is Allow or Deny.
	Decision string
	// Token is the HMAC-SM3 token of a personal identifier.
	Token string
	// Start is the first sequence number returned: pass the last one seen
	// plus one to page, or to follow new entries.
	Start uint64
	// Limit caps the number of entries; 1000 when zero.
	Limit int
}

// DefaultQueryLimit is the most entries Query returns when Filter.Limit is
// zero.
const DefaultQueryLimit = 1000

// Query returns the entries that f selects, by ascending sequence number.
func (l *Log) Query(ctx context.Context, f Filter) ([]Entry, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.Replace(cond, "?", fmt.Sprintf("$%d", len(args)), 1))
	}
	if !f.From.IsZero() {
		add("e.logged_at >= ?", f.From.UnixMicro())
	}
	if !f.To.IsZero() {
		add("e.logged_at < ?", f.To.UnixMicro())
	}
	if f.Actor != "" {
		add("e.actor = ?", f.Actor)
	}
	if f.Action != "" {
		add("e.action = ?", f.Action)
	}
	if f.Dataset != "" {
		add("e.dataset = ?", f.Dataset)
	}
	if f.Decision != "" {
		add("e.decision = ?", f.Decision)
	}
	if f.Token != "" {
		add("e.seq IN (SELECT seq FROM audit_tokens WHERE token = ?)", f.Token)
	}
	if f.Start > 0 {
		add("e.seq >= ?", int64(f.Start))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultQueryLimit
	}
	q := "SELECT e.seq, e.entry FROM audit_entries e"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	q += fmt.Sprintf(" ORDER BY e.seq LIMIT $%d", len(args))
	rows, err := l.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("audit: query: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var (
			seq int64
			enc string
		)
		if err := rows.Scan(&seq, &enc); err != nil {
			return nil, fmt.Errorf("audit: query: %w", err)
		}
		e, err := ParseEntry([]byte(enc))
		if err != nil || e.Seq != uint64(seq) {
			return nil, &VerifyError{Seq: uint64(seq), Reason: "stored entry is not canonical or not at its sequence number", Err: err}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: query: %w", err)
	}
	return out, nil
}

// rowQuerier is the part of a transaction or store that reads one row.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// readTree reads the tree state; the empty tree if nothing was appended.
func readTree(ctx context.Context, q rowQuerier) (*merkle.Tree, error) {
	var (
		size  int64
		state string
	)
	t := new(merkle.Tree)
	err := q.QueryRowContext(ctx, "SELECT size, state FROM audit_tree WHERE id = 1").Scan(&size, &state)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return t, nil
	case err != nil:
		return nil, fmt.Errorf("audit: reading tree state: %w", err)
	}
	b, err := hex.DecodeString(state)
	if err != nil {
		return nil, fmt.Errorf("audit: tree state: %w: %w", merkle.ErrTreeState, err)
	}
	if err := t.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if t.Size() != uint64(size) {
		return nil, fmt.Errorf("audit: %w: state of size %d in a row of size %d", merkle.ErrTreeState, t.Size(), size)
	}
	return t, nil
}

// latestCheckpoint reads the stored checkpoint of the largest size. It does
// not verify the signature: the note is what the log signed, and auditors
// verify it themselves.
func latestCheckpoint(ctx context.Context, q querier) (SignedCheckpoint, error) {
	var (
		size int64
		note string
		at   int64
	)
	err := q.QueryRowContext(ctx, "SELECT size, note, signed_at FROM audit_checkpoints ORDER BY size DESC LIMIT 1").Scan(&size, &note, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return SignedCheckpoint{}, ErrNoCheckpoint
	}
	if err != nil {
		return SignedCheckpoint{}, fmt.Errorf("audit: reading checkpoint: %w", err)
	}
	text, _, _ := strings.Cut(note, "\n\n")
	c, err := checkpoint.Parse([]byte(text + "\n"))
	if err != nil || c.Size != uint64(size) {
		return SignedCheckpoint{}, &VerifyError{Seq: uint64(size), Reason: "stored checkpoint is malformed", Err: err}
	}
	return SignedCheckpoint{Checkpoint: c, Note: []byte(note), SignedAt: time.UnixMicro(at).UTC()}, nil
}

// readEntry reads the entry seq and its stored encoding.
func readEntry(ctx context.Context, q querier, seq uint64) (Entry, []byte, error) {
	var enc string
	err := q.QueryRowContext(ctx, "SELECT entry FROM audit_entries WHERE seq = $1", int64(seq)).Scan(&enc)
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, nil, fmt.Errorf("%w: entry %d", ErrNotFound, seq)
	}
	if err != nil {
		return Entry{}, nil, fmt.Errorf("audit: reading entry %d: %w", seq, err)
	}
	e, err := ParseEntry([]byte(enc))
	if err != nil || e.Seq != seq {
		return Entry{}, nil, &VerifyError{Seq: seq, Reason: "stored entry is not canonical or not at its sequence number", Err: err}
	}
	return e, []byte(enc), nil
}
