package synth

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/qiao-exchange/qiao/schema"
)

var testAsOf = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// data is what a test reads back: per dataset, rows of canonical values by
// field name, validated by the schema.
type data map[string][]map[string]string

// readBack reads every file the manifest lists — CSV through a GBK decoder,
// XLSX through excelize — maps headers with schema.MatchHeader and
// validates every row, failing the test on any problem.
func readBack(t *testing.T, dir string) data {
	t.Helper()
	reg, err := schema.Load("")
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct{ Files []FileSummary }
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &manifest); err != nil {
		t.Fatal(err)
	}
	out := data{}
	seen := map[string]bool{}
	for _, f := range manifest.Files {
		ds, err := reg.Get(f.Dataset)
		if err != nil {
			t.Fatal(err)
		}
		seen[f.Dataset] = true
		var rows [][]string
		path := filepath.Join(dir, f.Name)
		switch f.Format {
		case FormatCSV:
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := simplifiedchinese.GBK.NewDecoder().Bytes(raw)
			if err != nil {
				t.Fatalf("%s: not GBK: %v", f.Name, err)
			}
			if !bytes.HasSuffix(raw, []byte("\r\n")) {
				t.Errorf("%s: lines do not end in CRLF", f.Name)
			}
			if rows, err = csv.NewReader(bytes.NewReader(dec)).ReadAll(); err != nil {
				t.Fatalf("%s: %v", f.Name, err)
			}
		case FormatXLSX:
			x, err := excelize.OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			rows, err = x.GetRows(x.GetSheetName(0))
			x.Close()
			if err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("%s: format %q", f.Name, f.Format)
		}
		if len(rows) < f.HeaderRow || len(rows)-f.HeaderRow != f.Rows {
			t.Fatalf("%s: %d rows read, manifest says header row %d and %d rows", f.Name, len(rows), f.HeaderRow, f.Rows)
		}
		header := rows[f.HeaderRow-1]
		index := make([]int, len(header))
		for i, h := range header {
			name, ok := schema.MatchHeader(ds, h)
			if !ok {
				t.Fatalf("%s: header %q matches no field", f.Name, h)
			}
			fd, _ := ds.Field(name)
			if !slices.Contains(fd.AliasesZh, h) {
				t.Errorf("%s: header %q is not one of the field's aliases_zh", f.Name, h)
			}
			index[i] = ds.FieldIndex(name)
		}
		problems := 0
		for n, r := range rows[f.HeaderRow:] {
			raw := make([]string, len(ds.Fields))
			for i, v := range r {
				if i >= len(index) {
					t.Fatalf("%s row %d: more cells than headers", f.Name, n+1)
				}
				raw[index[i]] = v
			}
			norm, errs := ds.ValidateRow(raw)
			if len(errs) > 0 {
				if problems++; problems <= 5 {
					t.Errorf("%s row %d: %v (%q)", f.Name, n+f.HeaderRow+1, errs, r)
				}
				continue
			}
			rec := make(map[string]string, len(norm))
			for i, fd := range ds.Fields {
				rec[fd.Name] = norm[i]
			}
			out[f.Dataset] = append(out[f.Dataset], rec)
		}
		if problems > 0 {
			t.Errorf("%s: %d invalid rows", f.Name, problems)
		}
	}
	for _, ds := range reg.List() {
		if !seen[ds.ID] {
			t.Errorf("no file of dataset %s", ds.ID)
		}
	}
	// Record keys are unique per dataset.
	for _, ds := range reg.List() {
		keys := map[string]bool{}
		for _, rec := range out[ds.ID] {
			k := recordKey(ds.RecordKey, rec)
			if keys[k] {
				t.Errorf("%s: record key %s occurs twice", ds.ID, k)
			}
			keys[k] = true
		}
	}
	return out
}

func recordKey(fields []string, rec map[string]string) string {
	var parts []string
	for _, f := range fields {
		parts = append(parts, rec[f])
	}
	return strings.Join(parts, "|")
}

