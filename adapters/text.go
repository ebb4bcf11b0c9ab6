package adapters

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
)

// source yields the rows of an export as cells, one at a time.
type source interface {
	// next returns the next row and the line it starts on; io.EOF at the
	// end. A *rowError is a row that could not be split into cells; reading
	// continues after it. Any other error ends the reading.
	next() (line int, cells []string, err error)
	close() error
}

var (
	_ source = (*csvSource)(nil)
	_ source = (*jsonlSource)(nil)
	_ source = (*xlsxSource)(nil)
)

// rowError is a row of the file that cannot be read as cells.
type rowError struct {
	line   int
	reason string
}

func (e *rowError) Error() string { return e.reason }

// sniffSize is how much of a text file is looked at to tell its encoding.
const sniffSize = 64 << 10

// Encodings a text export can be in.
const (
	encUTF8    = "UTF-8"
	encGB18030 = "GB18030"
)

// decodeText returns a reader of r's text as UTF-8: the UTF-8 byte-order
// mark removed, and GBK or GB18030 (both read as GB18030, GBK's superset)
// converted. A file is read as GB18030 when its first 64 KiB are not valid
// UTF-8 and do not look like UTF-8 with a few broken bytes. Bytes that are
// not valid in the detected encoding come out as invalid UTF-8 or as U+FFFD;
// badText finds them in the cells.
func decodeText(r io.Reader) (io.Reader, string, error) {
	br := bufio.NewReaderSize(r, sniffSize)
	head, err := br.Peek(sniffSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, "", err
	}
	if bytes.HasPrefix(head, []byte("\xEF\xBB\xBF")) {
		_, _ = br.Discard(3)
		return br, encUTF8, nil
	}
	if looksUTF8(head) {
		return br, encUTF8, nil
	}
	return transform.NewReader(br, simplifiedchinese.GB18030.NewDecoder()), encGB18030, nil
}

// looksUTF8 reports whether a sample of a file is UTF-8: valid, or with
// invalid bytes few beside its valid multi-byte characters (a UTF-8 file
// with broken bytes, which must be reported, not converted). GBK text is
// almost never valid UTF-8: its two-byte characters rarely form UTF-8
// sequences, so such a sample has many invalid bytes and few valid runes.
func looksUTF8(b []byte) bool {
	var multi, invalid int
	for len(b) > 0 {
		if b[0] < utf8.RuneSelf {
			b = b[1:]
			continue
		}
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size <= 1 {
			if !utf8.FullRune(b) && len(b) < utf8.UTFMax {
				break // a character cut by the end of the sample
			}
			invalid++
		} else {
			multi++
		}
		b = b[size:]
	}
	return invalid == 0 || multi >= 8*invalid
}

// badText reports whether a cell holds bytes that were not valid in the
// file's encoding: invalid UTF-8, or U+FFFD, which the GB18030 decoder puts
// in place of an invalid sequence.
func badText(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return !utf8.ValidString(s[i:]) || strings.ContainsRune(s[i:], utf8.RuneError)
		}
	}
	return false
}

const reasonUndecodable = "holds bytes that are not valid text in the file's encoding (UTF-8 or GBK/GB18030); the file is damaged or was converted wrongly"

// csvSource reads comma-separated values.
type csvSource struct {
	r *csv.Reader
	c io.Closer
}

func newCSV(r io.Reader, c io.Closer) (*csvSource, error) {
	text, _, err := decodeText(r)
	if err != nil {
		return nil, err
	}
	cr := csv.NewReader(text)
	cr.FieldsPerRecord = -1 // title rows have fewer cells; the reader checks counts
	cr.ReuseRecord = true
	return &csvSource{r: cr, c: c}, nil
}

