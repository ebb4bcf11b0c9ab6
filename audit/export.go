package audit

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/qiao-exchange/qiao/audit/checkpoint"
	"github.com/qiao-exchange/qiao/audit/merkle"
	"github.com/qiao-exchange/qiao/store"
)

// ExportFormat is the "format" of an export's header line.
const ExportFormat = "qiao-audit-export/1"

// ErrMalformedExport means a file given to VerifyExport is not an export:
// no header, a line that is not JSON of the expected shape, or a line too
// long. Refuse it; if it came from the log, export again.
var ErrMalformedExport = errors.New("audit: malformed export")

// maxExportLine bounds one line of an export, in bytes.
const maxExportLine = 1 << 20

// exportHeader is the first line of an export.
type exportHeader struct {
	Checkpoint string `json:"checkpoint"`
	Count      uint64 `json:"count"`
	First      uint64 `json:"first"`
	Format     string `json:"format"`
}

// exportLine is every other line: one entry and its inclusion proof.
type exportLine struct {
	Entry json.RawMessage `json:"entry"`
	Proof []string        `json:"proof"`
}

// ExportSummary says what an export holds.
type ExportSummary struct {
	// First is the first entry's sequence number, Count the number of
	// entries; they are consecutive.
	First, Count uint64
	// Checkpoint is the signed checkpoint every proof leads to.
	Checkpoint checkpoint.Checkpoint
}

// Export writes to w the entries logged in [from, to) that the latest
// stored checkpoint covers, with that checkpoint and an inclusion proof per
// entry, so that VerifyExport can check them offline. The entries written
// are consecutive — from the first logged at or after from to the last
// logged before to — so that a removed line is noticed. A zero from or to
// leaves that end open. It returns ErrNoCheckpoint if the log has no
// checkpoint. docs/audit.md specifies the format.
func Export(ctx context.Context, db *store.DB, from, to time.Time, w io.Writer) (ExportSummary, error) {
	var sum ExportSummary
	err := db.InReadTx(ctx, func(tx *store.Tx) error {
		cp, err := latestCheckpoint(ctx, tx)
		if err != nil {
			return err
		}
		sum.Checkpoint = cp.Checkpoint
		lo, hi := int64(0), int64(1)<<62
		if !from.IsZero() {
			lo = from.UnixMicro()
		}
		if !to.IsZero() {
			hi = to.UnixMicro()
		}
		var first, last sql.NullInt64
		if err := tx.QueryRowContext(ctx,
			"SELECT MIN(seq), MAX(seq) FROM audit_entries WHERE logged_at >= $1 AND logged_at < $2 AND seq < $3",
			lo, hi, int64(cp.Size)).Scan(&first, &last); err != nil {
			return fmt.Errorf("audit: export: %w", err)
		}
		if first.Valid {
			sum.First, sum.Count = uint64(first.Int64), uint64(last.Int64-first.Int64+1)
		}
		bw := bufio.NewWriter(w)
		hdr, _ := json.Marshal(exportHeader{Checkpoint: string(cp.Note), Count: sum.Count, First: sum.First, Format: ExportFormat})
		bw.Write(hdr)
		bw.WriteByte('\n')
		if sum.Count > 0 {
			rows, err := tx.QueryContext(ctx, "SELECT seq, entry FROM audit_entries WHERE seq >= $1 AND seq <= $2 ORDER BY seq",
				first.Int64, last.Int64)
			if err != nil {
				return fmt.Errorf("audit: export: %w", err)
			}
			type row struct {
				seq uint64
				enc string
			}
			var all []row
			for rows.Next() {
				var r row
				var seq int64
				if err := rows.Scan(&seq, &r.enc); err != nil {
					rows.Close()
					return fmt.Errorf("audit: export: %w", err)
				}
				r.seq = uint64(seq)
				all = append(all, r)
			}
			if err := closeRows(rows); err != nil {
				return err
			}
			for i, r := range all {
				if r.seq != sum.First+uint64(i) {
					return &VerifyError{Seq: sum.First + uint64(i), Reason: "entry is missing from the database"}
				}
				proof, err := merkle.InclusionProof(ctx, dbHashes{tx}, r.seq, cp.Size)
				if err != nil {
					return fmt.Errorf("audit: export: proof of entry %d: %w", r.seq, err)
				}
				hs := make([]string, len(proof))
				for k, h := range proof {
					hs[k] = h.String()
				}
				// The encoder must not escape HTML characters: the entry's
				// bytes are its leaf and go out unchanged.
				enc := json.NewEncoder(bw)
				enc.SetEscapeHTML(false)
				if err := enc.Encode(exportLine{Entry: json.RawMessage(r.enc), Proof: hs}); err != nil {
					return &VerifyError{Seq: r.seq, Reason: "stored entry is not JSON", Err: err}
				}
			}
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("audit: export: %w", err)
		}
		return nil
	})
	return sum, err
}

