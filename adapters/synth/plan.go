package synth

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Records of the ten datasets, as planned before they are written. Numbers
// (settlement, accident, case, inspection and document numbers) are
// assigned once every record exists, in date order, so that planted records
// sit among the others as they would in a real export.

type deathRec struct {
	p             *person
	death, cancel day
}

type pensioner struct {
	p        *person
	from, to int // month indexes, inclusive
}

type settlement struct {
	no          string
	p           *person
	hospital    string
	adm, dis    day
	code, diag  string
	injury      bool
	total, fund money
}

type accident struct {
	no   string
	date day
}

type party struct {
	acc     *accident
	p       *person
	role    string
	resp    string // "" when undetermined
	injured bool
}

type caseRec struct {
	no          string
	recv, filed day
	decision    string
	ctype       string
	source      string
	transferNo  string // canonical; "" if none
	transferSty int    // how the police wrote the transfer number
	p           *person
}

type detention struct {
	p          *person
	start, end day
	dtype      string
	facility   string
}

type judgment struct {
	caseNo     string
	p          *person
	jdate, eff day
	charge     string
	sentence   string
	probation  bool
	months     int
}

type civil struct {
	caseNo    string
	cause     string
	p         *person
	defendant string
	accDate   day
	jdate     day
	costs     money
}

type enforcement struct {
	caseNo     string
	applicant  string
	respondent string
	respID     string
	amount     money
	filed      day // not exported: orders case numbers
	closed     day
	method     string
	due        day
	performed  money // -1: empty
	resumed    string
	resumedOn  day
}

type inspection struct {
	no         string
	employer   string
	credit     string
	p          *person
	workers    int
	owed       money
	order      day
	deadline   day
	transfer   day
	transferNo string
	style      int
}

// plan is everything to be written.
type plan struct {
	asOf, start  day // data cover [start, asOf)
	pensionFrom  int // first and last month of the pension payments
	pensionTo    int
	home         county
	short        string // the county's one-character abbreviation, 息
	court        string // court code in case numbers, 豫1528
	pop          *population
	r            *rand.Rand
	people       []*person // background population
	planted      []*person
	deaths       []*deathRec
	pensioners   []*pensioner
	settlements  []*settlement
	accidents    []*accident
	parties      []*party
	cases        []*caseRec
	detentions   []*detention
	judgments    []*judgment
	civils       []*civil
	enforcements []*enforcement
	inspections  []*inspection
	truth        []*TruthCase
	companies    int
	// links maps each case record opened on a transfer to its inspection,
	// so that both get the transfer number when numbers are assigned.
	links map[*caseRec]*inspection
}

// between returns a day in [lo, hi].
func (pl *plan) between(lo, hi day) day {
	if hi <= lo {
		return lo
	}
	return lo + day(pl.r.Int64N(int64(hi-lo+1)))
}

func (pl *plan) pick(s []string) string { return s[pl.r.IntN(len(s))] }

// yuan returns a random amount in [lo, hi] yuan, in fen, rounded to whole
// yuan when round is set.
func (pl *plan) yuan(lo, hi int, round bool) money {
	m := money(lo)*100 + money(pl.r.Int64N(int64(hi-lo)*100+1))
	if round {
		m -= m % 100
	}
	return m
}

// draw returns a random background person satisfying ok, or nil after a
// number of tries.
func (pl *plan) draw(ok func(*person) bool) *person {
	for range 200 {
		p := pl.people[pl.r.IntN(len(pl.people))]
		if !p.planted && ok(p) {
			return p
		}
	}
	return nil
}

func scaled(n, per, least int) int { return max(least, n/per) }

// background plans the data that no model should match.
func (pl *plan) background(n int) {
	r := pl.r
	pl.people = make([]*person, n)
	for i := range pl.people {
		p := pl.pop.newRandom(pl.asOf)
		p.medUser = r.IntN(100) < 55
		pl.people[i] = p
	}
	pl.deathsAndPensions()
	for _, p := range pl.people {
		if p.medUser {
			pl.ordinarySettlements(p)
		}
	}
	pl.accidentsAndClaims(n)
	pl.crimes(n)
	pl.labour(n)
	pl.enforcement(n)
}

