package policy

import (
	"fmt"
	"math"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The keys of a decision document; all are required, no others allowed.
const (
	keyAllow          = "allow"
	keyNeedsApprovals = "needs_approvals"
	keyMask           = "mask"
	keyMaxRows        = "max_rows"
	keyMaxPulls       = "max_pulls"
	keyTTL            = "ttl_seconds"
	keyReasons        = "reasons"
)

var decisionKeys = []string{keyAllow, keyNeedsApprovals, keyMask, keyMaxRows, keyMaxPulls, keyTTL, keyReasons}

// maxTTLSeconds keeps a TTL within time.Duration.
const maxTTLSeconds = math.MaxInt64 / int64(time.Second)

// parseDecision turns the value of data.qiao.decision into a Decision, or
// says why it is not a well-formed decision for in. The returned error wraps
// ErrMalformed.
func parseDecision(v ast.Value, in *Input) (Decision, error) {
	obj, ok := v.(ast.Object)
	if !ok {
		return Decision{}, malformed("decision is %s, not an object", ast.ValueName(v))
	}
	if obj.Len() != len(decisionKeys) {
		for _, k := range obj.Keys() {
			s, ok := k.Value.(ast.String)
			if !ok || !isDecisionKey(string(s)) {
				return Decision{}, malformed("unknown key %v", k)
			}
		}
	}
	get := func(key string) (ast.Value, error) {
		t := obj.Get(ast.InternedTerm(key))
		if t == nil {
			return nil, malformed("%s missing", key)
		}
		return t.Value, nil
	}

	var d Decision
	v, err := get(keyAllow)
	if err != nil {
		return Decision{}, err
	}
	allow, ok := v.(ast.Boolean)
	if !ok {
		return Decision{}, malformed("allow is %s, not a boolean", ast.ValueName(v))
	}
	d.Allow = bool(allow)

	whole := func(key string, limit int64) (int64, error) {
		v, err := get(key)
		if err != nil {
			return 0, err
		}
		n, ok := wholeNumber(v)
		if !ok || n < 0 || n > limit {
			return 0, malformed("%s is %v, not a whole number from 0 to %d", key, v, limit)
		}
		return n, nil
	}
	var n int64
	if n, err = whole(keyNeedsApprovals, math.MaxInt32); err != nil {
		return Decision{}, err
	}
	d.NeedsApprovals = int(n)
	if n, err = whole(keyMaxRows, math.MaxInt32); err != nil {
		return Decision{}, err
	}
	d.MaxRows = int(n)
	if n, err = whole(keyMaxPulls, math.MaxInt32); err != nil {
		return Decision{}, err
	}
	d.MaxPulls = int(n)
	if n, err = whole(keyTTL, maxTTLSeconds); err != nil {
		return Decision{}, err
	}
	d.TTL = time.Duration(n) * time.Second

	if v, err = get(keyReasons); err != nil {
		return Decision{}, err
	}
	reasons, ok := v.(*ast.Array)
	if !ok {
		return Decision{}, malformed("reasons is %s, not an array", ast.ValueName(v))
	}
	d.Reasons = make([]string, 0, reasons.Len())
	for i := range reasons.Len() {
		s, ok := reasons.Elem(i).Value.(ast.String)
		if !ok {
			return Decision{}, malformed("reason %d is not a string", i)
		}
		d.Reasons = append(d.Reasons, string(s))
	}

	if v, err = get(keyMask); err != nil {
		return Decision{}, err
	}
	mask, ok := v.(ast.Object)
	if !ok {
		return Decision{}, malformed("mask is %s, not an object", ast.ValueName(v))
	}
	d.Mask = make(map[string]string, len(in.Resource.Fields))
	named := 0
	for _, f := range in.Resource.Fields {
		t := mask.Get(ast.StringTerm(f.Name))
		if t == nil {
			if d.Allow && needsMask(in.Action) {
				return Decision{}, malformed("mask lacks field %q", f.Name)
			}
			d.Mask[f.Name] = MaskDrop
			continue
		}
		s, ok := t.Value.(ast.String)
		if !ok || !isMask(string(s)) {
			return Decision{}, malformed("mask of field %q is %v", f.Name, t.Value)
		}
		d.Mask[f.Name] = string(s)
		named++
	}
	if mask.Len() > named {
		return Decision{}, malformed("mask names fields the resource does not have")
	}
	return d, nil
}

func isDecisionKey(k string) bool {
	for _, key := range decisionKeys {
		if k == key {
			return true
		}
	}
	return false
}

func isMask(s string) bool {
	switch s {
	case MaskDrop, MaskPartial, MaskToken, MaskNone:
		return true
	}
	return false
}

// wholeNumber returns v as an int64 if it is a number with no fraction.
func wholeNumber(v ast.Value) (int64, bool) {
	num, ok := v.(ast.Number)
	if !ok {
		return 0, false
	}
	if n, ok := num.Int64(); ok {
		return n, true
	}
	f, ok := num.Float64()
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}
