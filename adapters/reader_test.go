package adapters_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/qiao-exchange/qiao/adapters"
	"github.com/qiao-exchange/qiao/schema"
)

func dataset(t testing.TB, id string) *schema.Dataset {
	t.Helper()
	ds, err := registry(t).Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func write(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func gbk(t testing.TB, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gb18030(t testing.TB, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeXLSX writes rows to the sheet of a new workbook, strings as text.
func writeXLSX(t testing.TB, sheet string, rows [][]any) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if sheet != "Sheet1" {
		if _, err := f.NewSheet(sheet); err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow(sheet, cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "export.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func messages(ps []adapters.Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Error())
	}
	return out
}

func lines(rows []adapters.Row) []int {
	var out []int
	for _, r := range rows {
		out = append(out, r.Line)
	}
	return out
}

const deathsCSV = "公民身份号码,姓名,死亡日期,注销日期\r\n" +
	"11010519491231002x,李四,2023/5/6,2023年5月9日\r\n" +
	"411528198001010014,刘䶮,20230506,2023-05-10 08:30:00\r\n"

var deathsWant = [][]string{
	{"11010519491231002X", "李四", "2023-05-06", "2023-05-09"},
	{"411528198001010014", "刘䶮", "2023-05-06", "2023-05-10"},
}

// TestEncodings reads the same export written in each encoding agencies'
// systems use; 䶮 is in GB18030 but not in GBK.
func TestEncodings(t *testing.T) {
	ds := dataset(t, "police.deaths")
	gbkText := strings.ReplaceAll(deathsCSV, "䶮", "岩")
	gbkWant := slices.Clone(deathsWant)
	gbkWant[1] = slices.Clone(gbkWant[1])
	gbkWant[1][1] = "刘岩"
	for _, tc := range []struct {
		name string
		data []byte
		want [][]string
	}{
		{"utf8", []byte(deathsCSV), deathsWant},
		{"utf8-bom", append([]byte("\xEF\xBB\xBF"), deathsCSV...), deathsWant},
		{"gbk", gbk(t, gbkText), gbkWant},
		{"gb18030", gb18030(t, deathsCSV), deathsWant},
		{"lf", []byte(strings.ReplaceAll(deathsCSV, "\r\n", "\n")), deathsWant},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, ps := readAll(t, write(t, "deaths.csv", tc.data), ds, adapters.Options{})
			if len(ps) > 0 {
				t.Fatal(messages(ps))
			}
			var got [][]string
			for _, r := range rows {
				got = append(got, r.Values)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) || fmt.Sprint(lines(rows)) != "[2 3]" {
				t.Errorf("got %q at lines %v, want %q at [2 3]", got, lines(rows), tc.want)
			}
		})
	}
}

// TestGBKDetectedPastFirstCharacters: a GBK file whose first lines are
// ASCII is still read as GBK when its Chinese starts within 64 KiB.
func TestGBKDetectedPastFirstCharacters(t *testing.T) {
	ds := dataset(t, "hrss.pension_payments")
	var b strings.Builder
	b.WriteString("id_number,name,period,amount\n")
	for range 500 {
		b.WriteString("11010519491231002X,Li Si,2023-05,100\n")
	}
	b.WriteString("11010519491231002X,王五,2023-06,100\n")
	rows, ps := readAll(t, write(t, "p.csv", gbk(t, b.String())), ds, adapters.Options{})
	if len(ps) > 0 || rows[500].Values[1] != "王五" {
		t.Fatalf("row 502 = %q, problems %v", rows[500].Values, messages(ps))
	}
}

// TestUndecodable: bytes that are not text in the file's encoding are a
// problem of their line and column, never garbage data.
func TestUndecodable(t *testing.T) {
	ds := dataset(t, "police.deaths")
	good := "公民身份号码,姓名,死亡日期,注销日期\n" + strings.Repeat("11010519491231002X,李四,2023-05-06,2023-05-09\n", 20)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"gbk", slices.Concat(gbk(t, good+"11010519491231002X,李"), []byte{0xFF}, gbk(t, ",2023-05-06,2023-05-09\n"))},
		{"utf8", []byte(good + "11010519491231002X,李\xE5\x8D,2023-05-06,2023-05-09\n")},
		{"utf8-bom", []byte("\xEF\xBB\xBF" + good + "11010519491231002X,\x80李,2023-05-06,2023-05-09\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := write(t, "deaths.csv", tc.data)
			rows, ps := readAll(t, path, ds, adapters.Options{})
			want := path + ":22: column 姓名 (name): holds bytes that are not valid text in the file's encoding (UTF-8 or GBK/GB18030); the file is damaged or was converted wrongly"
			if len(ps) != 1 || ps[0].Error() != want {
				t.Fatalf("problems %q, want %q", messages(ps), want)
			}
			if len(rows) != 21 || rows[20].Line != 22 {
				t.Fatalf("%d rows, last at line %d", len(rows), rows[len(rows)-1].Line)
			}
			for _, r := range rows[:20] {
				if r.Values[1] != "李四" {
					t.Fatalf("line %d: name read as %q", r.Line, r.Values[1])
				}
			}
		})
	}
}

