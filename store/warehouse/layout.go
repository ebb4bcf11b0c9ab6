package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/qiao-exchange/qiao/crypto/fieldcrypt"
	"github.com/qiao-exchange/qiao/schema"
)

const (
	// viewSchema holds one view per dataset with the visible rows and no
	// sealed values: what models query.
	viewSchema = "models"
	// registryTable lists the stored batches.
	registryTable = "qiao_batches"
	// metaTable records the layout version of the file.
	metaTable = "qiao_warehouse"
	// layoutVersion is the version of the layout this code writes.
	layoutVersion = 1
)

// The columns every dataset table starts with.
const (
	colBatchID   = "batch_id"
	colPrincipal = "principal"
	colBatchSeq  = "batch_seq"
	colRowNo     = "row_no"
	colVisible   = "visible"
)

// The cells of the fixed columns in an appended row.
const (
	cellBatchID = iota
	cellPrincipal
	cellBatchSeq
	cellRowNo
	cellVisible
	nFixed
)

// kind says how a field is stored.
type kind int

const (
	kindText    kind = iota // VARCHAR
	kindDate                // DATE
	kindMonth               // DATE, the first day of the month
	kindMoney               // DECIMAL(18,2), appended as fen
	kindInt                 // BIGINT
	kindBool                // BOOLEAN
	kindSealed              // personal data: <f>_enc BLOB and <f>_tok VARCHAR
	kindTokened             // an identifier that is not personal data: <f> VARCHAR and <f>_tok VARCHAR
)

// column is how one field is stored: in a plain typed column, or sealed
// with a token, or plain with a token.
type column struct {
	field *schema.Field
	kind  kind
	plain string // typed column; "" for sealed fields
	typ   string // DuckDB type of plain
	enc   string // sealed value; "" unless sealed
	tok   string // token; "" unless sealed or tokened
}

// table is the layout of one dataset's table.
type table struct {
	ds   *schema.Dataset
	name string
	cols []column // one per field, in field order
	// appendCols are the table's columns in the order InsertBatch appends
	// them: the fixed columns, then each field's.
	appendCols []string
	// colTypes are the DuckDB types of appendCols.
	colTypes []string
}

// layoutTables derives every dataset's table from the registry.
func layoutTables(reg *schema.Registry) (map[string]*table, error) {
	tables := map[string]*table{}
	byName := map[string]string{}
	for _, ds := range reg.List() {
		t := layoutTable(ds)
		if other, ok := byName[t.name]; ok {
			return nil, fmt.Errorf("%w: datasets %s and %s both map to table %s", ErrLayout, other, ds.ID, t.name)
		}
		byName[t.name] = ds.ID
		seen := map[string]string{}
		for _, c := range t.appendCols {
			if _, dup := seen[c]; dup {
				return nil, fmt.Errorf("%w: dataset %s: column %s is needed twice (a field name clashes with a fixed or derived column)", ErrLayout, ds.ID, c)
			}
			seen[c] = c
		}
		tables[ds.ID] = t
	}
	return tables, nil
}

func layoutTable(ds *schema.Dataset) *table {
	t := &table{
		ds:         ds,
		name:       TableName(ds.ID),
		appendCols: []string{colBatchID, colPrincipal, colBatchSeq, colRowNo, colVisible},
		colTypes:   []string{"VARCHAR", "VARCHAR", "BIGINT", "INTEGER", "BOOLEAN"},
	}
	for i := range ds.Fields {
		f := &ds.Fields[i]
		c := column{field: f}
		switch {
		case f.PII:
			c.kind, c.enc, c.tok = kindSealed, f.Name+"_enc", f.Name+"_tok"
		case isIdentifier(f.Type):
			c.kind, c.plain, c.typ, c.tok = kindTokened, f.Name, "VARCHAR", f.Name+"_tok"
		default:
			c.kind, c.typ = plainKind(f.Type)
			c.plain = f.Name
		}
		for _, n := range [...]struct{ name, typ string }{{c.plain, c.typ}, {c.enc, "BLOB"}, {c.tok, "VARCHAR"}} {
			if n.name != "" {
				t.appendCols = append(t.appendCols, n.name)
				t.colTypes = append(t.colTypes, n.typ)
			}
		}
		t.cols = append(t.cols, c)
	}
	return t
}

