package hrss_test

import (
	"encoding/json"
	"maps"
	"os"
	"slices"
	"testing"

	"github.com/qiao-exchange/qiao/adapters/adapterstest"
	"github.com/qiao-exchange/qiao/adapters/hrss"
	"github.com/qiao-exchange/qiao/schema"
)

func TestBadSamples(t *testing.T) {
	for _, tc := range []struct{ path, id, want string }{
		{"testdata/bad/pension_missing_required.csv", "hrss.pension_payments",
			"testdata/bad/pension_missing_required.csv:4: column 姓名 (name): required value is missing"},
		{"testdata/bad/labor_unknown_column.xlsx", "hrss.labor_inspections",
			"testdata/bad/labor_unknown_column.xlsx:3: column 整改情况: matches no field of hrss.labor_inspections (劳动保障监察); map it to a field in the mapping file, or to \"-\" to drop it"},
	} {
		rows, ps := adapterstest.ReadAll(t, tc.path, tc.id, hrss.Agency)
		if got := adapterstest.Errors(ps); !slices.Equal(got, []string{tc.want}) {
			t.Errorf("%s: problems %q, want %q", tc.path, got, tc.want)
		}
		if len(rows) < 3 {
			t.Errorf("%s: %d rows; a row with a problem must still be returned", tc.path, len(rows))
		}
	}
}

func TestFix(t *testing.T) {
	reg, _ := schema.Load("")
	ds, _ := reg.Get("hrss.labor_inspections")
	for _, tc := range []struct {
		in, want map[string]string
	}{
		{map[string]string{"workers": "12人"}, map[string]string{"workers": "12"}},
		{map[string]string{"workers": "12"}, map[string]string{"workers": "12"}},
		{map[string]string{"order_date": "2023年12月25日", "deadline": "15日内"}, map[string]string{"deadline": "2024-01-09"}},
		{map[string]string{"order_date": "2023-02-20", "deadline": "10天"}, map[string]string{"deadline": "2023-03-02"}},
		{map[string]string{"order_date": "20230220", "deadline": "7"}, map[string]string{"deadline": "2023-02-27"}},
		{map[string]string{"order_date": "2023-02-20", "deadline": "2023/3/6"}, map[string]string{"deadline": "2023-03-06"}},
		{map[string]string{"order_date": "2023-02-20", "deadline": "20230306"}, map[string]string{"deadline": "2023-03-06"}},
	} {
		in := map[string]string{"inspection_no": "1", "employer": "x"}
		maps.Copy(in, tc.in)
		path := t.TempDir() + "/x.jsonl"
		b, _ := json.Marshal(in)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		rows, ps := adapterstest.ReadAll(t, path, ds.ID, hrss.Agency)
		if len(ps) > 0 {
			t.Errorf("%v: %q", tc.in, adapterstest.Errors(ps))
			continue
		}
		for f, want := range tc.want {
			if got := rows[0].Values[ds.FieldIndex(f)]; got != want {
				t.Errorf("%v: %s = %q, want %q", tc.in, f, got, want)
			}
		}
	}
	// Working days need the holiday calendar: left for the date check to refuse.
	path := t.TempDir() + "/w.jsonl"
	_ = os.WriteFile(path, []byte(`{"inspection_no":"1","employer":"x","order_date":"2023-02-20","deadline":"15个工作日内"}`), 0o644)
	if _, ps := adapterstest.ReadAll(t, path, ds.ID, hrss.Agency); len(ps) != 1 || ps[0].Field != "deadline" {
		t.Errorf("15个工作日内: %q", adapterstest.Errors(ps))
	}
}
