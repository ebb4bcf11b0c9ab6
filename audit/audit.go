// Package audit is the gateway's tamper-evident audit log: the Entry every
// action records and its canonical encoding, Append, which writes an entry
// inside the caller's store transaction so that an action and its record
// commit together or not at all, the Log that signs checkpoints and serves
// entries with their proofs, queries for auditors, the recomputation of the
// whole stored log (VerifyDB), and exports an auditor checks offline
// (Export, VerifyExport).
//
// The leaves of the log's SM3 Merkle tree (audit/merkle) are the entries'
// canonical encodings; its checkpoints are C2SP signed notes with SM2
// (audit/checkpoint). docs/audit.md specifies the encoding, the tables and
// the export format, so that an auditor can recompute every hash without
// this code.
//
// This package is not the audit service: it does not authenticate auditors,
// decide who may read the log, or audit the reads (the gateway does, with
// ActionAuditRead). It stores no personal identifier in plaintext; callers
// pass HMAC-SM3 tokens.
package audit

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/qiao-exchange/qiao/audit/merkle"
	"github.com/qiao-exchange/qiao/store"
)

var (
	// ErrTampered means the stored or exported log is not what was
	// appended and signed: an entry, hash, tree state or checkpoint was
	// changed, removed, added or reordered. A *VerifyError carries the
	// first bad sequence number. Keep the evidence and escalate; do not
	// repair.
	ErrTampered = errors.New("audit: log does not verify")
	// ErrNoCheckpoint means no checkpoint covers what was asked for: the
	// log is empty or has not been checkpointed. Issue one with
	// Log.Checkpoint and ask again.
	ErrNoCheckpoint = errors.New("audit: no checkpoint")
	// ErrNotFound means there is no entry with the sequence number asked
	// for, or a proof was asked for a tree size the log has not reached.
	ErrNotFound = errors.New("audit: not found")
)

// Tx is what Append needs from the caller's transaction: *store.Tx has it.
// It is defined here, at the consumer, so that the log depends on no server
// and tests can wrap a transaction.
type Tx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var _ Tx = (*store.Tx)(nil)

// Append adds e to the log inside tx, the caller's transaction, and returns
// its sequence number. It reads the tree state, assigns e.Seq, sets e.Time
// to now if it is zero, and writes the entry, its tokens, the new stored
// node hashes and the new tree state — all through tx, so that they commit
// with the caller's own changes or not at all.
//
// If Append returns an error the caller must return it (or another) from
// its transaction function, so that nothing commits: the action fails
// closed. Appends are serialized by the store's single writer; the state
// read here cannot change before tx ends.
func Append(ctx context.Context, tx Tx, e Entry) (uint64, error) {
	t, err := readTree(ctx, tx)
	if err != nil {
		return 0, fmt.Errorf("audit: append: %w", err)
	}
	e.Seq = t.Size()
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e = e.normalize()
	enc, err := e.Encode()
	if err != nil {
		return 0, fmt.Errorf("audit: append: %w", err)
	}
	leaf := merkle.LeafHash(enc)
	nodes := t.Append(leaf)
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO audit_entries (seq, entry, leaf_hash, logged_at, actor, action, dataset, decision)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		int64(e.Seq), string(enc), leaf.String(), e.Time.UnixMicro(), e.Actor.Principal, e.Action, e.Dataset, e.Decision.Effect); err != nil {
		return 0, fmt.Errorf("audit: append: entry %d: %w", e.Seq, err)
	}
	for _, tok := range e.Tokens {
		if _, err := tx.ExecContext(ctx, "INSERT INTO audit_tokens (token, seq) VALUES ($1, $2)", tok, int64(e.Seq)); err != nil {
			return 0, fmt.Errorf("audit: append: token of entry %d: %w", e.Seq, err)
		}
	}
	for _, n := range nodes[1:] {
		if _, err := tx.ExecContext(ctx, "INSERT INTO audit_nodes (level, idx, hash) VALUES ($1, $2, $3)",
			int64(n.ID.Level), int64(n.ID.Index), n.Hash.String()); err != nil {
			return 0, fmt.Errorf("audit: append: node %v: %w", n.ID, err)
		}
	}
	st, _ := t.MarshalBinary()
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO audit_tree (id, size, state) VALUES (1, $1, $2)
		 ON CONFLICT (id) DO UPDATE SET size = excluded.size, state = excluded.state`,
		int64(t.Size()), hex.EncodeToString(st)); err != nil {
		return 0, fmt.Errorf("audit: append: tree state: %w", err)
	}
	return e.Seq, nil
}

// querier is the read surface of *store.DB and *store.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// dbHashes reads stored node hashes from the tables: leaves from
// audit_entries, the others from audit_nodes. It implements
// merkle.HashReader.
type dbHashes struct{ q querier }

func (r dbHashes) ReadHashes(ctx context.Context, ids []merkle.NodeID) ([]merkle.Hash, error) {
	out := make([]merkle.Hash, len(ids))
	for start := 0; start < len(ids); {
		end := start
		for end < len(ids) && ids[end].Level == ids[start].Level {
			end++
		}
		group := ids[start:end]
		var q strings.Builder
		args := make([]any, 0, len(group)+1)
		if group[0].Level == 0 {
			q.WriteString("SELECT seq, leaf_hash FROM audit_entries WHERE seq IN (")
		} else {
			q.WriteString("SELECT idx, hash FROM audit_nodes WHERE level = $1 AND idx IN (")
			args = append(args, int64(group[0].Level))
		}
		for i, id := range group {
			if i > 0 {
				q.WriteByte(',')
			}
			args = append(args, int64(id.Index))
			fmt.Fprintf(&q, "$%d", len(args))
		}
		q.WriteByte(')')
		got := make(map[uint64]merkle.Hash, len(group))
		rows, err := r.q.QueryContext(ctx, q.String(), args...)
		if err != nil {
			return nil, fmt.Errorf("audit: reading node hashes: %w", err)
		}
		for rows.Next() {
			var (
				idx int64
				h   string
			)
			if err := rows.Scan(&idx, &h); err != nil {
				rows.Close()
				return nil, fmt.Errorf("audit: reading node hashes: %w", err)
			}
			hh, err := parseHash(h)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("%w: node %d/%d: %w", ErrTampered, group[0].Level, idx, err)
			}
			got[uint64(idx)] = hh
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("audit: reading node hashes: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("audit: reading node hashes: %w", err)
		}
		for i, id := range group {
			h, ok := got[id.Index]
			if !ok {
				return nil, fmt.Errorf("%w: node %v", merkle.ErrNotStored, id)
			}
			out[start+i] = h
		}
		start = end
	}
	return out, nil
}

var _ merkle.HashReader = dbHashes{}

// parseHash reads a hash stored as lower-case hex.
func parseHash(s string) (merkle.Hash, error) {
	var h merkle.Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != merkle.HashSize || hex.EncodeToString(b) != s {
		return h, fmt.Errorf("hash %.70q is not %d bytes of lower-case hex", s, merkle.HashSize)
	}
	copy(h[:], b)
	return h, nil
}