func (s *csvSource) next() (int, []string, error) {
	rec, err := s.r.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			reason := "a quoted cell is not closed, or a quote inside it is not doubled"
			if errors.Is(pe.Err, csv.ErrBareQuote) {
				reason = "a quote inside a cell that is not quoted; quote the cell and double the quote"
			}
			return pe.StartLine, nil, &rowError{line: pe.Line, reason: reason}
		}
		return 0, nil, err
	}
	line, _ := s.r.FieldPos(0)
	return line, rec, nil
}

func (s *csvSource) close() error {
	if s.c == nil {
		return nil
	}
	return s.c.Close()
}

// maxJSONLine bounds a line of a JSON Lines file, and so the memory one
// record takes.
const maxJSONLine = 16 << 20

// jsonlSource reads JSON Lines: one object per line, its keys the headers.
// Keys are columns in the order they are first seen; a row's cells are
// aligned with them.
type jsonlSource struct {
	sc   *bufio.Scanner
	c    io.Closer
	line int
	keys []string       // every key seen, in order
	col  map[string]int // key → index in keys
	seen []bool         // keys in the current object
}

func newJSONL(r io.Reader, c io.Closer) (*jsonlSource, error) {
	text, _, err := decodeText(r)
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(text)
	sc.Buffer(make([]byte, 0, 64<<10), maxJSONLine)
	return &jsonlSource{sc: sc, c: c, col: map[string]int{}}, nil
}

func (s *jsonlSource) next() (int, []string, error) {
	for s.sc.Scan() {
		s.line++
		b := bytes.TrimSpace(s.sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if !utf8.Valid(b) || bytes.ContainsRune(b, utf8.RuneError) {
			return s.line, nil, &rowError{line: s.line, reason: "the line " + reasonUndecodable}
		}
		known := len(s.keys)
		cells, reason := s.object(b)
		if reason != "" {
			for _, k := range s.keys[known:] { // keys of a line that is not read are not columns
				delete(s.col, k)
			}
			s.keys = s.keys[:known]
			return s.line, nil, &rowError{line: s.line, reason: reason}
		}
		return s.line, cells, nil
	}
	if err := s.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return 0, nil, errors.New("line " + itoa(s.line+1) + " is longer than 16 MiB")
		}
		return 0, nil, err
	}
	return 0, nil, io.EOF
}

// object splits one line into cells aligned with s.keys, adding the keys
// seen for the first time. It returns a reason when the line is not a flat
// JSON object; the reason never quotes the line.
func (s *jsonlSource) object(b []byte) ([]string, string) {
	const notObject = "not a JSON object of strings, numbers, booleans and nulls"
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, notObject
	}
	clear(s.seen)
	cells := make([]string, len(s.keys))
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, notObject
		}
		key, ok := t.(string)
		if !ok {
			return nil, notObject
		}
		i, ok := s.col[key]
		if !ok {
			i = len(s.keys)
			s.col[key] = i
			s.keys = append(s.keys, key)
			cells = append(cells, "")
		}
		for len(s.seen) < len(s.keys) {
			s.seen = append(s.seen, false)
		}
		if s.seen[i] {
			if looksLikeValue(key) {
				return nil, "a key appears twice"
			}
			return nil, "key " + quoteHeader(key) + " appears twice"
		}
		s.seen[i] = true
		t, err = dec.Token()
		if err != nil {
			return nil, notObject
		}
		switch v := t.(type) {
		case string:
			cells[i] = v
		case json.Number:
			cells[i] = string(v)
		case bool:
			cells[i] = "false"
			if v {
				cells[i] = "true"
			}
		case nil:
		default:
			return nil, "the value of key " + quoteHeader(key) + " is an object or array, not a single value"
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, notObject
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, "holds more than one JSON value"
	}
	return cells, ""
}

func (s *jsonlSource) close() error {
	if s.c == nil {
		return nil
	}
	return s.c.Close()
}

// quoteHeader shows a header or key in a message; it is a column name, not
// a value, so it may be shown.
func quoteHeader(h string) string {
	if len(h) > 64 {
		h = h[:64] + "…"
	}
	return "「" + strings.ToValidUTF8(h, "\uFFFD") + "」"
}
