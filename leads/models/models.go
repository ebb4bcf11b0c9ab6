// Package models holds Qiao's built-in supervision models (大数据法律监督模型)
// and runs them: each model is one SQL statement over the warehouse's
// model views plus metadata — ID, version, titles, legal basis, the
// datasets it reads, its parameters and how a result row becomes a lead
// (线索). The runner executes a model's SQL through a Querier (the DuckDB
// warehouse), on identifier tokens only, and turns every result row into a
// Lead with a content-derived ID, so that a rerun never duplicates a lead.
//
// It does not store leads, forward them, or decide whether a model may read
// a dataset: the lead store, the forwarder and the policy check of a
// model's grant are the caller's.
//
// # Result rows
//
// A model's SQL returns one row per lead, with these columns:
//
//	subject   VARCHAR   the token of the person or organisation the lead is about
//	evidence  LIST(STRUCT(dataset VARCHAR, principal VARCHAR, batch_id VARCHAR,
//	               row_no INTEGER, key MAP(VARCHAR, VARCHAR)))
//	          the records the lead rests on: dataset, batch, row number and
//	          record key (personal-data key fields as tokens)
//	priority  INTEGER   1 (normal) to 4 (most urgent)
//	…         every other column is a value of the lead, named by the column;
//	          NULL becomes "".
//
// The SQL reads the as-of date as $as_of (a 'YYYY-MM-DD' string; cast it
// with CAST($as_of AS DATE)) and each parameter as $<name>.
package models

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"text/template"

	"gopkg.in/yaml.v3"
)

//go:embed defs/*.yaml defs/*.sql
var defs embed.FS

// ErrParam is wrapped by Run's errors about parameters: an unknown name, a
// value of the wrong type or out of range. Fix the parameters and run again.
var ErrParam = errors.New("models: invalid parameter")

// ErrResult is wrapped by Run's errors about a result row that does not
// follow the contract of a model's SQL (a missing or mistyped column). It
// is a bug in the model, not in the data.
var ErrResult = errors.New("models: malformed result row")

// Model is one supervision model: SQL plus metadata.
type Model struct {
	// ID names the model, "<owner>.<name>", e.g. hrss.pension_after_death.
	ID string `yaml:"id"`
	// Version rises with every change of the SQL or of how leads are
	// made; it is part of the lead ID.
	Version int `yaml:"version"`
	// TitleZh and TitleEn name the model.
	TitleZh string `yaml:"title_zh"`
	TitleEn string `yaml:"title_en"`
	// RuleZh and RuleEn state the rule in words.
	RuleZh string `yaml:"rule_zh"`
	RuleEn string `yaml:"rule_en"`
	// LegalBasis lists the provisions the model rests on (法律依据).
	LegalBasis []string `yaml:"legal_basis"`
	// Datasets are the datasets the SQL reads; a run needs a grant for
	// each of them.
	Datasets []string `yaml:"datasets"`
	// Params are the model's parameters with their defaults.
	Params []Param `yaml:"params"`
	// Lead says how a result row becomes a lead.
	Lead LeadSpec `yaml:"lead"`
	// SQL is the statement run in the warehouse.
	SQL string `yaml:"-"`

	titleZh, titleEn *template.Template
}

// Param is an integer parameter of a model.
type Param struct {
	// Name is how the SQL refers to it: $<name>.
	Name string `yaml:"name"`
	// Default is used when a run does not set the parameter.
	Default int64 `yaml:"default"`
	// Min and Max bound the values a run may set.
	Min int64 `yaml:"min"`
	Max int64 `yaml:"max"`
	// DescriptionZh and DescriptionEn say what it means.
	DescriptionZh string `yaml:"description_zh"`
	DescriptionEn string `yaml:"description_en"`
}

// LeadSpec says how a result row becomes a lead.
type LeadSpec struct {
	// TitleZh and TitleEn are text/template templates over the lead's
	// values, e.g. "死亡（{{.death_date}}）后仍发放养老金{{.months}}个月".
	TitleZh string `yaml:"title_zh"`
	TitleEn string `yaml:"title_en"`
	// Values are the values a lead carries, in display order; the SQL
	// returns a column for each.
	Values []Value `yaml:"values"`
}

// Value is one value a lead carries.
type Value struct {
	Name string `yaml:"name"`
	Zh   string `yaml:"zh"`
	En   string `yaml:"en"`
}

