package synth

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/qiao-exchange/qiao/schema"
)

// Output formats.
const (
	FormatCSV  = "csv"  // GBK-encoded, comma-separated, CRLF line ends, header in row 1
	FormatXLSX = "xlsx" // one sheet; a title row above the header where HeaderRow is 2
)

// column is one column of an output file: the canonical field it holds and
// the header the agency's system prints for it (one of the field's
// aliases_zh).
type column struct{ field, header string }

// fileSpec describes one output file.
type fileSpec struct {
	name    string
	dataset string
	format  string
	sheet   string
	title   string // XLSX title row above the header; "" for none
	creator string
	cols    []column
	rows    func(yield func(row map[string]string) bool) // values by field name
	// raw, if set, writes the data rows itself, in the column order,
	// instead of rows: the fast path of the largest file.
	raw func(ctx context.Context, g *gbkWriter) (int, error)
}

// row is a reusable record passed to writers.
type row = map[string]string

// styles of written transfer numbers; the canonical form uses 〔〕.
const (
	styleHexagonal = iota
	styleHalfRound
	styleFullRound
	styleSquare
	styleFullWidth // 【２０２３】 with full-width digits
)

// docNoStyle rewrites the year brackets of a canonical document number.
func docNoStyle(no string, style int) string {
	if no == "" {
		return ""
	}
	open, closing := "〔", "〕"
	switch style {
	case styleHalfRound:
		open, closing = "(", ")"
	case styleFullRound:
		open, closing = "（", "）"
	case styleSquare:
		open, closing = "[", "]"
	case styleFullWidth:
		open, closing = "【", "】"
	}
	s := strings.Replace(strings.Replace(no, "〔", open, 1), "〕", closing, 1)
	if style == styleFullWidth {
		s = strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r - '0' + '０'
			}
			return r
		}, s)
	}
	return s
}

// caseNoStyle writes a canonical case number with half-width brackets for
// some rows, as court clerks type them.
func caseNoStyle(no string) string {
	if no == "" || strHash(no)%10 >= 3 {
		return no
	}
	return strings.Replace(strings.Replace(no, "（", "(", 1), "）", ")", 1)
}

// strHash is FNV-1a over s: a choice that depends on the value alone.
func strHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

func yesNo(b bool) string {
	if b {
		return "是"
	}
	return "否"
}

var (
	roleLong = map[string]string{"驾驶人": "机动车驾驶人", "非机动车驾驶人": "非机动车驾驶人", "乘车人": "乘车人", "行人": "行人"}
	respLong = map[string]string{"全部": "全部责任", "主要": "主要责任", "同等": "同等责任", "次要": "次要责任", "无": "无责任", "": ""}
)

