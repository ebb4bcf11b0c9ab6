package schema

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// designField is a row of the Datasets table of DESIGN.md: canonical name,
// the Chinese header it gives, and its PII mark.
type designField struct {
	name, header string
	pii          bool
}

// The Datasets table of DESIGN.md, with the classifications of the policy
// issue: medical-insurance and HR/social-security datasets, police deaths and
// detentions are sensitive; court records and traffic accidents internal.
var design = []struct {
	id, title, owner string
	class            Classification
	fields           []designField
}{
	{"police.deaths", "户籍注销(死亡)", "police", Sensitive, []designField{
		{"id_number", "公民身份号码", true}, {"name", "姓名", true}, {"death_date", "死亡日期", false}, {"cancel_date", "注销日期", false},
	}},
	{"police.traffic_accidents", "道路交通事故", "police", Internal, []designField{
		{"accident_no", "事故编号", false}, {"accident_date", "事故日期", false}, {"id_number", "当事人身份证号", true},
		{"name", "当事人姓名", true}, {"party_role", "当事人类型", false}, {"responsibility", "事故责任", false}, {"injured", "是否受伤", false},
	}},
	{"police.case_records", "受案立案", "police", Internal, []designField{
		{"case_no", "案件编号", false}, {"received_date", "受案日期", false}, {"filed_date", "立案日期", false},
		{"decision", "处理结果", false}, {"case_type", "案由", false}, {"source", "案件来源", false}, {"transfer_no", "移送文书号", false},
		{"suspect_id_number", "嫌疑人身份证号", true}, {"suspect_name", "嫌疑人姓名", true},
	}},
	{"police.detentions", "羁押", "police", Sensitive, []designField{
		{"id_number", "公民身份号码", true}, {"name", "姓名", true}, {"start_date", "羁押日期", false},
		{"end_date", "解除日期", false}, {"detention_type", "羁押类型", false}, {"facility", "羁押场所", false},
	}},
	{"court.criminal_judgments", "刑事判决", "court", Internal, []designField{
		{"case_no", "案号", false}, {"defendant_id_number", "被告人身份证号", true}, {"defendant_name", "被告人姓名", true},
		{"judgment_date", "判决日期", false}, {"effective_date", "生效日期", false}, {"charge", "罪名", false},
		{"sentence_type", "刑罚", false}, {"probation", "缓刑", false}, {"probation_months", "缓刑考验期(月)", false},
	}},
	{"court.civil_compensations", "人身损害赔偿", "court", Internal, []designField{
		{"case_no", "案号", false}, {"cause", "案由", false}, {"plaintiff_id_number", "原告身份证号", true},
		{"plaintiff_name", "原告姓名", true}, {"defendant", "被告", false}, {"accident_date", "事故日期", false},
		{"judgment_date", "判决日期", false}, {"medical_costs_awarded", "判赔医疗费", false},
	}},
	{"court.enforcement_cases", "行政非诉执行", "court", Internal, []designField{
		{"case_no", "执行案号", false}, {"applicant", "申请执行机关", false}, {"respondent", "被执行人", false},
		{"respondent_id", "证件号码", true}, {"amount", "执行标的", false}, {"closed_date", "结案日期", false},
		{"closing_method", "结案方式", false}, {"settlement_due_date", "和解履行期限", false},
		{"performed_amount", "已履行金额", false}, {"resumed_case_no", "恢复执行案号", false},
	}},
	{"medins.settlements", "医保结算", "medins", Sensitive, []designField{
		{"settlement_no", "结算单号", false}, {"id_number", "公民身份号码", true}, {"name", "姓名", true},
		{"hospital", "定点医疗机构", false}, {"admission_date", "入院日期", false}, {"discharge_date", "出院日期", false},
		{"diagnosis_code", "诊断编码", false}, {"diagnosis_name", "诊断名称", false}, {"injury", "外伤标识", false},
		{"total_cost", "总费用", false}, {"fund_paid", "统筹支付", false},
	}},
	{"hrss.labor_inspections", "劳动保障监察", "hrss", Sensitive, []designField{
		{"inspection_no", "案件编号", false}, {"employer", "用人单位", false}, {"employer_credit_code", "统一社会信用代码", false},
		{"responsible_id_number", "负责人身份证号", true}, {"responsible_name", "负责人姓名", true}, {"workers", "涉及人数", false},
		{"amount_owed", "拖欠金额", false}, {"order_date", "责令支付日期", false}, {"deadline", "限期", false},
		{"transfer_date", "移送日期", false}, {"transfer_no", "移送文书号", false},
	}},
	{"hrss.pension_payments", "养老金发放", "hrss", Sensitive, []designField{
		{"id_number", "公民身份号码", true}, {"name", "姓名", true}, {"period", "发放月份", false}, {"amount", "发放金额", false},
	}},
}