// VerifyExport checks an export offline with the log's verifier key: the
// checkpoint's signature and origin, and for each entry its canonical
// encoding, its sequence number (consecutive from the header's first) and
// its inclusion proof against the checkpoint; then that the header's count
// of entries is there, no more and no fewer. A file that is not an export
// is refused with ErrMalformedExport; an export that does not verify with a
// *VerifyError naming the first bad sequence number.
func VerifyExport(r io.Reader, v *checkpoint.Verifier) (ExportSummary, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	line, err := readLine(br)
	if err != nil {
		return ExportSummary{}, fmt.Errorf("%w: header: %w", ErrMalformedExport, err)
	}
	var hdr exportHeader
	if err := strictJSON(line, &hdr); err != nil || hdr.Format != ExportFormat {
		return ExportSummary{}, fmt.Errorf("%w: header is not that of %s", ErrMalformedExport, ExportFormat)
	}
	sum := ExportSummary{First: hdr.First, Count: hdr.Count}
	c, err := checkpoint.Open([]byte(hdr.Checkpoint), v)
	if err != nil {
		return sum, &VerifyError{Seq: hdr.First, Reason: "checkpoint does not verify", Err: err}
	}
	if c.Origin != v.Name() {
		return sum, &VerifyError{Seq: hdr.First, Reason: fmt.Sprintf("checkpoint of log %q, want %q", c.Origin, v.Name())}
	}
	sum.Checkpoint = c
	if hdr.Count > 0 && (hdr.First+hdr.Count < hdr.First || hdr.First+hdr.Count > c.Size) {
		return sum, &VerifyError{Seq: min(hdr.First, c.Size), Reason: fmt.Sprintf("header claims entries %d..%d, the checkpoint has %d", hdr.First, hdr.First+hdr.Count-1, c.Size)}
	}
	for i := uint64(0); ; i++ {
		seq := hdr.First + i
		line, err := readLine(br)
		if errors.Is(err, io.EOF) {
			if i < hdr.Count {
				return sum, &VerifyError{Seq: seq, Reason: fmt.Sprintf("export ends after %d of %d entries", i, hdr.Count)}
			}
			return sum, nil
		}
		if err != nil {
			return sum, fmt.Errorf("%w: line %d: %w", ErrMalformedExport, i+2, err)
		}
		if i >= hdr.Count {
			return sum, &VerifyError{Seq: seq, Reason: fmt.Sprintf("more than the %d entries the header counts", hdr.Count)}
		}
		var el exportLine
		if err := strictJSON(line, &el); err != nil {
			return sum, &VerifyError{Seq: seq, Reason: "line is not an entry and its proof", Err: err}
		}
		e, err := ParseEntry(el.Entry)
		if err != nil {
			return sum, &VerifyError{Seq: seq, Reason: "entry", Err: err}
		}
		if e.Seq != seq {
			return sum, &VerifyError{Seq: seq, Reason: fmt.Sprintf("entry %d found where %d belongs", e.Seq, seq)}
		}
		proof := make([]merkle.Hash, len(el.Proof))
		for k, s := range el.Proof {
			if proof[k], err = parseHash(s); err != nil {
				return sum, &VerifyError{Seq: seq, Reason: "proof", Err: err}
			}
		}
		if err := merkle.VerifyInclusion(seq, c.Size, merkle.LeafHash(el.Entry), proof, c.Hash); err != nil {
			return sum, &VerifyError{Seq: seq, Reason: "inclusion proof", Err: err}
		}
	}
}

// readLine reads one line without its newline; io.EOF at the end.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err != nil {
			if errors.Is(err, io.EOF) && len(line) > 0 {
				return line, nil
			}
			return nil, err
		}
		line = append(line, chunk...)
		if len(line) > maxExportLine {
			return nil, fmt.Errorf("line longer than %d bytes", maxExportLine)
		}
		if !isPrefix {
			return line, nil
		}
	}
}

// strictJSON decodes one JSON value, refusing unknown fields and trailing
// data.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}