// specs returns the files to write.
func (pl *plan) specs() []fileSpec {
	county := pl.home.name
	d := func(t day, s dateStyle) string { return string(appendDate(nil, t, s)) }
	dt := func(t day, s dateStyle, salt string) string { return string(appendDateAt(nil, t, s, strHash(salt))) }
	m := func(v money) string {
		if v < 0 {
			return ""
		}
		return v.String()
	}
	split := dayOf(pl.asOf.year()-1, 1, 1) // medins changed systems then
	police := county + "公安局"
	return []fileSpec{
		{
			name: "police.deaths.csv", dataset: "police.deaths", format: FormatCSV, creator: police,
			cols: []column{{"name", "姓名"}, {"id_number", "公民身份号码"}, {"death_date", "死亡日期"}, {"cancel_date", "注销日期"}},
			rows: func(yield func(row) bool) {
				r := row{}
				for _, x := range pl.deaths {
					r["name"], r["id_number"], r["death_date"], r["cancel_date"] = x.p.name, x.p.id, d(x.death, isoDate), d(x.cancel, isoDate)
					if !yield(r) {
						return
					}
				}
			},
		},
		{
			name: "police.traffic_accidents.csv", dataset: "police.traffic_accidents", format: FormatCSV, creator: police + "交通警察大队",
			cols: []column{{"accident_no", "事故编号"}, {"accident_date", "事故发生时间"}, {"name", "当事人姓名"}, {"id_number", "当事人身份证号"}, {"party_role", "当事人类型"}, {"responsibility", "事故责任"}, {"injured", "是否受伤"}},
			rows: func(yield func(row) bool) {
				r := row{}
				for _, x := range pl.parties {
					r["accident_no"], r["accident_date"], r["name"], r["id_number"] = x.acc.no, dt(x.acc.date, slashMinutes, x.acc.no), x.p.name, x.p.id
					r["party_role"], r["responsibility"], r["injured"] = roleLong[x.role], respLong[x.resp], yesNo(x.injured)
					if !yield(r) {
						return
					}
				}
			},
		},
		{
			name: "police.case_records.csv", dataset: "police.case_records", format: FormatCSV, creator: police,
			cols: []column{{"case_no", "案件编号"}, {"case_type", "案件类别"}, {"received_date", "受案时间"}, {"filed_date", "立案时间"}, {"decision", "处理结果"}, {"source", "案件来源"}, {"transfer_no", "移送文书号"}, {"suspect_name", "嫌疑人姓名"}, {"suspect_id_number", "嫌疑人身份证号码"}},
			rows: func(yield func(row) bool) {
				r := row{}
				for _, x := range pl.cases {
					filedSalt := x.no + "F"
					if x.filed == x.recv { // filed on receipt: one time stamp
						filedSalt = x.no
					}
					r["case_no"], r["case_type"], r["received_date"], r["filed_date"] = x.no, x.ctype+"案", dt(x.recv, isoDateTime, x.no), dt(x.filed, isoDateTime, filedSalt)
					r["decision"], r["source"], r["transfer_no"] = x.decision, x.source, docNoStyle(x.transferNo, x.transferSty)
					r["suspect_name"], r["suspect_id_number"] = "", ""
					if x.p != nil {
						r["suspect_name"], r["suspect_id_number"] = x.p.name, x.p.id
					}
					if !yield(r) {
						return
					}
				}
			},
		},
		{
			name: "police.detentions.csv", dataset: "police.detentions", format: FormatCSV, creator: police,
			cols: []column{{"name", "被羁押人姓名"}, {"id_number", "被羁押人身份证号"}, {"detention_type", "羁押类型"}, {"start_date", "入所日期"}, {"end_date", "出所日期"}, {"facility", "羁押场所"}},
			rows: func(yield func(row) bool) {
				r := row{}
				for _, x := range pl.detentions {
					// This system stores the check character X in lower case.
					r["name"], r["id_number"], r["detention_type"] = x.p.name, strings.ToLower(x.p.id), x.dtype
					r["start_date"], r["end_date"], r["facility"] = d(x.start, compactDate), d(x.end, compactDate), x.facility
					if !yield(r) {
						return
					}
				}
			},
		},
		{
			name: "court.criminal_judgments.xlsx", dataset: "court.criminal_judgments", format: FormatXLSX, sheet: "刑事判决",
			title: county + "人民法院刑事案件判决情况统计表", creator: county + "人民法院",
			cols: []column{{"case_no", "案号"}, {"defendant_name", "被告人姓名"}, {"defendant_id_number", "被告人身份证号码"}, {"charge", "罪名"}, {"sentence_type", "刑罚"}, {"probation", "是否适用缓刑"}, {"probation_months", "缓刑考验期(月)"}, {"judgment_date", "判决日期"}, {"effective_date", "生效日期"}},
			rows: func(yield func(row) bool) {
				r := row{}
				for _, x := range pl.judgments {
					r["case_no"], r["defendant_name"], r["defendant_id_number"], r["charge"] = caseNoStyle(x.caseNo), x.p.name, x.p.id, x.charge
					r["sentence_type"], r["probation"], r["probation_months"] = x.sentence, yesNo(x.probation), ""
					if x.probation {
						r["probation_months"] = strconv.Itoa(x.months)
					}
					r["judgment_date"], r["effective_date"] = d(x.jdate, chineseDate), d(x.eff, chineseDate)
					if !yield(r) {
						return
					}
				}
			},
		},
		{
			name: "court.civil_compensations.xlsx", dataset: "court.civil_compensations", format: FormatXLSX, sheet: "人身损害赔偿",
			title: county + "人民法院人身损害赔偿案件判决情况", creator: county + "人民法院",
			cols: []column{{"case_no", "案号"}, {"cause", "案由"}, {"plaintiff_name", "原告"}, {"plaintiff_id_number", "原告身份证号码"}, {"defendant", "被告"}, {"accident_date", "损害发生日期"}, {"judgment_date", "宣判日期"}, {"medical_costs_awarded", "判赔医疗费"}},
			rows: func(yield func(row) bool) {
				r := row{}
				for _, x := range pl.civils {
					r["case_no"], r["cause"], r["plaintiff_name"], r["plaintiff_id_number"] = caseNoStyle(x.caseNo), x.cause, x.p.name, x.p.id
					r["defendant"], r["accident_date"], r["judgment_date"], r["medical_costs_awarded"] = x.defendant, d(x.accDate, isoDate), d(x.jdate, isoDate), m(x.costs)
					if !yield(r) {
						return
					}
				}
			},
		},
		{
			name: "court.enforcement_cases.xlsx", dataset: "court.enforcement_cases", format: FormatXLSX, sheet: "行政非诉执行",
			title: county + "人民法院行政非诉执行案件结案情况表", creator: county + "人民法院",
			cols: []column{{"case_no", "执行案号"}, {"applicant", "申请执行机关"}, {"respondent", "被执行人"}, {"respondent_id", "身份证号码/统一社会信用代码"}, {"amount", "执行标的"}, {"closed_date", "结案日期"}, {"closing_method", "结案方式"}, {"settlement_due_date", "和解履行期限"}, {"performed_amount", "已履行金额"}, {"resumed_case_no", "恢复执行案号"}},
			rows: func(yield func(row) bool) {
				r := row{}
				for _, x := range pl.enforcements {
					method := x.method
					if h := mix(uint64(x.filed), 3) % 4; h == 0 {
						method = map[string]string{"执行完毕": "全部执行完毕", "执行和解": "和解结案", "终结本次执行程序": "终本", "准予执行": "裁定准予执行"}[method]
						if method == "" {
							method = x.method
						}
					}
					r["case_no"], r["applicant"], r["respondent"], r["respondent_id"] = caseNoStyle(x.caseNo), x.applicant, x.respondent, x.respID
					r["amount"], r["closed_date"], r["closing_method"] = m(x.amount), d(x.closed, slashDate), method
					r["settlement_due_date"], r["performed_amount"], r["resumed_case_no"] = d(x.due, slashDate), m(x.performed), caseNoStyle(x.resumed)
					if !yield(r) {
						return
					}
				}
			},
		},
		{
			name: "medins.settlements.xlsx", dataset: "medins.settlements", format: FormatXLSX, sheet: "结算明细", creator: county + "医疗保障局",
			cols: []column{{"settlement_no", "结算流水号"}, {"name", "参保人姓名"}, {"id_number", "参保人身份证号"}, {"hospital", "医疗机构名称"}, {"admission_date", "入院时间"}, {"discharge_date", "出院时间"}, {"diagnosis_code", "主要诊断编码"}, {"diagnosis_name", "主要诊断名称"}, {"injury", "外伤标志"}, {"total_cost", "医疗总费用"}, {"fund_paid", "统筹基金支付"}},
			rows: pl.settlementRows(func(s *settlement) bool { return s.adm < split }, isoMidnight, func(b bool) string {
				if b {
					return "1"
				}
				return "0"
			}),
		},
		{
			name: "medins.settlements.csv", dataset: "medins.settlements", format: FormatCSV, creator: county + "医疗保障局",
			cols: []column{{"settlement_no", "结算单号"}, {"name", "姓名"}, {"id_number", "公民身份号码"}, {"hospital", "定点医疗机构"}, {"admission_date", "入院日期"}, {"discharge_date", "出院日期"}, {"diagnosis_code", "诊断编码"}, {"diagnosis_name", "诊断名称"}, {"injury", "外伤标识"}, {"total_cost", "总费用"}, {"fund_paid", "统筹支付"}},
			rows: pl.settlementRows(func(s *settlement) bool { return s.adm >= split }, compactDate, yesNo),
		},
		{
			name: "hrss.labor_inspections.csv", dataset: "hrss.labor_inspections", format: FormatCSV, creator: county + "人力资源和社会保障局",
			cols: []column{{"inspection_no", "案件编号"}, {"employer", "用人单位名称"}, {"employer_credit_code", "统一社会信用代码"}, {"responsible_name", "法定代表人"}, {"responsible_id_number", "法定代表人身份证号码"}, {"workers", "涉及人数"}, {"amount_owed", "拖欠工资金额"}, {"order_date", "责令支付日期"}, {"deadline", "支付期限"}, {"transfer_date", "移送日期"}, {"transfer_no", "移送文号"}},
			rows: func(yield func(row) bool) {
				r := row{}
				for _, x := range pl.inspections {
					style := chineseDate // typed by hand: two clerks, two habits
					if x.style%2 == 1 {
						style = slashDate
					}
					hrssStyle := styleHexagonal
					if x.style >= 2 {
						hrssStyle = styleSquare
					}
					r["inspection_no"], r["employer"], r["employer_credit_code"] = x.no, x.employer, x.credit
					r["responsible_name"], r["responsible_id_number"], r["workers"], r["amount_owed"] = x.p.name, x.p.id, strconv.Itoa(x.workers), m(x.owed)
					r["order_date"], r["deadline"], r["transfer_date"], r["transfer_no"] = d(x.order, style), d(x.deadline, style), d(x.transfer, style), docNoStyle(x.transferNo, hrssStyle)
					if !yield(r) {
						return
					}
				}
			},
		},
		{
			name: "hrss.pension_payments.csv", dataset: "hrss.pension_payments", format: FormatCSV, creator: county + "社会保险中心",
			cols: []column{{"name", "姓名"}, {"id_number", "身份证号码"}, {"period", "发放年月"}, {"amount", "实发金额"}},
			raw:  pl.writePensions,
		},
	}
}