// TestHeaderMatching: headers match whatever their blanks, width and case,
// and the header row is found below titles and blank rows.
func TestHeaderMatching(t *testing.T) {
	ds := dataset(t, "police.deaths")
	csvText := "息县公安局 户籍注销（死亡）人员名单\n,,,\n导出时间：2023-12-31,,,\n\n" +
		"\uFEFF 公民 身份号码 ,ＦＵＬＬ　ＮＡＭＥ,*死亡日期,Cancel_Date\n" +
		"11010519491231002X,李四,2023-05-06,2023-05-09\n"
	rows, ps := readAll(t, write(t, "d.csv", []byte(csvText)), ds, adapters.Options{})
	if len(ps) > 0 || len(rows) != 1 || rows[0].Line != 6 {
		t.Fatalf("rows %v, problems %q", rows, messages(ps))
	}

	path := writeXLSX(t, "Sheet1", [][]any{
		{"息县公安局 户籍注销（死亡）人员名单"},
		{},
		{"序号", "公民身份号码", "姓名", "死亡日期", "注销日期"},
		{},
		{1, "11010519491231002X", "李四", "2023年5月6日", "2023/5/9"},
	})
	rows, ps = readAll(t, path, ds, adapters.Options{Agency: &adapters.Agency{Name: "police", Ignore: map[string][]string{"*": {"序号"}}}})
	if len(ps) > 0 || len(rows) != 1 || rows[0].Line != 5 || rows[0].Values[2] != "2023-05-06" {
		t.Fatalf("rows %v, problems %q", rows, messages(ps))
	}
}

