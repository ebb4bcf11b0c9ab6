package police_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/qiao-exchange/qiao/adapters"
	"github.com/qiao-exchange/qiao/adapters/adapterstest"
	"github.com/qiao-exchange/qiao/adapters/police"
	"github.com/qiao-exchange/qiao/schema"
)

// TestBadSamples: each bad sample's one bad value is reported with file,
// line, column and field, and its other rows read clean.
func TestBadSamples(t *testing.T) {
	for _, tc := range []struct{ path, id, want string }{
		{"testdata/bad/deaths_check_digit.csv", "police.deaths",
			"testdata/bad/deaths_check_digit.csv:4: column 公民身份号码 (id_number): invalid resident ID number: check digit is wrong"},
		{"testdata/bad/traffic_impossible_date.xlsx", "police.traffic_accidents",
			"testdata/bad/traffic_impossible_date.xlsx:5: column 事故发生时间 (accident_date): invalid date: day does not exist in that month"},
	} {
		rows, ps := adapterstest.ReadAll(t, tc.path, tc.id, police.Agency)
		if got := adapterstest.Errors(ps); !slices.Equal(got, []string{tc.want}) {
			t.Errorf("%s: problems %q, want %q", tc.path, got, tc.want)
		}
		if len(rows) < 4 {
			t.Errorf("%s: %d rows; a row with a problem must still be returned", tc.path, len(rows))
		}
	}
}

// TestFix: the police systems' own values become the dataset's.
func TestFix(t *testing.T) {
	reg, _ := schema.Load("")
	for _, tc := range []struct {
		id, field, in, want string
	}{
		{"police.case_records", "filed_date", "未立案", ""},
		{"police.case_records", "filed_date", "2023-05-06", "2023-05-06"},
		{"police.detentions", "end_date", "在押", ""},
		{"police.detentions", "end_date", "2023/5/6", "2023/5/6"},
		{"police.traffic_accidents", "injured", "未受伤", "否"},
		{"police.traffic_accidents", "injured", "轻微伤", "是"},
		{"police.traffic_accidents", "injured", "死亡", "是"},
		{"police.traffic_accidents", "injured", "是", "是"},
	} {
		ds, _ := reg.Get(tc.id)
		path := t.TempDir() + "/x.jsonl"
		line := `{"` + tc.field + `":"` + tc.in + `"}`
		if err := writeFile(path, line); err != nil {
			t.Fatal(err)
		}
		r, err := adapters.Open(path, ds, adapters.Options{Agency: police.Agency})
		if err != nil {
			t.Fatal(err)
		}
		row, _, err := r.Next()
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		got := row.Values[ds.FieldIndex(tc.field)]
		want, _ := (&ds.Fields[ds.FieldIndex(tc.field)]).Normalize(tc.want)
		if got != want {
			t.Errorf("%s %s %q → %q, want %q", tc.id, tc.field, tc.in, got, want)
		}
	}
}

func writeFile(path, s string) error {
	return os.WriteFile(path, []byte(strings.TrimSpace(s)+"\n"), 0o644)
}