func TestEmbeddedDatasetsFollowDesign(t *testing.T) {
	r := mustLoad(t)
	if got := len(r.List()); got != len(design) {
		t.Errorf("%d embedded datasets, want %d", got, len(design))
	}
	for _, want := range design {
		d, err := r.Get(want.id)
		if err != nil {
			t.Error(err)
			continue
		}
		if d.TitleZh != want.title || d.Owner != want.owner || d.Classification != want.class || d.Version != 1 {
			t.Errorf("%s: title %q owner %q classification %q version %d", d.ID, d.TitleZh, d.Owner, d.Classification, d.Version)
		}
		if len(d.Fields) != len(want.fields) {
			t.Errorf("%s: %d fields, want %d", d.ID, len(d.Fields), len(want.fields))
			continue
		}
		for i, w := range want.fields {
			f := d.Fields[i]
			if f.Name != w.name || len(f.AliasesZh) == 0 || f.AliasesZh[0] != w.header || f.PII != w.pii {
				t.Errorf("%s field %d: %s %v pii=%v, want %s %s pii=%v", d.ID, i, f.Name, f.AliasesZh, f.PII, w.name, w.header, w.pii)
			}
		}
	}
}

func TestEmbeddedDatasetTypes(t *testing.T) {
	r := mustLoad(t)
	for _, tc := range []struct {
		dataset, field string
		typ            Type
		required       bool
	}{
		{"police.deaths", "id_number", TypeIDNumber, true},
		{"police.deaths", "death_date", TypeDate, true},
		{"police.traffic_accidents", "responsibility", TypeEnum, false},
		{"police.traffic_accidents", "injured", TypeBool, false},
		{"police.case_records", "filed_date", TypeDate, false},
		{"police.case_records", "transfer_no", TypeDocNo, false},
		{"court.criminal_judgments", "case_no", TypeCaseNo, true},
		{"court.criminal_judgments", "probation", TypeBool, false},
		{"court.criminal_judgments", "probation_months", TypeInt, false},
		{"court.civil_compensations", "medical_costs_awarded", TypeMoney, false},
		{"court.enforcement_cases", "respondent_id", TypeIDOrCreditCode, false},
		{"court.enforcement_cases", "settlement_due_date", TypeDate, false},
		{"court.enforcement_cases", "closing_method", TypeEnum, false},
		{"court.enforcement_cases", "resumed_case_no", TypeCaseNo, false},
		{"medins.settlements", "fund_paid", TypeMoney, true},
		{"hrss.labor_inspections", "employer_credit_code", TypeCreditCode, false},
		{"hrss.labor_inspections", "transfer_no", TypeDocNo, false},
		{"hrss.pension_payments", "period", TypeMonth, true},
	} {
		d, _ := r.Get(tc.dataset)
		f, ok := d.Field(tc.field)
		if !ok || f.Type != tc.typ || f.Required != tc.required {
			t.Errorf("%s.%s: %+v", tc.dataset, tc.field, f)
		}
	}
	for _, d := range r.List() {
		for _, f := range d.Fields {
			if f.AllowNegative {
				t.Errorf("%s.%s allows negative values", d.ID, f.Name)
			}
		}
	}
}

