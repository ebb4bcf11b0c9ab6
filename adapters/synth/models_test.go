package synth

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/qiao-exchange/qiao/schema"
)

// This file restates the six models of DESIGN.md in Go, over the data read
// back, to check the ground truth. It is the test's own reading of the
// rules, written from DESIGN.md and docs/synth.md, not the models' SQL.

func parseDay(t *testing.T, s string) day {
	t.Helper()
	if s == "" {
		return none
	}
	var y, m, d int
	if _, err := fmt.Sscanf(s, "%d-%d-%d", &y, &m, &d); err != nil {
		t.Fatalf("date %q: %v", s, err)
	}
	return dayOf(y, m, d)
}

func parseMonth(t *testing.T, s string) int {
	t.Helper()
	var y, m int
	if _, err := fmt.Sscanf(s, "%d-%d", &y, &m); err != nil {
		t.Fatalf("month %q: %v", s, err)
	}
	return y*12 + m - 1
}

func fen(t *testing.T, s string) money {
	t.Helper()
	if s == "" {
		return 0
	}
	m, err := schema.ParseMoney(s)
	if err != nil {
		t.Fatal(err)
	}
	return money(m)
}

// lead is what a model reports: a key and the values it carries.
type lead struct {
	key    string
	values map[string]string
}

type models struct {
	t    *testing.T
	d    data
	asOf day
}

func (m models) byID(ds, field string) map[string][]map[string]string {
	out := map[string][]map[string]string{}
	for _, r := range m.d[ds] {
		out[r[field]] = append(out[r[field]], r)
	}
	return out
}

func isTrauma(s map[string]string) bool {
	c := s["diagnosis_code"]
	return strings.HasPrefix(c, "S") || strings.HasPrefix(c, "T") || s["injury"] == "true"
}

// injury: medins.third_party_injury.
func (m models) injury() map[string]lead {
	t := m.t
	settlements := m.byID("medins.settlements", "id_number")
	type incident struct {
		id   string
		date day
	}
	var incidents []incident
	for _, a := range m.d["police.traffic_accidents"] {
		if a["responsibility"] == "次要" || a["responsibility"] == "无" {
			incidents = append(incidents, incident{a["id_number"], parseDay(t, a["accident_date"])})
		}
	}
	for _, c := range m.d["court.civil_compensations"] {
		if c["accident_date"] != "" && fen(t, c["medical_costs_awarded"]) > 0 {
			incidents = append(incidents, incident{c["plaintiff_id_number"], parseDay(t, c["accident_date"])})
		}
	}
	out := map[string]lead{}
	for _, in := range incidents {
		var nos []string
		var total money
		for _, s := range settlements[in.id] {
			adm := parseDay(t, s["admission_date"])
			if isTrauma(s) && fen(t, s["fund_paid"]) > 0 && adm >= in.date && adm-in.date <= InjuryWindowDays {
				nos = append(nos, s["settlement_no"])
				total += fen(t, s["fund_paid"])
			}
		}
		if len(nos) > 0 {
			slices.Sort(nos)
			k := in.id + "|" + in.date.String()
			out[k] = lead{k, map[string]string{"settlements": strings.Join(nos, ","), "fund_paid_total": total.String()}}
		}
	}
	return out
}

func (m models) deathDays() map[string]day {
	out := map[string]day{}
	for _, r := range m.d["police.deaths"] {
		out[r["id_number"]] = parseDay(m.t, r["death_date"])
	}
	return out
}

