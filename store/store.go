// Package store is the gateway's state store: principals, certificates and
// batch records today, and — through the same transactions — the audit log,
// requests, approvals, grants, leads and the outbox as those packages arrive.
// It runs on SQLite (modernc.org/sqlite, pure Go) by default; the SQL and the
// migrations are kept portable so that PostgreSQL can run them unchanged.
//
// Every write happens inside (*DB).InTx, so that the caller can append the
// audit entry of a change in the same transaction as the change itself. A
// *Tx offers typed methods for this package's records and a narrow raw SQL
// surface (ExecContext, QueryContext, QueryRowContext) through which other
// packages write their own tables without knowing about the server. Reads
// outside a transaction go through the read-only methods of *DB.
//
// All SQL uses $1-style placeholders and ANSI types (TEXT, BIGINT); times
// are BIGINT microseconds since the Unix epoch, UTC. Migrations are the
// numbered files in migrations/, embedded in the binary: one sequence for the
// whole database, whichever package owns a table.
//
// The store is not a warehouse (the canonical dataset rows live in DuckDB)
// and not a blob store (envelopes live in store/evidence). It never holds
// personal data in plaintext: a batch record carries counts, field names and
// digests, never values.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

var (
	// ErrNotFound means the record does not exist. Callers answer "not
	// found", or treat an unknown principal or key as unauthenticated.
	ErrNotFound = errors.New("store: not found")
	// ErrExists means a record with the same key is already stored. Callers
	// report the duplicate; nothing was changed.
	ErrExists = errors.New("store: already exists")
	// ErrConflict means the change contradicts the stored record: a batch ID
	// reused for different content, or a state change the record's state
	// does not allow. Callers refuse the request (FailedPrecondition);
	// nothing was changed.
	ErrConflict = errors.New("store: conflicts with the stored record")
	// ErrInvalid means a record failed validation before anything was
	// written. Callers report it as bad input (InvalidArgument) if it came
	// from a client, else as a bug.
	ErrInvalid = errors.New("store: invalid record")
	// ErrSchemaTooNew means the database was migrated by a newer binary.
	// The gateway refuses to start; run the newer binary (or restore a
	// backup made before the upgrade).
	ErrSchemaTooNew = errors.New("store: database schema is newer than this binary")
	// ErrSchemaMismatch means a migration recorded in the database differs
	// from the one of the same number in this binary: the database was made
	// by a different build. The gateway refuses to start.
	ErrSchemaMismatch = errors.New("store: database schema does not match this binary")
)

// DriverSQLite is the embedded SQLite driver, the default.
const DriverSQLite = "sqlite"

// Config says which database to open.
type Config struct {
	// Driver is "sqlite" (the default when empty).
	Driver string
	// DSN names the database. For SQLite it is the path of the database
	// file; the file is created (mode 0600) if it does not exist, in an
	// existing directory.
	DSN string
	// MaxReaders is the number of read connections; 4 when zero. There is
	// always exactly one write connection.
	MaxReaders int
	// BusyTimeout is how long a statement waits for a lock held by another
	// process on the same database before failing; 10 s when zero.
	BusyTimeout time.Duration
	// Logger receives one line per applied migration; nothing when nil.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Driver == "" {
		c.Driver = DriverSQLite
	}
	if c.MaxReaders == 0 {
		c.MaxReaders = 4
	}
	if c.BusyTimeout == 0 {
		c.BusyTimeout = 10 * time.Second
	}
	return c
}

// DB is an open state store. It is safe for concurrent use.
//
// On SQLite it holds two connection pools over one file: a single write
// connection, through which every InTx runs in turn (so that concurrent
// writers in this process queue instead of failing with SQLITE_BUSY), and
// read-only connections for the read methods and InReadTx, which WAL mode
// lets run beside the writer.
type DB struct {
	cfg Config
	w   *sql.DB // the single writer
	r   *sql.DB // readers (query_only)
	c   *committer
	log *slog.Logger
}

