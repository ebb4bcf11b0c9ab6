// Package police holds what the exports of public-security bureaus (公安局)
// do differently from Qiao's canonical police datasets: the column names of
// the population-management system (人口管理信息系统), the integrated police
// platform (警综平台), the traffic-management system and the detention-house
// system, the columns they carry that no dataset needs, and their values'
// quirks.
//
// Pass Agency in adapters.Options when reading a police export. It is not a
// reader itself, and it holds no personal data.
package police

import (
	"strings"

	"github.com/qiao-exchange/qiao/adapters"
)

// Agency is the public-security bureaus' adapter.
//
// Columns dropped: 序号 (row number) in every dataset; 性别, 民族, 出生日期 and
// addresses, which the population system adds to every list of persons and
// no police dataset holds (they are personal data, so they are not pushed);
// the handling officer and unit (办案民警, 主办民警, 办案单位, 所属派出所);
// 注销原因, always 死亡 in an export of deaths; 在押状态, which end_date
// already says.
//
// Values fixed: 立案日期 holding 未立案 (not filed) or 否 becomes empty, as
// the dataset writes a case not filed; 出所日期 holding 在押 or 未出所 (still
// detained) becomes empty; 受伤情况 (the traffic system's injury column,
// 未受伤/轻微伤/轻伤/重伤) becomes the yes/no of injured, and 死亡 there
// becomes yes too: the party suffered the crash's gravest harm.
var Agency = &adapters.Agency{
	Name: "police",
	Aliases: map[string]map[string]string{
		"police.deaths": {
			"身份号码":     "id_number",
			"注销户口日期":   "cancel_date",
			"死亡时间(日期)": "death_date",
		},
		"police.traffic_accidents": {
			"身份证明号码":    "id_number",
			"当事人身份证明号码": "id_number",
			"人员类别":      "party_role",
			"事故责任认定结果":  "responsibility",
			"受伤情况":      "injured",
		},
		"police.case_records": {
			"案件类别名称":   "case_type",
			"移送文书编号":   "transfer_no",
			"涉案人员身份证号": "suspect_id_number",
			"涉案人员姓名":   "suspect_name",
		},
		"police.detentions": {
			"在押人员身份证号": "id_number",
			"在押人员姓名":   "name",
			"收押日期":     "start_date",
			"收押类型":     "detention_type",
			"所属监所":     "facility",
		},
	},
	Ignore: map[string][]string{
		"*":                        {"序号", "性别", "民族", "出生日期", "户籍地址", "户籍地详址", "住址", "现住址", "备注", "办案单位", "所属派出所", "派出所", "办案民警", "主办民警"},
		"police.deaths":            {"注销原因", "注销类别"},
		"police.detentions":        {"在押状态", "羁押状态"},
		"police.traffic_accidents": {"事故地点", "车辆号牌", "号牌号码", "天气"},
		"police.case_records":      {"发案地点", "发案时间", "案件状态"},
	},
	Fix: fix,
}

func fix(r *adapters.Record) {
	switch r.Dataset().ID {
	case "police.case_records":
		switch strings.TrimSpace(r.Get("filed_date")) {
		case "未立案", "否", "无":
			r.Set("filed_date", "")
		}
	case "police.detentions":
		switch strings.TrimSpace(r.Get("end_date")) {
		case "在押", "未出所", "未解除":
			r.Set("end_date", "")
		}
	case "police.traffic_accidents":
		switch strings.TrimSpace(r.Get("injured")) {
		case "未受伤", "无伤", "未伤":
			r.Set("injured", "否")
		case "轻微伤", "轻伤", "重伤", "受伤", "死亡":
			r.Set("injured", "是")
		}
	}
}
