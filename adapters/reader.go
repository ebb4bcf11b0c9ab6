package adapters

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/qiao-exchange/qiao/schema"
)

// maxHeaderSearch is how many non-blank rows at the top of a file are
// searched for the header row: title rows, a date of export, notes.
const maxHeaderSearch = 20

// What a column holds, where it holds no field.
const (
	colUnknown = -1 // a header that matches nothing: a header problem
	colIgnored = -2 // dropped by the Agency or the mapping
	colBlank   = -3 // no header: must stay empty
)

type format int

const (
	formatCSV format = iota
	formatXLSX
	formatJSONL
)

// Reader reads the records of one export as rows of a dataset. It is not
// safe for concurrent use.
type Reader struct {
	name   string
	ds     *schema.Dataset
	fix    func(*Record)
	format format
	src    source
	match  matcher

	headerLine int
	header     []Problem
	cols       []column // by column of the file
	fieldCol   []int    // field index → column index, or -1
	pending    []rawRow // rows read while looking for the header

	values []string // raw values of the current row, by field
	bad    []bool   // fields of the current row already reported
	rowCol []int    // field index → the column of the current row holding it, or -1
	rec    Record   // what fix sees: values
}

type column struct {
	header string // as the file writes it
	field  int    // index in the dataset's Fields, or colUnknown, colIgnored, colBlank
}

type rawRow struct {
	line  int
	cells []string
	err   error
}

// Open opens an export of the dataset ds and maps its columns: a .csv file
// (UTF-8 with or without byte-order mark, or GBK/GB18030), an .xlsx
// workbook (the first worksheet or opts.Sheet) or a .jsonl file (one JSON
// object per line, its keys the headers).
//
// The header row is the first of the top rows whose cells mostly match the
// dataset's headers; rows above it (titles, notes) are skipped. Problems
// with the header — a column that matches no field and is not ignored, two
// columns of one field, a required field without a column — are returned
// by Header; a file with header problems must not be pushed, but its rows
// can still be read and checked. A JSON Lines file has no header row: the
// keys of its first object are checked as its header, and a key first seen
// later is reported with its line. Open returns an error wrapping ErrNoHeader
// when no header row is found, ErrUnsupportedFormat for another kind of
// file, ErrInvalidMapping when opts map a column to a field ds lacks.
func Open(path string, ds *schema.Dataset, opts Options) (*Reader, error) {
	var f format
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		f = formatCSV
	case ".xlsx", ".xlsm":
		f = formatXLSX
	case ".jsonl", ".ndjson":
		f = formatJSONL
	case ".xls":
		return nil, fmt.Errorf("adapters: %s: %w: an .xls workbook must be saved as .xlsx", path, ErrUnsupportedFormat)
	default:
		return nil, fmt.Errorf("adapters: %s: %w: use .csv, .xlsx or .jsonl", path, ErrUnsupportedFormat)
	}
	var (
		src source
		err error
	)
	if f == formatXLSX {
		src, err = openXLSX(path, nil, opts.Sheet)
	} else {
		file, oerr := os.Open(path)
		if oerr != nil {
			return nil, fmt.Errorf("adapters: %w", oerr)
		}
		if f == formatCSV {
			src, err = newCSV(file, file)
		} else {
			src, err = newJSONL(file, file)
		}
		if err != nil {
			_ = file.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("adapters: %s: %w", path, err)
	}
	r, err := newReader(path, ds, opts, f, src)
	if err != nil {
		_ = src.close()
		return nil, err
	}
	return r, nil
}

// newReader maps the columns of src and positions it on the first record.
func newReader(name string, ds *schema.Dataset, opts Options, f format, src source) (*Reader, error) {
	m, err := newMatcher(ds, opts)
	if err != nil {
		return nil, err
	}
	r := &Reader{
		name:     name,
		ds:       ds,
		format:   f,
		src:      src,
		match:    m,
		fieldCol: slices.Repeat([]int{-1}, len(ds.Fields)),
		values:   make([]string, len(ds.Fields)),
		bad:      make([]bool, len(ds.Fields)),
		rowCol:   make([]int, len(ds.Fields)),
	}
	if opts.Agency != nil {
		r.fix = opts.Agency.Fix
	}
	if f == formatJSONL {
		return r, r.jsonlHeader()
	}
	return r, r.findHeader()
}

