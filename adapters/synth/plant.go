package synth

// The model windows synth plants around: the defaults of the built-in models.
const (
	// InjuryWindowDays is N of medins.third_party_injury: an admission
	// within N days on or after the incident (day 0 to day N) counts.
	InjuryWindowDays = 30
	// FilingWindowDays is N of police.wage_transfer_not_filed: a filing
	// within N days of the transfer (day N included) counts as filed.
	FilingWindowDays = 30
)

// The six built-in supervision models.
const (
	ModelThirdPartyInjury      = "medins.third_party_injury"
	ModelPensionAfterDeath     = "hrss.pension_after_death"
	ModelClaimsAfterDeath      = "medins.claims_after_death"
	ModelWageTransferNotFiled  = "police.wage_transfer_not_filed"
	ModelSettlementUnperformed = "court.settlement_unperformed"
	ModelProbationDetained     = "court.probation_detained"
)

// Kinds of ground-truth cases.
const (
	Planted  = "planted"
	NearMiss = "near_miss"
)

// TruthCase is one line of truth.jsonl: a planted case, which the model
// must report, or a near-miss, which it must not.
type TruthCase struct {
	// Model is the model's ID, e.g. hrss.pension_after_death.
	Model string `json:"model"`
	// Kind is "planted" or "near_miss".
	Kind string `json:"kind"`
	// Case says in English what was planted.
	Case string `json:"case"`
	// IDNumber is the person's resident ID number — or, for an enforcement
	// case against a company, its credit code. Plain text, because the
	// data is synthetic.
	IDNumber string `json:"id_number"`
	// Name is the person's (or company's) name.
	Name string `json:"name"`
	// Missed names the one condition a near-miss fails; empty when planted.
	Missed string `json:"missed,omitempty"`
	// Evidence lists the records involved, by dataset and record key, the
	// key values in canonical form.
	Evidence []Evidence `json:"evidence"`
	// Expected holds the values the model's lead must carry (planted cases
	// only); the keys depend on the model, see docs/synth.md.
	Expected map[string]any `json:"expected,omitempty"`

	build func(*TruthCase) // fills Evidence and Expected once numbers exist
}

// Evidence is one record of a truth case.
type Evidence struct {
	Dataset string            `json:"dataset"`
	Key     map[string]string `json:"key"`
}

func settlementEv(s *settlement) Evidence {
	return Evidence{"medins.settlements", map[string]string{"settlement_no": s.no}}
}

func partyEv(pt *party) Evidence {
	return Evidence{"police.traffic_accidents", map[string]string{"accident_no": pt.acc.no, "id_number": pt.p.id}}
}

func civilEv(c *civil) Evidence {
	return Evidence{"court.civil_compensations", map[string]string{"case_no": c.caseNo, "plaintiff_id_number": c.p.id}}
}

func deathEv(p *person) Evidence {
	return Evidence{"police.deaths", map[string]string{"id_number": p.id}}
}

func pensionEv(p *person, month int) Evidence {
	return Evidence{"hrss.pension_payments", map[string]string{"id_number": p.id, "period": monthString(month)}}
}

func inspectionEv(in *inspection) Evidence {
	return Evidence{"hrss.labor_inspections", map[string]string{"inspection_no": in.no}}
}

func caseEv(c *caseRec) Evidence {
	id := ""
	if c.p != nil {
		id = c.p.id
	}
	return Evidence{"police.case_records", map[string]string{"case_no": c.no, "suspect_id_number": id}}
}

func enforcementEv(e *enforcement) Evidence {
	return Evidence{"court.enforcement_cases", map[string]string{"case_no": e.caseNo}}
}

func judgmentEv(j *judgment) Evidence {
	return Evidence{"court.criminal_judgments", map[string]string{"case_no": j.caseNo, "defendant_id_number": j.p.id}}
}

func detentionEv(d *detention) Evidence {
	return Evidence{"police.detentions", map[string]string{"id_number": d.p.id, "start_date": d.start.String()}}
}