// annualMortality is the yearly probability of death per ten thousand,
// by age band of ten years.
var annualMortality = [...]int{3, 2, 4, 7, 15, 38, 95, 250, 700, 1700}

func (pl *plan) deathsAndPensions() {
	r := pl.r
	winStart := dayOf(pl.pensionFrom/12, pl.pensionFrom%12+1, 1)
	for _, p := range pl.people {
		a := p.age(pl.asOf)
		band := min(a/10, len(annualMortality)-1)
		if r.IntN(10000) < 3*annualMortality[band] {
			lo := max(pl.start, p.birth+1)
			if lo < pl.asOf {
				p.death = pl.between(lo, pl.asOf-1)
				pl.deaths = append(pl.deaths, &deathRec{p: p, death: p.death, cancel: min(pl.asOf, p.death+1+day(r.IntN(60)))})
			}
		}
		sixty := p.birth.addYears(60)
		if sixty.month() >= pl.pensionTo || r.IntN(100) >= 95 {
			continue
		}
		from := max(pl.pensionFrom, sixty.month()+1)
		to := pl.pensionTo
		if p.death != none {
			// Paid up to the month of death, or stopped the month before.
			to = min(to, p.death.month()-r.IntN(2))
		}
		if p.death != none && p.death < winStart {
			continue
		}
		pl.setPension(p)
		if from <= to {
			pl.pensioners = append(pl.pensioners, &pensioner{p: p, from: from, to: to})
		}
	}
}

func (pl *plan) setPension(p *person) {
	if pl.r.IntN(100) < 18 {
		p.pensionE = true
		p.pension = pl.yuan(2100, 4600, false) / 10 * 10
	} else {
		p.pension = pl.yuan(153, 290, false) / 10 * 10
	}
}

// pensionAmount is what a pensioner is paid for a month: pensions rise
// every January (residents' by a fixed amount, employees' by 2%).
func (pl *plan) pensionAmount(p *person, month int) money {
	m := p.pension
	if month/12 > (pl.pensionFrom)/12 {
		if p.pensionE {
			m = m * 102 / 100 / 10 * 10
		} else {
			m += 2000
		}
	}
	return m
}

type diagnosis struct{ code, name string }

var (
	illnesses = []diagnosis{
		{"I10.X00", "原发性高血压"}, {"I63.900", "脑梗死"}, {"I25.103", "冠状动脉粥样硬化性心脏病"},
		{"J18.900", "肺炎"}, {"J44.100", "慢性阻塞性肺病伴急性加重"}, {"E11.900", "2型糖尿病"},
		{"K80.100", "胆囊结石伴慢性胆囊炎"}, {"K35.800", "急性阑尾炎"}, {"N18.500", "慢性肾脏病5期"},
		{"C34.900", "支气管或肺恶性肿瘤"}, {"C16.900", "胃恶性肿瘤"}, {"H25.900", "老年性白内障"},
		{"M48.000", "椎管狭窄"}, {"I50.900", "心力衰竭"}, {"O80.000", "单胎顺产"},
		{"J06.900", "急性上呼吸道感染"}, {"K29.700", "胃炎"}, {"M17.900", "膝关节病"},
		{"I61.900", "脑内出血"}, {"N40.X00", "前列腺增生"},
	}
	injuries = []diagnosis{
		{"S82.201", "胫骨干骨折"}, {"S06.000", "脑震荡"}, {"S22.400", "多发性肋骨骨折"},
		{"S52.500", "桡骨下端骨折"}, {"S72.000", "股骨颈骨折"}, {"S32.000", "腰椎骨折"},
		{"S42.000", "锁骨骨折"}, {"S01.801", "头皮裂伤"}, {"S06.500", "创伤性硬脑膜下出血"},
		{"T14.000", "浅表损伤"}, {"S27.000", "创伤性气胸"}, {"S83.200", "半月板撕裂"},
	}
	// Diagnoses an injury flag can go with although the code is not one of
	// chapter XIX (S/T).
	injuryAfterCare = []diagnosis{{"M54.500", "腰痛"}, {"M25.500", "关节痛"}, {"G44.300", "创伤后头痛"}}
)

