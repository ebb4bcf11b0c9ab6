package store

import (
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

func TestSplitStatements(t *testing.T) {
	src := `-- a comment;
CREATE TABLE a (
    x TEXT NOT NULL -- trailing comment
);

-- another; comment
CREATE INDEX a_x ON a (x);
INSERT INTO a (x) VALUES ('semi;colon');
SELECT 1`
	want := []string{
		"-- a comment;\nCREATE TABLE a (\n    x TEXT NOT NULL -- trailing comment\n);",
		"-- another; comment\nCREATE INDEX a_x ON a (x);",
		"INSERT INTO a (x) VALUES ('semi;colon');",
		"SELECT 1",
	}
	if got := splitStatements(src); !reflect.DeepEqual(got, want) {
		t.Fatalf("splitStatements:\n%q\nwant\n%q", got, want)
	}
	if got := splitStatements("-- only a comment;\n\n"); len(got) != 0 {
		t.Fatalf("comments only: %q", got)
	}
}

func TestEmbeddedMigrations(t *testing.T) {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	if SchemaVersion() != int64(len(ms)) {
		t.Fatalf("SchemaVersion = %d, %d files", SchemaVersion(), len(ms))
	}
	// The portable subset: no SQLite-only or PostgreSQL-only syntax.
	for _, m := range ms {
		var code strings.Builder
		for line := range strings.Lines(m.sql) {
			line, _, _ = strings.Cut(line, "--")
			code.WriteString(line)
		}
		upper := strings.ToUpper(code.String())
		for _, bad := range []string{"AUTOINCREMENT", "STRICT", "WITHOUT ROWID", "BLOB", "BYTEA", "PRAGMA", "JSONB", "TIMESTAMP", "BOOLEAN", "INTEGER PRIMARY KEY"} {
			if strings.Contains(upper, bad) {
				t.Errorf("%s uses %s, which is not portable between SQLite and PostgreSQL", m.name, bad)
			}
		}
	}
}

func TestLoadMigrationsRefuses(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	for name, fsys := range map[string]fstest.MapFS{
		"none":     {"migrations/README": file("x")},
		"bad name": {"migrations/0001_a.sql": file("x"), "migrations/2_b.sql": file("x")},
		"gap":      {"migrations/0001_a.sql": file("x"), "migrations/0003_c.sql": file("x")},
		"repeat":   {"migrations/0001_a.sql": file("x"), "migrations/0001_b.sql": file("x")},
		"from 2":   {"migrations/0002_a.sql": file("x")},
	} {
		if ms, err := loadMigrations(fsys); err == nil {
			t.Errorf("%s: loadMigrations = %v, want an error", name, ms)
		}
	}
	ms, err := loadMigrations(fstest.MapFS{"migrations/0002_b.sql": file("b"), "migrations/0001_a.sql": file("a")})
	if err != nil || len(ms) != 2 || ms[0].name != "0001_a" || ms[1].version != 2 {
		t.Fatalf("loadMigrations = %+v, %v", ms, err)
	}
}