// evidence returns a builder of a truth case's evidence from the given
// items, each evaluated once record numbers exist.
func evidence(items ...func() Evidence) func(*TruthCase) {
	return func(tc *TruthCase) {
		for _, it := range items {
			tc.Evidence = append(tc.Evidence, it())
		}
	}
}

// lazy and lazy2 defer an evidence constructor until numbers exist,
// holding its arguments' present values.
func lazy[T any](f func(T) Evidence, x T) func() Evidence { return func() Evidence { return f(x) } }

func lazy2[T, U any](f func(T, U) Evidence, x T, y U) func() Evidence {
	return func() Evidence { return f(x, y) }
}

// addTruth adds a truth case.
func (pl *plan) addTruth(model, kind, what, missed string, p *person, build func(*TruthCase)) {
	pl.truth = append(pl.truth, &TruthCase{Model: model, Kind: kind, Case: what, Missed: missed, IDNumber: p.id, Name: p.name, build: build})
}

// fresh makes a person for a planted case, known to no background record.
func (pl *plan) fresh(minAge, maxAge int) *person {
	p := pl.pop.newAged(pl.asOf, minAge, maxAge)
	p.planted = true
	pl.planted = append(pl.planted, p)
	return p
}

// namesake makes a person with the same name (and here the same birth
// date) as p but another ID number.
func (pl *plan) namesake(p *person) *person {
	q := pl.pop.newPerson(p.birth, p.birth)
	for q.male != p.male {
		q = pl.pop.newPerson(p.birth, p.birth)
	}
	q.name = p.name
	q.planted = true
	pl.planted = append(pl.planted, q)
	return q
}

// plant adds reps rounds of every planted case and near-miss.
func (pl *plan) plant(reps int) {
	for range reps {
		pl.plantInjury()
		pl.plantPension()
		pl.plantClaims()
		pl.plantWage()
		pl.plantSettlement()
		pl.plantProbation()
	}
}

func sumFund(ss []*settlement) money {
	var m money
	for _, s := range ss {
		m += s.fund
	}
	return m
}

func settlementNos(ss []*settlement) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.no
	}
	return out
}

var complement = map[string]string{"次要": "主要", "无": "全部", "主要": "次要", "同等": "同等"}

// plantAccident plans an accident between a fresh victim with the given
// responsibility and a fresh other party, returning the victim's party.
func (pl *plan) plantAccident(resp, role string) *party {
	a := &accident{date: pl.between(pl.start+60, pl.asOf-60)}
	pl.accidents = append(pl.accidents, a)
	other := pl.fresh(22, 60)
	pl.parties = append(pl.parties, &party{acc: a, p: other, role: "驾驶人", resp: complement[resp], injured: false})
	v := &party{acc: a, p: pl.fresh(18, 75), role: role, resp: resp, injured: true}
	pl.parties = append(pl.parties, v)
	return v
}

func (pl *plan) plantCivil() *civil {
	acc := pl.between(pl.start+60, pl.asOf-200)
	c := &civil{
		cause: "生命权、身体权、健康权纠纷", p: pl.fresh(18, 80), defendant: pl.home.name + pl.pick(firmNames) + "超市有限公司",
		accDate: acc, jdate: pl.between(acc+120, pl.asOf-20), costs: pl.yuan(3000, 60000, false),
	}
	pl.civils = append(pl.civils, c)
	return c
}

// trauma returns an inpatient settlement for an injury.
func (pl *plan) trauma(p *person, adm day) *settlement {
	total, fund := pl.inpatientCost()
	return pl.newSettlement(p, adm, injuries[pl.r.IntN(len(injuries))], true, 4+pl.r.IntN(12), total, fund)
}