var towns = []string{
	"包信镇", "夏庄镇", "东岳镇", "项店镇", "小茴店镇", "曹黄林镇", "彭店镇", "杨店乡", "张陶乡",
	"白土店乡", "岗李店乡", "长陵乡", "陈棚乡", "临河乡", "关店乡", "八里岔乡", "路口乡", "孙庙乡", "城郊乡",
}

func (pl *plan) hospital() string {
	c := pl.home.name
	switch n := pl.r.IntN(100); {
	case n < 38:
		return c + "人民医院"
	case n < 55:
		return c + "中医院"
	case n < 63:
		return c + "第二人民医院"
	case n < 68:
		return c + "妇幼保健院"
	case n < 85:
		return c + pl.pick(towns) + "卫生院"
	case n < 93:
		return "信阳市中心医院"
	case n < 97:
		return "郑州大学第一附属医院"
	default:
		return "河南省人民医院"
	}
}

// newSettlement makes a settlement of p admitted on adm with the given
// diagnosis; the discharge follows from the length of stay.
func (pl *plan) newSettlement(p *person, adm day, d diagnosis, injury bool, stay int, total money, fund money) *settlement {
	s := &settlement{p: p, hospital: pl.hospital(), adm: adm, dis: adm + day(stay), code: d.code, diag: d.name, injury: injury, total: total, fund: fund}
	if s.dis > pl.asOf {
		s.dis = none // still in hospital: an interim settlement
	}
	pl.settlements = append(pl.settlements, s)
	return s
}

// inpatientCost returns a total cost and the fund's share of it.
func (pl *plan) inpatientCost() (total, fund money) {
	total = pl.yuan(1200, 9000, false)
	if pl.r.IntN(4) == 0 {
		total = pl.yuan(9000, 68000, false)
	}
	fund = total * money(48+pl.r.IntN(28)) / 100
	return total, fund
}

// backgroundSettlement adds a settlement for a background person only if
// it lies wholly before the person's death.
func (pl *plan) backgroundSettlement(p *person, adm day, d diagnosis, injury bool) {
	stay := 3 + pl.r.IntN(12)
	total, fund := pl.inpatientCost()
	if pl.r.IntN(100) < 30 { // a visit: chronic-disease outpatient settlement
		stay = 0
		total = pl.yuan(60, 900, false)
		fund = 0
		if pl.r.IntN(100) < 65 {
			fund = total * money(50+pl.r.IntN(20)) / 100
		}
	}
	if adm >= pl.asOf || (p.death != none && adm+day(stay) >= p.death) {
		return
	}
	pl.newSettlement(p, adm, d, injury, stay, total, fund)
}

func (pl *plan) ordinarySettlements(p *person) {
	r := pl.r
	k := 0
	switch n := r.IntN(100); {
	case n < 42:
		k = 0
	case n < 72:
		k = 1
	case n < 87:
		k = 2
	case n < 95:
		k = 3
	default:
		k = 4 + r.IntN(4)
	}
	for range k {
		adm := pl.between(max(pl.start, p.birth), pl.asOf-1)
		if r.IntN(100) < 7 { // a fall or a cut: trauma without any third party
			pl.backgroundSettlement(p, adm, injuries[r.IntN(len(injuries))], true)
		} else {
			pl.backgroundSettlement(p, adm, illnesses[r.IntN(len(illnesses))], false)
		}
	}
}

var (
	insurers = []string{
		"中国人民财产保险股份有限公司信阳市分公司", "中国平安财产保险股份有限公司信阳中心支公司",
		"中华联合财产保险股份有限公司信阳中心支公司", "中国太平洋财产保险股份有限公司信阳中心支公司",
		"中国人寿财产保险股份有限公司信阳市中心支公司",
	}
	victimRoles = []string{"驾驶人", "非机动车驾驶人", "非机动车驾驶人", "行人", "乘车人"}
)

func adult(t day) func(*person) bool {
	return func(p *person) bool { return p.alive(t) && p.age(t) >= 18 && p.age(t) < 80 }
}

