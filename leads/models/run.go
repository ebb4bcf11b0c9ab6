package models

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/qiao-exchange/qiao/crypto/sm3"
)

// Querier runs a model's SQL. *warehouse.Warehouse is one: its ModelQuery
// runs a single SELECT over the published rows.
type Querier interface {
	ModelQuery(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Lead is one match of a model (线索).
type Lead struct {
	// ID is the lower-case hex SM3 of the model ID, version and the
	// evidence keys (see LeadID): the same match always has the same ID.
	ID string `json:"id"`
	// Model and Version name the model that found it.
	Model   string `json:"model"`
	Version int    `json:"version"`
	// Subject is the token of the person or organisation it is about;
	// empty when the records name none.
	Subject string `json:"subject"`
	// TitleZh and TitleEn say what was found.
	TitleZh string `json:"title_zh"`
	TitleEn string `json:"title_en"`
	// Evidence are the records the lead rests on, sorted.
	Evidence []Evidence `json:"evidence"`
	// Values are the figures of the lead by the names the model declares
	// (Model.Lead.Values): amounts in yuan with two decimals, dates
	// YYYY-MM-DD, months YYYY-MM, lists comma-separated.
	Values map[string]string `json:"values"`
	// Priority is 1 (normal) to 4 (most urgent).
	Priority int `json:"priority"`
	// AsOf is the as-of date of the run, YYYY-MM-DD.
	AsOf string `json:"as_of"`
}

// Evidence is one record a lead rests on.
type Evidence struct {
	// Dataset is the dataset ID, e.g. police.deaths.
	Dataset string `json:"dataset"`
	// Key is the record key (schema record_key) by field name; personal
	// data as its token.
	Key map[string]string `json:"key"`
	// Principal and Batch name the batch the row came in, Row its number
	// in the batch (from 1).
	Principal string `json:"principal"`
	Batch     string `json:"batch"`
	Row       int    `json:"row"`
}

// china is China Standard Time; China has no daylight saving time, so a
// fixed zone needs no time-zone database.
var china = time.FixedZone("CST", 8*60*60)

// AsOfDate returns the calendar date of t in China Standard Time,
// YYYY-MM-DD; the zero time means now.
func AsOfDate(t time.Time) string {
	if t.IsZero() {
		t = time.Now()
	}
	return t.In(china).Format(time.DateOnly)
}

// Run executes the model as of asOf (its calendar date in China Standard
// Time; the zero time means today there) with params overriding the
// defaults, and returns its leads sorted by ID. A parameter value may be
// an int, int32, int64, uint32, a float64 holding an integer (as JSON
// decodes numbers), or a decimal string.
func (m *Model) Run(ctx context.Context, q Querier, asOf time.Time, params map[string]any) ([]Lead, error) {
	day := AsOfDate(asOf)
	args, err := m.args(day, params)
	if err != nil {
		return nil, err
	}
	rows, err := q.ModelQuery(ctx, m.SQL, args...)
	if err != nil {
		return nil, fmt.Errorf("models: %s: %w", m.ID, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("models: %s: %w", m.ID, err)
	}
	idx := map[string]int{}
	for i, c := range cols {
		idx[c] = i
	}
	for _, c := range []string{"subject", "evidence", "priority"} {
		if _, ok := idx[c]; !ok {
			return nil, fmt.Errorf("%w: %s returns no %s column", ErrResult, m.ID, c)
		}
	}
	for _, v := range m.Lead.Values {
		if _, ok := idx[v.Name]; !ok {
			return nil, fmt.Errorf("%w: %s returns no column for value %s", ErrResult, m.ID, v.Name)
		}
	}
	var out []Lead
	raw := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("models: %s: %w", m.ID, err)
		}
		l, err := m.lead(cols, raw, idx, day)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("models: %s: %w", m.ID, err)
	}
	slices.SortFunc(out, func(a, b Lead) int { return strings.Compare(a.ID, b.ID) })
	for i := 1; i < len(out); i++ {
		if out[i].ID == out[i-1].ID {
			return nil, fmt.Errorf("%w: %s returns two rows with the same evidence", ErrResult, m.ID)
		}
	}
	return out, nil
}

// args returns the query arguments: the as-of date and every parameter,
// named, with the values in effect.
func (m *Model) args(day string, params map[string]any) ([]any, error) {
	for name := range params {
		if _, ok := m.Param(name); !ok {
			return nil, fmt.Errorf("%w: %s has no parameter %q", ErrParam, m.ID, name)
		}
	}
	args := []any{sql.Named("as_of", day)}
	for _, p := range m.Params {
		v := p.Default
		if raw, ok := params[p.Name]; ok {
			n, err := toInt(raw)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %s: %w", ErrParam, m.ID, p.Name, err)
			}
			if n < p.Min || n > p.Max {
				return nil, fmt.Errorf("%w: %s: %s = %d outside [%d, %d]", ErrParam, m.ID, p.Name, n, p.Min, p.Max)
			}
			v = n
		}
		args = append(args, sql.Named(p.Name, v))
	}
	if !strings.Contains(m.SQL, "$as_of") {
		args = args[1:]
	}
	return args, nil
}

