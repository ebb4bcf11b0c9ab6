package models_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qiao-exchange/qiao/adapters/synth"
	"github.com/qiao-exchange/qiao/leads/models"

	_ "modernc.org/sqlite"
)

// The core of medins.third_party_injury — incidents, the time-window join
// on tokens, one row per person and incident date — in the two dialects.
// The model's own SQL adds the evidence lists, which SQLite cannot build;
// both dialects return the same rows (checked below).
const (
	injuryCoreDuckDB = `
WITH incidents AS (
    SELECT id_number_tok AS subject, accident_date AS incident_date FROM police__traffic_accidents
    WHERE responsibility IN ('次要', '无') AND id_number_tok IS NOT NULL AND accident_date IS NOT NULL
    UNION
    SELECT plaintiff_id_number_tok, accident_date FROM court__civil_compensations
    WHERE medical_costs_awarded > 0 AND plaintiff_id_number_tok IS NOT NULL AND accident_date IS NOT NULL
)
SELECT i.subject, CAST(i.incident_date AS VARCHAR) AS d, count(*) AS n, CAST(sum(s.fund_paid) AS VARCHAR) AS total
FROM incidents i JOIN medins__settlements s ON s.id_number_tok = i.subject
WHERE (s.diagnosis_code LIKE 'S%' OR s.diagnosis_code LIKE 'T%' OR s.injury) AND s.fund_paid > 0
  AND s.admission_date >= i.incident_date AND date_diff('day', i.incident_date, s.admission_date) <= 30
GROUP BY i.subject, i.incident_date ORDER BY 1, 2`

	injuryCoreSQLite = `
WITH incidents AS (
    SELECT id_number_tok AS subject, accident_date AS incident_date FROM police__traffic_accidents
    WHERE responsibility IN ('次要', '无') AND id_number_tok IS NOT NULL AND accident_date IS NOT NULL
    UNION
    SELECT plaintiff_id_number_tok, accident_date FROM court__civil_compensations
    WHERE medical_costs_awarded > 0 AND plaintiff_id_number_tok IS NOT NULL AND accident_date IS NOT NULL
)
SELECT i.subject, i.incident_date AS d, count(*) AS n, printf('%.2f', sum(s.fund_paid) / 100.0) AS total
FROM incidents i JOIN medins__settlements s ON s.id_number_tok = i.subject
WHERE (s.diagnosis_code LIKE 'S%' OR s.diagnosis_code LIKE 'T%' OR s.injury) AND s.fund_paid > 0
  AND s.admission_date >= i.incident_date AND julianday(s.admission_date) - julianday(i.incident_date) <= 30
GROUP BY i.subject, i.incident_date ORDER BY 1, 2`
)

// copies lists the columns copied to SQLite per table: dates as ISO text,
// money as integer fen, booleans as 0/1 — SQLite's usual forms.
var copies = map[string]struct{ create, selectDuck string }{
	"police__traffic_accidents": {
		`CREATE TABLE police__traffic_accidents (id_number_tok TEXT, accident_date TEXT, responsibility TEXT)`,
		`SELECT id_number_tok, CAST(accident_date AS VARCHAR), CAST(responsibility AS VARCHAR) FROM police__traffic_accidents`,
	},
	"court__civil_compensations": {
		`CREATE TABLE court__civil_compensations (plaintiff_id_number_tok TEXT, accident_date TEXT, medical_costs_awarded INTEGER)`,
		`SELECT plaintiff_id_number_tok, CAST(accident_date AS VARCHAR), CAST(medical_costs_awarded * 100 AS BIGINT) FROM court__civil_compensations`,
	},
	"medins__settlements": {
		`CREATE TABLE medins__settlements (id_number_tok TEXT, admission_date TEXT, diagnosis_code TEXT, injury INTEGER, fund_paid INTEGER)`,
		`SELECT id_number_tok, CAST(admission_date AS VARCHAR), diagnosis_code, CAST(coalesce(injury, false) AS INTEGER), CAST(fund_paid * 100 AS BIGINT) FROM medins__settlements`,
	},
}

