// Package schema holds Qiao's canonical dataset definitions and the value
// validators that go with them.
//
// A dataset (police.deaths, medins.settlements, …) is defined by a YAML
// schema file: its owner, classification, record key and fields, each field
// with a type, a PII flag, whether it is required, and the Chinese and
// English column headers agencies use for it. The ten datasets of the design
// are embedded; Load adds further ones from a directory, so a new dataset
// needs a file, not code. The validators turn the values agencies export
// (resident ID numbers, credit codes, dates, amounts, 案号, …) into one
// canonical string form, or say what is wrong without echoing the value.
//
// Both sides of the exchange use it: agency adapters to map and normalise
// exports before pushing, the gateway to validate what it receives and to
// know which fields are personal data and how each dataset is classified.
//
// It is not a storage layer, a policy engine or a reader of exports: it knows
// nothing of warehouses, masking, encryption or CSV. Datasets and registries
// are read-only once loaded and safe for concurrent use.
package schema

import (
	"errors"
	"slices"
	"strconv"
)

// Type is the type of a field's values. Every type has one canonical string
// form, which Field.Normalize produces.
type Type string

// The field types.
const (
	// TypeString is free text: trimmed, otherwise kept as written.
	TypeString Type = "string"
	// TypeIDNumber is an 18-digit resident ID number (GB 11643).
	TypeIDNumber Type = "id_number"
	// TypeCreditCode is an 18-character unified social credit code (GB 32100).
	TypeCreditCode Type = "credit_code"
	// TypeIDOrCreditCode is a resident ID number or a unified social credit
	// code: the 证件号码 of a party that is a person or an organisation.
	TypeIDOrCreditCode Type = "id_or_credit_code"
	// TypeDate is a calendar date, canonically YYYY-MM-DD.
	TypeDate Type = "date"
	// TypeMonth is a calendar month, canonically YYYY-MM.
	TypeMonth Type = "month"
	// TypeMoney is an amount in yuan with at most two decimals,
	// canonically with exactly two ("1234.50").
	TypeMoney Type = "money"
	// TypeInt is a whole number, canonically in decimal without leading zeros.
	TypeInt Type = "int"
	// TypeBool is a yes/no value, canonically "true" or "false".
	TypeBool Type = "bool"
	// TypeEnum is one of a field's listed values, each of which may have
	// accepted long forms.
	TypeEnum Type = "enum"
	// TypeCaseNo is a court case number (案号), canonically with full-width
	// brackets: （2023）豫1528执123号.
	TypeCaseNo Type = "case_no"
	// TypeDocNo is an official document number (文号, 文书号), canonically
	// with the year in hexagonal brackets: 豫潢人社监移〔2023〕5号.
	TypeDocNo Type = "doc_no"
)

var types = []Type{
	TypeString, TypeIDNumber, TypeCreditCode, TypeIDOrCreditCode, TypeDate, TypeMonth,
	TypeMoney, TypeInt, TypeBool, TypeEnum, TypeCaseNo, TypeDocNo,
}

// Classification is how sensitive a dataset is; policy decides from it how
// many approvals a request needs.
type Classification string

// The classifications.
const (
	// Internal data needs one approval.
	Internal Classification = "internal"
	// Sensitive data is sensitive personal information under the PIPL
	// (health, social security, criminal records) and needs two approvals
	// by distinct approvers.
	Sensitive Classification = "sensitive"
)