func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64:
		return x, nil
	case uint32:
		return int64(x), nil
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return 0, fmt.Errorf("%v is not an integer", x)
		}
		return int64(x), nil
	case string:
		return strconv.ParseInt(strings.TrimSpace(x), 10, 64)
	}
	return 0, fmt.Errorf("a %T is not an integer", v)
}

// lead turns one result row into a lead.
func (m *Model) lead(cols []string, raw []any, idx map[string]int, day string) (Lead, error) {
	l := Lead{Model: m.ID, Version: m.Version, AsOf: day, Values: map[string]string{}}
	if s := raw[idx["subject"]]; s != nil {
		str, ok := s.(string)
		if !ok {
			return Lead{}, fmt.Errorf("%w: %s: subject is a %T", ErrResult, m.ID, s)
		}
		l.Subject = str
	}
	p, err := toInt(raw[idx["priority"]])
	if err != nil {
		return Lead{}, fmt.Errorf("%w: %s: priority: %w", ErrResult, m.ID, err)
	}
	l.Priority = int(p)
	ev, err := evidence(raw[idx["evidence"]])
	if err != nil {
		return Lead{}, fmt.Errorf("%w: %s: %w", ErrResult, m.ID, err)
	}
	if len(ev) == 0 {
		return Lead{}, fmt.Errorf("%w: %s: a lead without evidence", ErrResult, m.ID)
	}
	l.Evidence = ev
	for i, c := range cols {
		if reserved[c] {
			continue
		}
		switch x := raw[i].(type) {
		case nil:
			l.Values[c] = ""
		case string:
			l.Values[c] = x
		default:
			l.Values[c] = fmt.Sprint(x)
		}
	}
	var b strings.Builder
	if err := m.titleZh.Execute(&b, l.Values); err != nil {
		return Lead{}, fmt.Errorf("%w: %s: title: %w", ErrResult, m.ID, err)
	}
	l.TitleZh = b.String()
	b.Reset()
	if err := m.titleEn.Execute(&b, l.Values); err != nil {
		return Lead{}, fmt.Errorf("%w: %s: title: %w", ErrResult, m.ID, err)
	}
	l.TitleEn = b.String()
	l.ID = LeadID(m.ID, m.Version, l.Evidence)
	return l, nil
}

// evidence converts the evidence column (a list of structs) and sorts it,
// dropping repeated records.
func evidence(v any) ([]Evidence, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("evidence is a %T, not a list", v)
	}
	out := make([]Evidence, 0, len(list))
	for _, item := range list {
		st, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("evidence item is a %T, not a struct", item)
		}
		var e Evidence
		var err error
		if e.Dataset, err = str(st, "dataset"); err != nil {
			return nil, err
		}
		if e.Principal, err = str(st, "principal"); err != nil {
			return nil, err
		}
		if e.Batch, err = str(st, "batch_id"); err != nil {
			return nil, err
		}
		n, err := toInt(st["row_no"])
		if err != nil {
			return nil, fmt.Errorf("evidence row_no: %w", err)
		}
		e.Row = int(n)
		e.Key, err = keyMap(st["key"])
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	slices.SortFunc(out, compareEvidence)
	out = slices.CompactFunc(out, func(a, b Evidence) bool { return compareEvidence(a, b) == 0 })
	return out, nil
}