// BenchmarkThirdPartyInjury runs medins.third_party_injury over synthetic
// data of QIAO_BENCH_PEOPLE people (default 200,000): the model as the
// runner runs it, its core join in DuckDB, and the same core join in
// SQLite (modernc.org/sqlite) over the same rows — the reference — once
// with an index on the settlements' token and once without one (SQLite may
// then build an automatic index for each query).
func BenchmarkThirdPartyInjury(b *testing.B) {
	people := 200_000
	if s := os.Getenv("QIAO_BENCH_PEOPLE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		people = n
	}
	ctx := context.Background()
	asOf := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	f := newFixture(b)
	start := time.Now()
	f.generateOnly(b, synth.Options{People: people, Seed: 1, AsOf: asOf},
		[]string{"police.traffic_accidents", "court.civil_compensations", "medins.settlements"})
	b.Logf("%d people: %d rows generated and loaded in %v", people, f.rows, time.Since(start))

	lite, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "ref.sqlite"))
	if err != nil {
		b.Fatal(err)
	}
	defer lite.Close()
	for table, c := range copies {
		copyTable(b, f, lite, table, c.create, c.selectDuck)
	}
	// A copy without an index, for the reference without one.
	if _, err := lite.Exec(`CREATE TABLE settlements_plain AS SELECT * FROM medins__settlements`); err != nil {
		b.Fatal(err)
	}
	if _, err := lite.Exec(`CREATE INDEX settlements_tok ON medins__settlements (id_number_tok)`); err != nil {
		b.Fatal(err)
	}
	plainSQLite := strings.Replace(injuryCoreSQLite, "JOIN medins__settlements s", "JOIN settlements_plain s", 1)
	if got := collect(b, func() (*sql.Rows, error) { return lite.Query(plainSQLite) }); len(got) == 0 {
		b.Fatal("the plain SQLite table finds nothing")
	}
	if _, err := lite.Exec(`ANALYZE`); err != nil {
		b.Fatal(err)
	}

	duck := collect(b, func() (*sql.Rows, error) { return f.wh.ModelQuery(ctx, injuryCoreDuckDB) })
	ref := collect(b, func() (*sql.Rows, error) { return lite.Query(injuryCoreSQLite) })
	if len(duck) != len(ref) {
		b.Fatalf("DuckDB finds %d rows, SQLite %d", len(duck), len(ref))
	}
	for i := range duck {
		if duck[i] != ref[i] {
			b.Fatalf("row %d: DuckDB %v, SQLite %v", i, duck[i], ref[i])
		}
	}
	m, err := models.Get(synth.ModelThirdPartyInjury)
	if err != nil {
		b.Fatal(err)
	}
	leads, err := m.Run(ctx, f.wh, asOf, nil)
	if err != nil {
		b.Fatal(err)
	}
	if len(leads) != len(duck) {
		b.Fatalf("model finds %d leads, core join %d rows", len(leads), len(duck))
	}
	rows := float64(f.rows)

	b.Run("model", func(b *testing.B) {
		for b.Loop() {
			if _, err := m.Run(ctx, f.wh, asOf, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(rows, "rows")
		b.ReportMetric(float64(len(leads)), "leads")
	})
	b.Run("duckdb-core", func(b *testing.B) {
		for b.Loop() {
			collect(b, func() (*sql.Rows, error) { return f.wh.ModelQuery(ctx, injuryCoreDuckDB) })
		}
		b.ReportMetric(rows, "rows")
	})
	b.Run("sqlite-core-noindex", func(b *testing.B) {
		for b.Loop() {
			collect(b, func() (*sql.Rows, error) { return lite.Query(plainSQLite) })
		}
		b.ReportMetric(rows, "rows")
	})
	b.Run("sqlite-core", func(b *testing.B) {
		for b.Loop() {
			collect(b, func() (*sql.Rows, error) { return lite.Query(injuryCoreSQLite) })
		}
		b.ReportMetric(rows, "rows")
	})
}

type coreRow struct{ subject, date, n, total string }

func collect(b *testing.B, query func() (*sql.Rows, error)) []coreRow {
	b.Helper()
	rs, err := query()
	if err != nil {
		b.Fatal(err)
	}
	defer rs.Close()
	var out []coreRow
	for rs.Next() {
		var r coreRow
		var n int64
		if err := rs.Scan(&r.subject, &r.date, &n, &r.total); err != nil {
			b.Fatal(err)
		}
		r.n = strconv.FormatInt(n, 10)
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		b.Fatal(err)
	}
	return out
}

func copyTable(b *testing.B, f *fixture, lite *sql.DB, table, create, sel string) {
	b.Helper()
	if _, err := lite.Exec(create); err != nil {
		b.Fatal(err)
	}
	rs, err := f.wh.ModelQuery(context.Background(), sel)
	if err != nil {
		b.Fatal(err)
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	tx, err := lite.Begin()
	if err != nil {
		b.Fatal(err)
	}
	q := "INSERT INTO " + table + " VALUES (?" + repeat(",?", len(cols)-1) + ")"
	st, err := tx.Prepare(q)
	if err != nil {
		b.Fatal(err)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			b.Fatal(err)
		}
		if _, err := st.Exec(vals...); err != nil {
			b.Fatal(err)
		}
	}
	if err := rs.Err(); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

// The core of hrss.pension_after_death — deaths × pension payments, a
// large × large join — in the two dialects.
const (
	pensionCoreDuckDB = `
SELECT d.id_number_tok, count(*) AS n, CAST(sum(p.amount) AS VARCHAR) AS total
FROM police__deaths d JOIN hrss__pension_payments p ON p.id_number_tok = d.id_number_tok
WHERE p.period > date_trunc('month', d.death_date)
GROUP BY d.id_number_tok ORDER BY 1`

	pensionCoreSQLite = `
SELECT d.id_number_tok, count(*) AS n, printf('%.2f', sum(p.amount) / 100.0) AS total
FROM police__deaths d JOIN hrss__pension_payments p ON p.id_number_tok = d.id_number_tok
WHERE p.period > strftime('%Y-%m-01', d.death_date)
GROUP BY d.id_number_tok ORDER BY 1`
)

// BenchmarkModels loads every dataset of QIAO_BENCH_PEOPLE people (default
// 200,000) and runs each of the six models; beside them, the core of
// hrss.pension_after_death in DuckDB and in SQLite over the same rows
// (indexed on the payments' token, and not), the reference.
func BenchmarkModels(b *testing.B) {
	people := 200_000
	if s := os.Getenv("QIAO_BENCH_PEOPLE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		people = n
	}
	ctx := context.Background()
	asOf := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	f := newFixture(b)
	start := time.Now()
	sum := f.generate(b, synth.Options{People: people, Seed: 1, AsOf: asOf})
	b.Logf("%d people: %d rows generated and loaded in %v", people, f.rows, time.Since(start))
	rows := float64(f.rows)
	counts := sum.Counts()

	ms, err := models.Load()
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range ms {
		leads, err := m.Run(ctx, f.wh, asOf, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(leads) != counts[m.ID][0] {
			b.Fatalf("%s: %d leads, %d planted", m.ID, len(leads), counts[m.ID][0])
		}
		b.Run(m.ID, func(b *testing.B) {
			for b.Loop() {
				if _, err := m.Run(ctx, f.wh, asOf, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(rows, "rows")
			b.ReportMetric(float64(len(leads)), "leads")
		})
	}

	lite, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "ref.sqlite"))
	if err != nil {
		b.Fatal(err)
	}
	defer lite.Close()
	copyTable(b, f, lite, "police__deaths",
		`CREATE TABLE police__deaths (id_number_tok TEXT, death_date TEXT)`,
		`SELECT id_number_tok, CAST(death_date AS VARCHAR) FROM police__deaths`)
	copyTable(b, f, lite, "hrss__pension_payments",
		`CREATE TABLE hrss__pension_payments (id_number_tok TEXT, period TEXT, amount INTEGER)`,
		`SELECT id_number_tok, CAST(period AS VARCHAR), CAST(amount * 100 AS BIGINT) FROM hrss__pension_payments`)
	scan := func(b *testing.B, rs *sql.Rows, err error) []coreRow {
		b.Helper()
		if err != nil {
			b.Fatal(err)
		}
		defer rs.Close()
		var out []coreRow
		for rs.Next() {
			var r coreRow
			var n int64
			if err := rs.Scan(&r.subject, &n, &r.total); err != nil {
				b.Fatal(err)
			}
			r.n = strconv.FormatInt(n, 10)
			out = append(out, r)
		}
		if err := rs.Err(); err != nil {
			b.Fatal(err)
		}
		return out
	}
	// A copy without an index, for the reference without one.
	if _, err := lite.Exec(`CREATE TABLE pension_plain AS SELECT * FROM hrss__pension_payments`); err != nil {
		b.Fatal(err)
	}
	if _, err := lite.Exec(`CREATE INDEX pension_tok ON hrss__pension_payments (id_number_tok)`); err != nil {
		b.Fatal(err)
	}
	if _, err := lite.Exec(`ANALYZE`); err != nil {
		b.Fatal(err)
	}
	plain := strings.Replace(pensionCoreSQLite, "JOIN hrss__pension_payments p", "JOIN pension_plain p", 1)
	duck := func(b *testing.B) []coreRow {
		rs, err := f.wh.ModelQuery(ctx, pensionCoreDuckDB)
		return scan(b, rs, err)
	}
	ref := func(b *testing.B, q string) []coreRow {
		rs, err := lite.Query(q)
		return scan(b, rs, err)
	}
	if d, r := duck(b), ref(b, pensionCoreSQLite); !slices.Equal(d, r) || len(d) != counts[synth.ModelPensionAfterDeath][0] {
		b.Fatalf("DuckDB %d rows, SQLite %d rows, planted %d", len(d), len(r), counts[synth.ModelPensionAfterDeath][0])
	}
	b.Run("pension-core/duckdb", func(b *testing.B) {
		for b.Loop() {
			duck(b)
		}
		b.ReportMetric(rows, "rows")
	})
	b.Run("pension-core/sqlite", func(b *testing.B) {
		for b.Loop() {
			ref(b, pensionCoreSQLite)
		}
		b.ReportMetric(rows, "rows")
	})
	// Slow: about 10 s a query at 200,000 people.
	b.Run("pension-core/sqlite-noindex", func(b *testing.B) {
		for b.Loop() {
			ref(b, plain)
		}
		b.ReportMetric(rows, "rows")
	})
}