// pension: hrss.pension_after_death.
func (m models) pension() map[string]lead {
	deaths := m.deathDays()
	type acc struct {
		periods []string
		total   money
	}
	found := map[string]*acc{}
	for _, p := range m.d["hrss.pension_payments"] {
		d, ok := deaths[p["id_number"]]
		if !ok || parseMonth(m.t, p["period"]) <= d.month() {
			continue
		}
		a := found[p["id_number"]]
		if a == nil {
			a = &acc{}
			found[p["id_number"]] = a
		}
		a.periods = append(a.periods, p["period"])
		a.total += fen(m.t, p["amount"])
	}
	out := map[string]lead{}
	for id, a := range found {
		slices.Sort(a.periods)
		out[id] = lead{id, map[string]string{"months": strconv.Itoa(len(a.periods)), "periods": strings.Join(a.periods, ","), "total": a.total.String()}}
	}
	return out
}

// claims: medins.claims_after_death.
func (m models) claims() map[string]lead {
	deaths := m.deathDays()
	nos := map[string][]string{}
	totals := map[string]money{}
	for _, s := range m.d["medins.settlements"] {
		d, ok := deaths[s["id_number"]]
		if !ok || parseDay(m.t, s["admission_date"]) <= d {
			continue
		}
		nos[s["id_number"]] = append(nos[s["id_number"]], s["settlement_no"])
		totals[s["id_number"]] += fen(m.t, s["fund_paid"])
	}
	out := map[string]lead{}
	for id, n := range nos {
		slices.Sort(n)
		out[id] = lead{id, map[string]string{"settlements": strings.Join(n, ","), "fund_paid_total": totals[id].String()}}
	}
	return out
}

// wageRecords returns the case records matched to a transferred inspection:
// by transfer number, else by the responsible person with a receipt on or
// after the transfer.
func (m models) wageRecords(in map[string]string) []map[string]string {
	t := m.t
	var byNo, byPerson []map[string]string
	tr := parseDay(t, in["transfer_date"])
	for _, c := range m.d["police.case_records"] {
		if in["transfer_no"] != "" && c["transfer_no"] == in["transfer_no"] {
			byNo = append(byNo, c)
		} else if in["responsible_id_number"] != "" && c["suspect_id_number"] == in["responsible_id_number"] && parseDay(t, c["received_date"]) >= tr {
			byPerson = append(byPerson, c)
		}
	}
	if len(byNo) > 0 {
		return byNo
	}
	return byPerson
}

func (m models) wageConditions(in map[string]string) map[string]bool {
	t := m.t
	tr := parseDay(t, in["transfer_date"])
	filed := false
	for _, c := range m.wageRecords(in) {
		if f := parseDay(t, c["filed_date"]); f != none && f-tr <= FilingWindowDays {
			filed = true
		}
	}
	return map[string]bool{
		"transferred":             tr != none,
		"window_elapsed":          tr != none && m.asOf-tr > FilingWindowDays,
		"not_filed_within_window": !filed,
	}
}

// wage: police.wage_transfer_not_filed.
func (m models) wage() map[string]lead {
	out := map[string]lead{}
	for _, in := range m.d["hrss.labor_inspections"] {
		if in["transfer_date"] == "" {
			continue
		}
		if allTrue(m.wageConditions(in)) {
			k := in["inspection_no"]
			out[k] = lead{k, map[string]string{"transfer_date": in["transfer_date"], "transfer_no": in["transfer_no"],
				"days_since_transfer": strconv.Itoa(int(m.asOf - parseDay(m.t, in["transfer_date"])))}}
		}
	}
	return out
}

func allTrue(c map[string]bool) bool {
	for _, ok := range c {
		if !ok {
			return false
		}
	}
	return true
}