func (pl *plan) settlementRows(keep func(*settlement) bool, style dateStyle, flag func(bool) string) func(func(row) bool) {
	return func(yield func(row) bool) {
		r := row{}
		for _, x := range pl.settlements {
			if !keep(x) {
				continue
			}
			r["settlement_no"], r["name"], r["id_number"], r["hospital"] = x.no, x.p.name, x.p.id, x.hospital
			r["admission_date"], r["discharge_date"] = string(appendDate(nil, x.adm, style)), string(appendDate(nil, x.dis, style))
			r["diagnosis_code"], r["diagnosis_name"], r["injury"] = x.code, x.diag, flag(x.injury)
			r["total_cost"], r["fund_paid"] = x.total.String(), x.fund.String()
			if !yield(r) {
				return
			}
		}
	}
}

// writeFile writes one file and returns its row count.
func writeFile(ctx context.Context, dir string, fs fileSpec, ds *schema.Dataset, asOf day) (int, error) {
	path := filepath.Join(dir, fs.name)
	for _, c := range fs.cols {
		if f, ok := schema.MatchHeader(ds, c.header); !ok || f != c.field {
			return 0, fmt.Errorf("synth: %s: header %q does not name field %s", fs.name, c.header, c.field)
		}
	}
	if fs.format == FormatXLSX {
		return writeXLSX(ctx, path, fs, ds, asOf)
	}
	return writeCSV(ctx, path, fs)
}