func (pl *plan) injuryLead(pt *party, c *civil, ss []*settlement) func(*TruthCase) {
	return func(tc *TruthCase) {
		var inc Evidence
		var date day
		if pt != nil {
			inc, date = partyEv(pt), pt.acc.date
		} else {
			inc, date = civilEv(c), c.accDate
		}
		tc.Evidence = []Evidence{inc}
		for _, s := range ss {
			tc.Evidence = append(tc.Evidence, settlementEv(s))
		}
		tc.Expected = map[string]any{
			"incident_date": date.String(), "incident_dataset": inc.Dataset,
			"settlements": settlementNos(ss), "fund_paid_total": sumFund(ss).String(),
		}
	}
}

func (pl *plan) injuryMiss(pt *party, c *civil, s *settlement) func(*TruthCase) {
	return func(tc *TruthCase) {
		if pt != nil {
			tc.Evidence = []Evidence{partyEv(pt), settlementEv(s)}
		} else {
			tc.Evidence = []Evidence{civilEv(c), settlementEv(s)}
		}
	}
}

func (pl *plan) plantInjury() {
	const m, n = ModelThirdPartyInjury, InjuryWindowDays
	// Planted.
	pt := pl.plantAccident("次要", "非机动车驾驶人")
	first := pl.trauma(pt.p, pt.acc.date+1)
	pl.trauma(pt.p, pt.acc.date+45) // a follow-up outside the window: not part of the lead
	pl.addTruth(m, Planted, "minor responsibility (次要), admitted the day after the accident; a follow-up stay on day 45 falls outside the window", "", pt.p, pl.injuryLead(pt, nil, []*settlement{first}))

	pt = pl.plantAccident("无", "乘车人")
	total, fund := pl.inpatientCost()
	a := pl.newSettlement(pt.p, pt.acc.date, injuryAfterCare[pl.r.IntN(len(injuryAfterCare))], true, 3, total, fund)
	b := pl.trauma(pt.p, pt.acc.date+12)
	pl.addTruth(m, Planted, "passenger with no responsibility (无): admitted the same day (injury flag with a code outside S/T) and again on day 12", "", pt.p, pl.injuryLead(pt, nil, []*settlement{a, b}))

	c := pl.plantCivil()
	s := pl.trauma(c.p, c.accDate+3)
	pl.addTruth(m, Planted, "court awarded medical costs for an injury (not a road accident); admitted 3 days after the injury", "", c.p, pl.injuryLead(nil, c, []*settlement{s}))

	pt = pl.plantAccident("次要", "驾驶人")
	s = pl.trauma(pt.p, pt.acc.date+n)
	pl.addTruth(m, Planted, "boundary: admitted on day N (30) after an accident with minor responsibility", "", pt.p, pl.injuryLead(pt, nil, []*settlement{s}))

	// Near-misses.
	pt = pl.plantAccident("次要", "非机动车驾驶人")
	s = pl.trauma(pt.p, pt.acc.date+n+1)
	pl.addTruth(m, NearMiss, "admitted on day N+1 (31) after the accident", "admission_window", pt.p, pl.injuryMiss(pt, nil, s))

	pt = pl.plantAccident("主要", "驾驶人")
	s = pl.trauma(pt.p, pt.acc.date+1)
	pl.addTruth(m, NearMiss, "responsibility 主要 (main): no liable third party", "responsibility", pt.p, pl.injuryMiss(pt, nil, s))

	pt = pl.plantAccident("同等", "驾驶人")
	s = pl.trauma(pt.p, pt.acc.date+2)
	pl.addTruth(m, NearMiss, "responsibility 同等 (equal)", "responsibility", pt.p, pl.injuryMiss(pt, nil, s))

	pt = pl.plantAccident("无", "行人")
	s = pl.trauma(pt.p, pt.acc.date-1)
	pl.addTruth(m, NearMiss, "admitted the day before the accident", "admission_window", pt.p, pl.injuryMiss(pt, nil, s))

	pt = pl.plantAccident("无", "行人")
	total, fund = pl.inpatientCost()
	s = pl.newSettlement(pt.p, pt.acc.date+4, diagnosis{"J18.900", "肺炎"}, false, 7, total, fund)
	pl.addTruth(m, NearMiss, "not an injury: pneumonia (J18.900) with injury flag 否", "trauma", pt.p, pl.injuryMiss(pt, nil, s))

	pt = pl.plantAccident("次要", "非机动车驾驶人")
	s = pl.trauma(pt.p, pt.acc.date+2)
	s.fund = 0
	pl.addTruth(m, NearMiss, "no fund payment: settled as self-pay because a third party was liable", "fund_paid", pt.p, pl.injuryMiss(pt, nil, s))

	c = pl.plantCivil()
	s = pl.trauma(c.p, c.accDate+n+1)
	pl.addTruth(m, NearMiss, "court award of medical costs, admitted on day N+1 (31) after the injury", "admission_window", c.p, pl.injuryMiss(nil, c, s))
}