// accidentsAndClaims plans traffic accidents and the civil judgments on
// personal injury. A party found 次要 or 无 responsible, and a plaintiff
// awarded medical costs, is always someone without settlements; at-fault
// parties may be treated with the fund's money — that is lawful.
func (pl *plan) accidentsAndClaims(n int) {
	r := pl.r
	for range scaled(n, 350, 8) {
		a := &accident{date: pl.between(pl.start, pl.asOf-1)}
		pl.accidents = append(pl.accidents, a)
		at := pl.draw(adult(a.date))
		if at == nil {
			continue
		}
		kind := r.IntN(100)
		switch {
		case kind < 15: // one vehicle, no one else
			pl.atFault(a, at, "全部")
			continue
		case kind < 18: // cause could not be established
			pl.parties = append(pl.parties, &party{acc: a, p: at, role: "驾驶人", injured: r.IntN(3) == 0})
			if o := pl.draw(adult(a.date)); o != nil && o != at {
				pl.parties = append(pl.parties, &party{acc: a, p: o, role: pl.pick(victimRoles), injured: r.IntN(2) == 0})
			}
			continue
		case kind < 30: // equal responsibility
			pl.atFault(a, at, "同等")
			if o := pl.draw(adult(a.date)); o != nil && o != at {
				pl.atFault(a, o, "同等")
			}
			continue
		}
		resp, victimResp := "全部", "无"
		if kind < 60 {
			resp, victimResp = "主要", "次要"
		}
		pl.atFault(a, at, resp)
		nonUser := func(p *person) bool { return !p.medUser && p != at && adult(a.date)(p) }
		v := pl.draw(nonUser)
		if v == nil {
			continue
		}
		vp := &party{acc: a, p: v, role: pl.pick(victimRoles), resp: victimResp, injured: r.IntN(100) < 65}
		if vp.role == "乘车人" {
			vp.resp = "无"
		}
		pl.parties = append(pl.parties, vp)
		if vp.injured && r.IntN(100) < 25 && a.date+130 < pl.asOf {
			pl.civils = append(pl.civils, &civil{
				cause: "机动车交通事故责任纠纷", p: v, defendant: at.name + "、" + pl.pick(insurers),
				accDate: a.date, jdate: pl.between(a.date+120, min(a.date+500, pl.asOf-1)),
				costs: pl.yuan(2500, 90000, false),
			})
		}
	}
	// Injuries other than road accidents: falls in shops, dog bites, work.
	for range scaled(n, 4000, 3) {
		acc := pl.between(pl.start, pl.asOf-150)
		v := pl.draw(func(p *person) bool { return !p.medUser && adult(acc)(p) })
		if v == nil {
			continue
		}
		cause := pl.pick([]string{"生命权、身体权、健康权纠纷", "提供劳务者受害责任纠纷", "饲养动物损害责任纠纷"})
		def := pl.people[r.IntN(len(pl.people))].name
		pl.civils = append(pl.civils, &civil{
			cause: cause, p: v, defendant: def, accDate: acc,
			jdate: pl.between(acc+100, min(acc+400, pl.asOf-1)), costs: pl.yuan(800, 40000, false),
		})
	}
}

// atFault adds a party responsible (全部, 主要 or 同等) and, if they were
// hurt and insured, their lawful settlement.
func (pl *plan) atFault(a *accident, p *person, resp string) {
	r := pl.r
	pt := &party{acc: a, p: p, role: "驾驶人", resp: resp, injured: r.IntN(100) < 35}
	pl.parties = append(pl.parties, pt)
	if pt.injured && p.medUser {
		pl.backgroundSettlement(p, a.date+day(r.IntN(3)), injuries[r.IntN(len(injuries))], true)
	}
}

// crimeType is a kind of case the police receive.
type crimeType struct {
	name      string
	criminal  bool
	weight    int
	known     int    // percentage with an identified suspect
	charge    string // the charge of a judgment
	prison    [2]int // months of 有期徒刑 (or 拘役 when jail)
	jail      bool   // sentenced to 拘役 rather than 有期徒刑
	probation int    // percentage of judgments with probation
}

