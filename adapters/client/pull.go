package client

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
	"google.golang.org/protobuf/proto"

	"github.com/qiao-exchange/qiao/crypto/envelope"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
)

// PullContentType is the media type of a pulled envelope's payload.
const PullContentType = "application/x-protobuf; proto=qiao.exchange.v1.BatchPayload"

// Pulled is what one pull returned, opened.
type Pulled struct {
	// Dataset and ID name the pull: the grant and the pull's number.
	Dataset, ID string
	// Fields are the column names, Rows the values, masked as granted.
	Fields []string
	Rows   [][]string
	// Grant is the grant after the pull.
	Grant *exchangev1.Grant
}

// Pull pulls with a grant and opens the result: the envelope must be signed
// by the gateway and sealed to the client's encryption key.
func (c *Client) Pull(ctx context.Context, grantID string) (*Pulled, error) {
	resp, err := c.Access.Pull(ctx, &exchangev1.PullRequest{GrantId: grantID})
	if err != nil {
		return nil, err
	}
	return c.OpenPull(resp)
}

// OpenPull verifies and decrypts a Pull's response.
func (c *Client) OpenPull(resp *exchangev1.PullResponse) (*Pulled, error) {
	ad, body, err := envelope.Open(resp.GetEnvelope(), c.cfg.Enc.Key, c.cfg.GatewaySign.PublicKey())
	if err != nil {
		return nil, fmt.Errorf("client: opening the pulled envelope: %w", err)
	}
	if ad.ContentType != PullContentType {
		return nil, fmt.Errorf("client: pulled payload is %q, not %q", ad.ContentType, PullContentType)
	}
	var p exchangev1.BatchPayload
	if err := proto.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("client: decoding the pulled rows: %w", err)
	}
	out := &Pulled{Dataset: ad.Dataset, ID: ad.BatchID, Fields: p.GetFields(), Grant: resp.GetGrant()}
	for i, r := range p.GetRows() {
		if len(r.GetValues()) != len(out.Fields) {
			return nil, fmt.Errorf("client: pulled row %d has %d values for %d fields", i+1, len(r.GetValues()), len(out.Fields))
		}
		out.Rows = append(out.Rows, r.GetValues())
	}
	if int64(len(out.Rows)) != resp.GetRowCount() {
		return nil, fmt.Errorf("client: the gateway announced %d rows and sent %d", resp.GetRowCount(), len(out.Rows))
	}
	return out, nil
}

// Formats WritePulled writes.
const (
	FormatCSV   = "csv"
	FormatXLSX  = "xlsx"
	FormatJSONL = "jsonl"
)

// FormatOf returns the format a file name's extension names.
func FormatOf(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return FormatCSV, nil
	case ".xlsx":
		return FormatXLSX, nil
	case ".jsonl", ".ndjson":
		return FormatJSONL, nil
	}
	return "", fmt.Errorf("%s: the extension names no format: use .csv, .xlsx or .jsonl, or --format", path)
}

// WriteOptions say how WritePulled writes.
type WriteOptions struct {
	// Format is FormatCSV, FormatXLSX or FormatJSONL.
	Format string
	// GBK writes CSV in GB18030 (a superset of GBK) instead of UTF-8 with
	// a byte-order mark.
	GBK bool
}

// WritePulled writes p to path, which must not exist: a pull is never
// written over another file. A failed write leaves no file.
func WritePulled(p *Pulled, path string, opts WriteOptions) (err error) {
	if opts.GBK && opts.Format != FormatCSV {
		return errors.New("client: GBK is for CSV only")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	switch opts.Format {
	case FormatCSV:
		return writeCSV(f, p, opts.GBK)
	case FormatJSONL:
		return writeJSONL(f, p)
	case FormatXLSX:
		return writeXLSX(f, p)
	}
	return fmt.Errorf("client: format %q is not csv, xlsx or jsonl", opts.Format)
}

func writeCSV(f io.Writer, p *Pulled, gbk bool) error {
	var w io.Writer = f
	var enc io.WriteCloser
	if gbk {
		enc = transform.NewWriter(f, simplifiedchinese.GB18030.NewEncoder())
		w = enc
	} else if _, err := io.WriteString(f, "\uFEFF"); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	cw := csv.NewWriter(bw)
	if err := cw.Write(p.Fields); err != nil {
		return err
	}
	if err := cw.WriteAll(p.Rows); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if enc != nil {
		return enc.Close()
	}
	return nil
}

func writeJSONL(f io.Writer, p *Pulled) error {
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, r := range p.Rows {
		m := make(map[string]string, len(p.Fields))
		for i, name := range p.Fields {
			m[name] = r[i]
		}
		if err := enc.Encode(m); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func writeXLSX(f io.Writer, p *Pulled) error {
	x := excelize.NewFile()
	defer x.Close()
	sheet := x.GetSheetName(0)
	sw, err := x.NewStreamWriter(sheet)
	if err != nil {
		return err
	}
	row := make([]any, len(p.Fields))
	for i, name := range p.Fields {
		row[i] = name
	}
	if err := sw.SetRow("A1", row); err != nil {
		return err
	}
	for n, r := range p.Rows {
		for i, v := range r {
			row[i] = v // text, so that ID numbers keep every digit
		}
		cell, err := excelize.CoordinatesToCellName(1, n+2)
		if err != nil {
			return err
		}
		if err := sw.SetRow(cell, row); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	_, err = x.WriteTo(f)
	return err
}
