package adapters

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"
)

// xlsxOptions make excelize show dates as the schema reads them: the
// built-in short date format (14), which Excel shows in the reader's locale,
// as yyyy-mm-dd, and the other built-in formats as Chinese Excel shows them.
var xlsxOptions = excelize.Options{
	ShortDatePattern: "yyyy-mm-dd",
	CultureInfo:      excelize.CultureNameZhCN,
	// Bounds what the worksheets may take on disk once unzipped: a sheet of
	// the 1,048,576 rows XLSX allows, with text in a dozen columns, is
	// well below it.
	UnzipSizeLimit: 4 << 30,
}

// xlsxSource streams the rows of one worksheet. excelize keeps worksheets
// above a few MiB in a temporary file and reads them with an XML decoder, so
// memory does not grow with the number of rows; the shared-string table is
// read whole.
type xlsxSource struct {
	f    *excelize.File
	rows *excelize.Rows
	row  int
}

// maxPartSize bounds the uncompressed size of the parts of a workbook other
// than its worksheets and shared strings (styles, relationships, …), which
// excelize reads whole into memory allocated at the size the archive
// declares: a damaged or hostile file could otherwise claim gigabytes.
const maxPartSize = 64 << 20

// openXLSX opens a workbook from a file or, when path is empty, from r.
func openXLSX(path string, r io.Reader, sheet string) (*xlsxSource, error) {
	var (
		f   *excelize.File
		err error
	)
	if path != "" {
		if err := checkParts(path, nil); err != nil {
			return nil, err
		}
		f, err = excelize.OpenFile(path, xlsxOptions)
	} else {
		data, rerr := io.ReadAll(r)
		if rerr != nil {
			return nil, rerr
		}
		if err := checkParts("", data); err != nil {
			return nil, err
		}
		f, err = excelize.OpenReader(bytes.NewReader(data), xlsxOptions)
	}
	if err != nil {
		return nil, fmt.Errorf("not a readable XLSX workbook: %w", err)
	}
	sheets := f.GetSheetList()
	if sheet == "" {
		if len(sheets) == 0 {
			_ = f.Close()
			return nil, fmt.Errorf("the workbook has no worksheet")
		}
		sheet = sheets[0]
	}
	rows, err := f.Rows(sheet)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("worksheet %q (the workbook has %s): %w", sheet, strings.Join(sheets, ", "), err)
	}
	return &xlsxSource{f: f, rows: rows}, nil
}

// checkParts refuses a workbook, from a file or from data, with a part
// excelize would read whole that is larger than maxPartSize.
func checkParts(path string, data []byte) error {
	var zr *zip.Reader
	if path != "" {
		rc, err := zip.OpenReader(path)
		if err != nil {
			return fmt.Errorf("not a readable XLSX workbook: %w", err)
		}
		defer rc.Close()
		zr = &rc.Reader
	} else {
		var err error
		if zr, err = zip.NewReader(bytes.NewReader(data), int64(len(data))); err != nil {
			return fmt.Errorf("not a readable XLSX workbook: %w", err)
		}
	}
	for _, f := range zr.File {
		// Deflate expands at most 1032 times; a larger declared size is a
		// damaged header, and excelize would allocate it.
		if f.UncompressedSize64 > 1032*f.CompressedSize64+4096 || (f.Method == zip.Store && f.UncompressedSize64 != f.CompressedSize64) {
			return fmt.Errorf("not a readable XLSX workbook: part %s is damaged", f.Name)
		}
		name := strings.ToLower(strings.ReplaceAll(f.Name, "\\", "/"))
		if strings.HasPrefix(name, "xl/worksheets/sheet") || name == "xl/sharedstrings.xml" {
			continue // streamed through a temporary file when large
		}
		if f.UncompressedSize64 > maxPartSize {
			return fmt.Errorf("not a readable XLSX workbook: part %s is larger than %d MiB", f.Name, maxPartSize>>20)
		}
	}
	return nil
}

func (s *xlsxSource) next() (int, []string, error) {
	// Rows.Next is true once per row number, including rows the sheet does
	// not store, so counting calls gives the row number.
	for s.rows.Next() {
		s.row++
		cells, err := s.rows.Columns()
		if err != nil {
			return s.row, nil, &rowError{line: s.row, reason: "the row cannot be read from the worksheet"}
		}
		if len(cells) == 0 {
			continue
		}
		return s.row, cells, nil
	}
	if err := s.rows.Error(); err != nil {
		return 0, nil, err
	}
	return 0, nil, io.EOF
}

func (s *xlsxSource) close() error {
	err := s.rows.Close()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return err
}