// Open opens the database that cfg names, configures it and applies the
// pending migrations. It refuses, with ErrSchemaTooNew or ErrSchemaMismatch,
// a database whose schema this binary did not make.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	cfg = cfg.withDefaults()
	if cfg.MaxReaders < 0 || cfg.BusyTimeout < 0 {
		return nil, fmt.Errorf("store: negative MaxReaders or BusyTimeout")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var (
		db  *DB
		err error
	)
	switch cfg.Driver {
	case DriverSQLite:
		db, err = openSQLite(ctx, cfg, log)
	default:
		return nil, fmt.Errorf("store: driver %q is not supported (want %q)", cfg.Driver, DriverSQLite)
	}
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// openSQLite opens the writer and reader pools over one SQLite file.
//
// Settings, per connection: WAL journal (readers do not block the writer),
// synchronous=FULL (a committed transaction survives power loss),
// foreign_keys=ON, busy_timeout (waits, rather than fails, for another
// process's lock), BEGIN IMMEDIATE for write transactions (the write lock is
// taken at BEGIN, so a transaction never fails half-way on a lock upgrade).
func openSQLite(ctx context.Context, cfg Config, log *slog.Logger) (*DB, error) {
	path := cfg.DSN
	switch {
	case path == "":
		return nil, fmt.Errorf("store: sqlite: DSN (the database file's path) is empty")
	case path == ":memory:" || strings.HasPrefix(path, "file:") || strings.ContainsRune(path, '?'):
		return nil, fmt.Errorf("store: sqlite: DSN %q must be a plain file path", path)
	}
	// Create the file owner-only: SQLite would create it, and its WAL and
	// shared-memory files, with the umask's mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: %w", err)
	}
	f.Close()

	busy := fmt.Sprintf("_pragma=busy_timeout(%d)", cfg.BusyTimeout.Milliseconds())
	common := busy + "&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)"
	w, err := sql.Open("sqlite", path+"?"+common+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := checkSQLite(ctx, w); err != nil {
		w.Close()
		return nil, err
	}
	// Readers: opened after the writer has put the file in WAL mode (which
	// is persistent), and refused any write.
	r, err := sql.Open("sqlite", path+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: sqlite: %w", err)
	}
	r.SetMaxOpenConns(cfg.MaxReaders)
	r.SetMaxIdleConns(cfg.MaxReaders)
	return &DB{cfg: cfg, w: w, r: r, c: newCommitter(w), log: log}, nil
}

// checkSQLite verifies that the settings took effect: WAL can silently fall
// back to another journal mode (e.g. on a file system without shared
// memory), and a durable store must not run without noticing.
func checkSQLite(ctx context.Context, w *sql.DB) error {
	checks := []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"synchronous", "2"},
		{"foreign_keys", "1"},
	}
	for _, c := range checks {
		var got string
		if err := w.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
			return fmt.Errorf("store: sqlite: reading %s: %w", c.pragma, err)
		}
		if !strings.EqualFold(got, c.want) {
			return fmt.Errorf("store: sqlite: %s is %q, want %q", c.pragma, got, c.want)
		}
	}
	return nil
}

// Config returns the configuration the store was opened with, defaults
// filled in: opening it again reaches the same database.
func (db *DB) Config() Config { return db.cfg }

// Close closes the database. It lets the group of InTx calls in progress
// finish; InTx calls still waiting, and any after, fail. Read transactions
// in progress are rolled back.
func (db *DB) Close() error {
	db.c.close()
	return errors.Join(db.r.Close(), db.w.Close())
}

// InTx runs fn in a read-write transaction and commits it if fn returns nil.
// If fn returns an error or panics, the transaction is rolled back and
// nothing fn wrote is kept; fn's error is returned as is, a panic goes on
// after the rollback. An error from the commit itself is returned wrapped:
// then nothing was committed either.
//
// Transactions are serializable: on SQLite they run one at a time through
// the single write connection, so concurrent callers queue (bounded by ctx)
// and a read-modify-write in fn never loses an update.
//
// Concurrent calls are committed in groups: the calls waiting when the
// write connection becomes free run one after the other in one SQLite
// transaction, each inside its own SAVEPOINT, and commit with one COMMIT —
// one fsync for the group. A call whose fn fails, panics or whose ctx ends
// is rolled back to its savepoint, undoing only its own work; InTx returns
// nil only after the group's COMMIT succeeded, and if it fails every call of
// the group gets the error. fn sees what earlier calls of its group wrote,
// as it would had they committed first. Statements in fn run to completion
// once started; ctx is checked before each and after fn returns.
//
// A backend that can abort a transaction for a serialization conflict may
// call fn again, so fn must have no effects outside tx until InTx returned
// nil — in particular, data leaves the gateway only after that.
//
// The *Tx is valid only until fn returns. Do not call InTx from inside fn:
// the nested call waits for the write connection the outer one holds.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	return db.c.do(ctx, fn)
}

// InReadTx runs fn in a read-only transaction: every read in fn sees the same
// snapshot of the database. Writes through tx fail. It runs beside InTx and
// does not wait for it.
func (db *DB) InReadTx(ctx context.Context, fn func(tx *Tx) error) error {
	stx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	return runTx(stx, fn)
}

func runTx(stx *sql.Tx, fn func(tx *Tx) error) (err error) {
	committed := false
	defer func() {
		if committed {
			return
		}
		// Rollback after a panic or an error; its own error (the
		// transaction may already be gone) changes nothing for the caller.
		_ = stx.Rollback()
	}()
	if err := fn(&Tx{tx: stx}); err != nil {
		return err
	}
	committed = true
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// Tx is a transaction in progress, valid only inside the function given to
// InTx or InReadTx. It is not safe for concurrent use.
type Tx struct {
	tx querier // a read-only *sql.Tx, or an InTx call's *callerTx
}

// ExecContext runs a statement in the transaction. Placeholders are $1, $2,
// …; times are BIGINT microseconds since the Unix epoch. It is for packages
// that keep their own tables in this database (such as the audit log).
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return tx.tx.ExecContext(ctx, query, args...)
}

// QueryContext runs a query in the transaction. See ExecContext.
func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return tx.tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a query returning at most one row in the transaction.
// See ExecContext.
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return tx.tx.QueryRowContext(ctx, query, args...)
}

// QueryContext runs a read-only query outside any write transaction, on a
// read connection: it sees the last committed state. See Tx.ExecContext for
// the SQL conventions.
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.r.QueryContext(ctx, query, args...)
}

// QueryRowContext is QueryContext for at most one row.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return db.r.QueryRowContext(ctx, query, args...)
}

// querier is what both a read connection pool and a transaction offer; the
// record methods are written once against it.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// now is the store's clock: UTC at the precision times are stored with.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// micros encodes t for a BIGINT column.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros decodes a BIGINT time column.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