// keyColumns are the columns that hold the dataset's record key: a
// personal field's token, any other field's typed column.
func (t *table) keyColumns() []string {
	var out []string
	for _, name := range t.ds.RecordKey {
		for _, c := range t.cols {
			if c.field.Name != name {
				continue
			}
			if c.kind == kindSealed {
				out = append(out, quote(c.tok))
			} else {
				out = append(out, quote(c.plain))
			}
		}
	}
	return out
}

func isIdentifier(t schema.Type) bool {
	return t == schema.TypeIDNumber || t == schema.TypeCreditCode || t == schema.TypeIDOrCreditCode
}

func plainKind(t schema.Type) (kind, string) {
	switch t {
	case schema.TypeDate:
		return kindDate, "DATE"
	case schema.TypeMonth:
		return kindMonth, "DATE"
	case schema.TypeMoney:
		return kindMoney, "DECIMAL(18,2)"
	case schema.TypeInt:
		return kindInt, "BIGINT"
	case schema.TypeBool:
		return kindBool, "BOOLEAN"
	}
	return kindText, "VARCHAR"
}

// TokenDomain returns the fieldcrypt token domain of a value of field f, or
// "" if the field has no token column. Resident ID numbers, credit codes and
// names have domains of their own, whatever the field is called, so that
// tokens join across datasets; an id_or_credit_code value takes the domain
// of what it is. Other personal data is in fieldcrypt.DomainText. The value
// must be canonical (as schema.Field.Normalize returns it).
//
// Callers that search or audit by identifier use it, or the fieldcrypt
// domain constants directly, to compute the same tokens the warehouse holds.
func TokenDomain(f *schema.Field, value string) string {
	switch f.Type {
	case schema.TypeIDNumber:
		return fieldcrypt.DomainIDNumber
	case schema.TypeCreditCode:
		return fieldcrypt.DomainCreditCode
	case schema.TypeIDOrCreditCode:
		if isResidentID(value) {
			return fieldcrypt.DomainIDNumber
		}
		return fieldcrypt.DomainCreditCode
	}
	if !f.PII {
		return ""
	}
	if f.Name == "name" || strings.HasSuffix(f.Name, "_name") {
		return fieldcrypt.DomainName
	}
	return fieldcrypt.DomainText
}

// isResidentID reports whether a canonical id_or_credit_code value is a
// resident ID number: 17 digits and a correct check character. The schema
// reads such a value as an ID number first, and so does this.
func isResidentID(v string) bool {
	if len(v) != 18 {
		return false
	}
	for i := 0; i < 17; i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	c, err := schema.IDCheckDigit(v[:17])
	return err == nil && c == v[17]
}

// quote quotes an SQL identifier.
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// migrate creates what is missing: the view schema, the registry, every
// dataset's table and the columns of fields added since the table was
// created, and (re)creates the views. It changes nothing else: a column of
// the wrong type is an error, and columns of fields no longer in the schema
// are kept (NULL in new rows).
func (w *Warehouse) migrate(ctx context.Context) (err error) {
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("warehouse: migrate: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	for _, q := range []string{
		`CREATE SCHEMA IF NOT EXISTS ` + quote(viewSchema),
		`CREATE TABLE IF NOT EXISTS main.` + metaTable + ` (layout INTEGER NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS main.` + registryTable + ` (
			dataset      VARCHAR NOT NULL,
			principal    VARCHAR NOT NULL,
			batch_id     VARCHAR NOT NULL,
			seq          BIGINT NOT NULL,
			row_count    BIGINT NOT NULL,
			digest       VARCHAR NOT NULL,
			visible      BOOLEAN NOT NULL,
			inserted_at  TIMESTAMPTZ NOT NULL,
			published_at TIMESTAMPTZ
		)`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("warehouse: migrate: %w", err)
		}
	}
	var layout sql.Null[int]
	if err := tx.QueryRowContext(ctx, `SELECT max(layout) FROM main.`+metaTable).Scan(&layout); err != nil {
		return fmt.Errorf("warehouse: migrate: %w", err)
	}
	switch {
	case !layout.Valid:
		if _, err := tx.ExecContext(ctx, `INSERT INTO main.`+metaTable+` VALUES (?)`, layoutVersion); err != nil {
			return fmt.Errorf("warehouse: migrate: %w", err)
		}
	case layout.V > layoutVersion:
		return fmt.Errorf("%w: the file has layout %d, this version of Qiao reads up to %d", ErrLayout, layout.V, layoutVersion)
	}
	for _, ds := range w.reg.List() {
		if err := migrateTable(ctx, tx, w.tables[ds.ID]); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("warehouse: migrate: %w", err)
	}
	return nil
}