// findHeader reads the top rows of a CSV file or worksheet and takes as the
// header the first whose non-blank cells mostly match fields (or ignored
// columns); failing that, the one with the most matches.
func (r *Reader) findHeader() error {
	need := min(2, len(r.ds.Fields))
	best, bestScore := -1, 0
	var window []rawRow
	for len(window) < maxHeaderSearch {
		line, cells, err := r.src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *rowError
		if errors.As(err, &re) {
			window = append(window, rawRow{line: line, err: err})
			continue
		}
		if err != nil {
			return fmt.Errorf("adapters: %s: %w", r.name, err)
		}
		if blank(cells) {
			continue
		}
		window = append(window, rawRow{line: line, cells: slices.Clone(cells)})
		matched, nonBlank := 0, 0
		for _, c := range cells {
			if strings.TrimSpace(c) == "" {
				continue
			}
			nonBlank++
			if k := r.match.column(c); k != colUnknown && k != colBlank {
				matched++
			}
		}
		if matched > bestScore {
			best, bestScore = len(window)-1, matched
		}
		if matched >= need && 2*matched > nonBlank {
			best = len(window) - 1
			break
		}
	}
	if best < 0 {
		return fmt.Errorf("adapters: %s: %w %s (%s) in its first %d rows; check the dataset, or map the columns in a mapping file", r.name, ErrNoHeader, r.ds.ID, r.ds.TitleZh, maxHeaderSearch)
	}
	h := window[best]
	r.headerLine = h.line
	r.header = r.addColumns(h.cells, h.line)
	r.header = append(r.header, r.missingRequired()...)
	r.pending = window[best+1:]
	return nil
}

// jsonlHeader maps the keys of the first object of a JSON Lines file; keys
// first seen later are mapped as they come, and their problems reported with
// their row.
func (r *Reader) jsonlHeader() error {
	for {
		line, cells, err := r.src.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var re *rowError
		if errors.As(err, &re) {
			r.pending = append(r.pending, rawRow{line: line, err: err})
			continue
		}
		if err != nil {
			return fmt.Errorf("adapters: %s: %w", r.name, err)
		}
		r.pending = append(r.pending, rawRow{line: line, cells: cells})
		r.headerLine = line
		// A key an object lacks is an empty value of that row, reported
		// with it when the field is required.
		r.header = r.addColumns(r.src.(*jsonlSource).keys, line)
		return nil
	}
}

// addColumns maps further columns of the file, returning their problems.
// In a CSV file or worksheet two columns of one field are a problem of the
// header; in JSON Lines each object may spell its keys its own way, and two
// keys of one field are a problem of the object that has both.
func (r *Reader) addColumns(headers []string, line int) []Problem {
	var ps []Problem
	for _, h := range headers {
		h = strings.TrimSpace(h)
		c := column{header: h, field: r.match.column(h)}
		switch {
		case c.field == colUnknown && badText(h):
			ps = append(ps, Problem{File: r.name, Line: line, Reason: "a header " + reasonUndecodable})
		case c.field == colUnknown && looksLikeValue(h):
			ps = append(ps, Problem{File: r.name, Line: line,
				Reason: "the header of column " + itoa(len(r.cols)+1) + " matches no field of " + r.ds.ID + " and looks like a value, not a header, so it is not shown"})
		case c.field == colUnknown:
			ps = append(ps, Problem{File: r.name, Line: line, Column: h,
				Reason: "matches no field of " + r.ds.ID + " (" + r.ds.TitleZh + "); map it to a field in the mapping file, or to \"-\" to drop it"})
		case c.field >= 0 && r.fieldCol[c.field] >= 0 && r.format != formatJSONL:
			f := r.ds.Fields[c.field].Name
			ps = append(ps, Problem{File: r.name, Line: line, Column: h, Field: f,
				Reason: "column " + r.cols[r.fieldCol[c.field]].header + " is already this field; map one of them elsewhere or to \"-\" to drop it"})
			c.field = colUnknown // the first column holds the field
		case c.field >= 0 && r.fieldCol[c.field] < 0:
			r.fieldCol[c.field] = len(r.cols)
		}
		r.cols = append(r.cols, c)
	}
	return ps
}

