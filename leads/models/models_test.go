package models_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qiao-exchange/qiao/adapters"
	"github.com/qiao-exchange/qiao/adapters/court"
	"github.com/qiao-exchange/qiao/adapters/hrss"
	"github.com/qiao-exchange/qiao/adapters/medins"
	"github.com/qiao-exchange/qiao/adapters/police"
	"github.com/qiao-exchange/qiao/adapters/synth"
	"github.com/qiao-exchange/qiao/crypto/fieldcrypt"
	"github.com/qiao-exchange/qiao/leads/models"
	"github.com/qiao-exchange/qiao/schema"
	"github.com/qiao-exchange/qiao/store/warehouse"
)

// The tests run the models in a real DuckDB warehouse over synthetic data
// read back through the agencies' adapters, and compare the leads with
// synth's truth.jsonl.

var agencies = map[string]*adapters.Agency{
	"police": police.Agency,
	"court":  court.Agency,
	"medins": medins.Agency,
	"hrss":   hrss.Agency,
}

// fixture is a warehouse loaded with one or more synthetic data sets.
type fixture struct {
	reg  *schema.Registry
	keys *fieldcrypt.Keys
	wh   *warehouse.Warehouse
	rows int
}

func testKeys(t testing.TB) *fieldcrypt.Keys {
	t.Helper()
	master := make([]byte, fieldcrypt.MasterKeySize)
	for i := range master {
		master[i] = byte(0x40 + i)
	}
	k, err := fieldcrypt.New(master)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	reg, err := schema.Load("")
	if err != nil {
		t.Fatal(err)
	}
	keys := testKeys(t)
	wh, err := warehouse.Open(context.Background(), filepath.Join(t.TempDir(), "warehouse.duckdb"), reg, keys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close() })
	return &fixture{reg: reg, keys: keys, wh: wh}
}

// generate writes a synthetic data set and loads it into the warehouse:
// every file read with its owner's adapter, pushed as one batch, published.
func (f *fixture) generate(t testing.TB, opts synth.Options) synth.Summary {
	t.Helper()
	return f.generateOnly(t, opts, nil)
}

// generateOnly is generate loading only the datasets in only (nil: all).
func (f *fixture) generateOnly(t testing.TB, opts synth.Options, only []string) synth.Summary {
	t.Helper()
	ctx := context.Background()
	opts.Out = t.TempDir()
	sum, err := synth.Generate(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	region := opts.Region
	if region == "" {
		region = "411528"
	}
	for _, file := range sum.Files {
		if only != nil && !slices.Contains(only, file.Dataset) {
			continue
		}
		ds, err := f.reg.Get(file.Dataset)
		if err != nil {
			t.Fatal(err)
		}
		r, err := adapters.Open(filepath.Join(opts.Out, file.Name), ds, adapters.Options{Agency: agencies[ds.Owner]})
		if err != nil {
			t.Fatal(err)
		}
		if ps := r.Header(); len(ps) > 0 {
			t.Fatalf("%s: %v", file.Name, ps)
		}
		var rows [][]string
		for {
			row, ps, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) > 0 {
				t.Fatalf("%s: %v", file.Name, ps)
			}
			rows = append(rows, row.Values)
		}
		r.Close()
		key := warehouse.BatchKey{Dataset: ds.ID, Principal: ds.Owner + "." + region, ID: fmt.Sprintf("synth-%d-%s", opts.Seed, file.Name)}
		if _, err := f.wh.InsertBatch(ctx, key, rows); err != nil {
			t.Fatal(err)
		}
		if err := f.wh.MakeVisible(ctx, key); err != nil {
			t.Fatal(err)
		}
		f.rows += len(rows)
	}
	sum.Truth = readTruth(t, filepath.Join(opts.Out, sum.TruthFile))
	return sum
}

// readTruth reads truth.jsonl as a consumer of the files would.
func readTruth(t testing.TB, path string) []synth.TruthCase {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []synth.TruthCase
	dec := json.NewDecoder(strings.NewReader(string(data)))
	for dec.More() {
		var tc synth.TruthCase
		if err := dec.Decode(&tc); err != nil {
			t.Fatal(err)
		}
		out = append(out, tc)
	}
	if len(out) == 0 {
		t.Fatalf("%s is empty", path)
	}
	return out
}