func migrateTable(ctx context.Context, tx *sql.Tx, t *table) error {
	defs := make([]string, len(t.appendCols))
	for i, c := range t.appendCols {
		defs[i] = quote(c) + " " + t.colTypes[i]
		if i < nFixed {
			defs[i] += " NOT NULL"
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS main.`+quote(t.name)+` (`+strings.Join(defs, ", ")+`)`); err != nil {
		return fmt.Errorf("warehouse: creating table %s: %w", t.name, err)
	}

	rows, err := tx.QueryContext(ctx, `SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?`, t.name)
	if err != nil {
		return fmt.Errorf("warehouse: reading columns of %s: %w", t.name, err)
	}
	have := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			rows.Close()
			return fmt.Errorf("warehouse: reading columns of %s: %w", t.name, err)
		}
		have[name] = typ
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("warehouse: reading columns of %s: %w", t.name, err)
	}

	for i, c := range t.appendCols {
		typ, ok := have[c]
		switch {
		case !ok:
			if _, err := tx.ExecContext(ctx, `ALTER TABLE main.`+quote(t.name)+` ADD COLUMN `+quote(c)+` `+t.colTypes[i]); err != nil {
				return fmt.Errorf("warehouse: adding column %s.%s: %w", t.name, c, err)
			}
		case typ != t.colTypes[i]:
			return fmt.Errorf("%w: column %s.%s is %s, the schema needs %s", ErrLayout, t.name, c, typ, t.colTypes[i])
		}
	}
	for _, c := range t.cols {
		if c.kind == kindSealed {
			if _, ok := have[c.field.Name]; ok {
				return fmt.Errorf("%w: %s.%s is personal data but the table has a plaintext column for it", ErrLayout, t.name, c.field.Name)
			}
		}
	}

	sel := []string{quote(colBatchID), quote(colPrincipal), quote(colRowNo)}
	for _, c := range t.cols {
		for _, n := range []string{c.plain, c.tok} {
			if n != "" {
				sel = append(sel, quote(n))
			}
		}
	}
	// A record pushed again — a monthly export that repeats last month's
	// rows, a corrected file under a new batch ID — is one record to the
	// models: the row of the latest batch stands.
	view := `CREATE OR REPLACE VIEW ` + quote(viewSchema) + `.` + quote(t.name) + ` AS SELECT ` + strings.Join(sel, ", ") +
		` FROM main.` + quote(t.name) + ` WHERE ` + quote(colVisible)
	if keys := t.keyColumns(); len(keys) > 0 {
		view += ` QUALIFY row_number() OVER (PARTITION BY ` + strings.Join(keys, ", ") + ` ORDER BY ` +
			quote(colBatchSeq) + ` DESC, ` + quote(colRowNo) + ` DESC) = 1`
	}
	if _, err := tx.ExecContext(ctx, view); err != nil {
		return fmt.Errorf("warehouse: creating view %s.%s: %w", viewSchema, t.name, err)
	}
	return nil
}
