package schema

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMatchHeader(t *testing.T) {
	r := mustLoad(t)
	for _, tc := range []struct {
		dataset, header, field string
	}{
		{"police.deaths", "公民身份号码", "id_number"},
		{"police.deaths", "身份证号码", "id_number"},
		{"police.deaths", "公民 身份 号码", "id_number"},
		{"police.deaths", "\u3000公民身份号码\u3000", "id_number"},
		{"police.deaths", "\ufeff公民身份号码", "id_number"}, // the BOM of a UTF-8 CSV
		{"police.deaths", "*公民身份号码", "id_number"},
		{"police.deaths", "id_number", "id_number"},
		{"police.deaths", "ID Number", "id_number"},
		{"police.deaths", "ＩＤ　Ｎｕｍｂｅｒ", "id_number"},
		{"police.deaths", "id-number", "id_number"},
		{"police.deaths", "姓名", "name"},
		{"police.deaths", "NAME", "name"},
		{"police.deaths", "死亡日期", "death_date"},
		{"police.deaths", "Date of Death", "death_date"},
		{"police.deaths", "注销日期", "cancel_date"},
		{"police.traffic_accidents", "当事人身份证号", "id_number"},
		{"police.traffic_accidents", "事故责任", "responsibility"},
		{"police.case_records", "立案日期", "filed_date"},
		{"police.case_records", "移送文书号", "transfer_no"},
		{"police.case_records", "身份证号", "suspect_id_number"},
		{"court.criminal_judgments", "缓刑考验期(月)", "probation_months"},
		{"court.criminal_judgments", "缓刑考验期（月）", "probation_months"},
		{"court.criminal_judgments", "Probation_Months", "probation_months"},
		{"court.enforcement_cases", "证件号码", "respondent_id"},
		{"court.enforcement_cases", "统一社会信用代码", "respondent_id"},
		{"court.enforcement_cases", "执行案号", "case_no"},
		{"medins.settlements", "ICD-10编码", "diagnosis_code"},
		{"medins.settlements", "icd10编码", "diagnosis_code"},
		{"medins.settlements", "社会保障号码", "id_number"},
		{"medins.settlements", "统筹基金支付", "fund_paid"},
		{"hrss.labor_inspections", "统一社会信用代码", "employer_credit_code"},
		{"hrss.labor_inspections", "限期", "deadline"},
		{"hrss.pension_payments", "发放年月", "period"},
	} {
		d, err := r.Get(tc.dataset)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := MatchHeader(d, tc.header)
		if !ok || got != tc.field {
			t.Errorf("%s: MatchHeader(%q) = %q, %v; want %q", tc.dataset, tc.header, got, ok, tc.field)
		}
	}
	d, _ := r.Get("police.deaths")
	for _, h := range []string{"", "备注", "身份", "号码", "id", "number", "出生日期", "户籍地址"} {
		if got, ok := MatchHeader(d, h); ok {
			t.Errorf("MatchHeader(%q) = %q, want no match", h, got)
		}
	}
}

// Every alias of every embedded dataset matches its own field, however it is
// spaced, cased or widened.
func TestMatchHeaderEveryAlias(t *testing.T) {
	for _, d := range mustLoad(t).List() {
		for _, f := range d.Fields {
			names := append([]string{f.Name}, f.AliasesZh...)
			names = append(names, f.AliasesEn...)
			for _, a := range names {
				for _, h := range []string{a, strings.ToUpper(a), " " + a + " ", spaced(a), widen(a)} {
					if got, ok := MatchHeader(d, h); !ok || got != f.Name {
						t.Errorf("%s: MatchHeader(%q) = %q, %v; want %q", d.ID, h, got, ok, f.Name)
					}
				}
			}
		}
	}
}

// spaced puts an ideographic space between every character.
func spaced(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 {
			b.WriteRune('\u3000')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// widen writes ASCII in its full-width form.
func widen(s string) string {
	return strings.Map(func(r rune) rune {
		if r > ' ' && r < utf8.RuneSelf && r != 0x7f {
			return r + 0xFEE0
		}
		return r
	}, s)
}