// token returns the value of a record-key field as a lead holds it: the
// token of personal data, the value of anything else.
func (f *fixture) token(t testing.TB, dataset, field, value string) string {
	t.Helper()
	ds, err := f.reg.Get(dataset)
	if err != nil {
		t.Fatal(err)
	}
	fd, ok := ds.Field(field)
	if !ok {
		t.Fatalf("%s has no field %s", dataset, field)
	}
	if !fd.PII || value == "" {
		return value
	}
	return f.keys.Token(warehouse.TokenDomain(fd, value), value)
}

// record is an evidence record as a comparable string: dataset and sorted
// key, personal data as tokens.
func record(dataset string, key map[string]string) string {
	fields := make([]string, 0, len(key))
	for k, v := range key {
		fields = append(fields, k+"="+v)
	}
	slices.Sort(fields)
	return dataset + "{" + strings.Join(fields, ",") + "}"
}

func (f *fixture) truthRecords(t testing.TB, tc synth.TruthCase) []string {
	var out []string
	for _, ev := range tc.Evidence {
		key := map[string]string{}
		for k, v := range ev.Key {
			key[k] = f.token(t, ev.Dataset, k, v)
		}
		out = append(out, record(ev.Dataset, key))
	}
	return out
}

func leadRecords(l models.Lead) map[string]bool {
	out := map[string]bool{}
	for _, e := range l.Evidence {
		out[record(e.Dataset, e.Key)] = true
	}
	return out
}

// subject returns the token a planted case's lead must carry as subject.
func (f *fixture) subject(t testing.TB, tc synth.TruthCase) string {
	if tc.Model == synth.ModelSettlementUnperformed {
		return f.token(t, "court.enforcement_cases", "respondent_id", tc.IDNumber)
	}
	return f.token(t, "police.deaths", "id_number", tc.IDNumber)
}

func expect(v any) string {
	switch x := v.(type) {
	case []string:
		s := slices.Clone(x)
		slices.Sort(s)
		return strings.Join(s, ",")
	case []any:
		s := make([]string, len(x))
		for i, e := range x {
			s[i] = fmt.Sprint(e)
		}
		slices.Sort(s)
		return strings.Join(s, ",")
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func runAll(t testing.TB, q models.Querier, asOf time.Time) map[string][]models.Lead {
	t.Helper()
	ms, err := models.Load()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]models.Lead{}
	for _, m := range ms {
		ls, err := m.Run(context.Background(), q, asOf, nil)
		if err != nil {
			t.Fatal(err)
		}
		out[m.ID] = ls
	}
	return out
}

// checkTruth checks the leads of every model against the truth: each
// planted case found by exactly one lead with the expected subject, values
// and evidence, no near-miss's record in any lead, and no other lead.
func (f *fixture) checkTruth(t *testing.T, found map[string][]models.Lead, truth []synth.TruthCase, asOf string) {
	t.Helper()
	matched := map[string]int{} // lead ID → planted cases it matches
	planted := map[string]int{}
	for _, tc := range truth {
		leads, ok := found[tc.Model]
		if !ok {
			t.Errorf("truth names model %q, which is not built in", tc.Model)
			continue
		}
		recs := f.truthRecords(t, tc)
		switch tc.Kind {
		case synth.Planted:
			planted[tc.Model]++
			sub := f.subject(t, tc)
			var hits []models.Lead
			for _, l := range leads {
				if l.Subject == sub && leadRecords(l)[recs[0]] {
					hits = append(hits, l)
				}
			}
			if len(hits) != 1 {
				t.Errorf("%s planted %q: found by %d leads, want 1", tc.Model, tc.Case, len(hits))
				continue
			}
			l := hits[0]
			matched[l.ID]++
			for k, v := range tc.Expected {
				if got, want := l.Values[k], expect(v); got != want {
					t.Errorf("%s planted %q: %s = %q, want %q", tc.Model, tc.Case, k, got, want)
				}
			}
			// The lead's evidence is the truth's, except that the truth of
			// police.wage_transfer_not_filed may name a case record that
			// does not match (received before the transfer).
			have := leadRecords(l)
			want := map[string]bool{}
			for _, r := range recs {
				want[r] = true
			}
			for r := range have {
				if !want[r] {
					t.Errorf("%s planted %q: evidence %s is not in the truth", tc.Model, tc.Case, r)
				}
			}
			if tc.Model != synth.ModelWageTransferNotFiled && len(have) != len(want) {
				t.Errorf("%s planted %q: %d evidence records, truth has %d", tc.Model, tc.Case, len(have), len(want))
			}
			for _, e := range l.Evidence {
				if e.Principal == "" || e.Batch == "" || e.Row < 1 {
					t.Errorf("%s planted %q: evidence %+v names no batch row", tc.Model, tc.Case, e)
				}
			}
			if l.AsOf != asOf || l.Model != tc.Model || l.Version < 1 || l.TitleZh == "" || l.TitleEn == "" {
				t.Errorf("%s planted %q: lead %+v", tc.Model, tc.Case, l)
			}
			if l.Priority < 1 || l.Priority > 4 {
				t.Errorf("%s planted %q: priority %d", tc.Model, tc.Case, l.Priority)
			}
		case synth.NearMiss:
			last := recs[len(recs)-1]
			for _, l := range leads {
				have := leadRecords(l)
				all := true
				for _, r := range recs {
					all = all && have[r]
				}
				if have[last] || all {
					t.Errorf("%s near-miss %q (%s) found: lead %s", tc.Model, tc.Case, tc.Missed, l.TitleEn)
				}
			}
		}
	}
	for model, leads := range found {
		if len(leads) != planted[model] {
			t.Errorf("%s: %d leads, %d planted cases", model, len(leads), planted[model])
		}
		for _, l := range leads {
			if matched[l.ID] != 1 {
				t.Errorf("%s: lead %q matches %d planted cases", model, l.TitleEn, matched[l.ID])
			}
		}
	}
}

func TestTruth(t *testing.T) {
	for _, tt := range []struct {
		people int
		seed   int64
		asOf   time.Time
		region string
	}{
		{3000, 1, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), ""},
		{2000, 7, time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC), "411526"},
		// Two rounds of planted cases.
		{60000, 11, time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC), ""},
	} {
		if testing.Short() && tt.people > 10000 {
			continue
		}
		t.Run(fmt.Sprintf("seed%d-%s", tt.seed, tt.asOf.Format(time.DateOnly)), func(t *testing.T) {
			f := newFixture(t)
			sum := f.generate(t, synth.Options{People: tt.people, Seed: tt.seed, AsOf: tt.asOf, Region: tt.region})
			start := time.Now()
			found := runAll(t, f.wh, tt.asOf)
			t.Logf("%d rows, six models in %v", f.rows, time.Since(start))
			f.checkTruth(t, found, sum.Truth, sum.AsOf)
			for model, leads := range found {
				t.Logf("%s: %d leads; e.g. %s / %s", model, len(leads), leads[0].TitleZh, leads[0].TitleEn)
			}

			// A rerun gives the same leads.
			again := runAll(t, f.wh, tt.asOf)
			for model, leads := range found {
				if !slices.EqualFunc(leads, again[model], func(a, b models.Lead) bool { return a.ID == b.ID }) {
					t.Errorf("%s: a rerun gives other lead IDs", model)
				}
			}
		})
	}
}

