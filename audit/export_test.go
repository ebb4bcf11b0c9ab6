package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// exported returns an export of entries 10..29 of a log of 40 entries with
// a checkpoint at 35, and the log.
func exported(t *testing.T) ([]byte, *Log) {
	t.Helper()
	ctx := t.Context()
	l, db, _ := testLog(t)
	appendN(t, l, db, 0, 35)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, db, 35, 5)
	all, err := l.Query(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	sum, err := Export(ctx, db, all[10].Time, all[30].Time, &buf)
	if err != nil || sum.First != 10 || sum.Count != 20 || sum.Checkpoint.Size != 35 {
		t.Fatalf("Export = %+v, %v", sum, err)
	}
	return buf.Bytes(), l
}

func TestExportVerify(t *testing.T) {
	b, l := exported(t)
	sum, err := VerifyExport(bytes.NewReader(b), l.Verifier())
	if err != nil || sum.First != 10 || sum.Count != 20 {
		t.Fatalf("VerifyExport = %+v, %v", sum, err)
	}
	if n := bytes.Count(b, []byte{'\n'}); n != 21 {
		t.Fatalf("%d lines, want 21", n)
	}
	// The whole log up to the checkpoint, and past it.
	ctx := t.Context()
	var all bytes.Buffer
	if sum, err := Export(ctx, l.db, time.Time{}, time.Time{}, &all); err != nil || sum.Count != 35 {
		t.Fatalf("Export all = %+v, %v", sum, err)
	}
	if _, err := VerifyExport(&all, l.Verifier()); err != nil {
		t.Fatal(err)
	}
	other, _, _ := testLog(t)
	if _, err := VerifyExport(bytes.NewReader(b), other.Verifier()); !errors.Is(err, ErrTampered) {
		t.Fatalf("VerifyExport with another key = %v", err)
	}
}

func TestExportTamper(t *testing.T) {
	b, l := exported(t)
	lines := strings.SplitAfter(string(b), "\n")
	lines = lines[:len(lines)-1] // after the final newline
	join := func(ls []string) []byte { return []byte(strings.Join(ls, "")) }
	with := func(i int, s string) []byte {
		ls := append([]string(nil), lines...)
		ls[i] = s
		return join(ls)
	}
	entryLine := func(seq int) int { return seq - 10 + 1 }
	cases := []struct {
		name string
		file []byte
		seq  uint64
	}{
		{"one changed byte in an entry", with(entryLine(14), strings.Replace(lines[entryLine(14)], "batch-14", "batch-15", 1)), 14},
		{"a changed decision", with(entryLine(15), strings.Replace(lines[entryLine(15)], `"effect":"deny"`, `"effect":"allow"`, 1)), 15},
		{"whitespace in an entry", with(entryLine(12), strings.Replace(lines[entryLine(12)], `"action":`, `"action": `, 1)), 12},
		{"a deleted entry", join(append(append([]string(nil), lines[:entryLine(17)]...), lines[entryLine(17)+1:]...)), 17},
		{"two entries swapped", func() []byte {
			ls := append([]string(nil), lines...)
			ls[entryLine(20)], ls[entryLine(21)] = ls[entryLine(21)], ls[entryLine(20)]
			return join(ls)
		}(), 20},
		{"a truncated tail", join(lines[:entryLine(26)]), 26},
		{"a cut last line", join(lines)[:len(b)-40], 29},
		{"an extra entry", join(append(append([]string(nil), lines...), lines[entryLine(29)])), 30},
		{"a modified proof hash", func() []byte {
			l := lines[entryLine(18)]
			i := strings.Index(l, `"proof":["`) + 10
			c := byte('0')
			if l[i] == '0' {
				c = '1'
			}
			return with(entryLine(18), l[:i]+string(c)+l[i+1:])
		}(), 18},
		{"a missing proof hash", with(entryLine(19), strings.Replace(lines[entryLine(19)], `"proof":["`+strings.Split(strings.Split(lines[entryLine(19)], `"proof":["`)[1], `"`)[0]+`",`, `"proof":[`, 1)), 19},
		{"an extra proof hash", with(entryLine(22), strings.Replace(lines[entryLine(22)], `"proof":[`, `"proof":["`+strings.Repeat("0", 64)+`",`, 1)), 22},
		{"a forged checkpoint signature", with(0, forgeHeader(t, lines[0])), 10},
		{"a changed checkpoint size", with(0, strings.Replace(lines[0], `\n35\n`, `\n36\n`, 1)), 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := VerifyExport(bytes.NewReader(c.file), l.Verifier())
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("VerifyExport = %v, want a *VerifyError", err)
			}
			t.Log(err)
			if ve.Seq != c.seq {
				t.Fatalf("first bad entry %d, want %d", ve.Seq, c.seq)
			}
		})
	}
	if _, err := VerifyExport(strings.NewReader("not an export\n"), l.Verifier()); !errors.Is(err, ErrMalformedExport) {
		t.Fatalf("VerifyExport(garbage) = %v", err)
	}
}

// forgeHeader changes one byte of the signature in an export's header line.
func forgeHeader(t *testing.T, line string) string {
	t.Helper()
	var h exportHeader
	if err := json.Unmarshal([]byte(line), &h); err != nil {
		t.Fatal(err)
	}
	b := []byte(h.Checkpoint)
	i := len(b) - 10
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	h.Checkpoint = string(b)
	out, _ := json.Marshal(h)
	return string(out) + "\n"
}

func FuzzVerifyExport(f *testing.F) {
	ctx := context.Background()
	l, db, _ := testLog(f)
	appendN(f, l, db, 0, 5)
	if _, err := l.Checkpoint(ctx); err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := Export(ctx, db, time.Time{}, time.Time{}, &buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("{}\n"))
	v := l.Verifier()
	f.Fuzz(func(t *testing.T, b []byte) {
		sum, err := VerifyExport(bytes.NewReader(b), v)
		if err == nil && sum.Checkpoint.Origin != v.Name() {
			t.Fatalf("verified an export of log %q", sum.Checkpoint.Origin)
		}
	})
}