// plantPensioner plants a pensioner who dies on death and is paid from the
// first month of the window to month to.
func (pl *plan) plantPensioner(death day, to int) *person {
	p := pl.fresh(63, 92)
	pl.setPension(p)
	p.death = death
	pl.deaths = append(pl.deaths, &deathRec{p: p, death: death, cancel: min(pl.asOf, death+20+day(pl.r.IntN(180)))})
	pl.pensioners = append(pl.pensioners, &pensioner{p: p, from: pl.pensionFrom, to: to})
	return p
}

// monthDay returns a day of the window's w-th month (0-based).
func (pl *plan) monthDay(w, d int) day {
	mi := pl.pensionFrom + w
	if d > daysIn(mi/12, mi%12+1) {
		d = daysIn(mi/12, mi%12+1)
	}
	return dayOf(mi/12, mi%12+1, d)
}

func (pl *plan) pensionLead(p *person, from, to int) func(*TruthCase) {
	return func(tc *TruthCase) {
		tc.Evidence = []Evidence{deathEv(p)}
		var periods []string
		var total money
		for mi := from; mi <= to; mi++ {
			tc.Evidence = append(tc.Evidence, pensionEv(p, mi))
			periods = append(periods, monthString(mi))
			total += pl.pensionAmount(p, mi)
		}
		tc.Expected = map[string]any{"death_date": p.death.String(), "months": len(periods), "periods": periods, "total": total.String()}
	}
}

func (pl *plan) plantPension() {
	const m = ModelPensionAfterDeath
	r := pl.r
	w := 1 + r.IntN(8)
	d := pl.monthDay(w, 5+r.IntN(20))
	p := pl.plantPensioner(d, pl.pensionTo)
	pl.addTruth(m, Planted, "pension paid every month after death until the end of the data; the death was registered late", "", p, pl.pensionLead(p, d.month()+1, pl.pensionTo))

	w = 2 + r.IntN(8)
	d = pl.monthDay(w, 31)
	p = pl.plantPensioner(d, d.month()+1)
	pl.addTruth(m, Planted, "death on the last day of a month, paid one month more", "", p, pl.pensionLead(p, d.month()+1, d.month()+1))

	w = 1 + r.IntN(9)
	d = pl.monthDay(w, 1)
	p = pl.plantPensioner(d, pl.pensionTo)
	pl.addTruth(m, Planted, "death on the first of a month, paid to the end of the data", "", p, pl.pensionLead(p, d.month()+1, pl.pensionTo))

	w = 2 + r.IntN(8)
	d = pl.monthDay(w, 10+r.IntN(15))
	p = pl.plantPensioner(d, d.month())
	pl.addTruth(m, NearMiss, "pension paid for the month of death, none after", "period_after_death_month", p, evidence(lazy(deathEv, p), lazy2(pensionEv, p, p.death.month())))

	w = 2 + r.IntN(8)
	d = pl.monthDay(w, 31)
	p = pl.plantPensioner(d, d.month())
	pl.addTruth(m, NearMiss, "death on the last day of a month, paid for that month only", "period_after_death_month", p, evidence(lazy(deathEv, p), lazy2(pensionEv, p, p.death.month())))

	w = 2 + r.IntN(7)
	d = pl.monthDay(w, 3+r.IntN(20))
	p = pl.plantPensioner(d, d.month()-1)
	q := pl.namesake(p)
	q.pension = p.pension
	q.pensionE = p.pensionE
	pl.pensioners = append(pl.pensioners, &pensioner{p: q, from: pl.pensionFrom, to: pl.pensionTo})
	pl.addTruth(m, NearMiss, "a living pensioner with the same name and birth date as a deceased one (another ID number) is paid after that death", "same_person", q, evidence(lazy(deathEv, p), lazy2(pensionEv, q, p.death.month()+1)))
}

