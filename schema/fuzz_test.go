package schema

import (
	"errors"
	"strings"
	"testing"
)

// Each fuzz target checks that a validator never panics, that every error
// wraps ErrInvalidValue, and that normalising is idempotent: the canonical
// form of a value normalises to itself.

// checkIdempotent normalises out again and fails unless it is unchanged.
func checkIdempotent(t *testing.T, name string, normalize func(string) (string, error), in, out string) {
	t.Helper()
	again, err := normalize(out)
	if err != nil || again != out {
		t.Fatalf("%s(%q) = %q, but %s(%q) = %q, %v", name, in, out, name, out, again, err)
	}
}

func checkError(t *testing.T, in string, err error) {
	t.Helper()
	if !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("%q: error %v does not wrap ErrInvalidValue", in, err)
	}
	if c := compact(in); len(c) >= 8 && strings.Contains(err.Error(), c) {
		t.Fatalf("%q: error %q repeats the value", in, err)
	}
}

func FuzzIDNumber(f *testing.F) {
	for _, s := range validIDNumbers {
		f.Add(s)
	}
	for _, s := range []string{"11010519491231002x", "411528850307123", "４１１５２８１９９００３０７１２３７", "411528199003071238", "", "x", "91141220151212111X"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := NormalizeIDNumber(s)
		if err != nil {
			checkError(t, s, err)
			return
		}
		if len(out) != 18 || out[17] != idCheck(out[:17]) {
			t.Fatalf("NormalizeIDNumber(%q) = %q", s, out)
		}
		checkIdempotent(t, "NormalizeIDNumber", NormalizeIDNumber, s, out)
	})
}

func FuzzCreditCode(f *testing.F) {
	for _, s := range validCreditCodes {
		f.Add(s)
	}
	for _, s := range []string{"91350100m000100y43", "９１３５０１００Ｍ０００１００Ｙ４３", "91350100M000100Y44", "", "91350100M000100I43"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := NormalizeCreditCode(s)
		if err != nil {
			checkError(t, s, err)
			return
		}
		if len(out) != 18 || out[17] != creditCheck(out[:17]) {
			t.Fatalf("NormalizeCreditCode(%q) = %q", s, out)
		}
		checkIdempotent(t, "NormalizeCreditCode", NormalizeCreditCode, s, out)
	})
}

func FuzzDate(f *testing.F) {
	for _, s := range []string{"2023-05-06", "2023/5/6", "20230506", "2023年5月6日", "２０２３年５月６日", "2024-02-29 00:00:00",
		"2023-05-06T14:30:00.5", "2023-02-29", "2023-5/6", "", "2023年5月6号", "2023 年 5 月 6 日"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := NormalizeDate(s)
		if err != nil {
			checkError(t, s, err)
			return
		}
		if len(out) != 10 {
			t.Fatalf("NormalizeDate(%q) = %q", s, out)
		}
		checkIdempotent(t, "NormalizeDate", NormalizeDate, s, out)
	})
}

func FuzzMonth(f *testing.F) {
	for _, s := range []string{"2023-05", "2023/5", "202305", "2023年5月", "２０２３年５月", "2023-13", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := NormalizeMonth(s)
		if err != nil {
			checkError(t, s, err)
			return
		}
		if len(out) != 7 {
			t.Fatalf("NormalizeMonth(%q) = %q", s, out)
		}
		checkIdempotent(t, "NormalizeMonth", NormalizeMonth, s, out)
	})
}

func FuzzMoney(f *testing.F) {
	for _, s := range []string{"1234", "1,234.56", "¥1,234.5", "￥12元", "-12.30", "12,50", "1.2300", "1.234", "1.5万", "-0", "１２３４．５６", "999999999999999.99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMoney(s)
		if err != nil {
			checkError(t, s, err)
			return
		}
		again, err := ParseMoney(m.String())
		if err != nil || again != m {
			t.Fatalf("ParseMoney(%q) = %s, but ParseMoney(%q) = %s, %v", s, m, m.String(), again, err)
		}
		f := &Field{Name: "amount", Type: TypeMoney, AllowNegative: true}
		out, err := f.Normalize(s)
		if err != nil || out != m.String() {
			t.Fatalf("Normalize(%q) = %q, %v; ParseMoney gave %s", s, out, err, m)
		}
	})
}

func FuzzInt(f *testing.F) {
	for _, s := range []string{"0", "12", "1,200", "12.0", "-5", "１２", "12.5", "999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := NormalizeInt(s)
		if err != nil {
			checkError(t, s, err)
			return
		}
		checkIdempotent(t, "NormalizeInt", NormalizeInt, s, out)
	})
}

func FuzzCaseNo(f *testing.F) {
	for _, s := range []string{"（2023）豫1528执123号", "(2023)豫1528执0123号", "〔2023〕最高法民申1号之一", "2023豫15民终7号",
		"(2010)潢刑初字第12号", "(2023)豫1528执123", "[２０２３]豫１５２８执１２３号", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := NormalizeCaseNo(s)
		if err != nil {
			checkError(t, s, err)
			return
		}
		if !strings.HasPrefix(out, "（") || !strings.Contains(out, "号") {
			t.Fatalf("NormalizeCaseNo(%q) = %q", s, out)
		}
		checkIdempotent(t, "NormalizeCaseNo", NormalizeCaseNo, s, out)
	})
}

func FuzzDocNo(f *testing.F) {
	for _, s := range []string{"豫潢人社监移〔2023〕5号", "豫潢人社监移(2023)5号", "((2023))", "移(2023", "［２０２３］", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := NormalizeDocNo(s)
		if err != nil {
			checkError(t, s, err)
			return
		}
		checkIdempotent(t, "NormalizeDocNo", NormalizeDocNo, s, out)
	})
}

// FuzzParse checks that no schema file, however malformed, makes Parse panic,
// and that what it accepts is consistent.
func FuzzParse(f *testing.F) {
	entries, err := embedded.ReadDir("datasets")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		data, err := embedded.ReadFile("datasets/" + e.Name())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(goodSchema))
	f.Add([]byte("id: [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse("fuzz.yaml", data)
		if err != nil {
			if !errors.Is(err, ErrInvalidSchema) {
				t.Fatalf("error %v does not wrap ErrInvalidSchema", err)
			}
			return
		}
		for _, k := range d.RecordKey {
			if d.FieldIndex(k) < 0 {
				t.Fatalf("record key %q is no field", k)
			}
		}
		row := make([]string, len(d.Fields))
		d.ValidateRow(row)
	})
}