// missingRequired reports the required fields no column holds.
func (r *Reader) missingRequired() []Problem {
	var ps []Problem
	for i := range r.ds.Fields {
		f := &r.ds.Fields[i]
		if !f.Required || r.fieldCol[i] >= 0 {
			continue
		}
		names := f.AliasesZh
		if len(names) > 4 {
			names = names[:4]
		}
		ps = append(ps, Problem{File: r.name, Line: r.headerLine, Field: f.Name,
			Reason: "required field has no column; headers it goes by include " + strings.Join(append(slices.Clone(names), f.Name), ", ")})
	}
	return ps
}

// Header returns the problems with the file's header row; the file must not
// be pushed while there are any. Their Line is the header's.
func (r *Reader) Header() []Problem { return slices.Clone(r.header) }

// Next returns the next record of the file, normalised, with every problem
// of its values; io.EOF after the last. Blank rows are skipped; any other
// row is returned, with problems when it has any, so that nothing is lost
// without a report. Other errors (a read error, a damaged workbook) end the
// reading.
func (r *Reader) Next() (Row, []Problem, error) {
	for {
		var (
			line  int
			cells []string
			err   error
		)
		if len(r.pending) > 0 {
			p := r.pending[0]
			r.pending = r.pending[1:]
			line, cells, err = p.line, p.cells, p.err
		} else {
			line, cells, err = r.src.next()
		}
		var re *rowError
		switch {
		case errors.As(err, &re):
			return Row{Line: re.line}, []Problem{{File: r.name, Line: re.line, Reason: re.reason}}, nil
		case errors.Is(err, io.EOF):
			return Row{}, nil, io.EOF
		case err != nil:
			return Row{}, nil, fmt.Errorf("adapters: %s: %w", r.name, err)
		}
		var ps []Problem
		if r.format == formatJSONL {
			if keys := r.src.(*jsonlSource).keys; len(keys) > len(r.cols) {
				ps = r.addColumns(keys[len(r.cols):], line)
			}
		}
		if blank(cells) && len(ps) == 0 {
			continue
		}
		return r.row(line, cells, ps)
	}
}

// row maps, fixes and validates one record.
func (r *Reader) row(line int, cells []string, ps []Problem) (Row, []Problem, error) {
	if r.format == formatCSV && len(cells) < len(r.cols) {
		ps = append(ps, Problem{File: r.name, Line: line,
			Reason: "the row has " + itoa(len(cells)) + " cells and the header " + itoa(len(r.cols)) + "; a line break or separator inside a cell that is not quoted?"})
		return Row{Line: line}, ps, nil
	}
	clear(r.values)
	clear(r.bad)
	for i := range r.rowCol {
		r.rowCol[i] = -1
	}
	var present []bool // JSON Lines: the keys this object has
	if r.format == formatJSONL {
		present = r.src.(*jsonlSource).seen
	}
	for i, c := range cells {
		if present != nil && (i >= len(present) || !present[i]) {
			continue
		}
		if i >= len(r.cols) {
			if strings.TrimSpace(c) != "" {
				ps = append(ps, Problem{File: r.name, Line: line,
					Reason: "a value in column " + itoa(i+1) + ", after the last column with a header"})
			}
			continue
		}
		col := r.cols[i]
		switch {
		case col.field == colIgnored || col.field == colUnknown:
			continue
		case col.field == colBlank:
			if strings.TrimSpace(c) != "" {
				ps = append(ps, Problem{File: r.name, Line: line,
					Reason: "a value in column " + itoa(i+1) + ", which has no header"})
			}
			continue
		case r.rowCol[col.field] >= 0:
			ps = append(ps, Problem{File: r.name, Line: line, Column: col.header, Field: r.ds.Fields[col.field].Name,
				Reason: "key " + quoteHeader(r.cols[r.rowCol[col.field]].header) + " is already this field"})
			continue
		}
		r.rowCol[col.field] = i
		if badText(c) {
			ps = append(ps, Problem{File: r.name, Line: line, Column: col.header,
				Field: r.ds.Fields[col.field].Name, Reason: reasonUndecodable})
			r.bad[col.field] = true
			continue
		}
		r.values[col.field] = c
	}
	if r.fix != nil {
		r.rec = Record{ds: r.ds, values: r.values}
		r.fix(&r.rec)
	}
	out, errs := r.ds.ValidateRow(r.values)
	for _, e := range errs {
		i := r.ds.FieldIndex(e.Field)
		if i >= 0 && r.bad[i] {
			continue
		}
		p := Problem{File: r.name, Line: line, Field: e.Field, Reason: e.Reason}
		if i >= 0 {
			if c := r.rowCol[i]; c >= 0 {
				p.Column = r.cols[c].header
			} else if c := r.fieldCol[i]; c >= 0 && r.format != formatJSONL {
				p.Column = r.cols[c].header
			}
			if r.format == formatXLSX && storedAsNumber(&r.ds.Fields[i], r.values[i]) {
				p.Reason += "; the workbook stores it as a number, which keeps only 15 digits: format the column as text"
			}
		}
		ps = append(ps, p)
	}
	return Row{Line: line, Values: out}, ps, nil
}