func TestRegistry(t *testing.T) {
	r := mustLoad(t)
	ids := func(ds []*Dataset) []string {
		var s []string
		for _, d := range ds {
			s = append(s, d.ID)
		}
		return s
	}
	all := ids(r.List())
	if !slices.IsSorted(all) {
		t.Errorf("List is not sorted: %v", all)
	}
	if got, want := ids(r.ForOwner("police")), []string{"police.case_records", "police.deaths", "police.detentions", "police.traffic_accidents"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ForOwner(police) = %v", got)
	}
	if got, want := ids(r.ForOwner("court")), []string{"court.civil_compensations", "court.criminal_judgments", "court.enforcement_cases"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ForOwner(court) = %v", got)
	}
	if got := r.ForOwner("procuratorate"); got != nil {
		t.Errorf("ForOwner(procuratorate) = %v", ids(got))
	}
	_, err := r.Get("police.births")
	if !errors.Is(err, ErrUnknownDataset) || err.Error() != `unknown dataset "police.births"` {
		t.Errorf("Get(police.births): %v", err)
	}
	// List returns a copy.
	l := r.List()
	l[0] = nil
	if r.List()[0] == nil {
		t.Error("List exposes the registry's slice")
	}
	d, _ := r.Get("police.deaths")
	if d.FieldIndex("death_date") != 2 || d.FieldIndex("nope") != -1 {
		t.Error("FieldIndex")
	}
	if _, ok := d.Field("nope"); ok {
		t.Error("Field(nope)")
	}
}