var crimeTypes = []crimeType{
	{"盗窃", true, 25, 55, "盗窃罪", [2]int{6, 36}, false, 45},
	{"诈骗", true, 10, 45, "诈骗罪", [2]int{8, 48}, false, 35},
	{"帮助信息网络犯罪活动", true, 8, 90, "帮助信息网络犯罪活动罪", [2]int{6, 24}, false, 60},
	{"危险驾驶", true, 10, 100, "危险驾驶罪", [2]int{1, 6}, true, 75},
	{"故意伤害", true, 6, 85, "故意伤害罪", [2]int{6, 36}, false, 40},
	{"寻衅滋事", true, 4, 90, "寻衅滋事罪", [2]int{8, 36}, false, 30},
	{"开设赌场", true, 3, 90, "开设赌场罪", [2]int{6, 36}, false, 35},
	{"交通肇事", true, 3, 100, "交通肇事罪", [2]int{6, 36}, false, 70},
	{"殴打他人", false, 15, 90, "", [2]int{}, false, 0},
	{"赌博", false, 8, 95, "", [2]int{}, false, 0},
	{"吸毒", false, 3, 100, "", [2]int{}, false, 0},
	{"故意损毁财物", false, 5, 60, "", [2]int{}, false, 0},
}

var wageCrime = crimeType{"拒不支付劳动报酬", true, 0, 100, "拒不支付劳动报酬罪", [2]int{6, 24}, false, 70}

var caseSources = []string{"群众报案", "110报警", "群众报案", "工作中发现", "扭送", "投案自首", "其他部门移送"}

func (pl *plan) crimes(n int) {
	total := 0
	for _, c := range crimeTypes {
		total += c.weight
	}
	for range scaled(n, 90, 12) {
		w := pl.r.IntN(total)
		ct := crimeTypes[0]
		for _, c := range crimeTypes {
			if w < c.weight {
				ct = c
				break
			}
			w -= c.weight
		}
		recv := pl.between(pl.start, pl.asOf-1)
		var suspect *person
		if pl.r.IntN(100) < ct.known {
			suspect = pl.draw(func(p *person) bool {
				return !p.used && p.death == none && p.age(recv) >= 16 && p.age(recv) < 75
			})
		}
		pl.crime(ct, recv, suspect, pl.pick(caseSources), "", 0)
	}
	// Contempt of court and compulsory drug treatment of people in no case.
	for range scaled(n, 6000, 2) {
		p := pl.draw(func(p *person) bool { return !p.used && p.death == none && p.age(pl.asOf) >= 20 })
		if p == nil {
			continue
		}
		p.used = true
		s := pl.between(pl.start, pl.asOf-1)
		pl.addDetention(p, s, s+15, "司法拘留", pl.home.name+"拘留所")
	}
}

func (pl *plan) addDetention(p *person, start, end day, dtype, facility string) *detention {
	if end != none && end > pl.asOf {
		end = none
	}
	d := &detention{p: p, start: start, end: end, dtype: dtype, facility: facility}
	pl.detentions = append(pl.detentions, d)
	return d
}