// plantDeath makes a fresh person who died on a day that leaves room for
// settlements before and after.
func (pl *plan) plantDeath() *person {
	p := pl.fresh(45, 90)
	p.death = pl.between(pl.start+60, pl.asOf-200)
	pl.deaths = append(pl.deaths, &deathRec{p: p, death: p.death, cancel: min(pl.asOf, p.death+3+day(pl.r.IntN(40)))})
	return p
}

func (pl *plan) illness(p *person, adm day, stay int) *settlement {
	total, fund := pl.inpatientCost()
	return pl.newSettlement(p, adm, illnesses[pl.r.IntN(len(illnesses)-1)], false, stay, total, fund)
}

func (pl *plan) claimsLead(p *person, ss []*settlement) func(*TruthCase) {
	return func(tc *TruthCase) {
		tc.Evidence = []Evidence{deathEv(p)}
		for _, s := range ss {
			tc.Evidence = append(tc.Evidence, settlementEv(s))
		}
		tc.Expected = map[string]any{"death_date": p.death.String(), "settlements": settlementNos(ss), "fund_paid_total": sumFund(ss).String()}
	}
}

func (pl *plan) plantClaims() {
	const m = ModelClaimsAfterDeath
	r := pl.r
	p := pl.plantDeath()
	a := pl.illness(p, p.death+20+day(r.IntN(60)), 5+r.IntN(8))
	b := pl.illness(p, a.adm+40+day(r.IntN(60)), 3+r.IntN(8))
	pl.addTruth(m, Planted, "two hospital stays settled under the ID of a person dead for weeks", "", p, pl.claimsLead(p, []*settlement{a, b}))

	p = pl.plantDeath()
	a = pl.illness(p, p.death+1, 4)
	pl.addTruth(m, Planted, "boundary: admitted the day after death", "", p, pl.claimsLead(p, []*settlement{a}))

	p = pl.plantDeath()
	pl.illness(p, p.death-60, 6) // lawful, before death
	a = pl.illness(p, p.death+60+day(r.IntN(60)), 6)
	pl.addTruth(m, Planted, "a lawful stay before death and one settled after it", "", p, pl.claimsLead(p, []*settlement{a}))

	p = pl.plantDeath()
	a = pl.illness(p, p.death, 0)
	pl.addTruth(m, NearMiss, "admitted on the day of death", "admission_after_death", p, evidence(lazy(deathEv, p), lazy(settlementEv, a)))

	p = pl.plantDeath()
	b = pl.illness(p, p.death-6, 6)
	pl.addTruth(m, NearMiss, "admitted six days before death, discharged on the day of death", "admission_after_death", p, evidence(lazy(deathEv, p), lazy(settlementEv, b)))

	p = pl.plantDeath()
	q := pl.namesake(p)
	c := pl.illness(q, p.death+30, 5)
	pl.addTruth(m, NearMiss, "a living person with the same name and birth date (another ID number) admitted after the death", "same_person", q, evidence(lazy(deathEv, p), lazy(settlementEv, c)))
}