// storedAsNumber reports an identifier a spreadsheet turned into a number
// (4.11528198705061E+17), losing its last digits.
func storedAsNumber(f *schema.Field, v string) bool {
	switch f.Type {
	case schema.TypeIDNumber, schema.TypeIDOrCreditCode, schema.TypeCreditCode:
		return strings.ContainsAny(v, "Ee") && strings.Contains(v, "+")
	}
	return false
}

// looksLikeValue reports a header that may be a value — six digits in a
// row, as in an ID number, or a long text — which a Problem must not show:
// a JSON Lines file can put anything in its keys.
func looksLikeValue(h string) bool {
	digits := 0
	for _, c := range h {
		if c >= '0' && c <= '9' || c >= '０' && c <= '９' {
			if digits++; digits >= 6 {
				return true
			}
		} else {
			digits = 0
		}
	}
	return utf8.RuneCountInString(h) > 40
}

// Close releases the file.
func (r *Reader) Close() error { return r.src.close() }

func blank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

func itoa(n int) string { return strconv.Itoa(n) }

// matcher maps a header to what its column holds.
type matcher struct {
	ds      *schema.Dataset
	mapping map[string]int // header key → field index or colIgnored, from Options.Mapping
	agency  map[string]int // the same, from the Agency
}

func newMatcher(ds *schema.Dataset, opts Options) (matcher, error) {
	m := matcher{ds: ds, mapping: map[string]int{}, agency: map[string]int{}}
	var errs []error
	add := func(to map[string]int, what string, src map[string]string) {
		errs = append(errs, checkTargets(what, ds, src)...)
		for h, f := range src {
			if f == Ignored {
				to[headerKey(h)] = colIgnored
			} else if i := ds.FieldIndex(f); i >= 0 {
				to[headerKey(h)] = i
			}
		}
	}
	add(m.mapping, "mapping", opts.Mapping[ds.ID])
	if a := opts.Agency; a != nil {
		add(m.agency, "agency "+a.Name, a.Aliases[ds.ID])
		for _, id := range []string{"*", ds.ID} {
			for _, h := range a.Ignore[id] {
				if _, ok := m.agency[headerKey(h)]; !ok {
					m.agency[headerKey(h)] = colIgnored
				}
			}
		}
	}
	if len(errs) > 0 {
		return matcher{}, errors.Join(errs...)
	}
	return m, nil
}

// column returns the field index a header stands for, colIgnored, colBlank
// or colUnknown. The mapping file comes first, then the Agency, then the
// dataset's aliases.
func (m matcher) column(h string) int {
	k := headerKey(h)
	if k == "" {
		return colBlank
	}
	if i, ok := m.mapping[k]; ok {
		return i
	}
	if i, ok := m.agency[k]; ok {
		return i
	}
	if f, ok := schema.MatchHeader(m.ds, h); ok {
		return m.ds.FieldIndex(f)
	}
	return colUnknown
}