// crime plans a case record and, for a filed criminal case with a suspect,
// the detentions and the judgment that follow. A defendant given probation
// is detained only before the judgment, never during the probation.
func (pl *plan) crime(ct crimeType, recv day, suspect *person, source, transferNo string, style int) *caseRec {
	r := pl.r
	c := &caseRec{recv: recv, filed: none, ctype: ct.name, source: source, transferNo: transferNo, transferSty: style, p: suspect}
	pl.cases = append(pl.cases, c)
	if suspect != nil {
		suspect.used = true
	}
	if !ct.criminal {
		switch {
		case suspect == nil:
			c.decision = "调解处理"
		case ct.name == "吸毒" && r.IntN(3) == 0:
			c.decision = "强制隔离戒毒"
			pl.addDetention(suspect, recv+1, recv.addYears(2)+1, "强制隔离戒毒", "信阳市强制隔离戒毒所")
		case r.IntN(100) < 60:
			c.decision = "行政拘留"
			s := recv + day(r.IntN(2))
			if s < pl.asOf {
				pl.addDetention(suspect, s, s+5+day(r.IntN(11)), pl.pick([]string{"行政拘留", "行拘"}), pl.home.name+"拘留所")
			}
		default:
			c.decision = pl.pick([]string{"罚款", "警告", "调解处理"})
		}
		return c
	}
	if r.IntN(100) >= 82 && transferNo == "" {
		c.decision = pl.pick([]string{"不予立案", "移送其他部门处理"})
		return c
	}
	c.filed = recv + day(r.IntN(8))
	if transferNo != "" {
		c.filed = recv + 1 + day(r.IntN(12))
	}
	c.decision = "立案侦查"
	if c.filed >= pl.asOf {
		c.filed, c.decision = none, ""
		return c
	}
	if suspect == nil {
		return c
	}
	ds := c.filed + day(r.IntN(3))
	if ds >= pl.asOf {
		return c
	}
	hold := pl.addDetention(suspect, ds, ds+3+day(r.IntN(28)), pl.pick([]string{"刑事拘留", "刑事拘留", "刑拘"}), pl.home.name+"看守所")
	if c.filed+150 > pl.asOf || r.IntN(100) >= 75 {
		return c
	}
	j := &judgment{p: suspect, charge: ct.charge, eff: none}
	j.jdate = pl.between(c.filed+90, min(c.filed+360, pl.asOf-1))
	if e := j.jdate + 11 + day(r.IntN(15)); e <= pl.asOf {
		j.eff = e
	}
	months := ct.prison[0] + r.IntN(ct.prison[1]-ct.prison[0]+1)
	j.sentence = "有期徒刑"
	if ct.jail {
		j.sentence = "拘役"
	}
	switch {
	case r.IntN(100) < ct.probation:
		j.probation = true
		if ct.jail {
			j.months = min(12, max(2, months+r.IntN(6)))
		} else {
			j.months = min(60, max(12, months+12*r.IntN(3)))
		}
	case !ct.jail && r.IntN(100) < 8:
		j.sentence = "罚金"
	default:
		if hold.end != none {
			end := none
			if j.eff != none {
				end = j.eff + 5 + day(r.IntN(15))
			}
			pl.addDetention(suspect, hold.end, end, "逮捕", pl.home.name+"看守所")
		}
	}
	pl.judgments = append(pl.judgments, j)
	return c
}

var (
	firmNames  = []string{"宏达", "鑫源", "顺发", "金辉", "华泰", "永盛", "恒信", "瑞丰", "安康", "兴旺", "天成", "佳和", "润泽", "博远", "淮上", "弘润", "富民", "金穗", "新丰", "盛世", "东方", "龙腾", "隆基", "昌盛"}
	firmTrades = []string{"建筑劳务", "建筑工程", "服装", "食品", "电子科技", "物流", "置业", "农业科技", "商贸", "装饰工程", "制衣", "木业", "砖瓦", "米业"}
)

// company returns a new company's name and credit code.
func (pl *plan) company() (string, string) {
	pl.companies++
	name := pl.home.name + pl.pick(firmNames) + pl.pick(firmTrades) + "有限公司"
	if pl.r.IntN(5) == 0 {
		name = "信阳" + pl.pick(firmNames) + pl.pick(firmTrades) + "有限公司"
	}
	return name, creditCode(pl.home.code, pl.companies)
}

// newInspection plans a wage case against an employer with its order to pay.
func (pl *plan) newInspection(p *person, order day) *inspection {
	emp, credit := pl.company()
	workers := 3 + pl.r.IntN(58)
	in := &inspection{
		employer: emp, credit: credit, p: p, workers: workers,
		owed:  money(workers) * pl.yuan(2600, 16000, true),
		order: order, deadline: order + 7 + day(pl.r.IntN(9)), transfer: none, style: pl.r.IntN(4),
	}
	pl.inspections = append(pl.inspections, in)
	return in
}

