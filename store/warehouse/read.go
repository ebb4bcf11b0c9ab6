package warehouse

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/qiao-exchange/qiao/crypto/fieldcrypt"
	"github.com/qiao-exchange/qiao/schema"
)

// Query selects visible rows of one dataset for a pull.
type Query struct {
	// Fields are the fields to return, in this order; empty means every
	// field in the dataset's order.
	Fields []string
	// Tokens are fields of Fields returned as their token instead of their
	// value: personal data and identifiers, whose token the grant allows
	// and whose plaintext it does not. Other personal data is decrypted.
	Tokens []string
	// DateField is the date (or month) field that From and To bound.
	DateField string
	// From and To bound DateField, inclusive, as YYYY-MM-DD; empty leaves
	// that side open. A month field is compared by its first day.
	From, To string
	// SubjectTokens, if any, keep only rows in which some token column
	// holds one of them: the rows about these people or organisations.
	SubjectTokens []string
	// Limit caps the number of rows; 0 means no cap.
	Limit int
}

// Row is one stored row.
type Row struct {
	// Batch and RowNo say where the row came from: the batch and its
	// row number there, from 1.
	Batch BatchKey
	RowNo int
	// Values are the requested fields in canonical form; "" is empty.
	Values []string
}

// Rows returns the visible rows of dataset that q selects, in the order
// they were inserted, with personal data decrypted except for the fields in
// q.Tokens. A sealed value that fails authentication fails the whole call
// with ErrCorrupt: nothing is returned that cannot be vouched for.
func (w *Warehouse) Rows(ctx context.Context, dataset string, q Query) ([]Row, error) {
	t, err := w.table(dataset)
	if err != nil {
		return nil, err
	}
	fields, err := t.selectFields(q)
	if err != nil {
		return nil, err
	}

	var sel strings.Builder
	sel.WriteString(`SELECT batch_id, principal, row_no`)
	for _, s := range fields {
		sel.WriteString(", ")
		sel.WriteString(s.expr)
	}
	sel.WriteString(` FROM main.` + quote(t.name) + ` WHERE visible`)
	var args []any
	if q.DateField != "" {
		c, ok := t.column(q.DateField)
		if !ok || (c.kind != kindDate && c.kind != kindMonth) {
			return nil, fmt.Errorf("%w: %s is not a date field of %s", ErrInvalidQuery, q.DateField, dataset)
		}
		for _, b := range []struct{ date, op string }{{q.From, ">="}, {q.To, "<="}} {
			if b.date == "" {
				continue
			}
			d, err := schema.NormalizeDate(b.date)
			if err != nil {
				return nil, fmt.Errorf("%w: date bound: %w", ErrInvalidQuery, err)
			}
			sel.WriteString(` AND ` + quote(c.plain) + ` ` + b.op + ` CAST(? AS DATE)`)
			args = append(args, d)
		}
	} else if q.From != "" || q.To != "" {
		return nil, fmt.Errorf("%w: From and To need a DateField", ErrInvalidQuery)
	}
	if len(q.SubjectTokens) > 0 {
		for _, tok := range q.SubjectTokens {
			if !fieldcrypt.ValidToken(tok) {
				return nil, fmt.Errorf("%w: a subject token is not 64 lower-case hex digits", ErrInvalidQuery)
			}
		}
		marks := strings.Repeat("?, ", len(q.SubjectTokens))
		marks = marks[:len(marks)-2]
		var ors []string
		for _, c := range t.cols {
			if c.tok != "" {
				ors = append(ors, quote(c.tok)+` IN (`+marks+`)`)
				for _, tok := range q.SubjectTokens {
					args = append(args, tok)
				}
			}
		}
		if len(ors) == 0 {
			return nil, nil
		}
		sel.WriteString(` AND (` + strings.Join(ors, " OR ") + `)`)
	}
	sel.WriteString(` ORDER BY batch_seq, row_no`)
	if q.Limit < 0 {
		return nil, fmt.Errorf("%w: negative limit", ErrInvalidQuery)
	}
	if q.Limit > 0 {
		sel.WriteString(` LIMIT ?`)
		args = append(args, q.Limit)
	}

	rows, err := w.db.QueryContext(ctx, sel.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("warehouse: reading %s: %w", t.name, err)
	}
	defer rows.Close()
	var out []Row
	dest := make([]any, 3+len(fields))
	cells := make([]sql.RawBytes, len(fields))
	key := BatchKey{Dataset: t.ds.ID}
	var rowNo int
	dest[0], dest[1], dest[2] = &key.ID, &key.Principal, &rowNo
	for i := range cells {
		dest[3+i] = &cells[i]
	}
	var aad []byte
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("warehouse: reading %s: %w", t.name, err)
		}
		r := Row{Batch: key, RowNo: rowNo, Values: make([]string, len(fields))}
		for i, s := range fields {
			switch {
			case cells[i] == nil:
			case s.open:
				aad = appendAAD(aad[:0], key, rowNo, s.col.field.Name)
				pt, err := w.keys.Open(cells[i], aad)
				if err != nil {
					return nil, fmt.Errorf("%w: batch %s row %d field %s: %w", ErrCorrupt, key, rowNo, s.col.field.Name, err)
				}
				r.Values[i] = string(pt)
			default:
				r.Values[i] = string(cells[i])
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("warehouse: reading %s: %w", t.name, err)
	}
	return out, nil
}

