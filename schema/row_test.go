package schema

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestValidateRow(t *testing.T) {
	d, err := mustLoad(t).Get("medins.settlements")
	if err != nil {
		t.Fatal(err)
	}
	// settlement_no, id_number, name, hospital, admission_date, discharge_date,
	// diagnosis_code, diagnosis_name, injury, total_cost, fund_paid
	row, errs := d.ValidateRow([]string{
		" JS2023050600123 ", "４１１５２８１９９００３０７１２３ｘ", "张三", "潢川县人民医院",
		"2023/5/6", "2023年5月20日", "S72.001", "股骨颈骨折", "是", "￥12,345.6", "8,000元",
	})
	want := []string{
		"JS2023050600123", "", "张三", "潢川县人民医院",
		"2023-05-06", "2023-05-20", "S72.001", "股骨颈骨折", "true", "12345.60", "8000.00",
	}
	// The ID number above has a wrong check digit (x instead of 7).
	if len(errs) != 1 || errs[0].Field != "id_number" || errs[0].Reason != "invalid resident ID number: check digit is wrong" {
		t.Fatalf("errors = %v", errs)
	}
	if !reflect.DeepEqual(row, want) {
		t.Errorf("row = %q\nwant  %q", row, want)
	}

	row, errs = d.ValidateRow([]string{
		"JS2023050600123", "411528199003071237", "张三", "潢川县人民医院",
		"2023/5/6", "", "", "", "", "12345.6", "8000",
	})
	if len(errs) != 0 {
		t.Fatalf("errors = %v", errs)
	}
	if row[1] != "411528199003071237" || row[5] != "" || row[8] != "" || row[9] != "12345.60" {
		t.Errorf("row = %q", row)
	}
}

func TestValidateRowReportsEveryError(t *testing.T) {
	d, _ := mustLoad(t).Get("medins.settlements")
	_, errs := d.ValidateRow([]string{
		"", "411528199003071238", "", "潢川县人民医院",
		"2023-02-30", "2023-13-01", "S72", "骨折", "也许", "-5", "1.234",
	})
	got := make([]string, len(errs))
	for i, e := range errs {
		got[i] = e.Error()
		if !errors.Is(e, ErrInvalidValue) {
			t.Errorf("%v does not wrap ErrInvalidValue", e)
		}
		if strings.Contains(e.Error(), "411528199003071238") {
			t.Errorf("%v echoes the ID number", e)
		}
	}
	want := []string{
		"settlement_no: required value is missing",
		"id_number: invalid resident ID number: check digit is wrong",
		"name: required value is missing",
		"admission_date: invalid date: day does not exist in that month",
		"discharge_date: invalid date: month does not exist",
		"injury: invalid yes/no value: not one of 是/否, 有/无, 1/0, true/false, Y/N",
		"total_cost: invalid amount: a negative amount is not allowed here",
		"fund_paid: invalid amount: has more than two decimal places",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	_, errs = d.ValidateRow([]string{"only one value"})
	if len(errs) != 1 || !strings.Contains(errs[0].Reason, "row has 1 values, dataset medins.settlements has 11 fields") {
		t.Errorf("short row: %v", errs)
	}
}

func TestValidateRecord(t *testing.T) {
	d, _ := mustLoad(t).Get("hrss.pension_payments")
	row, errs := d.ValidateRecord(map[string]string{
		"id_number": "110105491231002",
		"name":      "李四",
		"period":    "2023年5月",
		"amount":    "2,350.5",
	})
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if want := []string{"11010519491231002X", "李四", "2023-05", "2350.50"}; !reflect.DeepEqual(row, want) {
		t.Errorf("row = %q, want %q", row, want)
	}

	_, errs = d.ValidateRecord(map[string]string{
		"id_number": "11010519491231002X",
		"period":    "2023-05",
		"amount":    "100",
		"zzz":       "1",
		"bank_card": "6222000000000000",
	})
	want := []FieldError{
		{Field: "name", Reason: "required value is missing"},
		{Field: "bank_card", Reason: "dataset hrss.pension_payments has no such field"},
		{Field: "zzz", Reason: "dataset hrss.pension_payments has no such field"},
	}
	if !reflect.DeepEqual(errs, want) {
		t.Errorf("errors = %v, want %v", errs, want)
	}
}

// benchRow is a medical-insurance settlement as exports write it: a mix of
// canonical values and the other forms the validators accept.
var benchRow = []string{
	"JS2023050600123", "411528199003071237", "张三", "潢川县人民医院",
	"2023/5/6", "2023-05-20 00:00:00", "S72.001", "股骨颈骨折", "是", "12,345.60", "8000",
}

// BenchmarkValidateRow measures normalising one settlement row; compare it
// with BenchmarkValidateRowReference, which only trims and copies the same
// values, the least any reader does.
func BenchmarkValidateRow(b *testing.B) {
	d, _ := mustLoad(b).Get("medins.settlements")
	b.ReportAllocs()
	for b.Loop() {
		if _, errs := d.ValidateRow(benchRow); errs != nil {
			b.Fatal(errs)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkValidateRowReference(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		out := make([]string, len(benchRow))
		for i, v := range benchRow {
			out[i] = strings.TrimSpace(v)
		}
		_ = out
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