func (pl *plan) labour(n int) {
	r := pl.r
	for range scaled(n, 4000, 4) {
		order := pl.between(pl.start, pl.asOf-10)
		p := pl.draw(func(p *person) bool { return !p.used && p.death == none && p.age(order) >= 25 && p.age(order) < 70 })
		if p == nil {
			continue
		}
		p.used = true
		in := pl.newInspection(p, order)
		if r.IntN(100) >= 35 {
			continue
		}
		t := in.deadline + 5 + day(r.IntN(26))
		if t > pl.asOf-40 {
			continue // too recent to have been transferred and filed
		}
		in.transfer = t
		// The police receive it within days and file within the window.
		c := pl.crime(wageCrime, t+day(r.IntN(3)), p, "行政执法机关移送", "pending", r.IntN(4))
		c.filed = min(c.filed, t+20)
		pl.linkTransfer(in, c)
	}
}

// linkTransfer records that case record c (if any) was opened on the
// transfer of inspection in; both get the transfer number when numbers are
// assigned.
func (pl *plan) linkTransfer(in *inspection, c *caseRec) {
	in.transferNo = "pending"
	if c != nil {
		c.transferNo = "pending"
		pl.links[c] = in
	}
}

var applicants = []string{"自然资源局", "市场监督管理局", "人力资源和社会保障局", "医疗保障局", "城市管理局", "卫生健康委员会", "住房和城乡建设局", "农业农村局", "应急管理局", "税务局"}

func (pl *plan) applicant() string {
	a := pl.pick(applicants)
	if a == "税务局" {
		return "国家税务总局" + pl.home.name + "税务局"
	}
	return pl.home.name + a
}

func (pl *plan) enforcement(n int) {
	r := pl.r
	for range scaled(n, 1500, 6) {
		e := &enforcement{applicant: pl.applicant(), filed: pl.between(pl.start, pl.asOf-20), closed: none, due: none, performed: -1, resumedOn: none}
		pl.respondent(e)
		pl.enforcements = append(pl.enforcements, e)
		closed := e.filed + 20 + day(r.IntN(220))
		if closed >= pl.asOf {
			continue
		}
		switch m := r.IntN(100); {
		case m < 40:
			e.closed, e.method, e.performed = closed, "执行完毕", e.amount
		case m < 65:
			e.closed, e.method = closed, "执行和解"
			e.due = closed + 30 + day(r.IntN(270))
			switch {
			case e.due >= pl.asOf:
				e.due = max(e.due, pl.asOf+7)
				e.performed = e.amount * money(r.IntN(60)) / 100
			case r.IntN(100) < 70:
				e.performed = e.amount
			default:
				res := e.due + 15 + day(r.IntN(75))
				if res >= pl.asOf {
					e.performed = e.amount
					break
				}
				e.performed = e.amount * money(r.IntN(80)) / 100
				e.resumedOn, e.resumed = res, "pending"
			}
		case m < 80:
			e.closed, e.method = closed, "终结本次执行程序"
			e.performed = e.amount * money(r.IntN(50)) / 100
		case m < 92:
			e.closed, e.method = closed, "准予执行"
		case m < 95:
			e.closed, e.method = closed, "不予执行"
		}
	}
}

// respondent sets a respondent: a company (credit code) or a person.
func (pl *plan) respondent(e *enforcement) {
	if pl.r.IntN(100) < 62 {
		e.respondent, e.respID = pl.company()
		e.amount = pl.yuan(5000, 300000, true)
		return
	}
	p := pl.draw(func(p *person) bool { return p.age(pl.asOf) >= 22 })
	if p == nil {
		e.respondent, e.respID = pl.company()
		e.amount = pl.yuan(5000, 300000, true)
		return
	}
	e.respondent, e.respID = p.name, p.id
	e.amount = pl.yuan(1000, 50000, true)
}

// caseNo formats a court case number in canonical form.
func (pl *plan) caseNo(year int, kind string, seq int) string {
	return "（" + strconv.Itoa(year) + "）" + pl.court + kind + strconv.Itoa(seq) + "号"
}

