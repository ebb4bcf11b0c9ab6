package client

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
)

// Report writes problems as a CSV file that Excel opens as UTF-8 (it starts
// with a byte-order mark): one line per problem with its file, line,
// column, field and reason. A problem carries no value, so neither does the
// report: it is safe to hand to whoever fixes the export.
type Report struct {
	w *csv.Writer
	n int
}

// reportHeader is the report's first line, bilingual for agency staff.
var reportHeader = []string{"文件 file", "行号 line", "列 column", "字段 field", "问题 reason"}

// NewReport writes the byte-order mark and the header to w.
func NewReport(w io.Writer) (*Report, error) {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return nil, fmt.Errorf("client: report: %w", err)
	}
	r := &Report{w: csv.NewWriter(w)}
	r.w.UseCRLF = true
	if err := r.w.Write(reportHeader); err != nil {
		return nil, fmt.Errorf("client: report: %w", err)
	}
	return r, nil
}

// Write adds one problem.
func (r *Report) Write(p Problem) error {
	line := ""
	if p.Line > 0 {
		line = strconv.Itoa(p.Line)
	}
	r.n++
	if err := r.w.Write([]string{cell(p.File), line, cell(p.Column), cell(p.Field), cell(p.Reason)}); err != nil {
		return fmt.Errorf("client: report: %w", err)
	}
	return nil
}

// Len returns the number of problems written.
func (r *Report) Len() int { return r.n }

// Flush writes what is buffered and returns the first error met.
func (r *Report) Flush() error {
	r.w.Flush()
	if err := r.w.Error(); err != nil {
		return fmt.Errorf("client: report: %w", err)
	}
	return nil
}

// cell keeps a spreadsheet from reading text as a formula: a column header
// of an export could start with "=".
func cell(s string) string {
	if s != "" {
		switch s[0] {
		case '=', '+', '-', '@', '\t', '\r':
			return "'" + s
		}
	}
	return s
}
