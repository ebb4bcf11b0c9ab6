// Package warehouse keeps the canonical rows of every dataset in an embedded
// DuckDB database, for the supervision models and for pulls.
//
// Each dataset has one table (police.deaths → main.police__deaths) created
// or extended from the schema registry when the warehouse is opened. Personal
// data never reaches the table in plaintext: a PII field is stored as its
// SM4-GCM sealed value (<field>_enc) and its HMAC-SM3 token (<field>_tok),
// made by crypto/fieldcrypt. Other fields are typed columns (DATE,
// DECIMAL(18,2), BIGINT, BOOLEAN, VARCHAR), so that models compare dates and
// sum amounts in SQL and join on tokens. docs/warehouse.md describes the
// layout.
//
// Rows arrive in batches, named as the state store names them (dataset,
// pushing principal, batch ID), and are invisible until published. The push
// path is: InsertBatch (invisible) → commit the batch and its audit entry in
// the state store → MakeVisible. The two databases cannot share a
// transaction, so at start-up RemoveInvisible asks the state store about
// every batch still invisible: those it committed are published, the others
// removed. A batch is inserted in one DuckDB transaction, so a crash leaves
// either the whole batch or nothing of it. Inserting a stored batch again
// stores nothing.
//
// Writes go through one writer goroutine that commits concurrent requests
// together (group commit): DuckDB allows one writer, and a commit costs a
// disk sync. Reads (Rows, Count, ModelQuery) run concurrently with it on
// their own connections and see committed data only.
//
// It is not the state store: it knows nothing of grants, requests or the
// audit log, and does not decide who may read what. It does not mask values
// either; Rows returns plaintext or tokens and the pull path masks.
package warehouse

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/qiao-exchange/qiao/crypto/fieldcrypt"
	"github.com/qiao-exchange/qiao/schema"
)

var (
	// ErrBatchConflict means the batch (dataset, principal, batch ID) is
	// already stored with other rows. A batch key names one content for
	// ever; the caller refuses the push as a conflict.
	ErrBatchConflict = errors.New("warehouse: batch already stored with other rows")
	// ErrUnknownBatch means the batch is not stored: it was never inserted,
	// or it was removed as uncommitted. The caller inserts it again.
	ErrUnknownBatch = errors.New("warehouse: unknown batch")
	// ErrInvalidRow means a row does not fit its dataset: the wrong number of
	// values, or a typed value not in its canonical form. Rows are to be
	// validated with schema.Dataset.ValidateRow first; this is a bug in the
	// caller, and nothing of the batch was stored.
	ErrInvalidRow = errors.New("warehouse: invalid row")
	// ErrInvalidQuery means a query names an unknown field, a field that is
	// not a date, a malformed date or token, or, for ModelQuery, SQL that is
	// not a single SELECT. The caller fixes the request.
	ErrInvalidQuery = errors.New("warehouse: invalid query")
	// ErrLayout means the database file holds a table that does not match
	// the dataset's schema in a way that adding columns cannot fix (a column
	// of another type, a field that became personal data while its plaintext
	// column remains). The operator migrates the data; the gateway does not
	// start until then.
	ErrLayout = errors.New("warehouse: table layout does not match the schema")
	// ErrCorrupt means a stored value failed authentication when opened: it
	// was altered or moved. Nothing is returned; the operator investigates.
	ErrCorrupt = errors.New("warehouse: stored value failed authentication")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("warehouse: closed")
)

// dsnOptions configure the database: no file access from SQL and no
// extension loading, so that SQL reads the warehouse and nothing else; and a
// checkpoint every 256 MiB of write-ahead log rather than DuckDB's 16 MiB,
// so that a row group being filled by 1,000-row batches is compressed and
// written a few times rather than dozens. The price is a longer log replay
// when the file is opened after a crash.
const dsnOptions = "enable_external_access=false&autoinstall_known_extensions=false&autoload_known_extensions=false&checkpoint_threshold=256MiB"

// Warehouse is an open DuckDB warehouse. It is safe for concurrent use.
type Warehouse struct {
	db     *sql.DB
	keys   *fieldcrypt.Keys
	reg    *schema.Registry
	tables map[string]*table // by dataset ID

	w         *writer
	closeOnce sync.Once
	closeErr  error
}

// Open opens or creates the warehouse database file at path, creates the
// table of every dataset in reg (and adds columns for fields added since),
// and starts the writer. keys protect personal data; they must be derived
// from the same master key every time the file is opened.
//
// The database is opened with file access from SQL disabled (no read_csv,
// COPY or ATTACH), so that queries read the warehouse and nothing else. One
// process opens a file at a time.
func Open(ctx context.Context, path string, reg *schema.Registry, keys *fieldcrypt.Keys) (*Warehouse, error) {
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, errors.New("warehouse: the database path must be a file name without '?'")
	}
	if reg == nil || keys == nil {
		return nil, errors.New("warehouse: a schema registry and field keys are required")
	}
	tables, err := layoutTables(reg)
	if err != nil {
		return nil, err
	}
	connector, err := duckdb.NewConnector(path+"?"+dsnOptions,
		func(ex driver.ExecerContext) error {
			// Unqualified names in model SQL resolve to the views of
			// visible rows first. The schema must exist to be on the
			// path; migrate fills it.
			for _, q := range []string{
				"CREATE SCHEMA IF NOT EXISTS " + quote(viewSchema),
				"SET search_path = '" + viewSchema + ",main'",
			} {
				if _, err := ex.ExecContext(context.Background(), q, nil); err != nil {
					return err
				}
			}
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("warehouse: opening %s: %w", path, err)
	}
	db := sql.OpenDB(connector)
	w := &Warehouse{db: db, keys: keys, reg: reg, tables: tables}
	if err := w.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if w.w, err = startWriter(ctx, w); err != nil {
		db.Close()
		return nil, err
	}
	return w, nil
}

// Close stops the writer, waiting for the group it is committing, and closes
// the database. Calls waiting to be written fail with ErrClosed.
func (w *Warehouse) Close() error {
	w.closeOnce.Do(func() {
		w.closeErr = errors.Join(w.w.stop(), w.db.Close())
		if w.closeErr != nil {
			w.closeErr = fmt.Errorf("warehouse: close: %w", w.closeErr)
		}
	})
	return w.closeErr
}

// BatchKey names a batch as the state store does: a batch ID is the
// sender's, unique per dataset and pushing principal, so two agencies may
// both push a batch "2026-01" of the same dataset.
type BatchKey struct {
	// Dataset is the dataset ID, e.g. police.deaths.
	Dataset string
	// Principal is who pushed the batch, e.g. police.411528.
	Principal string
	// ID is the sender's batch ID.
	ID string
}

func (k BatchKey) String() string { return k.Dataset + "/" + k.Principal + "/" + k.ID }

// TableName returns the name of a dataset's table: its ID with the dot
// replaced by two underscores (police.deaths → police__deaths). The table
// is in schema main; the view of its visible rows for models has the same
// name in schema models.
func TableName(datasetID string) string { return strings.ReplaceAll(datasetID, ".", "__") }