// plantTransfer plans an inspection of a fresh responsible person
// transferred to the police on day t.
func (pl *plan) plantTransfer(t day) *inspection {
	p := pl.fresh(30, 62)
	in := pl.newInspection(p, t-25-day(pl.r.IntN(20)))
	in.transfer = t
	pl.linkTransfer(in, nil)
	return in
}

// policeRecord adds a case record for the wage case; byNumber says whether
// the police recorded the transfer number.
func (pl *plan) policeRecord(in *inspection, recv, filed day, byNumber bool, style int) *caseRec {
	c := &caseRec{recv: recv, filed: filed, ctype: "拒不支付劳动报酬", source: "行政执法机关移送", p: in.p, transferSty: style}
	c.decision = "立案侦查"
	if filed == none {
		c.decision = pl.pick([]string{"不予立案", "不予立案", "移送其他部门处理"})
	}
	pl.cases = append(pl.cases, c)
	if byNumber {
		pl.linkTransfer(in, c)
	}
	return c
}

func wageEv(in *inspection, recs ...*caseRec) func(*TruthCase) {
	return func(tc *TruthCase) {
		tc.Evidence = []Evidence{inspectionEv(in)}
		for _, c := range recs {
			tc.Evidence = append(tc.Evidence, caseEv(c))
		}
	}
}

func (pl *plan) wageLead(in *inspection, recs ...*caseRec) func(*TruthCase) {
	return func(tc *TruthCase) {
		wageEv(in, recs...)(tc)
		tc.Expected = map[string]any{
			"inspection_no": in.no, "transfer_date": in.transfer.String(), "transfer_no": in.transferNo,
			"days_since_transfer": int(pl.asOf - in.transfer),
		}
	}
}

func (pl *plan) plantWage() {
	const m, n = ModelWageTransferNotFiled, FilingWindowDays
	r := pl.r
	old := func() day { return pl.asOf - 60 - day(r.IntN(440)) }

	in := pl.plantTransfer(old())
	pl.addTruth(m, Planted, "transferred to the police, no case record at all", "", in.p, pl.wageLead(in))

	in = pl.plantTransfer(old())
	c := pl.policeRecord(in, in.transfer+2, none, true, r.IntN(4))
	pl.addTruth(m, Planted, "received under the transfer number, never filed (不予立案)", "", in.p, pl.wageLead(in, c))

	in = pl.plantTransfer(old())
	c = pl.policeRecord(in, in.transfer+3, in.transfer+n+1, true, r.IntN(4))
	pl.addTruth(m, Planted, "boundary: filed on day N+1 (31), too late", "", in.p, pl.wageLead(in, c))

	in = pl.plantTransfer(old())
	c = pl.policeRecord(in, in.transfer+3, none, false, 0)
	pl.addTruth(m, Planted, "received without the transfer number (matched by the responsible person), never filed", "", in.p, pl.wageLead(in, c))

	in = pl.plantTransfer(old() - 30)
	c = &caseRec{recv: in.transfer - 200, filed: in.transfer - 195, decision: "立案侦查", ctype: "诈骗", source: "群众报案", p: in.p}
	pl.cases = append(pl.cases, c)
	pl.addTruth(m, Planted, "the responsible person's only case record was received and filed before the transfer, so it does not count", "", in.p, pl.wageLead(in, c))

	in = pl.plantTransfer(old())
	c = pl.policeRecord(in, in.transfer+2, in.transfer+n, true, r.IntN(4))
	pl.addTruth(m, NearMiss, "filed on day N (30)", "not_filed_within_window", in.p, wageEv(in, c))

	in = pl.plantTransfer(old())
	c = pl.policeRecord(in, in.transfer+1, in.transfer+6, false, 0)
	pl.addTruth(m, NearMiss, "filed on day 6, recorded without the transfer number (matched by the responsible person)", "not_filed_within_window", in.p, wageEv(in, c))

	in = pl.plantTransfer(pl.asOf - 10)
	pl.addTruth(m, NearMiss, "transferred 10 days before the as-of date: the window has not passed", "window_elapsed", in.p, wageEv(in))

	in = pl.plantTransfer(old())
	c = pl.policeRecord(in, in.transfer, in.transfer+3, true, styleFullWidth)
	pl.addTruth(m, NearMiss, "filed on day 3 under the transfer number written with other brackets and full-width digits", "not_filed_within_window", in.p, wageEv(in, c))
}