func TestLoadDirectory(t *testing.T) {
	r, err := Load(filepath.Join("testdata", "schemas"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r.List()); n != len(design)+1 {
		t.Errorf("%d datasets, want %d", n, len(design)+1)
	}
	d, err := r.Get("hrss.unemployment_benefits")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(r.ForOwner("hrss")); got != 3 {
		t.Errorf("ForOwner(hrss) has %d datasets", got)
	}
	row, errs := d.ValidateRow([]string{"110105491231002", "王五", "2024年1月", "-1,200", "非本人意愿中断就业"})
	if errs != nil {
		t.Fatal(errs)
	}
	if want := []string{"11010519491231002X", "王五", "2024-01", "-1200.00", "非自愿失业"}; !reflect.DeepEqual(row, want) {
		t.Errorf("row = %q", row)
	}
	if f, ok := MatchHeader(d, "失业原因"); !ok || f != "reason" {
		t.Errorf("MatchHeader = %q, %v", f, ok)
	}

	if _, err := Load(filepath.Join("testdata", "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing directory: %v", err)
	}
}

const goodSchema = `id: court.test_cases
version: 1
title_zh: 测试
title_en: Test
owner: court
classification: internal
record_key: [case_no]
fields:
  - name: case_no
    type: case_no
    required: true
    aliases_zh: [案号]
`

func TestLoadInvalid(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		body       string
		want       []string
	}{
		{"unknown key", "court.test_cases.yaml", goodSchema + "    colour: red\n",
			[]string{"court.test_cases.yaml", `line 13: unknown key "colour"`}},
		{"unknown top-level key", "court.test_cases.yaml", goodSchema + "owners: [court]\n",
			[]string{`unknown key "owners"`}},
		{"duplicate key", "court.test_cases.yaml", strings.Replace(goodSchema, "version: 1\n", "version: 1\nversion: 2\n", 1),
			[]string{"already defined"}},
		{"wrong value type", "court.test_cases.yaml", strings.Replace(goodSchema, "version: 1", "version: one", 1),
			[]string{"line 2", "cannot unmarshal"}},
		{"empty file", "court.test_cases.yaml", "", []string{"court.test_cases.yaml: file is empty"}},
		{"two documents", "court.test_cases.yaml", goodSchema + "---\n" + goodSchema, []string{"more than one YAML document"}},
		{"file name", "court.other.yaml", goodSchema, []string{"court.other.yaml", `defines dataset "court.test_cases", so it must be named court.test_cases.yaml`}},
		{"redefines an embedded dataset", "police.deaths.yaml",
			strings.NewReplacer("court.test_cases", "police.deaths", "owner: court", "owner: police").Replace(goodSchema),
			[]string{`dataset "police.deaths" is already defined by datasets/police.deaths.yaml`}},
		{"everything wrong at once", "court.test_cases.yaml", `id: court.Test
version: 0
title_zh: ""
title_en: " "
owner: Court
classification: secret
record_key: [case_no, nope, case_no]
fields:
  - name: case_no
    type: case_number
    allow_negative: true
    aliases_zh: [案号, 编号]
  - name: id
    type: id_number
    values: [{value: x}]
    aliases_zh: [" 编 号 ", ""]
  - name: case_no
    type: string
  - name: Bad-Name
    type: string
  - name: kind
    type: enum
  - name: level
    type: enum
    values:
      - value: 高
        accept: [高级, 低级]
      - value: 低
        accept: [低级]
      - value: " 中"
`, []string{
			`id "court.Test" must be <owner>.<name>`,
			`owner "Court" must be an agency kind`,
			"version must be 1 or more",
			"title_zh is missing",
			"title_en is missing",
			`classification "secret" is not internal or sensitive`,
			`field "case_no": type "case_number" is not one of string, id_number`,
			`field "case_no": allow_negative applies to money and int fields only`,
			`field "id": a resident ID number is personal data; set pii: true`,
			`field "id": values are for enum fields only`,
			`field "id": aliases_zh alias " 编 号 " also names field "case_no"`,
			`field "id": aliases_zh has an empty alias`,
			`field "case_no" is defined twice`,
			`field 4: name "Bad-Name" must be lower snake case`,
			`field "kind": an enum needs values`,
			`field "level": "低级" is a form of both "高" and "低"`,
			`field "level": value " 中" is empty or has surrounding blanks`,
			`record_key: field "nope" does not exist`,
			`record_key: field "case_no" is listed twice`,
			"record_key: at least one key field must be required",
		}},
		{"id and owner disagree", "court.test_cases.yaml", strings.Replace(goodSchema, "owner: court", "owner: police", 1),
			[]string{`id "court.test_cases" does not start with its owner "police"`}},
		{"no fields, no key", "court.test_cases.yaml", "id: court.test_cases\nversion: 1\ntitle_zh: 测试\ntitle_en: Test\nowner: court\nclassification: internal\n",
			[]string{"fields: a dataset needs at least one field", "record_key: name the fields that identify a record"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tc.file), []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir)
			if !errors.Is(err, ErrInvalidSchema) {
				t.Fatalf("Load: %v, want ErrInvalidSchema", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "invalid schema file ") || !strings.Contains(line, tc.file) {
					t.Errorf("line does not name the file: %s", line)
				}
			}
		})
	}
}

// Every problem in every file is reported, not only the first file's.
func TestLoadReportsEveryFile(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"court.a.yaml", "court.b.yml"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("id: x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "court.a.yaml") || !strings.Contains(err.Error(), "court.b.yml") {
		t.Errorf("Load: %v", err)
	}
}

func TestParse(t *testing.T) {
	d, err := Parse("inline", []byte(goodSchema))
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != "court.test_cases" || len(d.Fields) != 1 {
		t.Errorf("%+v", d)
	}
	if f, ok := MatchHeader(d, "案 号"); !ok || f != "case_no" {
		t.Errorf("MatchHeader = %q, %v", f, ok)
	}
}
