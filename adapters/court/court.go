// Package court holds what the exports of people's courts (人民法院) do
// differently from Qiao's canonical court datasets: the column names of the
// trial and enforcement case-management systems (审判流程管理系统, 执行案件流程
// 管理系统), with amounts' headers carrying their unit (执行标的（元）), the
// columns they carry that no dataset needs, and the way they write terms.
//
// 案号 in either bracket style — (2023)豫1528执123号 or （2023）… or
// 〔2023〕… — needs nothing here: schema.NormalizeCaseNo takes them all.
//
// Pass Agency in adapters.Options when reading a court export. It is not a
// reader itself, and it holds no personal data.
package court

import (
	"strconv"
	"strings"

	"github.com/qiao-exchange/qiao/adapters"
)

// Agency is the courts' adapter.
//
// Columns dropped: 序号; the judge and division (承办人, 承办法官, 审判长,
// 执行法官, 承办部门, 承办庭室); 立案日期, 审理程序 and 案件状态, which no court
// dataset holds; 性别 and 住址 of parties; in criminal judgments 刑期 and its
// start and end (the dataset holds the kind of punishment, not its length)
// and 结案日期/结案方式.
//
// Values fixed, in criminal judgments: a 刑罚 written with its term
// (有期徒刑一年六个月) keeps the kind of punishment (有期徒刑); a 缓刑考验期
// written as a term (一年六个月, 2年, 1年零6个月, 18个月) becomes months (18);
// a 缓刑 column that holds the probation term instead of yes/no becomes yes,
// and fills 缓刑考验期 when that is empty.
var Agency = &adapters.Agency{
	Name: "court",
	Aliases: map[string]map[string]string{
		"court.criminal_judgments": {
			"被告人证件号":   "defendant_id_number",
			"被告人证件号码":  "defendant_id_number",
			"被告人名称":    "defendant_name",
			"裁判文书生效日期": "effective_date",
			"判决罪名名称":   "charge",
			"主刑种类":     "sentence_type",
			"缓刑考验期限":   "probation_months",
		},
		"court.civil_compensations": {
			"原告证件号":       "plaintiff_id_number",
			"原告名称":        "plaintiff_name",
			"被告名称(赔偿义务人)": "defendant",
			"判赔医疗费(元)":    "medical_costs_awarded",
			"医疗费(元)":      "medical_costs_awarded",
		},
		"court.enforcement_cases": {
			"申请执行人名称":   "applicant",
			"执行标的(元)":   "amount",
			"执行标的金额(元)": "amount",
			"申请执行标的(元)": "amount",
			"已履行金额(元)":  "performed_amount",
			"执行到位金额(元)": "performed_amount",
			"被执行人证照号码":  "respondent_id",
		},
	},
	Ignore: map[string][]string{
		"*":                         {"序号", "承办人", "承办法官", "审判长", "执行法官", "承办部门", "承办庭室", "立案日期", "审理程序", "案件状态", "性别", "住址"},
		"court.criminal_judgments":  {"刑期", "刑期起日", "刑期止日", "刑期起止日期", "结案日期", "结案方式"},
		"court.civil_compensations": {"结案日期", "结案方式", "诉讼标的额"},
	},
	Fix: fix,
}

func fix(r *adapters.Record) {
	if r.Dataset().ID != "court.criminal_judgments" {
		return
	}
	if s := strings.TrimSpace(r.Get("sentence_type")); s != "" {
		for _, kind := range []string{"有期徒刑", "拘役", "管制", "剥夺政治权利"} {
			if rest, ok := strings.CutPrefix(s, kind); ok && rest != "" {
				if _, isTerm := months(rest); isTerm {
					r.Set("sentence_type", kind)
				}
				break
			}
		}
	}
	if m, ok := months(r.Get("probation_months")); ok {
		r.Set("probation_months", strconv.Itoa(m))
	}
	if m, ok := months(strings.TrimPrefix(strings.TrimSpace(r.Get("probation")), "缓刑")); ok {
		r.Set("probation", "是")
		if strings.TrimSpace(r.Get("probation_months")) == "" {
			r.Set("probation_months", strconv.Itoa(m))
		}
	}
}

// months reads a term as courts write it — 一年六个月, 一年零六个月, 2年, 1年6个月,
// 六个月, 18个月 — and returns it in months. A bare number is not a term.
func months(s string) (int, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimSuffix(s, "整"), "）")
	if s == "" {
		return 0, false
	}
	years, rest, hasYears := strings.Cut(s, "年")
	if !hasYears {
		years, rest = "", s
	}
	total := 0
	if hasYears {
		y, ok := number(years)
		if !ok {
			return 0, false
		}
		total = 12 * y
	}
	rest = strings.TrimPrefix(rest, "零")
	if rest == "" {
		return total, hasYears
	}
	rest, ok := strings.CutSuffix(rest, "月")
	if !ok {
		return 0, false
	}
	rest = strings.TrimSuffix(rest, "个")
	m, ok := number(rest)
	if !ok {
		return 0, false
	}
	return total + m, true
}

// number reads a whole number under 100 in Arabic or Chinese numerals.
func number(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < 100 {
		return n, true
	}
	digit := func(r rune) (int, bool) {
		i := strings.IndexRune("零一二三四五六七八九", r)
		if i >= 0 {
			return i / len("零"), true
		}
		if r == '两' {
			return 2, true
		}
		return 0, false
	}
	rs := []rune(s)
	switch {
	case len(rs) == 1 && rs[0] == '十':
		return 10, true
	case len(rs) == 1:
		return digit(rs[0])
	case len(rs) == 2 && rs[0] == '十':
		d, ok := digit(rs[1])
		return 10 + d, ok
	case len(rs) == 2 && rs[1] == '十':
		d, ok := digit(rs[0])
		return 10 * d, ok
	case len(rs) == 3 && rs[1] == '十':
		t, ok1 := digit(rs[0])
		d, ok2 := digit(rs[2])
		return 10*t + d, ok1 && ok2
	}
	return 0, false
}
