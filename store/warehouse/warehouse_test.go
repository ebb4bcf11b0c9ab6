package warehouse

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/qiao-exchange/qiao/crypto/fieldcrypt"
	"github.com/qiao-exchange/qiao/schema"
)

func TestVisibility(t *testing.T) {
	ctx := context.Background()
	w, _ := openTemp(t)
	rows := deaths(t, 0, 3)
	mustInsert(t, w, "police.deaths", "b1", rows)

	// Invisible: not counted, not returned, not in the models' view.
	if n := count(t, w, "police.deaths"); n != 0 {
		t.Fatalf("Count before MakeVisible = %d, want 0", n)
	}
	if got, err := w.Rows(ctx, "police.deaths", Query{}); err != nil || len(got) != 0 {
		t.Fatalf("Rows before MakeVisible = %d rows, %v", len(got), err)
	}
	if n := viewCount(t, w, "police__deaths"); n != 0 {
		t.Fatalf("view before MakeVisible has %d rows", n)
	}
	if n := stored(t, w, "police.deaths"); n != 3 {
		t.Fatalf("table holds %d rows, want 3", n)
	}

	mustPublish(t, w, "police.deaths", "b1")
	mustPublish(t, w, "police.deaths", "b1") // again: nothing to do
	if n := count(t, w, "police.deaths"); n != 3 {
		t.Fatalf("Count after MakeVisible = %d, want 3", n)
	}
	if n := viewCount(t, w, "police__deaths"); n != 3 {
		t.Fatalf("view after MakeVisible has %d rows", n)
	}
	got, err := w.Rows(ctx, "police.deaths", Query{})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got {
		if r.Batch != bk("police.deaths", "b1") || r.RowNo != i+1 || !slices.Equal(r.Values, rows[i]) {
			t.Errorf("row %d = %+v, want b1 %d %q", i, r, i+1, rows[i])
		}
	}

	if err := w.MakeVisible(ctx, bk("police.deaths", "nope")); !errors.Is(err, ErrUnknownBatch) {
		t.Errorf("MakeVisible(unknown) = %v, want ErrUnknownBatch", err)
	}
}