func compareEvidence(a, b Evidence) int {
	return cmp.Or(
		strings.Compare(a.Dataset, b.Dataset),
		slices.Compare(encodeKey(a), encodeKey(b)),
		strings.Compare(a.Principal, b.Principal),
		strings.Compare(a.Batch, b.Batch),
		cmp.Compare(a.Row, b.Row),
	)
}

func str(st map[string]any, field string) (string, error) {
	s, ok := st[field].(string)
	if !ok {
		return "", fmt.Errorf("evidence %s is a %T, not a string", field, st[field])
	}
	return s, nil
}

// keyMap converts a DuckDB MAP(VARCHAR, VARCHAR), which the driver scans as
// a map[any]any, to the record key; NULL values become "".
func keyMap(v any) (map[string]string, error) {
	out := map[string]string{}
	switch m := v.(type) {
	case map[any]any:
		for k, val := range m {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("evidence key field is a %T", k)
			}
			vs, _ := val.(string)
			out[ks] = vs
		}
	default:
		// duckdb.Map is a named map[any]any type.
		mm, ok := asAnyMap(v)
		if !ok {
			return nil, fmt.Errorf("evidence key is a %T, not a map", v)
		}
		return keyMap(mm)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("evidence key is empty")
	}
	return out, nil
}

// LeadID returns the ID of a lead of model id, version, resting on
// evidence: the lower-case hex SM3 digest of
//
//	str("qiao/lead/v1") || str(model) || str(decimal version) || u32(n) || rec_1 || … || rec_n
//	rec = str(dataset) || u32(k) || str(field_1) || str(value_1) || … || str(field_k) || str(value_k)
//	str(s) = u32(len(s)) || s, u32 = 4-byte big-endian unsigned
//
// with the fields of each record key sorted by name (bytewise), the records
// sorted bytewise by their encoding and repeated ones dropped. Only the
// dataset and record key of each record count — not the batch or row it
// came in — so a record pushed again in another batch, or more data about
// other records, does not change the ID.
func LeadID(model string, version int, evidence []Evidence) string {
	recs := make([][]byte, 0, len(evidence))
	for _, e := range evidence {
		recs = append(recs, encodeKey(e))
	}
	slices.SortFunc(recs, bytesCompare)
	recs = slices.CompactFunc(recs, func(a, b []byte) bool { return bytesCompare(a, b) == 0 })
	var buf []byte
	buf = appendStr(buf, "qiao/lead/v1")
	buf = appendStr(buf, model)
	buf = appendStr(buf, strconv.Itoa(version))
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(recs)))
	for _, r := range recs {
		buf = append(buf, r...)
	}
	sum := sm3.Sum(buf)
	return hex.EncodeToString(sum[:])
}

func bytesCompare(a, b []byte) int { return strings.Compare(string(a), string(b)) }

// encodeKey encodes a record's dataset and key as LeadID describes.
func encodeKey(e Evidence) []byte {
	fields := make([]string, 0, len(e.Key))
	for f := range e.Key {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	b := appendStr(nil, e.Dataset)
	b = binary.BigEndian.AppendUint32(b, uint32(len(fields)))
	for _, f := range fields {
		b = appendStr(b, f)
		b = appendStr(b, e.Key[f])
	}
	return b
}

// orderedMap is what the DuckDB driver scans a MAP into (duckdb.OrderedMap,
// with pointer methods); older drivers used a plain map[any]any.
type orderedMap interface {
	Keys() []any
	Values() []any
}

// asAnyMap converts a scanned MAP to map[any]any without importing the
// driver.
func asAnyMap(v any) (map[any]any, bool) {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return nil, false
	}
	if rv.Kind() == reflect.Map && rv.Type().Key().Kind() == reflect.Interface {
		out := make(map[any]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			out[it.Key().Interface()] = it.Value().Interface()
		}
		return out, true
	}
	om, ok := v.(orderedMap)
	if !ok && rv.Kind() != reflect.Pointer {
		p := reflect.New(rv.Type())
		p.Elem().Set(rv)
		om, ok = p.Interface().(orderedMap)
	}
	if !ok {
		return nil, false
	}
	keys, values := om.Keys(), om.Values()
	if len(keys) != len(values) {
		return nil, false
	}
	out := make(map[any]any, len(keys))
	for i, k := range keys {
		out[k] = values[i]
	}
	return out, true
}

func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}
