package models_test

import (
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/qiao-exchange/qiao/crypto/sm3"
	"github.com/qiao-exchange/qiao/leads/models"
)

func TestLoad(t *testing.T) {
	ms, err := models.Load()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"court.probation_detained", "court.settlement_unperformed", "hrss.pension_after_death",
		"medins.claims_after_death", "medins.third_party_injury", "police.wage_transfer_not_filed",
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.ID)
		if m.Version < 1 || m.TitleZh == "" || m.TitleEn == "" || m.RuleZh == "" || m.RuleEn == "" ||
			len(m.LegalBasis) == 0 || len(m.Datasets) == 0 || len(m.Lead.Values) == 0 {
			t.Errorf("%s: incomplete metadata %+v", m.ID, m)
		}
		owner, _, _ := strings.Cut(m.ID, ".")
		if !slices.ContainsFunc(m.Datasets, func(d string) bool { return strings.HasPrefix(d, owner+".") }) {
			t.Errorf("%s reads no dataset of its owner: %v", m.ID, m.Datasets)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("models %v, want %v", got, want)
	}
	if _, err := models.Get("no.such_model"); err == nil {
		t.Error("Get of an unknown model succeeded")
	}
	m, _ := models.Get("medins.third_party_injury")
	if p, ok := m.Param("window_days"); !ok || p.Default != 30 {
		t.Errorf("window_days = %+v, %v", p, ok)
	}
}

func TestParse(t *testing.T) {
	good := `id: a.b
version: 1
title_zh: 甲
title_en: A
legal_basis: [x]
datasets: [a.c]
params:
  - {name: n, default: 3, min: 0, max: 9}
lead:
  title_zh: "{{.v}}"
  title_en: "{{.v}}"
  values: [{name: v}]
`
	const q = "SELECT 1 WHERE 1 < $n"
	if _, err := models.Parse([]byte(good), q); err != nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct{ meta, sql string }{
		"unknown field":         {good + "extra: 1\n", q},
		"parameter not used":    {good, "SELECT 1"},
		"default out of range":  {strings.Replace(good, "default: 3", "default: 10", 1), q},
		"title names no value":  {strings.Replace(good, `title_en: "{{.v}}"`, `title_en: "{{.w}}"`, 1), q},
		"title does not parse":  {strings.Replace(good, `title_en: "{{.v}}"`, `title_en: "{{.v"`, 1), q},
		"reserved value name":   {strings.Replace(good, "values: [{name: v}]", "values: [{name: v}, {name: subject}]", 1), q},
		"no version":            {strings.Replace(good, "version: 1", "version: 0", 1), q},
		"no legal basis":        {strings.Replace(good, "legal_basis: [x]", "legal_basis: []", 1), q},
		"id without owner":      {strings.Replace(good, "id: a.b", "id: ab", 1), q},
		"empty SQL":             {good, " "},
		"parameter named as_of": {strings.Replace(good, "name: n,", "name: as_of,", 1), "SELECT $as_of"},
	} {
		if _, err := models.Parse([]byte(tt.meta), tt.sql); err == nil {
			t.Errorf("%s: Parse succeeded", name)
		}
	}
}

// TestLeadID restates the documented encoding and checks that the ID
// depends on the evidence keys only: not on their order, batch or row.
func TestLeadID(t *testing.T) {
	str := func(b []byte, s string) []byte {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		return append(b, s...)
	}
	a := models.Evidence{Dataset: "police.deaths", Key: map[string]string{"id_number": "ab12"}, Principal: "police.411528", Batch: "b1", Row: 7}
	b := models.Evidence{Dataset: "hrss.pension_payments", Key: map[string]string{"period": "2026-09", "id_number": "ab12"}, Principal: "hrss.411528", Batch: "b2", Row: 3}

	var recA, recB []byte
	recA = str(recA, "police.deaths")
	recA = binary.BigEndian.AppendUint32(recA, 1)
	recA = str(str(recA, "id_number"), "ab12")
	recB = str(recB, "hrss.pension_payments")
	recB = binary.BigEndian.AppendUint32(recB, 2)
	recB = str(str(recB, "id_number"), "ab12")
	recB = str(str(recB, "period"), "2026-09")
	var in []byte
	in = str(in, "qiao/lead/v1")
	in = str(in, "hrss.pension_after_death")
	in = str(in, "1")
	in = binary.BigEndian.AppendUint32(in, 2)
	recs := [][]byte{recA, recB}
	slices.SortFunc(recs, func(x, y []byte) int { return strings.Compare(string(x), string(y)) })
	for _, r := range recs {
		in = append(in, r...)
	}
	sum := sm3.Sum(in)
	want := hex.EncodeToString(sum[:])

	if got := models.LeadID("hrss.pension_after_death", 1, []models.Evidence{a, b}); got != want {
		t.Errorf("LeadID = %s, want %s", got, want)
	}
	moved := a
	moved.Batch, moved.Row, moved.Principal = "b9", 99, "police.411500"
	for name, ev := range map[string][]models.Evidence{
		"reordered":      {b, a},
		"other batch":    {moved, b},
		"repeated":       {a, b, a},
		"repeated moved": {a, b, moved},
	} {
		if got := models.LeadID("hrss.pension_after_death", 1, ev); got != want {
			t.Errorf("%s: LeadID = %s, want %s", name, got, want)
		}
	}
	c := b
	c.Key = map[string]string{"period": "2026-10", "id_number": "ab12"}
	for name, got := range map[string]string{
		"other model":   models.LeadID("medins.claims_after_death", 1, []models.Evidence{a, b}),
		"other version": models.LeadID("hrss.pension_after_death", 2, []models.Evidence{a, b}),
		"other key":     models.LeadID("hrss.pension_after_death", 1, []models.Evidence{a, c}),
		"more evidence": models.LeadID("hrss.pension_after_death", 1, []models.Evidence{a, b, c}),
	} {
		if got == want {
			t.Errorf("%s: same ID", name)
		}
	}
	if len(want) != 64 || strings.ToLower(want) != want {
		t.Errorf("ID %q is not 64 lower-case hex digits", want)
	}
}

func TestMissingGrants(t *testing.T) {
	m, err := models.Get("medins.third_party_injury")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.MissingGrants([]string{"medins.settlements", "police.traffic_accidents", "court.civil_compensations"}); len(got) != 0 {
		t.Errorf("all granted: missing %v", got)
	}
	if got := m.MissingGrants([]string{"medins.settlements"}); !slices.Equal(got, []string{"police.traffic_accidents", "court.civil_compensations"}) {
		t.Errorf("missing %v", got)
	}
}
