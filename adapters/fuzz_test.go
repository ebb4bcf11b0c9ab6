package adapters

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/qiao-exchange/qiao/schema"
)

// The fuzz targets feed arbitrary bytes to each reader as an export of a
// dataset with every kind of field, through an Agency with a Fix and a
// mapping: a reader never panics, every problem names the file and a line,
// rows come in file order with one value per field (or none), and reading
// ends.
//
// Workbook inputs are large and each new one is minimised for up to a
// minute by default; run FuzzXLSX with -fuzzminimizetime=3s to keep it
// fuzzing.

func fuzzDataset(t testing.TB) *schema.Dataset {
	reg, err := schema.Load("")
	if err != nil {
		t.Fatal(err)
	}
	ds, err := reg.Get("court.enforcement_cases")
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

var fuzzOptions = Options{
	Mapping: Mapping{"court.enforcement_cases": {"执行依据": Ignored, "标的": "amount"}},
	Agency: &Agency{
		Name:    "court",
		Aliases: map[string]map[string]string{"court.enforcement_cases": {"被执行人证照号码": "respondent_id"}},
		Ignore:  map[string][]string{"*": {"序号"}},
		Fix: func(r *Record) {
			if v := r.Get("amount"); strings.HasSuffix(v, "万") {
				r.Set("amount", strings.TrimSuffix(v, "万")+"0000")
			}
		},
	},
}

const fuzzCSVSeed = "息县人民法院 行政非诉执行案件\r\n\r\n" +
	"序号,执行案号,申请执行机关,被执行人,被执行人证照号码,标的,结案日期,结案方式,已履行金额,执行依据\r\n" +
	"1,(2023)豫1528执123号,息县人力资源和社会保障局,张伟,11010519491231002X,12345.6,2023/5/6,终本,,x\r\n" +
	"2,〔2023〕豫1528执124号,息县自然资源局,\"息县宏达建筑劳务有限公司\",91411528MA47919009,3万,2023年5月6日,执行完毕,30000,\r\n"

// checkRead reads everything r holds and checks what it returns.
func checkRead(t *testing.T, r *Reader, ds *schema.Dataset) {
	t.Helper()
	check := func(ps []Problem) {
		for _, p := range ps {
			if p.Line < 1 || p.File == "" || p.Reason == "" {
				t.Fatalf("problem without its place: %#v", p)
			}
		}
	}
	check(r.Header())
	last := 0
	for range 1 << 20 {
		row, ps, err := r.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			return // a read error ends the reading; it is not a row
		}
		check(ps)
		if row.Line < last || row.Line < 1 {
			t.Fatalf("row at line %d after line %d", row.Line, last)
		}
		last = row.Line
		if row.Values != nil && len(row.Values) != len(ds.Fields) {
			t.Fatalf("line %d: %d values", row.Line, len(row.Values))
		}
		if row.Values == nil && len(ps) == 0 {
			t.Fatalf("line %d: no values and no problem", row.Line)
		}
	}
	t.Fatal("reading does not end")
}

func FuzzCSV(f *testing.F) {
	ds := fuzzDataset(f)
	gbkSeed, _ := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(fuzzCSVSeed))
	for _, s := range [][]byte{
		[]byte(fuzzCSVSeed), gbkSeed, append([]byte("\xEF\xBB\xBF"), fuzzCSVSeed...),
		[]byte("执行案号,被执行人\n\"a\nb\",c\"d\n"), []byte("执行案号,申请执行机关,被执行人,标的\n\xFF,\x81\x30,\xE5\x8D,1\n,,,,\n"),
		{}, []byte("\n\n\n"),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := newCSV(bytes.NewReader(data), nil)
		if err != nil {
			t.Fatal(err)
		}
		r, err := newReader("fuzz.csv", ds, fuzzOptions, formatCSV, src)
		if err != nil {
			if !errors.Is(err, ErrNoHeader) {
				t.Fatalf("newReader: %v", err)
			}
			return
		}
		checkRead(t, r, ds)
	})
}

func FuzzJSONL(f *testing.F) {
	ds := fuzzDataset(f)
	for _, s := range []string{
		`{"执行案号":"(2023)豫1528执123号","申请执行机关":"息县人社局","被执行人":"张伟","执行标的":12345.6}` + "\n" + `{"case_no":1,"标的":"3万","x":null}`,
		`{"a":{"b":1}}`, `[1,2]`, `{"执行案号":"1","执行案号":"2"}`, "{\"被执行人\":\"\xff\"}", "", "\n\n{}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := newJSONL(bytes.NewReader(data), nil)
		if err != nil {
			t.Fatal(err)
		}
		r, err := newReader("fuzz.jsonl", ds, fuzzOptions, formatJSONL, src)
		if err != nil {
			return // a line over 16 MiB
		}
		checkRead(t, r, ds)
	})
}

func FuzzXLSX(f *testing.F) {
	ds := fuzzDataset(f)
	for _, rows := range [][][]any{
		{{"息县人民法院 行政非诉执行案件"}, {}, {"序号", "执行案号", "申请执行机关", "被执行人", "被执行人证照号码", "标的", "结案日期"},
			{1, "(2023)豫1528执123号", "息县人社局", "张伟", 110105194912310021, 12345.6, "2023/5/6"}},
		{{"执行案号", "x"}, {"", "", "y"}},
	} {
		x := excelize.NewFile()
		for i, row := range rows {
			cell, _ := excelize.CoordinatesToCellName(1, i+1)
			_ = x.SetSheetRow("Sheet1", cell, &row)
		}
		buf, err := x.WriteToBuffer()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := openXLSX("", bytes.NewReader(data), "")
		if err != nil {
			return
		}
		r, err := newReader("fuzz.xlsx", ds, fuzzOptions, formatXLSX, src)
		if err != nil {
			src.close()
			return
		}
		checkRead(t, r, ds)
		r.Close()
	})
}

// FuzzFieldNormalize covers what schema/fuzz_test.go does not: every field
// of every embedded dataset, so yes/no values, enumerations, ID-or-credit
// codes and free text too. Normalising never panics, errors wrap
// schema.ErrInvalidValue and never repeat the value, and a canonical value
// normalises to itself.
func FuzzFieldNormalize(f *testing.F) {
	reg, err := schema.Load("")
	if err != nil {
		f.Fatal(err)
	}
	var fields []*schema.Field
	for _, ds := range reg.List() {
		for i := range ds.Fields {
			fields = append(fields, &ds.Fields[i])
		}
	}
	for _, s := range []string{"是", "ＮＯ", "次要责任", "终本", "91411528MA47919009", "11010519491231002x", "411528850307123", "\x00", "李\xff", "全部 责任"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, fd := range fields {
			out, err := fd.Normalize(s)
			if err != nil {
				if !errors.Is(err, schema.ErrInvalidValue) {
					t.Fatalf("%s: %q: %v does not wrap ErrInvalidValue", fd.Name, s, err)
				}
				if v := strings.TrimSpace(s); len(v) >= 6 && strings.Contains(err.Error(), v) {
					t.Fatalf("%s: error %q repeats the value", fd.Name, err)
				}
				continue
			}
			again, err := fd.Normalize(out)
			if err != nil || again != out {
				t.Fatalf("%s: %q → %q, then %q, %v", fd.Name, s, out, again, err)
			}
		}
	})
}