// Dataset is a named, versioned table owned by one agency kind. A Dataset
// returned by Load must not be modified.
type Dataset struct {
	// ID is "<owner>.<name>", e.g. police.deaths.
	ID string `yaml:"id"`
	// Version is 1 for the first definition and rises with every change.
	Version int `yaml:"version"`
	// TitleZh is the Chinese title, e.g. 户籍注销(死亡).
	TitleZh string `yaml:"title_zh"`
	// TitleEn is the English title.
	TitleEn string `yaml:"title_en"`
	// Description says what a row is, in English; optional.
	Description string `yaml:"description,omitempty"`
	// Owner is the agency kind that pushes the dataset: police, court,
	// medins, hrss, or another kind a schema file introduces.
	Owner string `yaml:"owner"`
	// Classification is internal or sensitive.
	Classification Classification `yaml:"classification"`
	// RecordKey names the fields that together identify a record. At least
	// one of them is required; an empty optional key field is part of the
	// key as the empty value.
	RecordKey []string `yaml:"record_key"`
	// Fields are the columns, in canonical order.
	Fields []Field `yaml:"fields"`

	source  string            // where it was loaded from, for error messages
	index   map[string]int    // field name → index in Fields
	headers map[string]string // header key → field name
}

// Field is one column of a dataset.
type Field struct {
	// Name is the canonical name, lower snake case.
	Name string `yaml:"name"`
	// Type says which values are valid and how they are normalised.
	Type Type `yaml:"type"`
	// PII marks personal data: stored encrypted with a token beside it,
	// masked in pulls, never logged.
	PII bool `yaml:"pii,omitempty"`
	// Required fields must not be empty.
	Required bool `yaml:"required,omitempty"`
	// AllowNegative lets a money or int field hold negative values.
	AllowNegative bool `yaml:"allow_negative,omitempty"`
	// Values lists an enum field's canonical values and their long forms.
	Values []EnumValue `yaml:"values,omitempty"`
	// AliasesZh are the Chinese column headers agencies' exports use.
	AliasesZh []string `yaml:"aliases_zh,omitempty"`
	// AliasesEn are English column headers; the canonical name always matches.
	AliasesEn []string `yaml:"aliases_en,omitempty"`
	// Description says what the field holds and what empty means, in English;
	// optional.
	Description string `yaml:"description,omitempty"`

	enum map[string]string // enum key of every accepted form → canonical value
}

// EnumValue is one value of an enum field.
type EnumValue struct {
	// Value is the canonical form, e.g. 次要.
	Value string `yaml:"value"`
	// Accept lists other forms that mean the same, e.g. 次要责任.
	Accept []string `yaml:"accept,omitempty"`
}

// Field returns the field called name.
func (d *Dataset) Field(name string) (*Field, bool) {
	i, ok := d.index[name]
	if !ok {
		return nil, false
	}
	return &d.Fields[i], true
}

// FieldIndex returns the index of the field called name in Fields, or -1.
func (d *Dataset) FieldIndex(name string) int {
	if i, ok := d.index[name]; ok {
		return i
	}
	return -1
}

// Registry is a loaded set of datasets.
type Registry struct {
	byID map[string]*Dataset
	all  []*Dataset // sorted by ID
}

// ErrUnknownDataset is returned for a dataset ID that no schema defines. A
// server answers it with NotFound; a client has the ID wrong.
var ErrUnknownDataset = errors.New("unknown dataset")

// Get returns the dataset with the given ID, or an error wrapping
// ErrUnknownDataset.
func (r *Registry) Get(id string) (*Dataset, error) {
	if d, ok := r.byID[id]; ok {
		return d, nil
	}
	return nil, &unknownDatasetError{id: id}
}

// List returns every dataset, sorted by ID.
func (r *Registry) List() []*Dataset { return slices.Clone(r.all) }

// ForOwner returns the datasets owned by an agency kind (police, court, …),
// sorted by ID.
func (r *Registry) ForOwner(kind string) []*Dataset {
	var out []*Dataset
	for _, d := range r.all {
		if d.Owner == kind {
			out = append(out, d)
		}
	}
	return out
}

type unknownDatasetError struct{ id string }

func (e *unknownDatasetError) Error() string { return "unknown dataset " + strconv.Quote(e.id) }
func (e *unknownDatasetError) Unwrap() error { return ErrUnknownDataset }