// Load returns the built-in models, sorted by ID, checked.
func Load() ([]*Model, error) {
	names, err := defs.ReadDir("defs")
	if err != nil {
		return nil, err
	}
	var out []*Model
	for _, e := range names {
		if path.Ext(e.Name()) != ".yaml" {
			continue
		}
		meta, err := defs.ReadFile("defs/" + e.Name())
		if err != nil {
			return nil, err
		}
		base := strings.TrimSuffix(e.Name(), ".yaml")
		query, err := defs.ReadFile("defs/" + base + ".sql")
		if err != nil {
			return nil, fmt.Errorf("models: %s: %w", base, err)
		}
		m, err := Parse(meta, string(query))
		if err != nil {
			return nil, fmt.Errorf("models: %s: %w", e.Name(), err)
		}
		if m.ID != base {
			return nil, fmt.Errorf("models: %s holds model %q", e.Name(), m.ID)
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *Model) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Get returns the built-in model called id, or an error.
func Get(id string) (*Model, error) {
	ms, err := Load()
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if m.ID == id {
			return m, nil
		}
	}
	return nil, fmt.Errorf("models: unknown model %q", id)
}

// Parse builds a model from its YAML metadata and its SQL, and checks it:
// required fields, parameter defaults within bounds, templates that parse
// and name only declared values, and SQL that uses every parameter.
func Parse(meta []byte, query string) (*Model, error) {
	var m Model
	dec := yaml.NewDecoder(bytes.NewReader(meta))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	m.SQL = query
	switch {
	case m.ID == "" || !strings.Contains(m.ID, "."):
		return nil, fmt.Errorf("id %q is not <owner>.<name>", m.ID)
	case m.Version < 1:
		return nil, errors.New("version must be at least 1")
	case m.TitleZh == "" || m.TitleEn == "":
		return nil, errors.New("title_zh and title_en are required")
	case len(m.LegalBasis) == 0:
		return nil, errors.New("legal_basis is required")
	case len(m.Datasets) == 0:
		return nil, errors.New("datasets is required")
	case strings.TrimSpace(query) == "":
		return nil, errors.New("SQL is empty")
	}
	seen := map[string]bool{"as_of": true}
	for _, p := range m.Params {
		if p.Name == "" || seen[p.Name] {
			return nil, fmt.Errorf("parameter %q is empty or repeated", p.Name)
		}
		seen[p.Name] = true
		if p.Min > p.Max || p.Default < p.Min || p.Default > p.Max {
			return nil, fmt.Errorf("parameter %s: default %d outside [%d, %d]", p.Name, p.Default, p.Min, p.Max)
		}
		if !strings.Contains(query, "$"+p.Name) {
			return nil, fmt.Errorf("parameter %s is not used by the SQL", p.Name)
		}
	}
	values := map[string]bool{}
	for _, v := range m.Lead.Values {
		if v.Name == "" || values[v.Name] || reserved[v.Name] {
			return nil, fmt.Errorf("value %q is empty, repeated or reserved", v.Name)
		}
		values[v.Name] = true
	}
	var err error
	if m.titleZh, err = parseTitle(m.Lead.TitleZh, values); err != nil {
		return nil, fmt.Errorf("lead title_zh: %w", err)
	}
	if m.titleEn, err = parseTitle(m.Lead.TitleEn, values); err != nil {
		return nil, fmt.Errorf("lead title_en: %w", err)
	}
	return &m, nil
}

// reserved are the result columns that are not values.
var reserved = map[string]bool{"subject": true, "evidence": true, "priority": true}

func parseTitle(s string, values map[string]bool) (*template.Template, error) {
	if s == "" {
		return nil, errors.New("empty")
	}
	t, err := template.New("title").Option("missingkey=error").Parse(s)
	if err != nil {
		return nil, err
	}
	// Execute over the declared values to catch names that are not.
	probe := map[string]string{}
	for v := range values {
		probe[v] = ""
	}
	if err := t.Execute(new(strings.Builder), probe); err != nil {
		return nil, err
	}
	return t, nil
}

// Param returns the parameter called name.
func (m *Model) Param(name string) (Param, bool) {
	for _, p := range m.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// MissingGrants returns the datasets the model reads that granted does not
// hold, in the model's order; a run must not start unless it is empty
// (DESIGN.md: a model reads only datasets its approved grant covers).
func (m *Model) MissingGrants(granted []string) []string {
	var out []string
	for _, d := range m.Datasets {
		if !slices.Contains(granted, d) {
			out = append(out, d)
		}
	}
	return out
}
