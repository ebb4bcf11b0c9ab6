package schema

import (
	"slices"
	"strconv"
)

// FieldError is one rejected value of a row: the field's canonical name and
// what is wrong, in words that do not repeat the value. It wraps
// ErrInvalidValue.
type FieldError struct {
	// Field is the canonical field name; it is empty when the row as a whole
	// is malformed (the wrong number of values).
	Field string
	// Reason says what is wrong.
	Reason string
}

func (e FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// Unwrap returns ErrInvalidValue.
func (e FieldError) Unwrap() error { return ErrInvalidValue }

// ValidateRow normalises a row given as one raw value per field, in the order
// of d.Fields, and returns the canonical values in the same order.
//
// Every field is checked and every bad value reported; it never stops at the
// first. Where a value is rejected, the returned row holds "" in its place:
// a row with errors is for reporting, not for storing.
func (d *Dataset) ValidateRow(values []string) ([]string, []FieldError) {
	if len(values) != len(d.Fields) {
		return nil, []FieldError{{
			Reason: "row has " + strconv.Itoa(len(values)) + " values, dataset " + d.ID + " has " + strconv.Itoa(len(d.Fields)) + " fields",
		}}
	}
	out := make([]string, len(d.Fields))
	var errs []FieldError
	for i := range d.Fields {
		f := &d.Fields[i]
		v, err := f.Normalize(values[i])
		if err != nil {
			errs = append(errs, FieldError{Field: f.Name, Reason: err.Error()})
			continue
		}
		out[i] = v
	}
	return out, errs
}

// ValidateRecord is ValidateRow for a record given as a map from canonical
// field names to raw values. A field missing from the map is empty; a key
// that names no field is reported as an error of its own.
func (d *Dataset) ValidateRecord(values map[string]string) ([]string, []FieldError) {
	row := make([]string, len(d.Fields))
	var unknown []string
	for k, v := range values {
		i, ok := d.index[k]
		if !ok {
			unknown = append(unknown, k)
			continue
		}
		row[i] = v
	}
	out, errs := d.ValidateRow(row)
	slices.Sort(unknown)
	for _, k := range unknown {
		errs = append(errs, FieldError{Field: k, Reason: "dataset " + d.ID + " has no such field"})
	}
	return out, errs
}
