package audit

import (
	"context"
	"fmt"
	"slices"

	"github.com/qiao-exchange/qiao/audit/checkpoint"
	"github.com/qiao-exchange/qiao/audit/merkle"
	"github.com/qiao-exchange/qiao/store"
)

// VerifyError reports where a stored or exported log stops verifying. It
// wraps ErrTampered.
type VerifyError struct {
	// Seq is the first sequence number the log no longer vouches for: the
	// first entry that is missing, altered or out of place, or — when the
	// entries agree with each other but not with a signed checkpoint — the
	// first entry that only that checkpoint covers.
	Seq uint64
	// Reason says what does not verify, in English.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

func (e *VerifyError) Error() string {
	s := fmt.Sprintf("audit: log does not verify from entry %d: %s", e.Seq, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is reports ErrTampered, so that errors.Is(err, ErrTampered) holds.
func (e *VerifyError) Is(target error) bool { return target == ErrTampered }

// Unwrap returns the underlying error.
func (e *VerifyError) Unwrap() error { return e.Err }

// Report summarizes a log that verified.
type Report struct {
	// Entries is the number of entries, the tree size.
	Entries uint64
	// Root is the recomputed root hash.
	Root merkle.Hash
	// Checkpoints is the number of stored checkpoints verified.
	Checkpoints int
	// Latest is the size of the newest checkpoint, 0 if there is none.
	Latest uint64
}

// problems keeps the problem with the smallest sequence number.
type problems struct{ first *VerifyError }

func (p *problems) add(seq uint64, format string, a ...any) {
	p.addErr(seq, nil, format, a...)
}

func (p *problems) addErr(seq uint64, err error, format string, a ...any) {
	if p.first == nil || seq < p.first.Seq {
		p.first = &VerifyError{Seq: seq, Reason: fmt.Sprintf(format, a...), Err: err}
	}
}

// stored checkpoint as VerifyDB reads it.
type storedCheckpoint struct {
	size uint64
	note string
	c    checkpoint.Checkpoint
	ok   bool
}

// VerifyDB recomputes the whole stored log from its entries and checks
// everything else against them: each entry's canonical encoding, sequence
// number, leaf hash and indexed columns, its tokens, every stored node hash,
// the tree state, and every stored checkpoint's signature (by v, with v's
// name as origin) and root. It reads one snapshot of the database. If
// anything does not verify it returns a *VerifyError for the smallest
// sequence number affected.
func VerifyDB(ctx context.Context, db *store.DB, v *checkpoint.Verifier) (Report, error) {
	var rep Report
	err := db.InReadTx(ctx, func(tx *store.Tx) error {
		var err error
		rep, err = verifyTx(ctx, tx, v)
		return err
	})
	return rep, err
}

func verifyTx(ctx context.Context, tx *store.Tx, v *checkpoint.Verifier) (Report, error) {
	var p problems

	// Checkpoints, by size: signatures first.
	var cps []storedCheckpoint
	rows, err := tx.QueryContext(ctx, "SELECT size, note FROM audit_checkpoints ORDER BY size")
	if err != nil {
		return Report{}, fmt.Errorf("audit: verify: %w", err)
	}
	for rows.Next() {
		var (
			size int64
			note string
		)
		if err := rows.Scan(&size, &note); err != nil {
			rows.Close()
			return Report{}, fmt.Errorf("audit: verify: %w", err)
		}
		cps = append(cps, storedCheckpoint{size: uint64(size), note: note})
	}
	if err := closeRows(rows); err != nil {
		return Report{}, err
	}
	prev := uint64(0)
	for i := range cps {
		c, err := checkpoint.Open([]byte(cps[i].note), v)
		switch {
		case err != nil:
			p.addErr(prev, err, "checkpoint of size %d", cps[i].size)
		case c.Origin != v.Name():
			p.add(prev, "checkpoint of size %d: origin %q, want %q", cps[i].size, c.Origin, v.Name())
		case c.Size != cps[i].size:
			p.add(prev, "checkpoint stored at size %d is signed for size %d", cps[i].size, c.Size)
		default:
			cps[i].c, cps[i].ok = c, true
		}
		prev = cps[i].size
	}

	// Stored node hashes above the leaves.
	nodes := make(map[merkle.NodeID]string)
	rows, err = tx.QueryContext(ctx, "SELECT level, idx, hash FROM audit_nodes")
	if err != nil {
		return Report{}, fmt.Errorf("audit: verify: %w", err)
	}
	for rows.Next() {
		var (
			level, idx int64
			h          string
		)
		if err := rows.Scan(&level, &idx, &h); err != nil {
			rows.Close()
			return Report{}, fmt.Errorf("audit: verify: %w", err)
		}
		nodes[merkle.NodeID{Level: uint8(level), Index: uint64(idx)}] = h
	}
	if err := closeRows(rows); err != nil {
		return Report{}, err
	}

	// Tokens, as stored.
	storedTokens := make(map[uint64][]string)
	rows, err = tx.QueryContext(ctx, "SELECT seq, token FROM audit_tokens ORDER BY seq, token")
	if err != nil {
		return Report{}, fmt.Errorf("audit: verify: %w", err)
	}
	for rows.Next() {
		var (
			seq int64
			tok string
		)
		if err := rows.Scan(&seq, &tok); err != nil {
			rows.Close()
			return Report{}, fmt.Errorf("audit: verify: %w", err)
		}
		storedTokens[uint64(seq)] = append(storedTokens[uint64(seq)], tok)
	}
	if err := closeRows(rows); err != nil {
		return Report{}, err
	}

	// The entries, in order, rebuilding the tree.
	tree := new(merkle.Tree)
	next := 0 // the next checkpoint to compare
	prevSize := uint64(0)
	checkRoots := func() {
		for next < len(cps) && cps[next].size <= tree.Size() {
			if cps[next].size == tree.Size() && cps[next].ok && cps[next].c.Hash != tree.Root() {
				p.add(prevSize, "checkpoint of size %d: signed root does not match the entries", cps[next].size)
			}
			prevSize = cps[next].size
			next++
		}
	}
	checkRoots()
	rows, err = tx.QueryContext(ctx, "SELECT seq, entry, leaf_hash, logged_at, actor, action, dataset, decision FROM audit_entries ORDER BY seq")
	if err != nil {
		return Report{}, fmt.Errorf("audit: verify: %w", err)
	}
	bad := false
	for rows.Next() && !bad {
		var (
			seq, at                                   int64
			enc, leafHex, actor, action, ds, decision string
		)
		if err := rows.Scan(&seq, &enc, &leafHex, &at, &actor, &action, &ds, &decision); err != nil {
			rows.Close()
			return Report{}, fmt.Errorf("audit: verify: %w", err)
		}
		i := tree.Size()
		bad = true
		e, perr := ParseEntry([]byte(enc))
		switch {
		case uint64(seq) != i:
			p.add(i, "entry %d is missing (the next stored entry is %d)", i, seq)
		case perr != nil:
			p.addErr(i, perr, "entry %d", i)
		case e.Seq != i:
			p.add(i, "entry stored at %d carries sequence number %d", i, e.Seq)
		case leafHex != merkle.LeafHash([]byte(enc)).String():
			p.add(i, "entry %d: stored leaf hash does not match the entry", i)
		case at != e.Time.UnixMicro() || actor != e.Actor.Principal || action != e.Action || ds != e.Dataset || decision != e.Decision.Effect:
			p.add(i, "entry %d: indexed columns do not match the entry", i)
		case !slices.Equal(storedTokens[i], e.Tokens) && len(storedTokens[i])+len(e.Tokens) > 0:
			p.add(i, "entry %d: stored tokens do not match the entry", i)
		default:
			bad = false
		}
		if bad {
			break
		}
		delete(storedTokens, i)
		for _, n := range tree.Append(merkle.LeafHash([]byte(enc)))[1:] {
			h, ok := nodes[n.ID]
			first := n.ID.Index << n.ID.Level
			switch {
			case !ok:
				p.add(first, "node %v is missing", n.ID)
			case h != n.Hash.String():
				p.add(first, "node %v does not match the entries", n.ID)
			}
			delete(nodes, n.ID)
		}
		checkRoots()
	}
	if err := closeRows(rows); err != nil {
		return Report{}, err
	}
	n := tree.Size()
	if !bad {
		for id := range nodes {
			p.add(min(id.Index<<id.Level, n), "node %v is stored but no entries make it", id)
		}
		for seq := range storedTokens {
			p.add(min(seq, n), "tokens stored for entry %d, which has none or does not exist", seq)
		}
		st, err := readTree(ctx, tx)
		switch {
		case err != nil:
			p.add(n, "tree state: %v", err)
		case st.Size() != n:
			p.add(min(st.Size(), n), "tree state is of size %d, the log has %d entries", st.Size(), n)
		case st.Root() != tree.Root():
			p.add(n, "tree state does not match the entries")
		}
		for _, c := range cps[next:] {
			p.add(n, "checkpoint of size %d covers entries that are missing (the log has %d)", c.size, n)
		}
	}
	if p.first != nil {
		return Report{}, p.first
	}
	rep := Report{Entries: n, Root: tree.Root(), Checkpoints: len(cps)}
	if len(cps) > 0 {
		rep.Latest = cps[len(cps)-1].size
	}
	return rep, nil
}

func closeRows(rows interface {
	Close() error
	Err() error
}) error {
	if err := rows.Err(); err != nil {
		rows.Close()
		return fmt.Errorf("audit: verify: %w", err)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("audit: verify: %w", err)
	}
	return nil
}