// plantEnforcement plans a case closed by 执行和解 due on due.
func (pl *plan) plantEnforcement(due day, person bool, performedPct int) *enforcement {
	closed := due - 30 - day(pl.r.IntN(170))
	e := &enforcement{applicant: pl.applicant(), filed: closed - 20 - day(pl.r.IntN(150)), closed: closed, method: "执行和解", due: due, resumedOn: none}
	if person {
		p := pl.fresh(25, 65)
		e.respondent, e.respID = p.name, p.id
		e.amount = pl.yuan(3000, 60000, true)
	} else {
		e.respondent, e.respID = pl.company()
		e.amount = pl.yuan(20000, 400000, true)
	}
	e.performed = e.amount * money(performedPct) / 100
	pl.enforcements = append(pl.enforcements, e)
	return e
}

func (pl *plan) settlementLead(e *enforcement) func(*TruthCase) {
	return func(tc *TruthCase) {
		tc.Evidence = []Evidence{enforcementEv(e)}
		tc.Expected = map[string]any{
			"case_no": e.caseNo, "amount": e.amount.String(), "performed_amount": e.performed.String(),
			"outstanding": (e.amount - e.performed).String(), "due_date": e.due.String(),
			"days_overdue": int(pl.asOf - e.due), "resume_deadline": e.due.addYears(2).String(),
		}
	}
}

func (pl *plan) truthFor(e *enforcement) *person {
	return &person{id: e.respID, name: e.respondent}
}

func (pl *plan) plantSettlement() {
	const m = ModelSettlementUnperformed
	r := pl.r
	e := pl.plantEnforcement(pl.asOf-30-day(r.IntN(600)), false, 10+r.IntN(50))
	pl.addTruth(m, Planted, "company: settlement due months ago, partly performed, not resumed", "", pl.truthFor(e), pl.settlementLead(e))

	e = pl.plantEnforcement(pl.asOf-30-day(r.IntN(600)), true, 0)
	pl.addTruth(m, Planted, "person: nothing performed after the settlement", "", pl.truthFor(e), pl.settlementLead(e))

	e = pl.plantEnforcement(pl.asOf-1, r.IntN(2) == 0, 20+r.IntN(60))
	pl.addTruth(m, Planted, "boundary: settlement due yesterday, partly performed", "", pl.truthFor(e), pl.settlementLead(e))

	ev := func(e *enforcement) func(*TruthCase) {
		return func(tc *TruthCase) { tc.Evidence = []Evidence{enforcementEv(e)} }
	}
	e = pl.plantEnforcement(pl.asOf+1, r.IntN(2) == 0, 10+r.IntN(60))
	pl.addTruth(m, NearMiss, "settlement due tomorrow", "due_date_passed", pl.truthFor(e), ev(e))

	e = pl.plantEnforcement(pl.asOf-20-day(r.IntN(300)), r.IntN(2) == 0, 100)
	pl.addTruth(m, NearMiss, "fully performed", "performed_below_amount", pl.truthFor(e), ev(e))

	e = pl.plantEnforcement(pl.asOf-120-day(r.IntN(300)), r.IntN(2) == 0, 10+r.IntN(50))
	e.resumedOn, e.resumed = e.due+20+day(r.IntN(60)), "pending"
	pl.addTruth(m, NearMiss, "not performed, but enforcement was resumed (执恢)", "not_resumed", pl.truthFor(e), ev(e))
}

