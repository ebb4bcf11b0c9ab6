// Package adapters reads agencies' exports — CSV (UTF-8 or GBK/GB18030),
// XLSX and JSON Lines — and turns them into rows of a canonical dataset,
// validated and normalised by the schema package, ready to be sealed and
// pushed to the gateway.
//
// A Reader maps an export's columns onto the dataset's fields by their
// headers: the dataset's own Chinese and English aliases, the extra names
// an agency's system uses (an Agency, see the police, court, medins and hrss
// packages) and the agency's own mapping file (LoadMapping). It finds the
// header row even below a title row, reads the file as a stream in bounded
// memory, and reports every bad header and every bad value as a Problem
// naming the file, the line and the field — never the value itself, which
// may be personal data. No row is dropped silently: a row with problems is
// returned with them.
//
// It is not the push client (adapters/client) and it does not seal, sign or
// send anything; it does not know the gateway's internals or storage.
package adapters

//go:generate go run gensamples.go

import (
	"errors"
	"strconv"

	"github.com/qiao-exchange/qiao/schema"
)

// Options adjust how Open reads an export. The zero value reads the first
// sheet of a workbook and matches columns by the dataset's aliases only.
type Options struct {
	// Sheet names the worksheet of an XLSX file to read; empty means the
	// first. It is ignored for other formats.
	Sheet string
	// Mapping is the agency's own column names (LoadMapping). It takes
	// precedence over the Agency's aliases and the dataset's.
	Mapping Mapping
	// Agency adds the column names and value quirks of an agency's systems,
	// e.g. police.Agency. Nil means none.
	Agency *Agency
}

// Agency holds what one agency's systems do differently from the canonical
// datasets: extra header names, columns its exports carry that no dataset
// field needs, and fixes of raw values applied before validation.
type Agency struct {
	// Name is the agency kind: police, court, medins, hrss.
	Name string
	// Aliases maps a dataset ID to the export headers of this agency's
	// systems and the canonical field each stands for. They are compared as
	// schema.MatchHeader compares (blanks, case, full-width forms ignored)
	// and take precedence over the dataset's own aliases.
	Aliases map[string]map[string]string
	// Ignore maps a dataset ID, or "*" for every dataset, to the headers of
	// columns that are dropped: present in the agency's exports but not part
	// of the dataset (序号, 性别, 户籍地址, …). A column that neither matches
	// a field nor is ignored is an unknown column, and the file cannot be
	// pushed until it is mapped or ignored.
	Ignore map[string][]string
	// Fix, if not nil, adjusts a row's raw values before they are
	// validated: derives a value the export lacks, rewrites a system's own
	// codes into the forms the schema accepts. It must not log the values.
	Fix func(r *Record)
}

// Record is one row's raw values, by canonical field name, as an Agency's
// Fix sees them before validation.
type Record struct {
	ds     *schema.Dataset
	values []string
}

// Dataset returns the dataset the row belongs to.
func (r *Record) Dataset() *schema.Dataset { return r.ds }

// Get returns the raw value of a field; "" when the export has no column for
// it, leaves it empty, or the dataset has no such field.
func (r *Record) Get(field string) string {
	if i := r.ds.FieldIndex(field); i >= 0 {
		return r.values[i]
	}
	return ""
}

// Set replaces the raw value of a field. Setting a field the dataset does not
// have does nothing.
func (r *Record) Set(field, value string) {
	if i := r.ds.FieldIndex(field); i >= 0 {
		r.values[i] = value
	}
}

// Row is one record of an export, normalised.
type Row struct {
	// Line is where the record is in the file: the physical line of a CSV
	// file (1-based, header and title lines counted; the first line of a
	// record that spans several), the row number of the worksheet, or the
	// line of a JSON Lines file.
	Line int
	// Values are the canonical values in the order of the dataset's Fields.
	// When Next also returned problems, a rejected value is "" here and the
	// row is for reporting only; it is nil when the row could not be mapped
	// at all.
	Values []string
}

// Problem is one thing wrong with an export: a header that cannot be mapped,
// or a value that is not valid. It never contains a value of the file, only
// its place and what is wrong.
type Problem struct {
	// File is the path the export was opened with.
	File string
	// Line is where the problem is, counted as Row.Line is; always ≥ 1.
	Line int
	// Column is the header of the column as the file writes it; empty when
	// the problem is not about one column.
	Column string
	// Field is the canonical field name; empty when the column matches none.
	Field string
	// Reason says what is wrong.
	Reason string
}

// Error formats the problem as "exports/x.csv:12: column 身份证号
// (id_number): invalid resident ID number: check digit is wrong".
func (p Problem) Error() string {
	s := p.File
	if p.Line > 0 { // 0: the file as a whole
		s += ":" + strconv.Itoa(p.Line)
	}
	s += ": "
	switch {
	case p.Column != "" && p.Field != "":
		s += "column " + p.Column + " (" + p.Field + "): "
	case p.Column != "":
		s += "column " + p.Column + ": "
	case p.Field != "":
		s += "field " + p.Field + ": "
	}
	return s + p.Reason
}

// Unwrap returns ErrProblem.
func (p Problem) Unwrap() error { return ErrProblem }

// ErrProblem is wrapped by every Problem: the export holds something that
// cannot be pushed as it is. Report it to whoever produced the export, who
// fixes the file, the mapping or the agency's system; reading again will not
// help.
var ErrProblem = errors.New("problem in export")

// ErrNoHeader is returned by Open when none of the first rows of a file is
// a header of the dataset: the file is of another dataset, or its columns
// need a mapping file.
var ErrNoHeader = errors.New("no header row of the dataset")

// ErrUnsupportedFormat is returned by Open for a file that is not .csv,
// .xlsx (or .xlsm) or .jsonl (or .ndjson). An .xls workbook must be saved
// as .xlsx first.
var ErrUnsupportedFormat = errors.New("unsupported export format")

// ErrInvalidMapping is wrapped by errors about a mapping file or an Agency
// whose columns map to fields the dataset does not have. The operator fixes
// the mapping file; nothing can be read until it is fixed.
var ErrInvalidMapping = errors.New("invalid column mapping")
