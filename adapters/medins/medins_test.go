package medins_test

import (
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/qiao-exchange/qiao/adapters/adapterstest"
	"github.com/qiao-exchange/qiao/adapters/medins"
	"github.com/qiao-exchange/qiao/schema"
)

func TestBadSamples(t *testing.T) {
	const path = "testdata/bad/settlements_negative_money.csv"
	rows, ps := adapterstest.ReadAll(t, path, "medins.settlements", medins.Agency)
	want := []string{path + ":3: column 医疗费总额 (total_cost): invalid amount: a negative amount is not allowed here"}
	if got := adapterstest.Errors(ps); !slices.Equal(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
	if len(rows) != 4 {
		t.Errorf("%d rows; a row with a problem must still be returned", len(rows))
	}
}

func TestInjury(t *testing.T) {
	for _, tc := range []struct {
		code       string
		injury, ok bool
	}{
		{"S82.201", true, true}, {"s06.000", true, true}, {"S00", true, true}, {"T14.9", true, true}, {"T21.201", true, true},
		{"T35.7", true, true}, {"T36.0", false, true}, {"T43.201", false, true}, {"T90.1", false, true},
		{"J18.900", false, true}, {"E11.900x001", false, true}, {" S52.5 ", true, true},
		{"", false, false}, {"S", false, false}, {"肺炎", false, false}, {"8S2", false, false}, {"SX2", false, false},
	} {
		injury, ok := medins.Injury(tc.code)
		if injury != tc.injury || ok != tc.ok {
			t.Errorf("Injury(%q) = %v, %v, want %v, %v", tc.code, injury, ok, tc.injury, tc.ok)
		}
	}
}

// TestInjuryDerived: a flag the export leaves empty or lacks is derived from
// the diagnosis code; one it sets is kept.
func TestInjuryDerived(t *testing.T) {
	reg, _ := schema.Load("")
	ds, _ := reg.Get("medins.settlements")
	for _, path := range []string{"testdata/settlements.csv", "testdata/settlements.xlsx"} {
		rows, ps := adapterstest.ReadAll(t, path, ds.ID, medins.Agency)
		if len(ps) > 0 {
			t.Fatal(adapterstest.Errors(ps))
		}
		for _, row := range rows {
			injury, _ := medins.Injury(row.Values[ds.FieldIndex("diagnosis_code")])
			if got := row.Values[ds.FieldIndex("injury")]; got != strconv.FormatBool(injury) {
				t.Errorf("%s:%d: injury %q for diagnosis %s", path, row.Line, got, row.Values[ds.FieldIndex("diagnosis_code")])
			}
		}
	}
	path := t.TempDir() + "/kept.jsonl"
	_ = os.WriteFile(path, []byte(`{"结算单号":"1","诊断编码":"S82.201","外伤标识":"否"}`+"\n"+`{"结算单号":"2"}`+"\n"), 0o644)
	rows, _ := adapterstest.ReadAll(t, path, ds.ID, medins.Agency)
	if got := rows[0].Values[ds.FieldIndex("injury")]; got != "false" {
		t.Errorf("a flag set by the export became %q", got)
	}
	if got := rows[1].Values[ds.FieldIndex("injury")]; got != "" {
		t.Errorf("without a diagnosis code the flag became %q", got)
	}
}
