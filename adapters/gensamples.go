//go:build ignore

// gensamples writes the sample exports in the testdata directories of the
// agency packages (police, court, medins, hrss): GBK CSV files and XLSX
// workbooks laid out as those bureaus' systems export them, and one bad
// file per kind of bad value. Run it from adapters/ with `go generate` (or
// `go run gensamples.go`); the output is deterministic, and the files are
// committed. The tests beside them say which problems each bad file holds.
package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/qiao-exchange/qiao/schema"
)

// broken stands, in a cell, for bytes that are not valid text; the writers
// replace it after encoding.
const broken = "\x00BROKEN\x00"

// money and date are cell values an XLSX writer stores as numbers with a
// number format, as the bureaus' systems do.
type (
	money float64
	date  time.Time
)

var rng = rand.New(rand.NewPCG(20231125, 1528))

func main() {
	police()
	court()
	medins()
	hrss()
}

// Henan counties and districts (GB/T 2260) the samples' people come from.
var counties = []string{
	"411528", // 信阳市息县
	"411526", // 信阳市潢川县
	"411521", // 信阳市罗山县
	"411524", // 信阳市商城县
	"411525", // 信阳市固始县
	"411502", // 信阳市浉河区
	"410102", // 郑州市中原区
	"410305", // 洛阳市涧西区
	"411302", // 南阳市宛城区
	"411723", // 驻马店市平舆县
}