// gbkWriter encodes UTF-8 text as GBK, caching the encoding of each
// character it has seen.
type gbkWriter struct {
	w     *bufio.Writer
	enc   *encoding.Encoder
	cache map[rune][2]byte
}

func (g *gbkWriter) writeString(s string) error {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			g.w.WriteByte(c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		b, ok := g.cache[r]
		if !ok {
			e, err := g.enc.String(string(r))
			if err != nil || len(e) != 2 {
				return fmt.Errorf("synth: %q has no GBK encoding", r)
			}
			b = [2]byte{e[0], e[1]}
			g.cache[r] = b
		}
		g.w.Write(b[:])
	}
	return nil
}

// needsQuotes reports whether a CSV field must be quoted.
func needsQuotes(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',', '"', '\r', '\n':
			return true
		}
	}
	return false
}

func writeCSV(ctx context.Context, path string, fs fileSpec) (n int, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, fmt.Errorf("synth: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("synth: %w", cerr)
		}
	}()
	g := &gbkWriter{w: bufio.NewWriterSize(f, 1<<20), enc: simplifiedchinese.GBK.NewEncoder(), cache: map[rune][2]byte{}}
	line := func(values func(i int) string) error {
		for i := range fs.cols {
			if i > 0 {
				g.w.WriteByte(',')
			}
			v := values(i)
			if needsQuotes(v) {
				v = `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
			}
			if err := g.writeString(v); err != nil {
				return err
			}
		}
		_, err := g.w.WriteString("\r\n")
		return err
	}
	if err := line(func(i int) string { return fs.cols[i].header }); err != nil {
		return 0, err
	}
	if fs.raw != nil {
		if n, err = fs.raw(ctx, g); err != nil {
			return n, err
		}
		if err := g.w.Flush(); err != nil {
			return n, fmt.Errorf("synth: %w", err)
		}
		return n, nil
	}
	for r := range fs.rows {
		if n%65536 == 0 && ctx.Err() != nil {
			return n, ctx.Err()
		}
		if err = line(func(i int) string { return r[fs.cols[i].field] }); err != nil {
			return n, err
		}
		n++
	}
	if err := g.w.Flush(); err != nil {
		return n, fmt.Errorf("synth: %w", err)
	}
	return n, nil
}

func writeXLSX(ctx context.Context, path string, fs fileSpec, ds *schema.Dataset, asOf day) (n int, err error) {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", fs.sheet); err != nil {
		return 0, fmt.Errorf("synth: %w", err)
	}
	sw, err := f.NewStreamWriter(fs.sheet)
	if err != nil {
		return 0, fmt.Errorf("synth: %w", err)
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return 0, fmt.Errorf("synth: %w", err)
	}
	numeric := make([]bool, len(fs.cols))
	for i, c := range fs.cols {
		if fd, ok := ds.Field(c.field); ok && (fd.Type == schema.TypeMoney || fd.Type == schema.TypeInt) {
			numeric[i] = true
		}
	}
	if err := sw.SetColWidth(1, len(fs.cols), 18); err != nil {
		return 0, fmt.Errorf("synth: %w", err)
	}
	next := 1
	if fs.title != "" {
		title, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 16}, Alignment: &excelize.Alignment{Horizontal: "center"}})
		if err != nil {
			return 0, fmt.Errorf("synth: %w", err)
		}
		last, _ := excelize.CoordinatesToCellName(len(fs.cols), 1)
		if err := sw.MergeCell("A1", last); err != nil {
			return 0, fmt.Errorf("synth: %w", err)
		}
		if err := sw.SetRow("A1", []any{excelize.Cell{StyleID: title, Value: fs.title}}, excelize.RowOpts{Height: 30}); err != nil {
			return 0, fmt.Errorf("synth: %w", err)
		}
		next = 2
	}
	vals := make([]any, len(fs.cols))
	for i, c := range fs.cols {
		vals[i] = excelize.Cell{StyleID: bold, Value: c.header}
	}
	cell, _ := excelize.CoordinatesToCellName(1, next)
	if err := sw.SetRow(cell, vals); err != nil {
		return 0, fmt.Errorf("synth: %w", err)
	}
	for r := range fs.rows {
		if n%65536 == 0 && ctx.Err() != nil {
			return n, ctx.Err()
		}
		next++
		for i, c := range fs.cols {
			v := r[c.field]
			vals[i] = v
			if numeric[i] && v != "" {
				if x, err := strconv.ParseFloat(v, 64); err == nil {
					vals[i] = x
				}
			}
		}
		cell, _ := excelize.CoordinatesToCellName(1, next)
		if err := sw.SetRow(cell, vals); err != nil {
			return n, fmt.Errorf("synth: %w", err)
		}
		n++
	}
	if err := sw.Flush(); err != nil {
		return n, fmt.Errorf("synth: %w", err)
	}
	stamp := asOf.String() + "T09:00:00Z"
	if err := f.SetDocProps(&excelize.DocProperties{Creator: fs.creator, LastModifiedBy: fs.creator, Created: stamp, Modified: stamp, Title: fs.title}); err != nil {
		return n, fmt.Errorf("synth: %w", err)
	}
	if err := f.SaveAs(path); err != nil {
		return n, fmt.Errorf("synth: %w", err)
	}
	return n, nil
}

// legacyID returns the 15-digit first-generation form of the ID numbers of
// about one pensioner in forty born in the 1900s, which the pension system
// still holds from its first years; the 18-digit form otherwise.
func legacyID(id string) string {
	if id[6:8] != "19" || strHash(id)%40 != 0 {
		return id
	}
	return id[:6] + id[8:17]
}

// writePensions writes the pension rows month by month, each pensioner's
// name and ID number encoded once.
func (pl *plan) writePensions(ctx context.Context, g *gbkWriter) (int, error) {
	prefix := make([][]byte, len(pl.pensioners))
	var enc bytes.Buffer
	gb := &gbkWriter{w: bufio.NewWriter(&enc), enc: g.enc, cache: g.cache}
	n := 0
	var b []byte
	for mi := pl.pensionFrom; mi <= pl.pensionTo; mi++ {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		for i, x := range pl.pensioners {
			if mi < x.from || mi > x.to {
				continue
			}
			if prefix[i] == nil {
				enc.Reset()
				if err := gb.writeString(x.p.name); err != nil {
					return n, err
				}
				gb.w.Flush()
				prefix[i] = append(append(append(enc.Bytes(), ','), legacyID(x.p.id)...), ',')
				prefix[i] = bytes.Clone(prefix[i])
			}
			b = append(b[:0], prefix[i]...)
			b = strconv.AppendInt(b, int64(mi/12), 10)
			b = appendPadded(b, mi%12+1, 2)
			b = append(b, ',')
			b = appendMoney(b, pl.pensionAmount(x.p, mi))
			b = append(b, '\r', '\n')
			if _, err := g.w.Write(b); err != nil {
				return n, fmt.Errorf("synth: %w", err)
			}
			n++
		}
	}
	return n, nil
}