// TestUnrelatedData checks that leads keep their IDs when data of another
// county arrives, and that the other county's cases are found beside them.
func TestUnrelatedData(t *testing.T) {
	f := newFixture(t)
	asOf := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	first := f.generate(t, synth.Options{People: 1500, Seed: 3, AsOf: asOf})
	before := runAll(t, f.wh, asOf)
	second := f.generate(t, synth.Options{People: 1500, Seed: 4, AsOf: asOf, Region: "411524"})
	after := runAll(t, f.wh, asOf)
	for model, leads := range before {
		ids := map[string]bool{}
		for _, l := range after[model] {
			ids[l.ID] = true
		}
		for _, l := range leads {
			if !ids[l.ID] {
				t.Errorf("%s: lead %s changed ID after unrelated data arrived", model, l.TitleEn)
			}
		}
	}
	f.checkTruth(t, after, append(slices.Clone(first.Truth), second.Truth...), first.AsOf)
}

func TestParams(t *testing.T) {
	f := newFixture(t)
	asOf := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	sum := f.generate(t, synth.Options{People: 1000, Seed: 5, AsOf: asOf})
	ctx := context.Background()
	counts := sum.Counts()

	injury, err := models.Get(synth.ModelThirdPartyInjury)
	if err != nil {
		t.Fatal(err)
	}
	// A window of N+1 days finds the two near-misses admitted on day N+1.
	for _, tt := range []struct {
		params map[string]any
		want   int
	}{
		{nil, counts[synth.ModelThirdPartyInjury][0]},
		{map[string]any{"window_days": 30}, counts[synth.ModelThirdPartyInjury][0]},
		{map[string]any{"window_days": 31}, counts[synth.ModelThirdPartyInjury][0] + 2},
		{map[string]any{"window_days": "31"}, counts[synth.ModelThirdPartyInjury][0] + 2},
		{map[string]any{"window_days": float64(31)}, counts[synth.ModelThirdPartyInjury][0] + 2},
		// With N = 0 only the passenger admitted on the day of the accident.
		{map[string]any{"window_days": 0}, 1},
	} {
		ls, err := injury.Run(ctx, f.wh, asOf, tt.params)
		if err != nil {
			t.Fatal(err)
		}
		if len(ls) != tt.want {
			t.Errorf("%s %v: %d leads, want %d", injury.ID, tt.params, len(ls), tt.want)
		}
	}

	// A window of N−1 days makes the filing on day N too late.
	wage, err := models.Get(synth.ModelWageTransferNotFiled)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := wage.Run(ctx, f.wh, asOf, map[string]any{"window_days": 29})
	if err != nil {
		t.Fatal(err)
	}
	if want := counts[synth.ModelWageTransferNotFiled][0] + 1; len(ls) != want {
		t.Errorf("%s window 29: %d leads, want %d", wage.ID, len(ls), want)
	}

	// The settlement due tomorrow is found a day later.
	settle, err := models.Get(synth.ModelSettlementUnperformed)
	if err != nil {
		t.Fatal(err)
	}
	ls, err = settle.Run(ctx, f.wh, asOf.AddDate(0, 0, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := counts[synth.ModelSettlementUnperformed][0] + 1; len(ls) != want {
		t.Errorf("%s two days later: %d leads, want %d", settle.ID, len(ls), want)
	}

	// The zero as-of date is today in China Standard Time.
	ls, err = settle.Run(ctx, f.wh, time.Time{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	today := time.Now().In(time.FixedZone("CST", 8*3600)).Format(time.DateOnly)
	for _, l := range ls {
		if l.AsOf != today {
			t.Errorf("as-of %s, want today %s", l.AsOf, today)
		}
	}
	if got := models.AsOfDate(time.Date(2026, 11, 19, 16, 30, 0, 0, time.UTC)); got != "2026-11-20" {
		t.Errorf("AsOfDate of 16:30 UTC = %s, want the next day in China", got)
	}

	// Result rows that break the contract are ErrResult.
	meta := []byte(`{id: a.b, version: 1, title_zh: 甲, title_en: A, legal_basis: [x], datasets: [police.deaths],
lead: {title_zh: "{{.v}}", title_en: "{{.v}}", values: [{name: v}]}}`)
	ev := `[{'dataset': 'police.deaths', 'principal': principal, 'batch_id': batch_id, 'row_no': row_no, 'key': MAP {'id_number': id_number_tok}}]`
	for name, q := range map[string]string{
		"no evidence":    `SELECT id_number_tok AS subject, 1 AS priority, 'x' AS v FROM police__deaths`,
		"no value":       `SELECT id_number_tok AS subject, 1 AS priority, ` + ev + ` AS evidence FROM police__deaths`,
		"empty evidence": `SELECT id_number_tok AS subject, 1 AS priority, [] AS evidence, 'x' AS v FROM police__deaths`,
		"repeated":       `SELECT id_number_tok AS subject, 1 AS priority, ` + ev + ` AS evidence, 'x' AS v FROM police__deaths, range(2)`,
	} {
		m, err := models.Parse(meta, q)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Run(ctx, f.wh, asOf, nil); !errors.Is(err, models.ErrResult) {
			t.Errorf("%s: err = %v, want ErrResult", name, err)
		}
	}
	m, err := models.Parse(meta, `SELECT id_number_tok AS subject, 1 AS priority, `+ev+` AS evidence, 'x' AS v FROM police__deaths`)
	if err != nil {
		t.Fatal(err)
	}
	if ls, err := m.Run(ctx, f.wh, asOf, nil); err != nil || len(ls) == 0 {
		t.Errorf("a well-formed model: %d leads, %v", len(ls), err)
	}

	for _, bad := range []map[string]any{
		{"window": 30},
		{"window_days": -1},
		{"window_days": 1000},
		{"window_days": 30.5},
		{"window_days": "thirty"},
		{"window_days": true},
	} {
		if _, err := injury.Run(ctx, f.wh, asOf, bad); !errors.Is(err, models.ErrParam) {
			t.Errorf("params %v: err = %v, want ErrParam", bad, err)
		}
	}
}