func readTruth(t *testing.T, dir string) []TruthCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "truth.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []TruthCase
	for line := range strings.Lines(string(b)) {
		var tc TruthCase
		if err := json.Unmarshal([]byte(line), &tc); err != nil {
			t.Fatalf("truth.jsonl: %v", err)
		}
		out = append(out, tc)
	}
	return out
}

func generate(t *testing.T, people int, seed int64) (string, Summary) {
	t.Helper()
	dir := t.TempDir()
	s, err := Generate(context.Background(), Options{People: people, Seed: seed, Out: dir, AsOf: testAsOf})
	if err != nil {
		t.Fatal(err)
	}
	return dir, s
}

func TestGenerateDeterministic(t *testing.T) {
	a, _ := generate(t, 3000, 7)
	b, _ := generate(t, 3000, 7)
	c, _ := generate(t, 3000, 8)
	entries, err := os.ReadDir(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 13 {
		t.Errorf("%d files written, want 11 data files, truth.jsonl and manifest.json", len(entries))
	}
	differs := false
	for _, e := range entries {
		x, _ := os.ReadFile(filepath.Join(a, e.Name()))
		y, err := os.ReadFile(filepath.Join(b, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs with the same seed", e.Name())
		}
		z, _ := os.ReadFile(filepath.Join(c, e.Name()))
		differs = differs || !bytes.Equal(x, z)
	}
	if !differs {
		t.Error("another seed gave the same files")
	}
}

func TestGenerateOptions(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []Options{
		{People: 10, Out: dir},
		{People: MaxPeople + 1, Out: dir},
		{People: 1000},
		{People: 1000, Out: dir, Region: "110101"},
		{People: 1000, Out: dir, AsOf: time.Now().AddDate(0, 0, 3)},
	} {
		if _, err := Generate(context.Background(), o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Generate(%+v) = %v, want ErrInvalidOptions", o, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, Options{People: 1000, Out: dir, AsOf: testAsOf}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestGroundTruth reads the files back, validates every row, runs the six
// models' rules as DESIGN.md states them over all the data, and checks
// that they find exactly the planted cases with their expected values,
// and that each near-miss fails exactly the one condition it names.
func TestGroundTruth(t *testing.T) {
	for _, tc := range []struct {
		people int
		seed   int64
		region string
		asOf   time.Time
	}{
		{20000, 1, "", testAsOf},
		{100, 2, "", testAsOf},
		{3000, 3, "411526", time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC)},
		{3000, 4, "", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(fmt.Sprint(tc.people, "/", tc.seed), func(t *testing.T) {
			dir := t.TempDir()
			sum, err := Generate(context.Background(), Options{People: tc.people, Seed: tc.seed, Out: dir, AsOf: tc.asOf, Region: tc.region})
			if err != nil {
				t.Fatal(err)
			}
			d := readBack(t, dir)
			truth := readTruth(t, dir)
			if len(truth) != len(sum.Truth) {
				t.Fatalf("truth.jsonl has %d lines, summary %d", len(truth), len(sum.Truth))
			}
			checkTruth(t, d, truth, dayOfTime(tc.asOf))
			for model, c := range sum.Counts() {
				if c[0] < 3 || c[1] < 3 {
					t.Errorf("%s: %d planted and %d near-misses, want at least 3 of each", model, c[0], c[1])
				}
			}
			if len(sum.Counts()) != 6 {
				t.Errorf("truth covers %d models, want 6", len(sum.Counts()))
			}
			if got := len(d["police.deaths"]); got == 0 {
				t.Error("no deaths")
			}
		})
	}
}

func TestGenerateScales(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 200,000 people")
	}
	dir := t.TempDir()
	start := time.Now()
	sum, err := Generate(context.Background(), Options{People: 200000, Seed: 5, Out: dir, AsOf: testAsOf})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("200,000 people in %v", time.Since(start))
	small, err := Generate(context.Background(), Options{People: 1000, Seed: 5, Out: t.TempDir(), AsOf: testAsOf})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Truth) <= len(small.Truth) {
		t.Errorf("%d truth cases for 200,000 people, %d for 1,000: planted cases do not scale", len(sum.Truth), len(small.Truth))
	}
	rows := func(s Summary, ds string) int {
		n := 0
		for _, f := range s.Files {
			if f.Dataset == ds {
				n += f.Rows
			}
		}
		return n
	}
	for _, ds := range []string{"hrss.pension_payments", "medins.settlements", "police.traffic_accidents", "police.case_records"} {
		if a, b := rows(sum, ds), rows(small, ds); a < 20*b {
			t.Errorf("%s: %d rows for 200,000 people, %d for 1,000", ds, a, b)
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	for b.Loop() {
		if _, err := Generate(context.Background(), Options{People: 100000, Seed: 1, Out: b.TempDir(), AsOf: testAsOf}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGenerateReference writes the same number of pension rows as
// BenchmarkGenerate with encoding/csv in UTF-8, no GBK and no modelling: a
// reference for the cost of the writing alone.
func BenchmarkGenerateReference(b *testing.B) {
	for b.Loop() {
		f, err := os.Create(filepath.Join(b.TempDir(), "ref.csv"))
		if err != nil {
			b.Fatal(err)
		}
		w := csv.NewWriter(f)
		for i := range 100000 * 24 / 10 {
			_ = w.Write([]string{"411528195001011234", "王秀英", "202511", strconv.Itoa(i) + ".00"})
		}
		w.Flush()
		f.Close()
	}
}

// TestExportQuirks checks that the files carry the variety readers must
// cope with.
func TestExportQuirks(t *testing.T) {
	dir, _ := generate(t, 20000, 4)
	text := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".csv") {
			if b, err = simplifiedchinese.GBK.NewDecoder().Bytes(b); err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		x, err := excelize.OpenFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		rows, err := x.GetRows(x.GetSheetName(0))
		if err != nil {
			t.Fatal(err)
		}
		var s strings.Builder
		for _, r := range rows {
			s.WriteString(strings.Join(r, ",") + "\n")
		}
		return s.String()
	}
	for _, c := range []struct{ file, want, what string }{
		{"court.enforcement_cases.xlsx", "（20", "full-width brackets in case numbers"},
		{"court.enforcement_cases.xlsx", ",(20", "half-width brackets in case numbers"},
		{"court.enforcement_cases.xlsx", "执恢", "resumed case numbers"},
		{"court.criminal_judgments.xlsx", "年", "dates as 2023年5月6日"},
		{"court.enforcement_cases.xlsx", "/", "dates as 2023/5/6"},
		{"police.detentions.csv", "x,", "a lower-case check character"},
		{"police.case_records.csv", "人社监移", "transfer numbers"},
		{"hrss.labor_inspections.csv", "〔20", "transfer numbers with 〔〕"},
		{"hrss.labor_inspections.csv", "[20", "transfer numbers with []"},
		{"medins.settlements.xlsx", " 00:00:00", "dates with a time of day"},
		{"medins.settlements.csv", ",否,", "injury flags as 是/否"},
		{"police.traffic_accidents.csv", "次要责任", "long forms of enumerations"},
	} {
		if !strings.Contains(text(c.file), c.want) {
			t.Errorf("%s has no %s (%q)", c.file, c.what, c.want)
		}
	}
	legacy := 0
	for line := range strings.Lines(text("hrss.pension_payments.csv")) {
		if f := strings.Split(line, ","); len(f[1]) == 15 {
			legacy++
		}
	}
	if legacy == 0 {
		t.Error("no 15-digit ID numbers in the pension payments")
	}
	compact := 0
	for line := range strings.Lines(text("medins.settlements.csv")) {
		if f := strings.Split(line, ","); len(f[4]) == 8 {
			compact++
		}
	}
	if compact == 0 {
		t.Error("no dates as 20230506 in the settlements")
	}
}

// BenchmarkGenerateMillion generates the full size of the target, 1,000,000
// people (about 180 MB), and reports rows per second.
func BenchmarkGenerateMillion(b *testing.B) {
	for b.Loop() {
		sum, err := Generate(context.Background(), Options{People: 1000000, Seed: 1, Out: b.TempDir(), AsOf: testAsOf})
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		for _, f := range sum.Files {
			rows += f.Rows
		}
		b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	}
}