var (
	surnames = []string{"王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "郭", "何", "马", "罗", "宋", "郑", "谢", "韩", "冯", "于", "董", "程", "曹", "袁", "邓", "许", "彭", "吕", "范", "田", "付", "杜", "魏", "任", "姚"}
	given    = []string{"伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "建国", "建华", "玉兰", "志强", "海燕", "红梅", "国庆", "春花", "文博", "子涵", "浩然", "雨轩", "晓东", "桂兰", "德明", "凤英", "新民"}
)

func name() string { return surnames[rng.IntN(len(surnames))] + given[rng.IntN(len(given))] }

// id returns a valid resident ID number of someone born between the years
// given, from a Henan county.
func id(fromYear, toYear int) string {
	birth := time.Date(fromYear+rng.IntN(toYear-fromYear+1), time.January, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(365))
	first17 := counties[rng.IntN(len(counties))] + birth.Format("20060102") + fmt.Sprintf("%03d", rng.IntN(1000))
	c, err := schema.IDCheckDigit(first17)
	if err != nil {
		log.Fatal(err)
	}
	return first17 + string(c)
}

// badCheckDigit returns a valid ID number with its check digit changed.
func badCheckDigit() string {
	s := id(1950, 1990)
	last := "0123456789X"
	i := (strings.IndexByte(last, s[17]) + 1) % len(last)
	return s[:17] + last[i:i+1]
}

// day returns a date in the year given, and the forms it is written in.
func day(year int) time.Time {
	return time.Date(year, time.January, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(365))
}

// dateForm writes a date in one of the forms agencies' systems use.
func dateForm(t time.Time, i int) string {
	switch i % 5 {
	case 0:
		return t.Format("2006-01-02")
	case 1:
		return t.Format("2006/1/2")
	case 2:
		return t.Format("20060102")
	case 3:
		return fmt.Sprintf("%d年%d月%d日", t.Year(), t.Month(), t.Day())
	}
	return t.Format("2006-01-02 15:04:05")
}

func amount(lo, hi int) float64 { return float64(lo*100+rng.IntN((hi-lo)*100)) / 100 }

func police() {
	dir := "police/testdata"
	// 户籍注销(死亡): the population system's list of deaths, GBK CSV.
	header := []string{"序号", "公民身份号码", "姓名", "性别", "民族", "死亡日期", "注销日期", "户籍地址", "所属派出所"}
	var rows [][]string
	for i := range 24 {
		n := id(1930, 1975)
		death := day(2023)
		sex := "男"
		if (n[16]-'0')%2 == 0 {
			sex = "女"
		}
		rows = append(rows, []string{fmt.Sprint(i + 1), n, name(), sex, "汉族", dateForm(death, i), dateForm(death.AddDate(0, 0, 3+rng.IntN(20)), i+1),
			"河南省信阳市息县城关镇" + fmt.Sprint(1+rng.IntN(200)) + "号", "息县公安局城关派出所"})
	}
	writeCSV(dir+"/deaths.csv", true, nil, header, rows)

	bad := slicesClone(rows[:5])
	bad[2][1] = badCheckDigit() // line 4
	writeCSV(dir+"/bad/deaths_check_digit.csv", true, nil, header, bad)

	// 道路交通事故: the traffic-management system's list of parties, XLSX
	// with a title row, dates as dates.
	header = []string{"序号", "事故编号", "事故发生时间", "当事人姓名", "身份证明号码", "人员类别", "事故责任", "受伤情况", "事故地点"}
	var cells [][]any
	roles := []string{"机动车驾驶人", "非机动车驾驶人", "乘车人", "行人", "驾驶人"}
	resp := []string{"全部责任", "主要责任", "同等责任", "次要责任", "无责任"}
	hurt := []string{"未受伤", "轻微伤", "轻伤", "重伤", "死亡"}
	for i := range 20 {
		t := day(2023)
		var when any = date(t)
		if i%3 == 1 {
			when = dateForm(t, i)
		}
		cells = append(cells, []any{i + 1, fmt.Sprintf("411528%d%06d", 2023, 100+i/2), when, name(), id(1960, 2004),
			roles[rng.IntN(len(roles))], resp[rng.IntN(len(resp))], hurt[rng.IntN(len(hurt))], "G312国道息县段"})
	}
	writeXLSX(dir+"/traffic_accidents.xlsx", "事故当事人", "息县公安局交通管理大队 道路交通事故当事人信息（2023年）", header, cells)
	badCells := slicesClone(cells[:4])
	badCells[1][2] = "2023-02-29" // row 5: title, blank, header, then data from row 4
	writeXLSX(dir+"/bad/traffic_impossible_date.xlsx", "事故当事人", "息县公安局交通管理大队 道路交通事故当事人信息（2023年）", header, badCells)

	// 受案立案: the integrated police platform's case list, GBK CSV with a
	// title line and a line of notes above the header.
	header = []string{"案件编号", "受案时间", "立案时间", "处理结果", "案由", "案件来源", "移送文书号", "嫌疑人身份证号", "嫌疑人姓名", "办案单位"}
	causes := []string{"盗窃案", "诈骗案", "故意伤害案", "拒不支付劳动报酬案", "危险驾驶案", "交通肇事案"}
	rows = nil
	for i := range 18 {
		recv := day(2023)
		filed, decision, source, transfer := dateForm(recv.AddDate(0, 0, rng.IntN(10)), i+2), "立案侦查", "群众报案", ""
		switch i % 6 {
		case 3:
			filed, decision = "未立案", "不予立案"
		case 4:
			source, transfer = "人社部门移送", fmt.Sprintf("息人社监移〔%d〕%d号", recv.Year(), 1+i)
		}
		suspect, sname := id(1965, 2003), name()
		if i%7 == 5 {
			suspect, sname = "", "" // suspect not yet identified
		}
		rows = append(rows, []string{fmt.Sprintf("A4115285100002023%05d", 30+i), dateForm(recv, i), filed, decision,
			causes[rng.IntN(len(causes))], source, transfer, suspect, sname, "息县公安局刑侦大队"})
	}
	writeCSV(dir+"/case_records.csv", true, [][]string{{"息县公安局受案立案登记表"}, {"导出时间：2023-12-31 17:02:11", "", "共18条"}}, header, rows)

	// 羁押: the detention-house system, XLSX without a title.
	header = []string{"在押人员身份证号", "在押人员姓名", "性别", "收押日期", "出所日期", "收押类型", "所属监所", "在押状态"}
	types := []string{"刑事拘留", "逮捕", "行政拘留", "刑拘", "强制隔离戒毒"}
	cells = nil
	for i := range 15 {
		start := day(2023)
		var end any = date(start.AddDate(0, 0, 5+rng.IntN(60)))
		status := "已出所"
		if i%4 == 2 {
			end, status = "在押", "在押"
		}
		cells = append(cells, []any{id(1960, 2004), name(), "男", date(start), end, types[rng.IntN(len(types))], "息县看守所", status})
	}
	writeXLSX(dir+"/detentions.xlsx", "在押人员", "", header, cells)
}

func court() {
	dir := "court/testdata"
	// 刑事判决: the trial case-management system, XLSX with a title,
	// 案号 with half-width brackets, terms written out.
	header := []string{"序号", "案号", "被告人姓名", "被告人证件号码", "宣判日期", "生效日期", "罪名", "刑罚", "缓刑", "缓刑考验期", "承办人"}
	charges := []string{"盗窃罪", "诈骗罪", "危险驾驶罪", "交通肇事罪", "故意伤害罪", "拒不支付劳动报酬罪"}
	terms := []string{"有期徒刑一年六个月", "有期徒刑三年", "拘役三个月", "有期徒刑八个月", "管制一年", "罚金"}
	var cells [][]any
	for i := range 16 {
		judged := day(2023)
		sentence := terms[rng.IntN(len(terms))]
		probation, months := "否", ""
		if i%3 == 0 && strings.HasPrefix(sentence, "有期徒刑") {
			probation, months = "是", []string{"二年", "一年六个月", "3年", "1年零6个月"}[i%4]
		}
		caseNo := fmt.Sprintf("(%d)豫1528刑初%d号", judged.Year(), 10+i*7)
		if i%2 == 1 {
			caseNo = fmt.Sprintf("（%d）豫1528刑初%d号", judged.Year(), 10+i*7)
		}
		var effective any = date(judged.AddDate(0, 0, 11+rng.IntN(10)))
		if i == 15 {
			effective = "" // appealed, not yet in effect
		}
		cells = append(cells, []any{i + 1, caseNo, name(), id(1960, 2003), date(judged), effective,
			charges[rng.IntN(len(charges))], sentence, probation, months, "审判员" + surnames[i%len(surnames)] + "某"})
	}
	writeXLSX(dir+"/criminal_judgments.xlsx", "刑事判决", "息县人民法院刑事案件判决情况统计表", header, cells)

	// 行政非诉执行: the enforcement system, GBK CSV, amounts with their unit
	// in the header, 〔〕 brackets from a letter template.
	header = []string{"执行案号", "申请执行人", "被执行人", "证件号码", "执行标的（元）", "结案日期", "结案方式", "和解履行期限", "已履行金额（元）", "恢复执行案号"}
	methods := []string{"执行完毕", "终结本次执行程序", "执行和解", "准予执行", "终本"}
	var rows [][]string
	for i := range 16 {
		closed := day(2023)
		m := methods[i%len(methods)]
		respondent, respID := name(), id(1955, 1998)
		if i%4 == 1 {
			respondent, respID = "息县"+[]string{"宏达建筑劳务有限公司", "金丰农业开发有限公司", "顺通物流有限公司"}[i%3], creditCode(i)
		}
		due, performed, resumed := "", "", ""
		total := amount(2000, 90000)
		switch m {
		case "执行和解":
			due = dateForm(closed.AddDate(0, 3, 0), i)
			performed = fmt.Sprintf("%.2f", total/2)
		case "执行完毕":
			performed = fmt.Sprintf("%.2f", total)
		case "终本":
			if i%2 == 0 {
				resumed = fmt.Sprintf("（%d）豫1528执恢%d号", closed.Year()+1, 3+i)
			}
		}
		brackets := [2]string{"〔", "〕"}
		if i%2 == 0 {
			brackets = [2]string{"(", ")"}
		}
		rows = append(rows, []string{fmt.Sprintf("%s%d%s豫1528执%d号", brackets[0], closed.Year(), brackets[1], 20+i),
			[]string{"息县人力资源和社会保障局", "息县自然资源局", "息县市场监督管理局"}[i%3], respondent, respID,
			fmt.Sprintf("%.2f", total), dateForm(closed, i), m, due, performed, resumed})
	}
	writeCSV(dir+"/enforcement_cases.csv", true, nil, header, rows)
	bad := slicesClone(rows[:6])
	bad[3][2] = "张" + broken + "华" // line 5
	writeCSV(dir+"/bad/enforcement_undecodable.csv", true, nil, header, bad)

	// 人身损害赔偿: civil judgments, GBK CSV.
	header = []string{"案号", "案由", "原告姓名", "原告身份证号码", "被告", "事故日期", "判决日期", "判赔医疗费（元）"}
	causes := []string{"机动车交通事故责任纠纷", "生命权、身体权、健康权纠纷", "提供劳务者受害责任纠纷"}
	rows = nil
	for i := range 12 {
		accident := day(2022)
		rows = append(rows, []string{fmt.Sprintf("（%d）豫1528民初%d号", 2023, 300+i*11), causes[i%3], name(), id(1950, 2010),
			[]string{"中国人民财产保险股份有限公司信阳市分公司", name(), "息县顺通物流有限公司"}[i%3], dateForm(accident, i),
			dateForm(accident.AddDate(0, 8, rng.IntN(60)), i+1), fmt.Sprintf("%.2f", amount(800, 60000))})
	}
	writeCSV(dir+"/civil_compensations.csv", true, nil, header, rows)
	// The same export saved as UTF-8 by a tool that broke a character.
	bad = slicesClone(rows[:5])
	bad[1][2] = "李" + broken // line 3
	writeCSV(dir+"/bad/civil_broken_utf8.csv", false, nil, header, bad)
}

// creditCode returns a valid unified social credit code of a company
// registered in 息县.
func creditCode(i int) string {
	first17 := fmt.Sprintf("91411528MA%07d", 4000000+i*7919)
	first17 = first17[:17]
	c, err := schema.CreditCodeCheckChar(first17)
	if err != nil {
		log.Fatal(err)
	}
	return first17 + string(c)
}

func medins() {
	dir := "medins/testdata"
	diagnoses := [][2]string{
		{"S82.201", "胫骨骨干骨折"}, {"S06.000", "脑震荡"}, {"T21.201", "躯干二度烧伤"}, {"S52.500", "桡骨下端骨折"},
		{"J18.900", "肺炎"}, {"I63.900", "脑梗死"}, {"E11.900", "2型糖尿病"}, {"K35.800", "急性阑尾炎"}, {"T43.201", "抗抑郁药中毒"},
	}
	hospitals := []string{"息县人民医院", "息县中医院", "信阳市中心医院", "潢川县人民医院", "河南省人民医院"}
	// The national platform's settlement list, GBK CSV, without 外伤标识:
	// the Agency derives it from the diagnosis code.
	header := []string{"序号", "结算ID", "人员编号", "人员姓名", "人员证件号码", "性别", "险种类型", "定点医药机构名称", "入院日期", "出院日期", "主诊断代码", "主诊断名称", "医疗费总额", "统筹基金支出", "个人自付"}
	var rows [][]string
	for i := range 24 {
		in := day(2023)
		d := diagnoses[rng.IntN(len(diagnoses))]
		total := amount(1200, 80000)
		fund := float64(int(total*62)) / 100
		rows = append(rows, []string{fmt.Sprint(i + 1), fmt.Sprintf("411528G%012d", 900000+i*37), fmt.Sprintf("41000000000000%08d", 1000+i),
			name(), id(1940, 2015), "", "职工基本医疗保险", hospitals[rng.IntN(len(hospitals))], dateForm(in, i), dateForm(in.AddDate(0, 0, 2+rng.IntN(20)), i+2),
			d[0], d[1], fmt.Sprintf("%.2f", total), fmt.Sprintf("%.2f", fund), fmt.Sprintf("%.2f", total-fund)})
	}
	writeCSV(dir+"/settlements.csv", true, nil, header, rows)
	bad := slicesClone(rows[:4])
	bad[1][12] = "-" + bad[1][12] // line 3
	writeCSV(dir+"/bad/settlements_negative_money.csv", true, nil, header, bad)

	// A municipal system's export, XLSX with a title: 外伤标识 present but
	// left empty on some rows, amounts as numbers.
	header = []string{"结算单号", "参保人姓名", "身份证号码", "医疗机构名称", "入院日期", "出院日期", "疾病编码", "疾病名称", "外伤标识", "总费用", "统筹支付"}
	var cells [][]any
	for i := range 18 {
		in := day(2023)
		d := diagnoses[rng.IntN(len(diagnoses))]
		total := amount(900, 50000)
		flag := ""
		if i%3 == 0 {
			if injury := strings.HasPrefix(d[0], "S") || (strings.HasPrefix(d[0], "T") && d[0][1:3] <= "35"); injury {
				flag = "是"
			} else {
				flag = "否"
			}
		}
		cells = append(cells, []any{fmt.Sprintf("JS2023%08d", 5000+i), name(), id(1945, 2012), hospitals[rng.IntN(len(hospitals))],
			date(in), date(in.AddDate(0, 0, 1+rng.IntN(15))), d[0], d[1], flag, money(total), money(float64(int(total*55)) / 100)})
	}
	writeXLSX(dir+"/settlements.xlsx", "结算明细", "信阳市医疗保障局 住院结算明细（2023年度）", header, cells)
}

func hrss() {
	dir := "hrss/testdata"
	// 养老金发放: the social-insurance system, GBK CSV; months as 202305.
	header := []string{"序号", "个人编号", "姓名", "社会保障号码", "发放年月", "实发金额(元)", "待遇类型", "发放状态", "银行账号"}
	var rows [][]string
	for i := range 24 {
		period := fmt.Sprintf("2023%02d", 1+i%12)
		if i%4 == 3 {
			period = fmt.Sprintf("2023年%d月", 1+i%12)
		}
		rows = append(rows, []string{fmt.Sprint(i + 1), fmt.Sprintf("4115280%08d", 3000000+i*13), name(), id(1935, 1963), period,
			fmt.Sprintf("%.2f", amount(1800, 5200)), "企业职工基本养老保险", "正常发放", fmt.Sprintf("62170023%011d", 9000000+i)})
	}
	writeCSV(dir+"/pension_payments.csv", true, nil, header, rows)
	bad := slicesClone(rows[:5])
	bad[2][2] = "" // line 4: 姓名 missing
	writeCSV(dir+"/bad/pension_missing_required.csv", true, nil, header, bad)

	// 劳动保障监察: the inspection system, XLSX with a title; head counts
	// with their unit, deadlines as a number of days.
	header = []string{"序号", "案件编号", "用人单位名称", "统一社会信用代码", "法定代表人", "身份证号码", "涉及人数", "拖欠金额(元)", "责令支付日期", "限期", "移送日期", "移送文书号", "案件状态"}
	var cells [][]any
	employers := []string{"宏达建筑劳务有限公司", "金丰农业开发有限公司", "顺通物流有限公司", "鑫源服装厂", "聚福园餐饮有限公司"}
	for i := range 12 {
		order := day(2023)
		var deadline any = []string{"15日内", "10天", "7"}[i%3]
		if i%4 == 0 {
			deadline = date(order.AddDate(0, 0, 15))
		}
		transferDate, transferNo := "", ""
		if i%3 == 0 {
			transferDate = dateForm(order.AddDate(0, 1, 0), i)
			transferNo = fmt.Sprintf("息人社监移〔%d〕%d号", order.Year(), 1+i)
		}
		cells = append(cells, []any{i + 1, fmt.Sprintf("息人社监案〔2023〕%03d号", 10+i), "息县" + employers[i%len(employers)], creditCode(100 + i),
			name(), id(1960, 1990), fmt.Sprintf("%d人", 3+rng.IntN(40)), money(amount(8000, 400000)), date(order), deadline,
			transferDate, transferNo, "已结案"})
	}
	writeXLSX(dir+"/labor_inspections.xlsx", "监察案件", "息县人力资源和社会保障局劳动保障监察案件台账", header, cells)
	badHeader := append(slicesClone([][]string{header})[0], "整改情况")
	var badCells [][]any
	for _, c := range cells[:3] {
		badCells = append(badCells, append(append([]any{}, c...), "已整改"))
	}
	writeXLSX(dir+"/bad/labor_unknown_column.xlsx", "监察案件", "息县人力资源和社会保障局劳动保障监察案件台账", badHeader, badCells)
}

func slicesClone[T any](rows [][]T) [][]T {
	out := make([][]T, len(rows))
	for i, r := range rows {
		out[i] = append([]T(nil), r...)
	}
	return out
}

// writeCSV writes title lines, a header and rows as Excel writes CSV:
// CRLF line ends, GBK (or UTF-8 with a byte-order mark).
func writeCSV(path string, gbk bool, titles [][]string, header []string, rows [][]string) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	for _, t := range titles {
		must(w.Write(t))
	}
	must(w.Write(header))
	for _, r := range rows {
		must(w.Write(r))
	}
	w.Flush()
	must(w.Error())
	text := buf.Bytes()
	if gbk {
		var err error
		text, err = simplifiedchinese.GBK.NewEncoder().Bytes(bytes.ReplaceAll(text, []byte(broken), []byte("\x01")))
		must(err)
		text = bytes.ReplaceAll(text, []byte("\x01"), []byte{0xFF}) // never valid in GBK or GB18030
	} else {
		text = append([]byte("\xEF\xBB\xBF"), bytes.ReplaceAll(text, []byte(broken), []byte{0xE5, 0x8D})...) // a character cut short
	}
	must(os.MkdirAll(filepath.Dir(path), 0o755))
	must(os.WriteFile(path, text, 0o644))
}

// writeXLSX writes a workbook of one sheet: a title row merged across the
// columns and a blank row when title is set, then the header and the rows.
// Dates are stored as dates, amounts as numbers with two decimals.
func writeXLSX(path, sheet, title string, header []string, rows [][]any) {
	f := excelize.NewFile()
	defer f.Close()
	must(f.SetSheetName("Sheet1", sheet))
	dateStyle, err := f.NewStyle(&excelize.Style{NumFmt: 14})
	must(err)
	moneyFmt := "#,##0.00"
	moneyStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &moneyFmt})
	must(err)
	row := 1
	if title != "" {
		must(f.SetCellStr(sheet, "A1", title))
		last, _ := excelize.CoordinatesToCellName(len(header), 1)
		must(f.MergeCell(sheet, "A1", last))
		row = 3
	}
	for c, h := range header {
		cell, _ := excelize.CoordinatesToCellName(c+1, row)
		must(f.SetCellStr(sheet, cell, h))
	}
	for _, r := range rows {
		row++
		for c, v := range r {
			cell, _ := excelize.CoordinatesToCellName(c+1, row)
			switch v := v.(type) {
			case string:
				if v != "" {
					must(f.SetCellStr(sheet, cell, v))
				}
			case int:
				must(f.SetCellInt(sheet, cell, int64(v)))
			case money:
				must(f.SetCellFloat(sheet, cell, float64(v), 2, 64))
				must(f.SetCellStyle(sheet, cell, cell, moneyStyle))
			case date:
				must(f.SetCellValue(sheet, cell, time.Time(v)))
				must(f.SetCellStyle(sheet, cell, cell, dateStyle))
			default:
				log.Fatalf("%s: cell %s: unexpected %T", path, cell, v)
			}
		}
	}
	must(os.MkdirAll(filepath.Dir(path), 0o755))
	must(f.SaveAs(path))
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
