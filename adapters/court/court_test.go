package court_test

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/qiao-exchange/qiao/adapters"
	"github.com/qiao-exchange/qiao/adapters/adapterstest"
	"github.com/qiao-exchange/qiao/adapters/court"
	"github.com/qiao-exchange/qiao/schema"
)

func TestBadSamples(t *testing.T) {
	for _, tc := range []struct{ path, id, want string }{
		{"testdata/bad/enforcement_undecodable.csv", "court.enforcement_cases",
			"testdata/bad/enforcement_undecodable.csv:5: column 被执行人 (respondent): holds bytes that are not valid text in the file's encoding (UTF-8 or GBK/GB18030); the file is damaged or was converted wrongly"},
		{"testdata/bad/civil_broken_utf8.csv", "court.civil_compensations",
			"testdata/bad/civil_broken_utf8.csv:3: column 原告姓名 (plaintiff_name): holds bytes that are not valid text in the file's encoding (UTF-8 or GBK/GB18030); the file is damaged or was converted wrongly"},
	} {
		rows, ps := adapterstest.ReadAll(t, tc.path, tc.id, court.Agency)
		if got := adapterstest.Errors(ps); !slices.Equal(got, []string{tc.want}) {
			t.Errorf("%s: problems %q, want %q", tc.path, got, tc.want)
		}
		if len(rows) < 5 {
			t.Errorf("%s: %d rows; a row with a problem must still be returned", tc.path, len(rows))
		}
	}
}

// TestFix: terms as courts write them become the dataset's values.
func TestFix(t *testing.T) {
	reg, _ := schema.Load("")
	ds, _ := reg.Get("court.criminal_judgments")
	for _, tc := range []struct {
		in, want map[string]string
	}{
		{map[string]string{"sentence_type": "有期徒刑一年六个月"}, map[string]string{"sentence_type": "有期徒刑"}},
		{map[string]string{"sentence_type": "拘役三个月"}, map[string]string{"sentence_type": "拘役"}},
		{map[string]string{"sentence_type": "有期徒刑"}, map[string]string{"sentence_type": "有期徒刑"}},
		{map[string]string{"sentence_type": "死缓"}, map[string]string{"sentence_type": "死刑缓期执行"}},
		{map[string]string{"probation": "是", "probation_months": "二年"}, map[string]string{"probation": "true", "probation_months": "24"}},
		{map[string]string{"probation_months": "一年零六个月"}, map[string]string{"probation_months": "18"}},
		{map[string]string{"probation_months": "1年6个月"}, map[string]string{"probation_months": "18"}},
		{map[string]string{"probation_months": "十八个月"}, map[string]string{"probation_months": "18"}},
		{map[string]string{"probation_months": "两年"}, map[string]string{"probation_months": "24"}},
		{map[string]string{"probation_months": "3年"}, map[string]string{"probation_months": "36"}},
		{map[string]string{"probation_months": "18"}, map[string]string{"probation_months": "18"}},
		{map[string]string{"probation": "缓刑三年"}, map[string]string{"probation": "true", "probation_months": "36"}},
		{map[string]string{"probation": "缓刑三年", "probation_months": "3年"}, map[string]string{"probation": "true", "probation_months": "36"}},
		{map[string]string{"probation": "否"}, map[string]string{"probation": "false", "probation_months": ""}},
	} {
		path := t.TempDir() + "/x.jsonl"
		b, _ := json.Marshal(tc.in)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := adapters.Open(path, ds, adapters.Options{Agency: court.Agency})
		if err != nil {
			t.Fatal(err)
		}
		row, ps, err := r.Next()
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		for f, want := range tc.want {
			if got := row.Values[ds.FieldIndex(f)]; got != want {
				t.Errorf("%v: %s = %q, want %q (problems %q)", tc.in, f, got, want, adapterstest.Errors(ps))
			}
		}
	}
}