func failed(c map[string]bool) []string {
	var out []string
	for k, ok := range c {
		if !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func (m models) settlementConditions(e map[string]string) map[string]bool {
	t := m.t
	due := parseDay(t, e["settlement_due_date"])
	return map[string]bool{
		"settled":                e["closing_method"] == "执行和解",
		"due_date_passed":        due != none && due < m.asOf,
		"performed_below_amount": fen(t, e["performed_amount"]) < fen(t, e["amount"]),
		"not_resumed":            e["resumed_case_no"] == "",
	}
}

// settlement: court.settlement_unperformed.
func (m models) settlement() map[string]lead {
	t := m.t
	out := map[string]lead{}
	for _, e := range m.d["court.enforcement_cases"] {
		if !allTrue(m.settlementConditions(e)) {
			continue
		}
		due := parseDay(t, e["settlement_due_date"])
		k := e["case_no"]
		out[k] = lead{k, map[string]string{
			"outstanding":     (fen(t, e["amount"]) - fen(t, e["performed_amount"])).String(),
			"days_overdue":    strconv.Itoa(int(m.asOf - due)),
			"resume_deadline": due.addYears(2).String(),
		}}
	}
	return out
}

// probationPeriod returns the first and last day of a judgment's
// probation, or ok false.
func (m models) probationPeriod(j map[string]string) (start, end day, ok bool) {
	if j["probation"] != "true" || j["effective_date"] == "" || j["probation_months"] == "" {
		return 0, 0, false
	}
	n, err := strconv.Atoi(j["probation_months"])
	if err != nil {
		m.t.Fatal(err)
	}
	start = parseDay(m.t, j["effective_date"])
	return start, start.addMonths(n) - 1, true
}

func (m models) probationConditions(j, d map[string]string) map[string]bool {
	start, end, ok := m.probationPeriod(j)
	s := parseDay(m.t, d["start_date"])
	return map[string]bool{
		"probation":             ok,
		"same_person":           j["defendant_id_number"] == d["id_number"],
		"detention_after_start": ok && s >= start,
		"detention_before_end":  ok && s <= end,
	}
}

// probation: court.probation_detained.
func (m models) probation() map[string]lead {
	detentions := m.byID("police.detentions", "id_number")
	out := map[string]lead{}
	for _, j := range m.d["court.criminal_judgments"] {
		for _, d := range detentions[j["defendant_id_number"]] {
			if allTrue(m.probationConditions(j, d)) {
				k := d["id_number"] + "|" + d["start_date"]
				_, end, _ := m.probationPeriod(j)
				out[k] = lead{k, map[string]string{"case_no": j["case_no"], "probation_end": end.String()}}
			}
		}
	}
	return out
}

// find returns the record of an evidence item.
func (m models) find(ev Evidence) map[string]string {
	m.t.Helper()
	for _, r := range m.d[ev.Dataset] {
		match := true
		for k, v := range ev.Key {
			if r[k] != v {
				match = false
				break
			}
		}
		if match {
			return r
		}
	}
	m.t.Fatalf("evidence %s %v is not in the data", ev.Dataset, ev.Key)
	return nil
}

// conditions evaluates a near-miss's conditions from its evidence.
func (m models) conditions(tc TruthCase) map[string]bool {
	t := m.t
	e := make([]map[string]string, len(tc.Evidence))
	for i, ev := range tc.Evidence {
		e[i] = m.find(ev)
	}
	switch tc.Model {
	case ModelThirdPartyInjury:
		inc, s := e[0], e[1]
		var id string
		var date day
		var qualifies bool
		if tc.Evidence[0].Dataset == "police.traffic_accidents" {
			id, date = inc["id_number"], parseDay(t, inc["accident_date"])
			qualifies = inc["responsibility"] == "次要" || inc["responsibility"] == "无"
		} else {
			id, date = inc["plaintiff_id_number"], parseDay(t, inc["accident_date"])
			qualifies = fen(t, inc["medical_costs_awarded"]) > 0
		}
		adm := parseDay(t, s["admission_date"])
		return map[string]bool{
			"same_person":      s["id_number"] == id,
			"responsibility":   qualifies,
			"trauma":           isTrauma(s),
			"fund_paid":        fen(t, s["fund_paid"]) > 0,
			"admission_window": adm >= date && adm-date <= InjuryWindowDays,
		}
	case ModelPensionAfterDeath:
		d, p := e[0], e[1]
		return map[string]bool{
			"same_person":              d["id_number"] == p["id_number"],
			"period_after_death_month": parseMonth(t, p["period"]) > parseDay(t, d["death_date"]).month(),
		}
	case ModelClaimsAfterDeath:
		d, s := e[0], e[1]
		return map[string]bool{
			"same_person":           d["id_number"] == s["id_number"],
			"admission_after_death": parseDay(t, s["admission_date"]) > parseDay(t, d["death_date"]),
		}
	case ModelWageTransferNotFiled:
		return m.wageConditions(e[0])
	case ModelSettlementUnperformed:
		return m.settlementConditions(e[0])
	case ModelProbationDetained:
		return m.probationConditions(e[0], e[1])
	}
	t.Fatalf("unknown model %q", tc.Model)
	return nil
}

// plantedKey is the lead key a planted case must produce.
func plantedKey(tc TruthCase) string {
	switch tc.Model {
	case ModelThirdPartyInjury:
		return tc.IDNumber + "|" + tc.Expected["incident_date"].(string)
	case ModelWageTransferNotFiled:
		return tc.Expected["inspection_no"].(string)
	case ModelSettlementUnperformed:
		return tc.Expected["case_no"].(string)
	case ModelProbationDetained:
		return tc.IDNumber + "|" + tc.Expected["detention_start"].(string)
	}
	return tc.IDNumber
}

func expect(v any) string {
	switch x := v.(type) {
	case []any:
		s := make([]string, len(x))
		for i, e := range x {
			s[i] = fmt.Sprint(e)
		}
		slices.Sort(s)
		return strings.Join(s, ",")
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func checkTruth(t *testing.T, d data, truth []TruthCase, asOf day) {
	m := models{t: t, d: d, asOf: asOf}
	found := map[string]map[string]lead{
		ModelThirdPartyInjury:      m.injury(),
		ModelPensionAfterDeath:     m.pension(),
		ModelClaimsAfterDeath:      m.claims(),
		ModelWageTransferNotFiled:  m.wage(),
		ModelSettlementUnperformed: m.settlement(),
		ModelProbationDetained:     m.probation(),
	}
	want := map[string]map[string]TruthCase{}
	for model := range found {
		want[model] = map[string]TruthCase{}
	}
	for _, tc := range truth {
		if _, ok := found[tc.Model]; !ok {
			t.Errorf("truth names unknown model %q", tc.Model)
			continue
		}
		for _, ev := range tc.Evidence {
			m.find(ev)
		}
		switch tc.Kind {
		case Planted:
			if tc.Missed != "" || len(tc.Expected) == 0 {
				t.Errorf("%s planted %q: missed %q, expected %v", tc.Model, tc.Case, tc.Missed, tc.Expected)
			}
			want[tc.Model][plantedKey(tc)] = tc
		case NearMiss:
			if tc.Missed == "" {
				t.Errorf("%s near-miss %q names no missed condition", tc.Model, tc.Case)
			}
			if got := failed(m.conditions(tc)); !slices.Equal(got, []string{tc.Missed}) {
				t.Errorf("%s near-miss %q fails %v, want exactly [%s]", tc.Model, tc.Case, got, tc.Missed)
			}
		default:
			t.Errorf("kind %q", tc.Kind)
		}
	}
	for model, leads := range found {
		for k, l := range leads {
			tc, ok := want[model][k]
			if !ok {
				t.Errorf("%s matches %s, which is not planted", model, k)
				continue
			}
			for field, v := range l.values {
				if e, ok := tc.Expected[field]; ok && expect(e) != v {
					t.Errorf("%s %q: %s = %s, truth says %s", model, tc.Case, field, v, expect(e))
				}
			}
		}
		for k, tc := range want[model] {
			if _, ok := leads[k]; !ok {
				t.Errorf("%s planted %q (%s) does not match", model, tc.Case, k)
			}
		}
		t.Logf("%s: %d leads, all planted", model, len(leads))
	}
}