// number assigns every record number, in date order per year as agencies
// do, leaving gaps where other kinds of cases took numbers.
func (pl *plan) number() {
	byDay := func(a, b day) int { return cmp.Compare(a, b) }
	slices.SortStableFunc(pl.settlements, func(a, b *settlement) int { return byDay(a.adm, b.adm) })
	perDay := map[day]int{}
	for _, s := range pl.settlements {
		perDay[s.adm]++
		s.no = "JS" + pl.home.code + string(appendDate(nil, s.adm, compactDate)) + string(appendPadded(nil, perDay[s.adm], 5))
	}
	slices.SortStableFunc(pl.accidents, func(a, b *accident) int { return byDay(a.date, b.date) })
	seq := yearSeq{}
	for _, a := range pl.accidents {
		a.no = pl.home.code + "1" + strconv.Itoa(a.date.year()) + string(appendPadded(nil, seq.next(a.date.year(), 1, pl.r), 6))
	}
	slices.SortStableFunc(pl.parties, func(a, b *party) int { return byDay(a.acc.date, b.acc.date) })

	slices.SortStableFunc(pl.inspections, func(a, b *inspection) int { return byDay(a.order, b.order) })
	seq = yearSeq{}
	for _, in := range pl.inspections {
		in.no = pl.home.code + "JC" + strconv.Itoa(in.order.year()) + string(appendPadded(nil, seq.next(in.order.year(), 1, pl.r), 4))
	}
	transferred := slices.Clone(pl.inspections)
	slices.SortStableFunc(transferred, func(a, b *inspection) int { return byDay(a.transfer, b.transfer) })
	seq = yearSeq{}
	for _, in := range transferred {
		if in.transferNo != "" {
			y := in.transfer.year()
			in.transferNo = pl.short + "人社监移〔" + strconv.Itoa(y) + "〕" + strconv.Itoa(seq.next(y, 1, pl.r)) + "号"
		}
	}
	slices.SortStableFunc(pl.cases, func(a, b *caseRec) int { return byDay(a.recv, b.recv) })
	perMonth := map[int]int{}
	for _, c := range pl.cases {
		m := c.recv.month()
		perMonth[m] += 1 + pl.r.IntN(3)
		c.no = "A" + pl.home.code + "50000" + strconv.Itoa(m/12) + string(appendPadded(nil, m%12+1, 2)) + string(appendPadded(nil, perMonth[m], 4))
		if in, ok := pl.links[c]; ok {
			c.transferNo = in.transferNo
		}
	}
	slices.SortStableFunc(pl.judgments, func(a, b *judgment) int { return byDay(a.jdate, b.jdate) })
	seq = yearSeq{}
	for _, j := range pl.judgments {
		y := j.jdate.year()
		j.caseNo = pl.caseNo(y, "刑初", seq.next(y, 4, pl.r))
	}
	slices.SortStableFunc(pl.civils, func(a, b *civil) int { return byDay(a.jdate, b.jdate) })
	seq = yearSeq{}
	for _, c := range pl.civils {
		y := c.jdate.year()
		c.caseNo = pl.caseNo(y, "民初", seq.next(y, 12, pl.r))
	}
	slices.SortStableFunc(pl.enforcements, func(a, b *enforcement) int { return byDay(a.filed, b.filed) })
	seq = yearSeq{}
	for _, e := range pl.enforcements {
		y := e.filed.year()
		e.caseNo = pl.caseNo(y, "执", seq.next(y, 6, pl.r))
	}
	resumed := slices.Clone(pl.enforcements)
	slices.SortStableFunc(resumed, func(a, b *enforcement) int { return byDay(a.resumedOn, b.resumedOn) })
	seq = yearSeq{}
	for _, e := range resumed {
		if e.resumed != "" {
			y := e.resumedOn.year()
			e.resumed = pl.caseNo(y, "执恢", seq.next(y, 2, pl.r))
		}
	}
	slices.SortStableFunc(pl.detentions, func(a, b *detention) int { return byDay(a.start, b.start) })
	slices.SortStableFunc(pl.deaths, func(a, b *deathRec) int { return byDay(a.cancel, b.cancel) })
	slices.SortStableFunc(pl.pensioners, func(a, b *pensioner) int { return strings.Compare(a.p.id, b.p.id) })
}

// yearSeq hands out sequence numbers per year with random gaps.
type yearSeq map[int]int

func (s yearSeq) next(year, gap int, r *rand.Rand) int {
	s[year] += 1 + r.IntN(gap)
	return s[year]
}
