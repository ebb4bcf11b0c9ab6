// Package hrss holds what the exports of human-resources and social-security
// bureaus (人力资源和社会保障局) do differently from Qiao's canonical hrss
// datasets: the column names of the social-insurance system (社会保险信息
// 系统) and the labour-inspection system (劳动保障监察系统), the columns they
// carry that no dataset needs, and the way they write head counts and
// deadlines.
//
// Pass Agency in adapters.Options when reading an hrss export. It is not a
// reader itself, and it holds no personal data.
package hrss

import (
	"strconv"
	"strings"
	"time"

	"github.com/qiao-exchange/qiao/adapters"
	"github.com/qiao-exchange/qiao/schema"
)

// Agency is the hrss bureaus' adapter.
//
// Columns dropped: 序号; 个人编号 and 单位编号 (the social-insurance system's
// own numbers); 性别, 出生日期; bank details (开户银行, 银行账号, 社保卡号),
// which must never leave the bureau through Qiao; 待遇类型, 发放状态 and
// 参保地 of pensions; 立案日期, 结案日期, 案件状态, 承办人, 单位地址 and 联系电话
// of inspections.
//
// Values fixed, in labour inspections: a head count written with its unit
// (12人) loses it; a 限期 written as a number of days (15日内, 15天, 15)
// becomes the date that many days after the order date, when that is valid.
var Agency = &adapters.Agency{
	Name: "hrss",
	Aliases: map[string]map[string]string{
		"hrss.pension_payments": {
			"证件号码(社会保障号码)": "id_number",
			"人员姓名":         "name",
			"发放金额(元)":      "amount",
			"实发金额(元)":      "amount",
			"待遇享受年月":       "period",
		},
		"hrss.labor_inspections": {
			"监察案件号":          "inspection_no",
			"被查处单位":          "employer",
			"法定代表人(负责人)":     "responsible_name",
			"法定代表人(负责人)身份证号": "responsible_id_number",
			"涉及人数(人)":        "workers",
			"拖欠工资(元)":        "amount_owed",
			"拖欠金额(元)":        "amount_owed",
			"责令改正期限":         "deadline",
		},
	},
	Ignore: map[string][]string{
		"*":                      {"序号", "个人编号", "单位编号", "性别", "出生日期", "开户银行", "银行账号", "社保卡号"},
		"hrss.pension_payments":  {"待遇类型", "发放状态", "参保地"},
		"hrss.labor_inspections": {"立案日期", "结案日期", "案件状态", "承办人", "单位地址", "联系电话"},
	},
	Fix: fix,
}

func fix(r *adapters.Record) {
	if r.Dataset().ID != "hrss.labor_inspections" {
		return
	}
	if w := strings.TrimSpace(r.Get("workers")); strings.HasSuffix(w, "人") {
		r.Set("workers", strings.TrimSpace(strings.TrimSuffix(w, "人")))
	}
	if days, ok := dayCount(r.Get("deadline")); ok {
		if order, err := schema.NormalizeDate(r.Get("order_date")); err == nil {
			t, _ := time.Parse(time.DateOnly, order)
			r.Set("deadline", t.AddDate(0, 0, days).Format(time.DateOnly))
		}
	}
}

// dayCount reads a deadline written as a number of days: 15日内, 15天内,
// 15日, 15天, 15 (at most three digits, so that 20230506 stays a date).
func dayCount(s string) (int, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(s, "内")
	for _, unit := range []string{"个工作日", "日", "天"} {
		if rest, ok := strings.CutSuffix(s, unit); ok {
			if unit == "个工作日" {
				return 0, false // working days need the holiday calendar
			}
			s = rest
			break
		}
	}
	if len(s) == 0 || len(s) > 3 {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n > 0
}