// plantProbation1 plans a judgment with probation for a fresh person: months
// of probation from the effective date, which falls on a day of the month
// no later than the 28th (so that adding months is the same everywhere).
func (pl *plan) plantProbation1(p *person) (*judgment, day) {
	r := pl.r
	months := []int{12, 18, 24, 6, 4}[r.IntN(5)]
	eff := pl.between(pl.start+100, pl.asOf.addMonths(-months)-10)
	if _, _, d := eff.date(); d > 28 {
		eff -= day(d - 28)
	}
	j := &judgment{p: p, jdate: eff - 11 - day(r.IntN(10)), eff: eff, probation: true, months: months}
	if months < 12 {
		j.charge, j.sentence = "危险驾驶罪", "拘役"
	} else {
		j.charge, j.sentence = pl.pick([]string{"盗窃罪", "诈骗罪", "帮助信息网络犯罪活动罪", "拒不支付劳动报酬罪", "故意伤害罪"}), "有期徒刑"
	}
	pl.judgments = append(pl.judgments, j)
	return j, eff.addMonths(months) - 1
}

func (pl *plan) probationLead(j *judgment, end day, d *detention) func(*TruthCase) {
	return func(tc *TruthCase) {
		tc.Evidence = []Evidence{judgmentEv(j), detentionEv(d)}
		tc.Expected = map[string]any{
			"case_no": j.caseNo, "probation_months": j.months, "probation_start": j.eff.String(),
			"probation_end": end.String(), "detention_start": d.start.String(),
		}
	}
}

func (pl *plan) plantProbation() {
	const m = ModelProbationDetained
	r := pl.r
	kan, ju := pl.home.name+"看守所", pl.home.name+"拘留所"

	j, end := pl.plantProbation1(pl.fresh(20, 60))
	pl.addDetention(j.p, j.jdate-80, j.jdate-50, "刑事拘留", kan) // before the judgment: lawful
	s := pl.between(j.eff+20, end-10)
	d := pl.addDetention(j.p, s, s+10+day(r.IntN(20)), "刑事拘留", kan)
	pl.addTruth(m, Planted, "detained for a new offence during probation", "", j.p, pl.probationLead(j, end, d))

	j, end = pl.plantProbation1(pl.fresh(20, 60))
	d = pl.addDetention(j.p, end, end+10, "行政拘留", ju)
	pl.addTruth(m, Planted, "boundary: detained on the last day of probation", "", j.p, pl.probationLead(j, end, d))

	j, end = pl.plantProbation1(pl.fresh(20, 60))
	d = pl.addDetention(j.p, j.eff, j.eff+5, "司法拘留", ju)
	pl.addTruth(m, Planted, "boundary: detained on the day the judgment took effect", "", j.p, pl.probationLead(j, end, d))

	j, end = pl.plantProbation1(pl.fresh(20, 60))
	d = pl.addDetention(j.p, end+1, end+12, "行政拘留", ju)
	pl.addTruth(m, NearMiss, "detained the day after probation ended", "detention_before_end", j.p, evidence(lazy(judgmentEv, j), lazy(detentionEv, d)))

	j, _ = pl.plantProbation1(pl.fresh(20, 60))
	d = pl.addDetention(j.p, j.jdate-60, j.jdate-30, "刑事拘留", kan)
	pl.addTruth(m, NearMiss, "pre-trial detention, released before the judgment took effect", "detention_after_start", j.p, evidence(lazy(judgmentEv, j), lazy(detentionEv, d)))

	j, end = pl.plantProbation1(pl.fresh(20, 60))
	q := pl.namesake(j.p)
	s = pl.between(j.eff+20, end-10)
	d = pl.addDetention(q, s, s+7, "行政拘留", ju)
	pl.addTruth(m, NearMiss, "a person with the same name and birth date (another ID number) detained during the probation", "same_person", q, evidence(lazy(judgmentEv, j), lazy(detentionEv, d)))
}
