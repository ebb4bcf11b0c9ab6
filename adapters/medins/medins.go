// Package medins holds what the exports of medical-insurance bureaus (医疗
// 保障局) do differently from Qiao's canonical settlements dataset: the
// column names of the national medical-insurance information platform
// (医疗保障信息平台), the columns it carries that the dataset does not need,
// and the injury flag (外伤标识) the dataset expects but many exports lack.
//
// Pass Agency in adapters.Options when reading a medical-insurance export.
// It is not a reader itself, and it holds no personal data.
package medins

import (
	"strings"

	"github.com/qiao-exchange/qiao/adapters"
)

// Agency is the medical-insurance bureaus' adapter.
//
// Columns dropped: 序号; the platform's own identifiers (人员编号, 就诊ID,
// 医药机构编号); 性别, 年龄, 人员类别, 险种类型, 医疗类别 and 参保地, which the
// dataset does not hold; the patient's own share (个人自付, 个人自费,
// 个人账户支出, 个人现金支出) and 结算时间.
//
// Values fixed: when the export has no 外伤标识 column or leaves it empty,
// injury is derived from the principal diagnosis's ICD-10 code: yes for
// chapter XIX's injuries, foreign bodies, burns and frostbite (S00–T35),
// no for any other code; it stays empty without a code.
var Agency = &adapters.Agency{
	Name: "medins",
	Aliases: map[string]map[string]string{
		"medins.settlements": {
			"人员姓名":       "name",
			"参保人员姓名":     "name",
			"人员证件号码":     "id_number",
			"定点医药机构名称":   "hospital",
			"主诊断代码":      "diagnosis_code",
			"出院主诊断编码":    "diagnosis_code",
			"出院主诊断名称":    "diagnosis_name",
			"统筹基金支出":     "fund_paid",
			"基本医疗统筹基金支出": "fund_paid",
			"医疗费总额(元)":   "total_cost",
			"统筹基金支出(元)":  "fund_paid",
		},
	},
	Ignore: map[string][]string{
		"*": {"序号", "人员编号", "就诊ID", "医药机构编号", "定点医药机构编号", "性别", "年龄", "人员类别", "险种类型", "医疗类别",
			"参保地", "参保所属医保区划", "个人自付", "个人自费", "个人账户支出", "个人现金支出", "结算时间"},
	},
	Fix: fix,
}

func fix(r *adapters.Record) {
	if r.Dataset().ID != "medins.settlements" || strings.TrimSpace(r.Get("injury")) != "" {
		return
	}
	if injury, ok := Injury(r.Get("diagnosis_code")); ok {
		if injury {
			r.Set("injury", "是")
		} else {
			r.Set("injury", "否")
		}
	}
}

// Injury reports whether an ICD-10 diagnosis code, in any edition's form
// (S82.2, S82.201, s82.200x001), is an external injury: S00–T35, the
// injuries, effects of foreign bodies, burns and frostbite of chapter XIX.
// Poisonings, complications of care and sequelae (T36–T98) are not. ok is
// false when the code does not start with a letter and two digits.
func Injury(code string) (injury, ok bool) {
	c := strings.TrimSpace(code)
	if len(c) < 3 || c[1] < '0' || c[1] > '9' || c[2] < '0' || c[2] > '9' {
		return false, false
	}
	letter := c[0] &^ 0x20 // upper case
	if letter < 'A' || letter > 'Z' {
		return false, false
	}
	n := int(c[1]-'0')*10 + int(c[2]-'0')
	return letter == 'S' || (letter == 'T' && n <= 35), true
}
