package audit

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/qiao-exchange/qiao/audit/checkpoint"
	"github.com/qiao-exchange/qiao/audit/merkle"
	"github.com/qiao-exchange/qiao/store"
)

// tamperedLog builds a log of 40 entries with checkpoints at 20 and 40 in a
// database file, closes the store, lets tamper change the file through
// database/sql directly, as an operator with access to the file could, and
// returns VerifyDB's verdict on the reopened store.
func tamperedLog(t *testing.T, tamper func(db *sql.DB)) error {
	t.Helper()
	ctx := context.Background()
	l, db, path := testLog(t)
	appendN(t, l, db, 0, 20)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, db, 20, 20)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyDB(ctx, db, l.Verifier()); err != nil {
		t.Fatalf("before tampering: %v", err)
	}
	db.Close()

	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	tamper(raw)
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}

	db2, err := store.Open(ctx, store.Config{DSN: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	_, err = VerifyDB(ctx, db2, l.Verifier())
	return err
}

func exec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func entryText(t *testing.T, db *sql.DB, seq int) string {
	t.Helper()
	var s string
	if err := db.QueryRow("SELECT entry FROM audit_entries WHERE seq = $1", seq).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// rehash rewrites everything an attacker can recompute without the signing
// key after changing entries: leaf hashes, nodes and tree state.
func rehash(t *testing.T, db *sql.DB) {
	t.Helper()
	rows, err := db.Query("SELECT seq, entry FROM audit_entries ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	var encs []string
	for rows.Next() {
		var (
			seq int
			s   string
		)
		rows.Scan(&seq, &s)
		encs = append(encs, s)
	}
	rows.Close()
	exec(t, db, "DELETE FROM audit_nodes")
	tr := new(merkle.Tree)
	for i, s := range encs {
		nodes := tr.Append(merkle.LeafHash([]byte(s)))
		exec(t, db, "UPDATE audit_entries SET leaf_hash = $1 WHERE seq = $2", nodes[0].Hash.String(), i)
		for _, n := range nodes[1:] {
			exec(t, db, "INSERT INTO audit_nodes (level, idx, hash) VALUES ($1, $2, $3)", int(n.ID.Level), int64(n.ID.Index), n.Hash.String())
		}
	}
	st, _ := tr.MarshalBinary()
	exec(t, db, "UPDATE audit_tree SET size = $1, state = $2", int64(tr.Size()), merkleHex(st))
}

func merkleHex(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}

func TestTamperDB(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(t *testing.T, db *sql.DB)
		seq    uint64
	}{
		{"one changed byte in an entry", func(t *testing.T, db *sql.DB) {
			s := []byte(entryText(t, db, 13))
			i := bytes.Index(s, []byte("batch-13")) + 6
			s[i] = '4'
			exec(t, db, "UPDATE audit_entries SET entry = $1 WHERE seq = 13", string(s))
		}, 13},
		{"one changed byte, hashes recomputed", func(t *testing.T, db *sql.DB) {
			s := strings.Replace(entryText(t, db, 27), `batch-27`, `batch-28`, 1)
			exec(t, db, "UPDATE audit_entries SET entry = $1 WHERE seq = 27", s)
			rehash(t, db)
		}, 20}, // only the checkpoint of size 40 covers entry 27 and not 20
		{"a deleted entry", func(t *testing.T, db *sql.DB) {
			exec(t, db, "DELETE FROM audit_tokens WHERE seq = 9")
			exec(t, db, "DELETE FROM audit_entries WHERE seq = 9")
		}, 9},
		{"two entries swapped", func(t *testing.T, db *sql.DB) {
			a, b := entryText(t, db, 6), entryText(t, db, 7)
			exec(t, db, "UPDATE audit_entries SET entry = $1 WHERE seq = 6", b)
			exec(t, db, "UPDATE audit_entries SET entry = $1 WHERE seq = 7", a)
		}, 6},
		{"a truncated tail", func(t *testing.T, db *sql.DB) {
			exec(t, db, "DELETE FROM audit_tokens WHERE seq >= 33")
			exec(t, db, "DELETE FROM audit_entries WHERE seq >= 33")
		}, 33},
		{"a truncated tail, state recomputed", func(t *testing.T, db *sql.DB) {
			exec(t, db, "DELETE FROM audit_tokens WHERE seq >= 33")
			exec(t, db, "DELETE FROM audit_entries WHERE seq >= 33")
			rehash(t, db)
		}, 33},
		{"a forged checkpoint signature", func(t *testing.T, db *sql.DB) {
			var note string
			db.QueryRow("SELECT note FROM audit_checkpoints WHERE size = 40").Scan(&note)
			i := strings.LastIndex(note, " ") + 10
			b := []byte(note)
			b[i] ^= 'A' ^ 'B'
			if b[i] == note[i] {
				b[i] = 'C'
			}
			exec(t, db, "UPDATE audit_checkpoints SET note = $1 WHERE size = 40", string(b))
		}, 20},
		{"a changed leaf hash", func(t *testing.T, db *sql.DB) {
			exec(t, db, "UPDATE audit_entries SET leaf_hash = $1 WHERE seq = 2", strings.Repeat("0", 64))
		}, 2},
		{"a changed node", func(t *testing.T, db *sql.DB) {
			exec(t, db, "UPDATE audit_nodes SET hash = $1 WHERE level = 4 AND idx = 1", strings.Repeat("0", 64))
		}, 16},
		{"a changed indexed column", func(t *testing.T, db *sql.DB) {
			exec(t, db, "UPDATE audit_entries SET decision = 'allow' WHERE seq = 11")
		}, 11},
		{"a removed token", func(t *testing.T, db *sql.DB) {
			exec(t, db, "DELETE FROM audit_tokens WHERE seq = 25")
		}, 25},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := tamperedLog(t, func(db *sql.DB) { c.tamper(t, db) })
			var ve *VerifyError
			if !errors.As(err, &ve) || !errors.Is(err, ErrTampered) {
				t.Fatalf("VerifyDB = %v, want a *VerifyError", err)
			}
			t.Log(err)
			if ve.Seq != c.seq {
				t.Fatalf("first bad entry %d, want %d: %v", ve.Seq, c.seq, err)
			}
		})
	}
}

func TestVerifyDBWrongKey(t *testing.T) {
	ctx := t.Context()
	l, db, _ := testLog(t)
	appendN(t, l, db, 0, 3)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	other, _, _ := testLog(t)
	if _, err := VerifyDB(ctx, db, other.Verifier()); !errors.Is(err, checkpoint.ErrUnverified) || !errors.Is(err, ErrTampered) {
		t.Fatalf("VerifyDB with another key = %v", err)
	}
}
