package access

import (
	"fmt"
	"strings"
	"unicode/utf8"

	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/policy"
	"github.com/qiao-exchange/qiao/schema"
	"github.com/qiao-exchange/qiao/store"
	"github.com/qiao-exchange/qiao/store/warehouse"
)

// The maskings policy decides per field.
const (
	maskDrop    = "drop"
	maskPartial = "partial"
	maskToken   = "token"
	maskNone    = "none"
)

// pullQuery is the warehouse query of a pull: the granted fields policy
// does not drop, in the dataset's order, those masked as tokens read as
// tokens, the grant's filter, and policy's row cap.
func pullQuery(ds *schema.Dataset, g store.Grant, d policy.Decision) (warehouse.Query, error) {
	granted := make(map[string]bool, len(g.Fields))
	for _, f := range g.Fields {
		granted[f.Field] = true
	}
	q := warehouse.Query{
		DateField: g.Filter.DateField, From: g.Filter.FromDate, To: g.Filter.ToDate,
		SubjectTokens: g.Filter.SubjectTokens, Limit: d.MaxRows,
	}
	for _, f := range ds.Fields {
		if !granted[f.Name] {
			continue
		}
		switch m := d.Mask[f.Name]; m {
		case maskDrop:
		case maskToken:
			q.Fields = append(q.Fields, f.Name)
			q.Tokens = append(q.Tokens, f.Name)
		case maskPartial, maskNone:
			q.Fields = append(q.Fields, f.Name)
		default:
			return q, fmt.Errorf("policy gave field %s the masking %q", f.Name, m)
		}
	}
	if len(q.Fields) == 0 {
		return q, fmt.Errorf("policy left no field to return")
	}
	return q, nil
}

// maskRows is the payload of a pull: rows' values of fields, each masked
// partially where mask says so (tokens come masked from the warehouse).
func maskRows(ds *schema.Dataset, fields []string, mask map[string]string, rows []warehouse.Row) *exchangev1.BatchPayload {
	partial := make([]*schema.Field, len(fields))
	for i, name := range fields {
		if mask[name] == maskPartial {
			partial[i], _ = ds.Field(name)
		}
	}
	out := &exchangev1.BatchPayload{Fields: fields, Rows: make([]*exchangev1.BatchPayload_Row, len(rows))}
	for i, r := range rows {
		vals := make([]string, len(r.Values))
		for j, v := range r.Values {
			if partial[j] != nil {
				v = Partial(partial[j], v)
			}
			vals[j] = v
		}
		out.Rows[i] = &exchangev1.BatchPayload_Row{Values: vals}
	}
	return out
}

// Partial masks a value partly: an 18-character resident ID number or
// credit code keeps its first six and last four characters
// (411528********1234); anything else keeps its first character, the rest
// starred (张*, 张**). An empty value stays empty.
func Partial(f *schema.Field, v string) string {
	if v == "" {
		return ""
	}
	switch f.Type {
	case schema.TypeIDNumber, schema.TypeCreditCode, schema.TypeIDOrCreditCode:
		if len(v) == 18 {
			return v[:6] + "********" + v[14:]
		}
	}
	_, size := utf8.DecodeRuneInString(v)
	rest := utf8.RuneCountInString(v[size:])
	return v[:size] + strings.Repeat("*", max(rest, 1))
}