func viewCount(t testing.TB, w *Warehouse, view string) int64 {
	t.Helper()
	rows, err := w.ModelQuery(context.Background(), `SELECT count(*) FROM `+view)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func TestInsertIdempotent(t *testing.T) {
	ctx := context.Background()
	w, _ := openTemp(t)
	rows := settlements(t, 0, 5)
	mustInsert(t, w, "medins.settlements", "b1", rows)
	for range 2 {
		ins, err := w.InsertBatch(ctx, bk("medins.settlements", "b1"), rows)
		if err != nil || ins {
			t.Fatalf("second InsertBatch = %v, %v; want false, nil", ins, err)
		}
	}
	mustPublish(t, w, "medins.settlements", "b1")
	if ins, err := w.InsertBatch(ctx, bk("medins.settlements", "b1"), rows); err != nil || ins {
		t.Fatalf("InsertBatch of a visible batch = %v, %v; want false, nil", ins, err)
	}
	if n := stored(t, w, "medins.settlements"); n != 5 {
		t.Fatalf("table holds %d rows, want 5", n)
	}

	// The same batch with other rows conflicts.
	changed := slices.Clone(rows)
	changed[2] = slices.Clone(rows[2])
	changed[2][2] = "别人"
	for name, try := range map[string]func() (bool, error){
		"changed PII": func() (bool, error) { return w.InsertBatch(ctx, bk("medins.settlements", "b1"), changed) },
		"fewer rows":  func() (bool, error) { return w.InsertBatch(ctx, bk("medins.settlements", "b1"), rows[:4]) },
	} {
		if ins, err := try(); ins || !errors.Is(err, ErrBatchConflict) {
			t.Errorf("%s: InsertBatch = %v, %v; want ErrBatchConflict", name, ins, err)
		}
	}
	if n := stored(t, w, "medins.settlements"); n != 5 {
		t.Fatalf("table holds %d rows after conflicts, want 5", n)
	}

	// The same batch ID from another principal, or of another dataset, is
	// another batch.
	other := bk("medins.settlements", "b1")
	other.Principal = "medins.411528"
	for _, k := range []BatchKey{other, bk("police.deaths", "b1")} {
		r := rows
		if k.Dataset == "police.deaths" {
			r = deaths(t, 0, 5)
		}
		if ins, err := w.InsertBatch(ctx, k, r); err != nil || !ins {
			t.Errorf("InsertBatch(%s) = %v, %v; want a new batch", k, ins, err)
		}
		if err := w.MakeVisible(ctx, k); err != nil {
			t.Error(err)
		}
	}
	got, err := w.Rows(ctx, "medins.settlements", Query{Fields: []string{"settlement_no"}, Limit: 6})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 || got[5].Batch != other {
		t.Errorf("rows of two principals' b1: %+v", got)
	}
}

// TestConcurrentInserts pushes batches from several goroutines at once, each
// batch twice, so that the writer commits them in groups and sees the same
// ID twice in one group.
func TestConcurrentInserts(t *testing.T) {
	ctx := context.Background()
	w, _ := openTemp(t)
	const batches = 12
	var wg sync.WaitGroup
	var mu sync.Mutex
	inserted := map[string]int{}
	for i := range 2 * batches {
		wg.Go(func() {
			id := fmt.Sprintf("b%d", i%batches)
			ins, err := w.InsertBatch(ctx, bk("police.deaths", id), deaths(t, 10*(i%batches), 10))
			if err != nil {
				t.Error(err)
				return
			}
			if ins {
				mu.Lock()
				inserted[id]++
				mu.Unlock()
			}
			if err := w.MakeVisible(ctx, bk("police.deaths", id)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range batches {
		if id := fmt.Sprintf("b%d", i); inserted[id] != 1 {
			t.Errorf("batch %s inserted %d times", id, inserted[id])
		}
	}
	if n := count(t, w, "police.deaths"); n != 10*batches {
		t.Errorf("Count = %d, want %d", n, 10*batches)
	}
}

func TestRemoveInvisible(t *testing.T) {
	ctx := context.Background()
	w, _ := openTemp(t)
	mustInsert(t, w, "police.deaths", "visible", deaths(t, 0, 4))
	mustPublish(t, w, "police.deaths", "visible")
	mustInsert(t, w, "police.deaths", "committed", deaths(t, 10, 3))
	mustInsert(t, w, "police.deaths", "uncommitted", deaths(t, 20, 5))
	mustInsert(t, w, "medins.settlements", "uncommitted-2", settlements(t, 0, 2))

	// An error from the state store changes nothing.
	boom := errors.New("state store unreachable")
	if _, err := w.RemoveInvisible(ctx, func(BatchKey) (bool, error) { return false, boom }); !errors.Is(err, boom) {
		t.Fatalf("RemoveInvisible with a failing keep = %v", err)
	}
	if n := stored(t, w, "police.deaths"); n != 12 {
		t.Fatalf("table holds %d rows after a failed recovery, want 12", n)
	}

	var asked []string
	rec, err := w.RemoveInvisible(ctx, func(k BatchKey) (bool, error) {
		asked = append(asked, k.ID)
		return k.ID == "committed", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"committed", "uncommitted", "uncommitted-2"}; !slices.Equal(asked, want) {
		t.Errorf("keep was asked about %q, want %q", asked, want)
	}
	if !slices.Equal(rec.Published, []BatchKey{bk("police.deaths", "committed")}) ||
		!slices.Equal(rec.Removed, []BatchKey{bk("police.deaths", "uncommitted"), bk("medins.settlements", "uncommitted-2")}) {
		t.Errorf("Recovery = %+v", rec)
	}
	if n := stored(t, w, "police.deaths"); n != 7 {
		t.Errorf("police.deaths holds %d rows, want 7", n)
	}
	if n := count(t, w, "police.deaths"); n != 7 {
		t.Errorf("Count = %d, want 7", n)
	}
	if n := stored(t, w, "medins.settlements"); n != 0 {
		t.Errorf("medins.settlements holds %d rows, want 0", n)
	}
	if err := w.MakeVisible(ctx, bk("police.deaths", "uncommitted")); !errors.Is(err, ErrUnknownBatch) {
		t.Errorf("MakeVisible(removed) = %v, want ErrUnknownBatch", err)
	}
	// A removed batch can be pushed again.
	mustInsert(t, w, "police.deaths", "uncommitted", deaths(t, 20, 5))

	// Nothing invisible is left to ask about but the new one.
	asked = nil
	if _, err := w.RemoveInvisible(ctx, func(k BatchKey) (bool, error) { asked = append(asked, k.ID); return true, nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(asked, []string{"uncommitted"}) {
		t.Errorf("second recovery asked about %q", asked)
	}
}

func TestInvalidInput(t *testing.T) {
	ctx := context.Background()
	w, _ := openTemp(t)
	good := settlements(t, 0, 3)
	bad := func(row int, field int, value string) [][]string {
		rows := slices.Clone(good)
		rows[row] = slices.Clone(good[row])
		rows[row][field] = value
		return rows
	}
	for _, tc := range []struct {
		name string
		rows [][]string
		want string
	}{
		{"short row", [][]string{good[0], good[1][:5]}, "row 2: has 5 values"},
		{"date", bad(1, 4, "2023/4/10"), "row 2, field admission_date"},
		{"impossible date", bad(0, 5, "2023-02-30"), "row 1, field discharge_date"},
		{"money", bad(2, 9, "12,50"), "row 3, field total_cost"},
		{"bool", bad(0, 8, "是"), "row 1, field injury"},
	} {
		_, err := w.InsertBatch(ctx, bk("medins.settlements", "b-"+tc.name), tc.rows)
		if !errors.Is(err, ErrInvalidRow) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrInvalidRow with %q", tc.name, err, tc.want)
		}
	}
	if _, err := w.InsertBatch(ctx, bk("medins.settlements", "b-x"), bad(0, 4, "2023-13-01")); err == nil || strings.Contains(err.Error(), "2023-13-01") {
		t.Errorf("error %v echoes the value", err)
	}
	if _, err := w.InsertBatch(ctx, bk("police.nothing", "b"), nil); !errors.Is(err, schema.ErrUnknownDataset) {
		t.Errorf("unknown dataset: %v", err)
	}
	for _, id := range []string{"", "a\nb", strings.Repeat("x", MaxIDLen+1), "\xff"} {
		if _, err := w.InsertBatch(ctx, bk("medins.settlements", id), good); err == nil {
			t.Errorf("batch ID %q accepted", id)
		}
		k := bk("medins.settlements", "b")
		k.Principal = id
		if _, err := w.InsertBatch(ctx, k, good); err == nil {
			t.Errorf("principal %q accepted", id)
		}
	}
	k := bk("medins.settlements", "b")
	k.Principal = "medins|411526"
	if _, err := w.InsertBatch(ctx, k, good); err == nil {
		t.Errorf("principal %q accepted", k.Principal)
	}
	if n := stored(t, w, "medins.settlements"); n != 0 {
		t.Errorf("rejected batches left %d rows", n)
	}
	// An empty batch is a batch.
	mustInsert(t, w, "medins.settlements", "empty", nil)
	mustPublish(t, w, "medins.settlements", "empty")
}

// TestNoPlaintextPII plants an ID number and a name and looks for them in
// the database file, its write-ahead log and every column.
func TestNoPlaintextPII(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "warehouse.duckdb")
	w := openAt(t, path)

	const plantedID = "11010519491231002X"
	const plantedName = "欧阳明月"
	const control = "潢川县桥梁对照医院"
	rows := settlements(t, 0, 50)
	rows[17] = slices.Clone(rows[17])
	rows[17][1], rows[17][2], rows[17][3] = plantedID, plantedName, control
	mustInsert(t, w, "medins.settlements", "b1", rows)
	mustPublish(t, w, "medins.settlements", "b1")
	mustInsert(t, w, "police.deaths", "b2", [][]string{{plantedID, plantedName, "2023-03-01", "2023-03-05"}})
	mustPublish(t, w, "police.deaths", "b2")
	mustInsert(t, w, "court.enforcement_cases", "b3", validated(t, testRegistry(t), "court.enforcement_cases", [][]string{
		{"(2023)豫1526执12号", "潢川县人社局", "欧阳某", plantedID, "1000", "", "", "", "", ""},
	}))

	// Before a checkpoint the rows are in the write-ahead log, where the
	// control value (not personal data) is found: the search works.
	files := func() map[string][]byte {
		out := map[string][]byte{}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[e.Name()] = b
		}
		return out
	}
	before := files()
	found := false
	for name, b := range before {
		found = found || bytes.Contains(b, []byte(control))
		for _, pii := range []string{plantedID, plantedName} {
			if bytes.Contains(b, []byte(pii)) {
				t.Errorf("%s contains planted personal data %q", name, pii)
			}
		}
	}
	if !found {
		t.Errorf("control value not found in %d files: the search does not see stored text", len(before))
	}

	// Every text and blob column of every table.
	for _, tab := range []string{"medins__settlements", "police__deaths", "court__enforcement_cases", registryTable} {
		cols, err := w.db.Query(`SELECT column_name FROM duckdb_columns() WHERE schema_name = 'main' AND table_name = ? AND data_type IN ('VARCHAR', 'BLOB')`, tab)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for cols.Next() {
			var n string
			cols.Scan(&n)
			names = append(names, n)
		}
		cols.Close()
		for _, c := range names {
			for _, pii := range []string{plantedID, plantedName} {
				var n int
				q := `SELECT count(*) FROM main.` + quote(tab) + ` WHERE contains(hex(` + quote(c) + `), ?)`
				if err := w.db.QueryRow(q, strings.ToUpper(hex.EncodeToString([]byte(pii)))).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n > 0 {
					t.Errorf("%s.%s holds planted personal data in %d rows", tab, c, n)
				}
			}
		}
	}

	// After a checkpoint, in the database file.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for name, b := range files() {
		for _, pii := range []string{plantedID, plantedName} {
			if bytes.Contains(b, []byte(pii)) {
				t.Errorf("%s contains planted personal data %q after checkpoint", name, pii)
			}
		}
	}

	// And it is all still there, for whoever holds the key.
	w = openAt(t, path)
	got, err := w.Rows(ctx, "medins.settlements", Query{Fields: []string{"id_number", "name", "hospital"}, Limit: 1,
		SubjectTokens: []string{testKeys(t, 0).Token(fieldcrypt.DomainIDNumber, plantedID)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !slices.Equal(got[0].Values, []string{plantedID, plantedName, control}) || got[0].RowNo != 18 {
		t.Errorf("planted row read back as %+v", got)
	}
}

func TestTokensJoinAcrossDatasets(t *testing.T) {
	ctx := context.Background()
	w, _ := openTemp(t)
	reg := testRegistry(t)
	// Person 3 died on 2023-03-01; settlements 0–5 all admitted 2023-04-10.
	mustInsert(t, w, "police.deaths", "d", deaths(t, 3, 1))
	mustPublish(t, w, "police.deaths", "d")
	mustInsert(t, w, "medins.settlements", "s", settlements(t, 0, 6))
	mustPublish(t, w, "medins.settlements", "s")
	// An enforcement case against person 3 (by ID) and one against a
	// company (by credit code) that is also an employer in hrss.
	mustInsert(t, w, "court.enforcement_cases", "e", validated(t, reg, "court.enforcement_cases", [][]string{
		{"(2023)豫1526执1号", "潢川县人社局", "某甲", idNumber(t, 3), "5000", "", "", "", "", ""},
		{"(2023)豫1526执2号", "潢川县人社局", "某公司", creditCode(t, 7), "9000", "", "", "", "", ""},
	}))
	mustPublish(t, w, "court.enforcement_cases", "e")
	mustInsert(t, w, "hrss.labor_inspections", "l", validated(t, reg, "hrss.labor_inspections", [][]string{
		{"JC001", "某公司", creditCode(t, 7), idNumber(t, 9), "某乙", "12", "34000", "2023-01-05", "2023-02-05", "2023-03-01", "豫潢人社监移(2023)5号"},
	}))
	mustPublish(t, w, "hrss.labor_inspections", "l")

	// Settlements admitted after the death of the insured person: joined on
	// tokens, dates compared in SQL.
	rows, err := w.ModelQuery(ctx, `
		SELECT s.settlement_no, CAST(s.fund_paid AS VARCHAR), d.death_date
		FROM medins__settlements s
		JOIN police__deaths d ON s.id_number_tok = d.id_number_tok
		WHERE s.admission_date > d.death_date`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var no, paid, death string
		if err := rows.Scan(&no, &paid, &death); err != nil {
			t.Fatal(err)
		}
		got = append(got, no+" "+paid+" "+death[:10])
	}
	rows.Close()
	if want := []string{"JS00000003 803.00 2023-03-01"}; !slices.Equal(got, want) {
		t.Errorf("join found %q, want %q", got, want)
	}

	// The token of an id_or_credit_code field is in the domain of what the
	// value is, so a respondent joins a deceased person and an employer.
	var n int
	rows, err = w.ModelQuery(ctx, `
		SELECT (SELECT count(*) FROM court__enforcement_cases e JOIN police__deaths d ON e.respondent_id_tok = d.id_number_tok)
		     + (SELECT count(*) FROM court__enforcement_cases e JOIN hrss__labor_inspections l ON e.respondent_id_tok = l.employer_credit_code_tok)`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		rows.Scan(&n)
	}
	rows.Close()
	if n != 2 {
		t.Errorf("respondent joins found %d matches, want 2", n)
	}

	// The token is the one fieldcrypt computes for the domain, as an
	// auditor's search would.
	want := testKeys(t, 0).Token(fieldcrypt.DomainIDNumber, idNumber(t, 3))
	for _, ds := range []string{"police.deaths", "medins.settlements", "court.enforcement_cases"} {
		field := "id_number"
		if ds == "court.enforcement_cases" {
			field = "respondent_id"
		}
		got, err := w.Rows(ctx, ds, Query{Fields: []string{field}, Tokens: []string{field}, SubjectTokens: []string{want}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Values[0] != want {
			t.Errorf("%s: rows of subject token = %+v", ds, got)
		}
	}
}

func TestRowsQuery(t *testing.T) {
	ctx := context.Background()
	w, _ := openTemp(t)
	reg := testRegistry(t)
	pensions := validated(t, reg, "hrss.pension_payments", [][]string{
		{idNumber(t, 1), "甲", "2023-01", "2100.5"},
		{idNumber(t, 1), "甲", "2023-02", "2100.50"},
		{idNumber(t, 2), "乙", "2023-03", "1999"},
	})
	mustInsert(t, w, "hrss.pension_payments", "p", pensions)
	mustPublish(t, w, "hrss.pension_payments", "p")
	mustInsert(t, w, "hrss.pension_payments", "hidden", validated(t, reg, "hrss.pension_payments", [][]string{{idNumber(t, 1), "甲", "2023-02", "1"}}))

	tok1 := testKeys(t, 0).Token(fieldcrypt.DomainIDNumber, idNumber(t, 1))
	for _, tc := range []struct {
		name string
		q    Query
		want [][]string
	}{
		{"all", Query{}, pensions},
		{"fields reordered", Query{Fields: []string{"amount", "period", "name"}}, [][]string{
			{"2100.50", "2023-01", "甲"}, {"2100.50", "2023-02", "甲"}, {"1999.00", "2023-03", "乙"}}},
		{"token instead of ID", Query{Fields: []string{"id_number", "period"}, Tokens: []string{"id_number"}, Limit: 1}, [][]string{{tok1, "2023-01"}}},
		{"month range", Query{Fields: []string{"period"}, DateField: "period", From: "2023-02-01", To: "2023-03-31"}, [][]string{{"2023-02"}, {"2023-03"}}},
		{"open range", Query{Fields: []string{"period"}, DateField: "period", To: "2023-1-31"}, [][]string{{"2023-01"}}},
		{"subject", Query{Fields: []string{"name", "period"}, SubjectTokens: []string{tok1}}, [][]string{{"甲", "2023-01"}, {"甲", "2023-02"}}},
		{"no subject", Query{SubjectTokens: []string{strings.Repeat("0", 64)}}, nil},
	} {
		got, err := w.Rows(ctx, "hrss.pension_payments", tc.q)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var vals [][]string
		for _, r := range got {
			vals = append(vals, r.Values)
		}
		if !slices.EqualFunc(vals, tc.want, slices.Equal) {
			t.Errorf("%s: got %q, want %q", tc.name, vals, tc.want)
		}
	}

	for name, q := range map[string]Query{
		"unknown field":    {Fields: []string{"nope"}},
		"twice":            {Fields: []string{"name", "name"}},
		"token not asked":  {Fields: []string{"period"}, Tokens: []string{"name"}},
		"no token column":  {Fields: []string{"period"}, Tokens: []string{"period"}},
		"not a date field": {DateField: "amount", From: "2023-01-01"},
		"bad date":         {DateField: "period", From: "yesterday"},
		"range, no field":  {From: "2023-01-01"},
		"bad token":        {SubjectTokens: []string{"abc"}},
		"negative limit":   {Limit: -1},
	} {
		if _, err := w.Rows(ctx, "hrss.pension_payments", q); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("%s: %v, want ErrInvalidQuery", name, err)
		}
	}
}

// TestRoundTrip stores a row of every type and reads it back unchanged.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	w, _ := openTemp(t)
	reg := testRegistry(t)
	for ds, raw := range map[string][][]string{
		"hrss.labor_inspections": {
			{"JC001", "某公司", creditCode(t, 1), idNumber(t, 9), "某乙", "12", "34,000.5", "2023-01-05", "2023-02-05", "2023-03-01", "豫潢人社监移(2023)5号"},
			{"JC002", "某个体户", "", "", "", "", "0", "2023-01-06", "", "", ""},
		},
		"court.enforcement_cases": {
			{"(2023)豫1526执1号", "潢川县人社局", "某甲", idNumber(t, 3), "5000", "2023-06-01", "执行和解", "2023-12-31", "100.1", "(2024)豫1526执恢3号"},
			{"(2023)豫1526执2号", "潢川县人社局", "某公司", creditCode(t, 7), "9000", "", "", "", "", ""},
		},
		"police.traffic_accidents": {
			{"SG001", "2023-04-01", idNumber(t, 4), "丙", "驾驶人", "次要责任", "是"},
		},
		"medins.settlements": settlements(t, 0, 2),
	} {
		rows := validated(t, reg, ds, raw)
		mustInsert(t, w, ds, "rt-"+ds, rows)
		mustPublish(t, w, ds, "rt-"+ds)
		got, err := w.Rows(ctx, ds, Query{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(rows) {
			t.Fatalf("%s: %d rows back, want %d", ds, len(got), len(rows))
		}
		for i := range rows {
			if !slices.Equal(got[i].Values, rows[i]) {
				t.Errorf("%s row %d:\n got %q\nwant %q", ds, i+1, got[i].Values, rows[i])
			}
		}
	}
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	w, path := openTemp(t)
	mustInsert(t, w, "police.deaths", "v", deaths(t, 0, 10))
	mustPublish(t, w, "police.deaths", "v")
	mustInsert(t, w, "police.deaths", "i", deaths(t, 100, 5))
	want, err := w.Rows(ctx, "police.deaths", Query{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.InsertBatch(ctx, bk("police.deaths", "x"), deaths(t, 0, 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("InsertBatch after Close = %v, want ErrClosed", err)
	}

	w = openAt(t, path)
	got, err := w.Rows(ctx, "police.deaths", Query{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, want, func(a, b Row) bool {
		return a.Batch == b.Batch && a.RowNo == b.RowNo && slices.Equal(a.Values, b.Values)
	}) {
		t.Errorf("after reopening: %d rows, want %d", len(got), len(want))
	}
	// The registry survived: both batches are known, the invisible one
	// still invisible.
	if ins, err := w.InsertBatch(ctx, bk("police.deaths", "v"), deaths(t, 0, 10)); err != nil || ins {
		t.Errorf("re-inserting a stored batch after reopening = %v, %v", ins, err)
	}
	rec, err := w.RemoveInvisible(ctx, func(BatchKey) (bool, error) { return false, nil })
	if err != nil || !slices.Equal(rec.Removed, []BatchKey{bk("police.deaths", "i")}) {
		t.Errorf("RemoveInvisible after reopening = %+v, %v", rec, err)
	}
	// New batches take sequence numbers after the stored ones.
	mustInsert(t, w, "police.deaths", "n", deaths(t, 200, 2))
	mustPublish(t, w, "police.deaths", "n")
	if n := count(t, w, "police.deaths"); n != 12 {
		t.Errorf("Count = %d, want 12", n)
	}
}

func TestWrongKeyOrMovedValue(t *testing.T) {
	ctx := context.Background()
	w, path := openTemp(t)
	mustInsert(t, w, "police.deaths", "b", deaths(t, 0, 2))
	mustPublish(t, w, "police.deaths", "b")

	// A sealed value copied to another row does not open there.
	if _, err := w.db.Exec(`UPDATE main.police__deaths SET name_enc = (SELECT name_enc FROM main.police__deaths WHERE row_no = 1) WHERE row_no = 2`); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Rows(ctx, "police.deaths", Query{}); !errors.Is(err, ErrCorrupt) || !errors.Is(err, fieldcrypt.ErrOpen) {
		t.Errorf("Rows with a moved value = %v, want ErrCorrupt", err)
	}
	// Tokens are still readable: they are not sealed.
	if _, err := w.Rows(ctx, "police.deaths", Query{Fields: []string{"name"}, Tokens: []string{"name"}}); err != nil {
		t.Errorf("Rows of tokens = %v", err)
	}
	w.Close()

	// Under another master key nothing opens.
	w2, err := Open(ctx, path, testRegistry(t), testKeys(t, 100))
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if _, err := w2.Rows(ctx, "police.deaths", Query{Fields: []string{"id_number"}}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Rows under another key = %v, want ErrCorrupt", err)
	}
}

func TestQueryReadOnly(t *testing.T) {
	ctx := context.Background()
	w, _ := openTemp(t)
	mustInsert(t, w, "police.deaths", "b", deaths(t, 0, 3))
	mustPublish(t, w, "police.deaths", "b")
	for _, q := range []string{
		`DELETE FROM main.police__deaths`,
		`SELECT 1; DELETE FROM main.police__deaths`,
		`DELETE FROM main.police__deaths; SELECT 1`,
		`UPDATE main.police__deaths SET visible = false`,
		`DROP TABLE main.police__deaths`,
		`CREATE TABLE x AS SELECT * FROM police__deaths`,
		`COPY main.police__deaths TO 'out.csv'`,
		`ATTACH 'other.duckdb'`,
		`SET enable_external_access = true`,
		`SELECT * FROM read_csv('/etc/passwd')`,
		`not sql`,
	} {
		if rows, err := w.ModelQuery(ctx, q); err == nil {
			rows.Close()
			t.Errorf("Query(%q) ran", q)
		}
	}
	if n := stored(t, w, "police.deaths"); n != 3 {
		t.Fatalf("table holds %d rows after refused statements, want 3", n)
	}
	// The models' view has no sealed values.
	rows, err := w.ModelQuery(ctx, `SELECT * FROM police__deaths LIMIT 0`)
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	rows.Close()
	want := []string{"batch_id", "principal", "row_no", "id_number_tok", "name_tok", "death_date", "cancel_date"}
	if !slices.Equal(cols, want) {
		t.Errorf("view columns %q, want %q", cols, want)
	}
	// Parameters bind.
	rows, err = w.ModelQuery(ctx, `SELECT count(*) FROM police__deaths WHERE death_date >= CAST(? AS DATE)`, "2023-01-01")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for rows.Next() {
		rows.Scan(&n)
	}
	rows.Close()
	if n != 3 {
		t.Errorf("parameterised count = %d, want 3", n)
	}
}

// TestMigrate opens a file with a dataset of one version, then with a
// version that adds a field, then with one that changes a field's type.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "warehouse.duckdb")
	schemaDir := filepath.Join(dir, "schemas")
	if err := os.Mkdir(schemaDir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(version int, extra string) *schema.Registry {
		y := fmt.Sprintf(`id: test.things
version: %d
title_zh: 测试
title_en: Things
owner: test
classification: internal
record_key: [thing_no]
fields:
  - name: thing_no
    type: string
    required: true
  - name: holder_id
    type: id_number
    pii: true
%s`, version, extra)
		if err := os.WriteFile(filepath.Join(schemaDir, "test.things.yaml"), []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		reg, err := schema.Load(schemaDir)
		if err != nil {
			t.Fatal(err)
		}
		return reg
	}
	keys := testKeys(t, 0)
	w, err := Open(ctx, path, write(1, ""), keys)
	if err != nil {
		t.Fatal(err)
	}
	mustInsert(t, w, "test.things", "b1", [][]string{{"T1", idNumber(t, 1)}})
	mustPublish(t, w, "test.things", "b1")
	w.Close()

	w, err = Open(ctx, path, write(2, "  - name: seen_date\n    type: date\n"), keys)
	if err != nil {
		t.Fatal(err)
	}
	mustInsert(t, w, "test.things", "b2", [][]string{{"T2", idNumber(t, 2), "2024-01-02"}})
	mustPublish(t, w, "test.things", "b2")
	got, err := w.Rows(ctx, "test.things", Query{Fields: []string{"thing_no", "seen_date"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !slices.Equal(got[0].Values, []string{"T1", ""}) || !slices.Equal(got[1].Values, []string{"T2", "2024-01-02"}) {
		t.Errorf("after adding a field: %+v", got)
	}
	w.Close()

	if _, err := Open(ctx, path, write(3, "  - name: seen_date\n    type: int\n"), keys); !errors.Is(err, ErrLayout) {
		t.Errorf("Open with a field's type changed = %v, want ErrLayout", err)
	}
}

func TestTableNameAndDomains(t *testing.T) {
	if got := TableName("police.deaths"); got != "police__deaths" {
		t.Errorf("TableName = %q", got)
	}
	reg := testRegistry(t)
	field := func(ds, name string) *schema.Field {
		d, err := reg.Get(ds)
		if err != nil {
			t.Fatal(err)
		}
		f, ok := d.Field(name)
		if !ok {
			t.Fatalf("%s has no field %s", ds, name)
		}
		return f
	}
	for _, tc := range []struct {
		ds, field, value, want string
	}{
		{"police.deaths", "id_number", idNumber(t, 1), fieldcrypt.DomainIDNumber},
		{"police.case_records", "suspect_id_number", idNumber(t, 1), fieldcrypt.DomainIDNumber},
		{"police.deaths", "name", "张三", fieldcrypt.DomainName},
		{"court.criminal_judgments", "defendant_name", "张三", fieldcrypt.DomainName},
		{"court.enforcement_cases", "respondent_id", idNumber(t, 1), fieldcrypt.DomainIDNumber},
		{"court.enforcement_cases", "respondent_id", creditCode(t, 1), fieldcrypt.DomainCreditCode},
		{"hrss.labor_inspections", "employer_credit_code", creditCode(t, 1), fieldcrypt.DomainCreditCode},
		{"medins.settlements", "hospital", "医院", ""},
	} {
		if got := TokenDomain(field(tc.ds, tc.field), tc.value); got != tc.want {
			t.Errorf("TokenDomain(%s.%s) = %q, want %q", tc.ds, tc.field, got, tc.want)
		}
	}
}

// TestFailedWriteChangesNothing makes the database refuse a batch (its
// table is renamed away) while other batches are written at the same time:
// the refused one fails alone and leaves no trace, the others are stored,
// and the writer goes on.
func TestFailedWriteChangesNothing(t *testing.T) {
	ctx := context.Background()
	w, _ := openTemp(t)
	if _, err := w.db.Exec(`ALTER TABLE main.police__deaths RENAME TO police__deaths_away`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			if i == 0 {
				_, errs[i] = w.InsertBatch(ctx, bk("police.deaths", "refused"), deaths(t, 0, 5))
				return
			}
			_, errs[i] = w.InsertBatch(ctx, bk("medins.settlements", fmt.Sprintf("ok-%d", i)), settlements(t, 10*i, 5))
		})
	}
	wg.Wait()
	if errs[0] == nil {
		t.Fatal("insert into a missing table succeeded")
	}
	for i, err := range errs[1:] {
		if err != nil {
			t.Errorf("batch ok-%d failed beside the refused one: %v", i+1, err)
		}
	}
	if err := w.MakeVisible(ctx, bk("police.deaths", "refused")); !errors.Is(err, ErrUnknownBatch) {
		t.Errorf("MakeVisible(refused) = %v, want ErrUnknownBatch", err)
	}
	if _, err := w.db.Exec(`ALTER TABLE main.police__deaths_away RENAME TO police__deaths`); err != nil {
		t.Fatal(err)
	}
	if n := stored(t, w, "police.deaths"); n != 0 {
		t.Errorf("refused batch left %d rows", n)
	}
	mustInsert(t, w, "police.deaths", "refused", deaths(t, 0, 5))
	mustPublish(t, w, "police.deaths", "refused")
	for i := 1; i < len(errs); i++ {
		mustPublish(t, w, "medins.settlements", fmt.Sprintf("ok-%d", i))
	}
	if n := count(t, w, "police.deaths") + count(t, w, "medins.settlements"); n != 30 {
		t.Errorf("Count = %d, want 30", n)
	}
}

// TestModelExamples runs the model SQL shown in docs/warehouse.md.
func TestModelExamples(t *testing.T) {
	ctx := context.Background()
	w, _ := openTemp(t)
	reg := testRegistry(t)
	// Person 1 died on 2023-03-01 (deaths helper).
	mustInsert(t, w, "police.deaths", "d", deaths(t, 1, 1))
	mustPublish(t, w, "police.deaths", "d")
	mustInsert(t, w, "hrss.pension_payments", "p", validated(t, reg, "hrss.pension_payments", [][]string{
		{idNumber(t, 1), "甲", "2023-02", "2100"},
		{idNumber(t, 1), "甲", "2023-03", "2100"}, // the month of death: not a lead
		{idNumber(t, 1), "甲", "2023-04", "2100.50"},
		{idNumber(t, 1), "甲", "2023-05", "2100.50"},
		{idNumber(t, 2), "乙", "2023-05", "1800"},
	}))
	mustPublish(t, w, "hrss.pension_payments", "p")

	rows, err := w.ModelQuery(ctx, `
		SELECT d.id_number_tok,
		       count(*)                                AS months,
		       CAST(sum(p.amount) AS VARCHAR)          AS total,
		       list(strftime(p.period, '%Y-%m') ORDER BY p.period) AS periods
		FROM police__deaths d
		JOIN hrss__pension_payments p ON p.id_number_tok = d.id_number_tok
		WHERE p.period > date_trunc('month', d.death_date)
		GROUP BY d.id_number_tok`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var tok, total string
		var months int
		var periods []any
		if err := rows.Scan(&tok, &months, &total, &periods); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%v %d %s %v", tok == testKeys(t, 0).Token(fieldcrypt.DomainIDNumber, idNumber(t, 1)), months, total, periods))
	}
	if want := []string{"true 2 4201.00 [2023-04 2023-05]"}; !slices.Equal(got, want) {
		t.Errorf("pension after death: %q, want %q", got, want)
	}

	// A time window: settlements admitted within 30 days on or after an
	// accident of the same person. Person 6's admission is on day 31.
	mustInsert(t, w, "police.traffic_accidents", "a", validated(t, reg, "police.traffic_accidents", [][]string{
		{"SG1", "2023-03-15", idNumber(t, 5), "丙", "驾驶人", "次要", "是"},
		{"SG2", "2023-03-10", idNumber(t, 6), "丁", "驾驶人", "无", "是"},
	}))
	mustPublish(t, w, "police.traffic_accidents", "a")
	mustInsert(t, w, "medins.settlements", "s", settlements(t, 5, 2)) // admitted 2023-04-10
	mustPublish(t, w, "medins.settlements", "s")
	r2, err := w.ModelQuery(ctx, `
		SELECT s.settlement_no, a.accident_no, date_diff('day', a.accident_date, s.admission_date) AS days
		FROM medins__settlements s
		JOIN police__traffic_accidents a ON a.id_number_tok = s.id_number_tok
		WHERE a.responsibility IN ('次要', '无')
		  AND s.admission_date BETWEEN a.accident_date AND a.accident_date + INTERVAL 30 DAY
		ORDER BY s.settlement_no`)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	got = nil
	for r2.Next() {
		var no, acc string
		var days int
		if err := r2.Scan(&no, &acc, &days); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s %d", no, acc, days))
	}
	if want := []string{"JS00000005 SG1 26"}; !slices.Equal(got, want) {
		t.Errorf("time window: %q, want %q", got, want)
	}
}

// TestModelViewsOneRowPerRecord: a record pushed again in a later batch —
// a monthly export that repeats last month's rows, a correction — is one
// row to the models, the latest batch's; the table keeps both.
func TestModelViewsOneRowPerRecord(t *testing.T) {
	ctx := context.Background()
	w, _ := openTemp(t)
	mustInsert(t, w, "police.deaths", "m1", deaths(t, 0, 3))
	mustPublish(t, w, "police.deaths", "m1")
	again := deaths(t, 1, 3) // records 1 and 2 again, and a new one, 3
	for _, r := range again {
		r[3] = "2023-03-09" // the cancellation date corrected
	}
	mustInsert(t, w, "police.deaths", "m2", again)
	mustPublish(t, w, "police.deaths", "m2")

	rows, err := w.ModelQuery(ctx, `SELECT batch_id, CAST(cancel_date AS VARCHAR) FROM police__deaths ORDER BY batch_id, row_no`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var b, d string
		if err := rows.Scan(&b, &d); err != nil {
			t.Fatal(err)
		}
		got = append(got, b+" "+d[:10])
	}
	rows.Close()
	want := []string{"m1 2023-03-05", "m2 2023-03-09", "m2 2023-03-09", "m2 2023-03-09"}
	if !slices.Equal(got, want) {
		t.Errorf("the models see %q, want %q", got, want)
	}
	if n, err := w.Count(ctx, "police.deaths"); err != nil || n != 6 {
		t.Errorf("the table holds %d rows (%v), want all 6 pushed", n, err)
	}
}