// TestHeaderProblems: a column that matches nothing, two columns of one
// field and a required field without a column are problems of the header
// line; the rows are still read and checked.
func TestHeaderProblems(t *testing.T) {
	ds := dataset(t, "police.deaths")
	path := write(t, "d.csv", []byte("标题\n身份证号,公民身份号码,性别,死亡日期,,\n11010519491231002X,11010519491231002X,男,2023-05-06,,\n"))
	r, err := adapters.Open(path, ds, adapters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := []string{
		path + ":2: column 公民身份号码 (id_number): column 身份证号 is already this field; map one of them elsewhere or to \"-\" to drop it",
		path + ":2: column 性别: matches no field of police.deaths (户籍注销(死亡)); map it to a field in the mapping file, or to \"-\" to drop it",
		path + ":2: field name: required field has no column; headers it goes by include 姓名, 死者姓名, 人员姓名, name",
		path + ":2: field cancel_date: required field has no column; headers it goes by include 注销日期, 注销时间, 户口注销日期, 销户日期, cancel_date",
	}
	if got := messages(r.Header()); !slices.Equal(got, want) {
		t.Errorf("Header() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	row, ps, err := r.Next()
	if err != nil || row.Line != 3 || len(ps) != 2 || ps[0].Field != "name" || ps[1].Field != "cancel_date" {
		t.Errorf("Next() = %v, %q, %v", row, messages(ps), err)
	}
}

func TestNoHeader(t *testing.T) {
	ds := dataset(t, "police.deaths")
	path := write(t, "d.csv", []byte("事故编号,事故日期\n1,2023-05-06\n"))
	if _, err := adapters.Open(path, ds, adapters.Options{}); !errors.Is(err, adapters.ErrNoHeader) {
		t.Fatalf("Open = %v, want ErrNoHeader", err)
	}
	for _, name := range []string{"d.xls", "d.txt", "d"} {
		if _, err := adapters.Open(filepath.Join(t.TempDir(), name), ds, adapters.Options{}); !errors.Is(err, adapters.ErrUnsupportedFormat) {
			t.Errorf("Open(%s) = %v, want ErrUnsupportedFormat", name, err)
		}
	}
}

// TestRowProblems: every kind of bad value is reported with its line,
// column and field, and never with the value.
func TestRowProblems(t *testing.T) {
	ds := dataset(t, "medins.settlements")
	csvText := "结算单号,身份证号,姓名,医疗机构,入院日期,出院日期,诊断编码,外伤标识,总费用,统筹支付\n" +
		"JS001,11010519491231002X,李四,息县人民医院,2023-05-06,2023-05-09,S82.201,是,1000,600\n" +
		"JS002,110105194912310022,李四,息县人民医院,2023-02-29,2023-05-09,S82.201,也许,-1000,600.123\n" +
		"\"JS\n003\",,李四,息县人民医院,2023-05-06,,,,1000,600\n" +
		"JS004,11010519491231002X,李四\n" +
		"JS005,11010519491231002X,李\"四,息县人民医院,2023-05-06,,,,1000,600\n" +
		"JS006,11010519491231002X,李四,息县人民医院,2023-05-06,,,,1000,600,多余\n" +
		",,,,,,,,,\n" +
		"JS007,11010519491231002X,李四,息县人民医院,2023-05-06,,,,1000,600\n"
	path := write(t, "s.csv", []byte(csvText))
	rows, ps := readAll(t, path, ds, adapters.Options{})
	want := []string{
		path + ":3: column 身份证号 (id_number): invalid resident ID number: check digit is wrong",
		path + ":3: column 入院日期 (admission_date): invalid date: day does not exist in that month",
		path + ":3: column 外伤标识 (injury): invalid yes/no value: not one of 是/否, 有/无, 1/0, true/false, Y/N",
		path + ":3: column 总费用 (total_cost): invalid amount: a negative amount is not allowed here",
		path + ":3: column 统筹支付 (fund_paid): invalid amount: has more than two decimal places",
		path + ":4: column 身份证号 (id_number): required value is missing",
		path + ":6: the row has 3 cells and the header 10; a line break or separator inside a cell that is not quoted?",
		path + ":7: a quote inside a cell that is not quoted; quote the cell and double the quote",
		path + ":8: a value in column 11, after the last column with a header",
	}
	if got := messages(ps); !slices.Equal(got, want) {
		t.Errorf("problems =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := fmt.Sprint(lines(rows)); got != "[2 3 4 6 7 8 10]" {
		t.Errorf("rows at lines %s, want [2 3 4 6 7 8 10]", got)
	}
	for _, p := range ps {
		for _, v := range []string{"110105194912310022", "2023-02-29", "也许", "-1000", "600.123", "多余"} {
			if strings.Contains(p.Error(), v) {
				t.Errorf("%q repeats the value %q", p.Error(), v)
			}
		}
	}
}

// TestMapping: an agency's mapping file renames and drops columns, and
// takes precedence over the Agency and the dataset.
func TestMapping(t *testing.T) {
	m, err := adapters.LoadMapping("testdata/mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	reg := registry(t)
	if err := m.Check(reg); err != nil {
		t.Fatal(err)
	}
	ds := dataset(t, "police.deaths")
	path := write(t, "d.csv", []byte("人员身份证号,姓名,死亡日期,销户时间,所属派出所,注销日期\n11010519491231002X,李四,2023-05-06,2023-05-09,城关派出所,\n"))
	agency := &adapters.Agency{Name: "police", Aliases: map[string]map[string]string{"police.deaths": {"人员身份证号": "name"}}}
	rows, ps := readAll(t, path, ds, adapters.Options{Mapping: m, Agency: agency})
	if len(ps) > 0 || len(rows) != 1 || rows[0].Values[0] != "11010519491231002X" || rows[0].Values[3] != "2023-05-09" {
		t.Fatalf("rows %v, problems %q", rows, messages(ps))
	}

	bad := adapters.Mapping{"police.deaths": {"x": "no_such_field"}, "police.nothing": {"y": "id_number"}}
	if err := bad.Check(reg); !errors.Is(err, adapters.ErrInvalidMapping) || !strings.Contains(err.Error(), "no_such_field") || !strings.Contains(err.Error(), "police.nothing") {
		t.Errorf("Check = %v", err)
	}
	if _, err := adapters.Open(path, ds, adapters.Options{Mapping: bad}); !errors.Is(err, adapters.ErrInvalidMapping) {
		t.Errorf("Open with a bad mapping = %v", err)
	}
	for name, text := range map[string]string{
		"dup.yaml":   "police.deaths:\n  a: id_number\n  a: name\n",
		"same.yaml":  "police.deaths:\n  身份 证号: id_number\n  身份证号: name\n",
		"shape.yaml": "police.deaths: [id_number]\n",
	} {
		if _, err := adapters.LoadMapping(write(t, name, []byte(text))); !errors.Is(err, adapters.ErrInvalidMapping) {
			t.Errorf("LoadMapping(%s) = %v, want ErrInvalidMapping", name, err)
		}
	}
}

func TestJSONL(t *testing.T) {
	ds := dataset(t, "court.criminal_judgments")
	text := `{"案号":"(2023)豫1528刑初12号","被告人身份证号":"11010519491231002x","被告人姓名":"李四","判决日期":"2023/5/6","缓刑":false,"缓刑考验期":null}` + "\n" +
		"\n" +
		`{"case_no":"（2023）豫1528刑初13号","defendant_id_number":411528198001010014,"defendant_name":"王五","judgment_date":"20230506","probation":"是","probation_months":24,"备注":"x"}` + "\n" +
		`{"案号":"（2023）豫1528刑初14号","案号":"（2023）豫1528刑初15号"}` + "\n" +
		`{"案号":{"年":2023}}` + "\n" +
		`not json` + "\n" +
		"{\"案号\":\"（2023）豫1528刑初16号\",\"被告人身份证号\":\"11010519491231002X\",\"被告人姓名\":\"李\xff\",\"判决日期\":\"2023-05-06\"}\n"
	path := write(t, "j.jsonl", []byte(text))
	rows, ps := readAll(t, path, ds, adapters.Options{})
	want := []string{
		path + ":3: column 备注: matches no field of court.criminal_judgments (刑事判决); map it to a field in the mapping file, or to \"-\" to drop it",
		path + ":4: key 「案号」 appears twice",
		path + ":5: the value of key 「案号」 is an object or array, not a single value",
		path + ":6: not a JSON object of strings, numbers, booleans and nulls",
		path + ":7: the line holds bytes that are not valid text in the file's encoding (UTF-8 or GBK/GB18030); the file is damaged or was converted wrongly",
	}
	if got := messages(ps); !slices.Equal(got, want) {
		t.Errorf("problems =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := fmt.Sprint(lines(rows)); got != "[1 3 4 5 6 7]" {
		t.Errorf("rows at lines %s", got)
	}
	if got := fmt.Sprintf("%q", rows[1].Values); got != `["（2023）豫1528刑初13号" "411528198001010014" "王五" "2023-05-06" "" "" "" "true" "24"]` {
		t.Errorf("line 3 = %s", got)
	}
}

// TestXLSX: a named sheet, dates stored as dates in the built-in short
// format, and an ID number a spreadsheet turned into a number.
func TestXLSX(t *testing.T) {
	ds := dataset(t, "police.deaths")
	f := excelize.NewFile()
	if _, err := f.NewSheet("死亡"); err != nil {
		t.Fatal(err)
	}
	style, _ := f.NewStyle(&excelize.Style{NumFmt: 14})
	for i, v := range []any{"公民身份号码", "姓名", "死亡日期", "注销日期"} {
		cell, _ := excelize.CoordinatesToCellName(i+1, 1)
		_ = f.SetCellValue("死亡", cell, v)
	}
	_ = f.SetSheetRow("死亡", "A2", &[]any{"11010519491231002X", "李四", time.Date(2023, 5, 6, 0, 0, 0, 0, time.UTC), time.Date(2023, 5, 9, 0, 0, 0, 0, time.UTC)})
	_ = f.SetCellStyle("死亡", "C2", "D2", style)
	_ = f.SetSheetRow("死亡", "A4", &[]any{411528198001010014, "王五", "2023-05-06", "2023-05-09"})
	path := filepath.Join(t.TempDir(), "d.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	f.Close()

	rows, ps := readAll(t, path, ds, adapters.Options{Sheet: "死亡"})
	if len(rows) != 2 || fmt.Sprint(rows[0].Values) != "[11010519491231002X 李四 2023-05-06 2023-05-09]" || rows[1].Line != 4 {
		t.Errorf("rows %v", rows)
	}
	want := path + ":4: column 公民身份号码 (id_number): invalid resident ID number: has 19 characters, not 18 (or 15 for a first-generation number); the workbook stores it as a number, which keeps only 15 digits: format the column as text"
	if got := messages(ps); len(got) != 1 || got[0] != want {
		t.Errorf("problems %q, want %q", got, want)
	}
	if _, err := adapters.Open(path, ds, adapters.Options{Sheet: "Sheet9"}); err == nil || !strings.Contains(err.Error(), "Sheet1, 死亡") {
		t.Errorf("Open(Sheet9) = %v", err)
	}
	if _, err := adapters.Open(write(t, "x.xlsx", []byte("PK not a zip")), ds, adapters.Options{}); err == nil {
		t.Error("Open of a damaged workbook succeeded")
	}
}

// TestUnknownHeaderLikeValue: a key that may be personal data is not shown.
func TestUnknownHeaderLikeValue(t *testing.T) {
	ds := dataset(t, "police.deaths")
	path := write(t, "d.jsonl", []byte(`{"公民身份号码":"11010519491231002X","姓名":"李四","死亡日期":"2023-05-06","注销日期":"2023-05-09"}`+"\n"+
		`{"公民身份号码":"11010519491231002X","姓名":"李四","死亡日期":"2023-05-06","注销日期":"2023-05-09","11010519491231002X":"x"}`+"\n"))
	_, ps := readAll(t, path, ds, adapters.Options{})
	want := path + ":2: the header of column 5 matches no field of police.deaths and looks like a value, not a header, so it is not shown"
	if got := messages(ps); len(got) != 1 || got[0] != want {
		t.Errorf("problems %q, want %q", got, want)
	}
}

func TestAgencyCheck(t *testing.T) {
	reg := registry(t)
	bad := &adapters.Agency{
		Name: "police",
		Aliases: map[string]map[string]string{
			"police.deaths":  {"身份号码": "no_such_field", "死者": "name", "死 者": "id_number", "性别": "name"},
			"police.nothing": {"x": "y"},
		},
		Ignore: map[string][]string{"*": {"姓名"}, "police.deaths": {"性别"}, "court.nothing": {"z"}},
	}
	err := bad.Check(reg)
	for _, want := range []string{
		`maps column "身份号码" to "no_such_field"`,
		`headers "死 者" and "死者" are the same column`,
		`header "性别" is both an alias and ignored`,
		`ignored header "姓名" is a header of field name of police.deaths`,
		`unknown dataset "police.nothing"`,
		`unknown dataset "court.nothing"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check = %v, want it to say %s", err, want)
		}
	}
	if !errors.Is(err, adapters.ErrInvalidMapping) {
		t.Errorf("Check = %v, want ErrInvalidMapping", err)
	}
}

// TestJSONLBrokenLineKeys: the keys of a line that is not a valid object do
// not become columns.
func TestJSONLBrokenLineKeys(t *testing.T) {
	ds := dataset(t, "police.deaths")
	path := write(t, "d.jsonl", []byte(`{"公民身份号码":"11010519491231002X","姓名":"李四","死亡日期":"2023-05-06","注销日期":"2023-05-09"}`+"\n"+
		`{"备注":"x","姓名":`+"\n"+
		`{"公民身份号码":"11010519491231002X","姓名":"李四","死亡日期":"2023-05-06","注销日期":"2023-05-09"}`+"\n"))
	_, ps := readAll(t, path, ds, adapters.Options{})
	want := path + ":2: not a JSON object of strings, numbers, booleans and nulls"
	if got := messages(ps); len(got) != 1 || got[0] != want {
		t.Errorf("problems %q, want %q", got, want)
	}
}