// selected is one returned field: the SQL expression that reads it, and
// whether its value is to be opened.
type selected struct {
	col  *column
	expr string
	open bool
}

func (t *table) column(name string) (*column, bool) {
	i := t.ds.FieldIndex(name)
	if i < 0 {
		return nil, false
	}
	return &t.cols[i], true
}

// selectFields resolves q.Fields and q.Tokens into expressions that read
// each field in canonical form.
func (t *table) selectFields(q Query) ([]selected, error) {
	names := q.Fields
	if len(names) == 0 {
		names = make([]string, len(t.cols))
		for i, c := range t.cols {
			names[i] = c.field.Name
		}
	}
	for _, n := range q.Tokens {
		if !slices.Contains(names, n) {
			return nil, fmt.Errorf("%w: token field %s is not among the fields returned", ErrInvalidQuery, n)
		}
	}
	out := make([]selected, len(names))
	for i, n := range names {
		c, ok := t.column(n)
		if !ok {
			return nil, fmt.Errorf("%w: %s has no field %s", ErrInvalidQuery, t.ds.ID, n)
		}
		if slices.Contains(names[:i], n) {
			return nil, fmt.Errorf("%w: field %s is asked for twice", ErrInvalidQuery, n)
		}
		s := selected{col: c}
		switch {
		case slices.Contains(q.Tokens, n):
			if c.tok == "" {
				return nil, fmt.Errorf("%w: field %s has no token", ErrInvalidQuery, n)
			}
			s.expr = quote(c.tok)
		case c.kind == kindSealed:
			s.expr, s.open = quote(c.enc), true
		case c.kind == kindMonth:
			s.expr = `strftime(` + quote(c.plain) + `, '%Y-%m')`
		case c.kind == kindText || c.kind == kindTokened:
			s.expr = quote(c.plain)
		default:
			// DATE, DECIMAL(18,2), BIGINT and BOOLEAN cast to the
			// canonical forms: 2023-05-06, 1234.50, 12, true.
			s.expr = `CAST(` + quote(c.plain) + ` AS VARCHAR)`
		}
		out[i] = s
	}
	return out, nil
}

// Count returns the number of visible rows of dataset.
func (w *Warehouse) Count(ctx context.Context, dataset string) (int64, error) {
	t, err := w.table(dataset)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := w.db.QueryRowContext(ctx, `SELECT count(*) FROM main.`+quote(t.name)+` WHERE visible`).Scan(&n); err != nil {
		return 0, fmt.Errorf("warehouse: counting %s: %w", t.name, err)
	}
	return n, nil
}

// ModelQuery runs one read-only SQL statement for the model runner and returns
// its rows; the caller closes them. Unqualified table names resolve to the
// views in schema models: per dataset (police__deaths, …) the visible rows
// with batch_id, principal, row_no, the typed fields and the token columns,
// and no sealed values. Models join on the <field>_tok columns.
//
// The statement must be a single SELECT (WITH … SELECT included); anything
// else is ErrInvalidQuery and is not run. SQL has no file access. Query does
// not decide which datasets a model may read; the runner does.
func (w *Warehouse) ModelQuery(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("warehouse: query: %w", err)
	}
	err = conn.Raw(func(dc any) error {
		// Prepare, unlike PrepareContext, refuses more than one
		// statement instead of running all but the last.
		st, err := dc.(driver.Conn).Prepare(query)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidQuery, err)
		}
		defer st.Close()
		ds, ok := st.(*duckdb.Stmt)
		if !ok {
			return errors.New("unexpected driver statement")
		}
		typ, err := ds.StatementType()
		if err != nil {
			return err
		}
		if typ != duckdb.STATEMENT_TYPE_SELECT {
			return fmt.Errorf("%w: only a single SELECT statement may run", ErrInvalidQuery)
		}
		return nil
	})
	if cerr := conn.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("warehouse: query: %w", err)
	}
	rows, err := w.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("warehouse: query: %w", err)
	}
	return rows, nil
}
