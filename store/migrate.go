package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/qiao-exchange/qiao/crypto/sm3"
)

// migrationFiles holds the schema: migrations/NNNN_name.sql, numbered from 1
// without gaps. A file, once released, is never edited; a change is a new
// file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one embedded schema step.
type migration struct {
	version int64
	name    string // file name without ".sql"
	sql     string
	sum     string // hex SM3 of the file
}

var migrationName = regexp.MustCompile(`^([0-9]{4})_[a-z0-9_]+\.sql$`)

// loadMigrations reads and checks the embedded migrations.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("store: migrations: %q is not named NNNN_name.sql", e.Name())
		}
		v, _ := strconv.ParseInt(m[1], 10, 64)
		b, err := fs.ReadFile(fsys, path.Join("migrations", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: migrations: %w", err)
		}
		ms = append(ms, migration{
			version: v,
			name:    strings.TrimSuffix(e.Name(), ".sql"),
			sql:     string(b),
			sum:     sm3.SumHex(b),
		})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != int64(i+1) {
			return nil, fmt.Errorf("store: migrations: %s: want version %04d (numbered from 1, no gaps or repeats)", m.name, i+1)
		}
	}
	if len(ms) == 0 {
		return nil, errors.New("store: migrations: none embedded")
	}
	return ms, nil
}

// SchemaVersion returns the version of the newest migration this binary
// carries: a database it opened is at this version.
func SchemaVersion() int64 {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		panic(err) // the embedded files are checked by the package's tests
	}
	return ms[len(ms)-1].version
}

// SchemaVersion returns the version the database is migrated to.
func (db *DB) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	err := db.r.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return v, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    sm3        TEXT   NOT NULL,
    applied_at BIGINT NOT NULL
)`

// migrate applies the pending migrations in one transaction: afterwards the
// database is either at the binary's version or unchanged. It checks the
// migrations already applied against the embedded ones first.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return err
	}
	return db.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
			return fmt.Errorf("store: migrations table: %w", err)
		}
		applied, err := appliedMigrations(ctx, tx)
		if err != nil {
			return err
		}
		latest := ms[len(ms)-1].version
		if n := len(applied); n > 0 && applied[n-1].version > latest {
			return fmt.Errorf("%w: database is at version %d (%s), this binary knows up to %d",
				ErrSchemaTooNew, applied[n-1].version, applied[n-1].name, latest)
		}
		for i, a := range applied {
			if a.version != int64(i+1) {
				return fmt.Errorf("%w: migration %d is missing from the database", ErrSchemaMismatch, i+1)
			}
			if m := ms[i]; a.name != m.name || a.sum != m.sum {
				return fmt.Errorf("%w: migration %d is %s (sm3 %.16s…) in the database and %s (sm3 %.16s…) in this binary",
					ErrSchemaMismatch, a.version, a.name, a.sum, m.name, m.sum)
			}
		}
		for _, m := range ms[len(applied):] {
			for i, stmt := range splitStatements(m.sql) {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("store: migration %s, statement %d: %w", m.name, i+1, err)
				}
			}
			_, err := tx.ExecContext(ctx,
				"INSERT INTO schema_migrations (version, name, sm3, applied_at) VALUES ($1, $2, $3, $4)",
				m.version, m.name, m.sum, micros(now()))
			if err != nil {
				return fmt.Errorf("store: recording migration %s: %w", m.name, err)
			}
			db.log.InfoContext(ctx, "applied migration", slog.Int64("version", m.version), slog.String("name", m.name))
		}
		return nil
	})
}

// appliedMigrations returns the rows of schema_migrations by version.
func appliedMigrations(ctx context.Context, tx *Tx) ([]migration, error) {
	rows, err := tx.QueryContext(ctx, "SELECT version, name, sm3 FROM schema_migrations ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("store: reading migrations: %w", err)
	}
	defer rows.Close()
	var ms []migration
	for rows.Next() {
		var m migration
		if err := rows.Scan(&m.version, &m.name, &m.sum); err != nil {
			return nil, fmt.Errorf("store: reading migrations: %w", err)
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: reading migrations: %w", err)
	}
	return ms, nil
}

// splitStatements splits a migration file into statements, so that every
// driver runs them one at a time. A statement ends with a ";" at the end of a
// line; lines that start with "--" are comments. Statements therefore must
// not end a line with ";" inside them (no triggers with BEGIN … END bodies).
func splitStatements(src string) []string {
	var (
		stmts []string
		cur   strings.Builder
		code  bool // cur holds more than comments and blank lines
	)
	for line := range strings.Lines(src) {
		trimmed := strings.TrimSpace(line)
		comment := strings.HasPrefix(trimmed, "--")
		cur.WriteString(line)
		if trimmed != "" && !comment {
			code = true
		}
		if !comment && strings.HasSuffix(trimmed, ";") {
			if code {
				stmts = append(stmts, strings.TrimSpace(cur.String()))
			}
			cur.Reset()
			code = false
		}
	}
	if code {
		stmts = append(stmts, strings.TrimSpace(cur.String()))
	}
	return stmts
}
