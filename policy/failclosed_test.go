package policy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeBundle writes files (name → Rego source) into a new directory.
func writeBundle(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// decisionBundle is a one-file bundle whose decision is the well-formed
// decision below for police.traffic_accidents, with the given keys replaced
// (or removed, for an empty value), and extra rules appended.
func decisionBundle(override map[string]string, extra string) map[string]string {
	keys := []string{"allow", "needs_approvals", "mask", "max_rows", "max_pulls", "ttl_seconds", "reasons"}
	doc := map[string]string{
		"allow":           "true",
		"needs_approvals": "1",
		"mask":            `{"accident_no": "none", "id_number": "partial", "name": "token", "responsibility": "drop"}`,
		"max_rows":        "100000",
		"max_pulls":       "10",
		"ttl_seconds":     "86400",
		"reasons":         `["测试 / test"]`,
	}
	for k, v := range override {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
		doc[k] = v
	}
	var b strings.Builder
	b.WriteString("package qiao\n\ndecision := {\n")
	for _, k := range keys {
		if doc[k] != "" {
			fmt.Fprintf(&b, "\t%q: %s,\n", k, doc[k])
		}
	}
	b.WriteString("}\n\n" + extra + "\n")
	return map[string]string{"decision.rego": b.String()}
}

// pullInput is a well-formed pull of police.traffic_accidents.
func pullInput() Input {
	r := granted()
	r.Grant.Fields = []FieldMasking{{"accident_no", ""}}
	return Input{Subject: requester, Action: ActionPull, Resource: accidents, Request: r, Time: now}
}

// TestFailClosed shows that every way of not getting a well-formed decision
// is a deny with a reason and an error wrapping the matching sentinel.
func TestFailClosed(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		bundle  map[string]string // nil: the default bundle
		timeout time.Duration
		ctx     func() (context.Context, context.CancelFunc)
		in      func() Input
		want    error
		reason  string
	}{
		{name: "division by zero",
			bundle: decisionBundle(map[string]string{"max_rows": "100000 / count(input.subject.datasets)"}, ""),
			want:   ErrEvaluation, reason: ReasonEvaluation},
		{name: "failing builtin",
			bundle: decisionBundle(map[string]string{"ttl_seconds": "time.parse_rfc3339_ns(input.subject.principal)"}, ""),
			want:   ErrEvaluation, reason: ReasonEvaluation},
		{name: "conflicting decisions",
			bundle: decisionBundle(nil, `decision := {"allow": false} if input.action == "dataset.pull"`),
			want:   ErrEvaluation, reason: ReasonEvaluation},
		{name: "undefined decision",
			bundle: map[string]string{"d.rego": "package qiao\n\ndecision := {\"allow\": true} if input.action == \"never\"\n"},
			want:   ErrUndefined, reason: ReasonUndefined},
		{name: "decision not an object",
			bundle: map[string]string{"d.rego": "package qiao\n\ndecision := true\n"},
			want:   ErrMalformed, reason: ReasonMalformed},
		{name: "decision a set",
			bundle: map[string]string{"d.rego": "package qiao\n\ndecision contains \"allow\"\n"},
			want:   ErrMalformed, reason: ReasonMalformed},
		{name: "non-boolean allow", bundle: decisionBundle(map[string]string{"allow": `"true"`}, ""),
			want: ErrMalformed, reason: ReasonMalformed},
		{name: "allow missing", bundle: decisionBundle(map[string]string{"allow": ""}, ""),
			want: ErrMalformed, reason: ReasonMalformed},
		{name: "reasons missing", bundle: decisionBundle(map[string]string{"reasons": ""}, ""),
			want: ErrMalformed, reason: ReasonMalformed},
		{name: "unknown key", bundle: decisionBundle(map[string]string{"alow": "true"}, ""),
			want: ErrMalformed, reason: ReasonMalformed},
		{name: "misspelt key", bundle: decisionBundle(map[string]string{"allow": "", "alow": "true"}, ""),
			want: ErrMalformed, reason: ReasonMalformed},
		{name: "needs_approvals a string", bundle: decisionBundle(map[string]string{"needs_approvals": `"2"`}, ""),
			want: ErrMalformed, reason: ReasonMalformed},
		{name: "needs_approvals negative", bundle: decisionBundle(map[string]string{"needs_approvals": "-1"}, ""),
			want: ErrMalformed, reason: ReasonMalformed},
		{name: "max_rows fractional", bundle: decisionBundle(map[string]string{"max_rows": "1.5"}, ""),
			want: ErrMalformed, reason: ReasonMalformed},
		{name: "ttl beyond a Duration", bundle: decisionBundle(map[string]string{"ttl_seconds": "10000000000000"}, ""),
			want: ErrMalformed, reason: ReasonMalformed},
		{name: "max_pulls null", bundle: decisionBundle(map[string]string{"max_pulls": "null"}, ""),
			want: ErrMalformed, reason: ReasonMalformed},
		{name: "reasons a string", bundle: decisionBundle(map[string]string{"reasons": `"ok"`}, ""),
			want: ErrMalformed, reason: ReasonMalformed},
		{name: "reason a number", bundle: decisionBundle(map[string]string{"reasons": `["ok", 1]`}, ""),
			want: ErrMalformed, reason: ReasonMalformed},
		{name: "mask an array", bundle: decisionBundle(map[string]string{"mask": `["accident_no"]`}, ""),
			want: ErrMalformed, reason: ReasonMalformed},
		{name: "unknown mask value",
			bundle: decisionBundle(map[string]string{"mask": `{"accident_no": "none", "id_number": "hash", "name": "token", "responsibility": "drop"}`}, ""),
			want:   ErrMalformed, reason: ReasonMalformed},
		{name: "mask value not a string",
			bundle: decisionBundle(map[string]string{"mask": `{"accident_no": true, "id_number": "drop", "name": "token", "responsibility": "drop"}`}, ""),
			want:   ErrMalformed, reason: ReasonMalformed},
		{name: "allowed pull with a field missing from the mask",
			bundle: decisionBundle(map[string]string{"mask": `{"accident_no": "none", "id_number": "partial", "name": "token"}`}, ""),
			want:   ErrMalformed, reason: ReasonMalformed},
		{name: "mask of a field the resource lacks",
			bundle: decisionBundle(map[string]string{"mask": `{"accident_no": "none", "id_number": "partial", "name": "token", "responsibility": "drop", "diagnosis_code": "none"}`}, ""),
			want:   ErrMalformed, reason: ReasonMalformed},
		{name: "timeout", timeout: 5 * time.Millisecond,
			bundle: decisionBundle(map[string]string{"max_rows": "count([1 | some i in numbers.range(1, 5000 + count(input.subject.roles)); some j in numbers.range(1, 5000)])"}, ""),
			want:   ErrTimeout, reason: ReasonTimeout},
		{name: "caller's context already ended",
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(ctx)
				cancel()
				return ctx, cancel
			},
			want: ErrTimeout, reason: ReasonTimeout},
		{name: "no action", in: func() Input { in := pullInput(); in.Action = ""; return in },
			want: ErrInput, reason: ReasonInput},
		{name: "no principal", in: func() Input { in := pullInput(); in.Subject.Principal = " "; return in },
			want: ErrInput, reason: ReasonInput},
		{name: "no subject kind", in: func() Input { in := pullInput(); in.Subject.Kind = ""; return in },
			want: ErrInput, reason: ReasonInput},
		{name: "no time", in: func() Input { in := pullInput(); in.Time = time.Time{}; return in },
			want: ErrInput, reason: ReasonInput},
		{name: "no request for a pull", in: func() Input { in := pullInput(); in.Request = nil; return in },
			want: ErrInput, reason: ReasonInput},
		{name: "no resource for a request",
			in: func() Input {
				return Input{Subject: requester, Action: ActionRequestCreate, Request: request(), Time: now}
			},
			want: ErrInput, reason: ReasonInput},
		{name: "no classification", in: func() Input { in := pullInput(); in.Resource.Classification = ""; return in },
			want: ErrInput, reason: ReasonInput},
		{name: "grant without expiry", in: func() Input { in := pullInput(); in.Request.Grant.ExpireTime = time.Time{}; return in },
			want: ErrInput, reason: ReasonInput},
		{name: "resource field twice", in: func() Input {
			in := pullInput()
			in.Resource.Fields = append(slices.Clone(in.Resource.Fields), Field{Name: "name"})
			return in
		}, want: ErrInput, reason: ReasonInput},
		{name: "resource field without a name", in: func() Input {
			in := pullInput()
			in.Resource.Fields = append(slices.Clone(in.Resource.Fields), Field{})
			return in
		}, want: ErrInput, reason: ReasonInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Timeout: tc.timeout}
			if opts.Timeout == 0 {
				opts.Timeout = testTimeout
			}
			if tc.bundle != nil {
				opts.Dir = writeBundle(t, tc.bundle)
			}
			e, err := New(ctx, opts)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			in := pullInput()
			if tc.in != nil {
				in = tc.in()
			}
			dctx := ctx
			if tc.ctx != nil {
				var cancel context.CancelFunc
				dctx, cancel = tc.ctx()
				defer cancel()
			}
			d, err := e.Decide(dctx, in)
			t.Logf("error: %v", err)
			if d.Allow {
				t.Error("allowed")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if !slices.Equal(d.Reasons, []string{tc.reason}) {
				t.Errorf("Reasons = %q, want %q", d.Reasons, tc.reason)
			}
			if d.Revision != e.Revision() || d.Revision == "" {
				t.Errorf("Revision = %q, want %q", d.Revision, e.Revision())
			}
			for _, f := range in.Resource.Fields {
				if d.Mask[f.Name] != MaskDrop {
					t.Errorf("Mask[%s] = %q, want drop", f.Name, d.Mask[f.Name])
				}
			}
			if d.NeedsApprovals != 0 || d.MaxRows != 0 || d.MaxPulls != 0 || d.TTL != 0 {
				t.Errorf("deny carries limits: %+v", d)
			}
		})
	}
}

// TestWellFormedOverrideBundle is the control for TestFailClosed: the
// bundle it distorts decides, and a deny may leave fields out of the mask.
func TestWellFormedOverrideBundle(t *testing.T) {
	ctx := context.Background()
	e, err := New(ctx, Options{Dir: writeBundle(t, decisionBundle(nil, "")), Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Decide(ctx, pullInput())
	if err != nil || !d.Allow || d.TTL != 24*time.Hour || d.MaxPulls != 10 || d.MaxRows != 100000 || d.NeedsApprovals != 1 {
		t.Fatalf("Decide = %+v, %v", d, err)
	}

	e, err = New(ctx, Options{Dir: writeBundle(t, decisionBundle(map[string]string{"allow": "false", "mask": "{}"}, "")), Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	d, err = e.Decide(ctx, pullInput())
	if err != nil || d.Allow {
		t.Fatalf("Decide = %+v, %v", d, err)
	}
	if len(d.Mask) != len(accidents.Fields) || d.Mask["accident_no"] != MaskDrop {
		t.Errorf("Mask = %v, want every field dropped", d.Mask)
	}

	// A push needs no mask even when allowed.
	in := Input{Subject: policeAgency, Action: ActionPush, Resource: accidents, Time: now}
	if d, err = e.Decide(ctx, in); err != nil {
		t.Fatalf("push: %v", err)
	}
}

// TestNewRefuses shows that New refuses what is not a compilable bundle.
func TestNewRefuses(t *testing.T) {
	ctx := context.Background()
	good := decisionBundle(nil, "")["decision.rego"]
	notADir := filepath.Join(t.TempDir(), "file.rego")
	if err := os.WriteFile(notADir, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  string
	}{
		{"missing directory", filepath.Join(t.TempDir(), "nope")},
		{"a file, not a directory", notADir},
		{"empty directory", t.TempDir()},
		{"tests only", writeBundle(t, map[string]string{"decision_test.rego": "package qiao\n\ntest_x if true\n"})},
		{"other files only", writeBundle(t, map[string]string{"README.md": "policy", "data.json": "{}"})},
		{"hidden files only", writeBundle(t, map[string]string{".decision.rego": good, ".git/decision.rego": good})},
		{"syntax error", writeBundle(t, map[string]string{"d.rego": "package qiao\n\ndecision := {\n"})},
		{"Rego v0", writeBundle(t, map[string]string{"d.rego": "package qiao\n\ndecision = {\"allow\": true} { true }\n"})},
		{"unsafe variable", writeBundle(t, map[string]string{"d.rego": "package qiao\n\ndecision := x if { x > 1 }\n"})},
		{"unknown builtin", writeBundle(t, map[string]string{"d.rego": "package qiao\n\ndecision := qiao.magic(1)\n"})},
		{"network builtin", writeBundle(t, map[string]string{"d.rego": "package qiao\n\ndecision := http.send({\"method\": \"get\", \"url\": \"http://127.0.0.1/\"}).body\n"})},
		{"environment builtin", writeBundle(t, map[string]string{"d.rego": "package qiao\n\ndecision := opa.runtime().env\n"})},
		{"no decision", writeBundle(t, map[string]string{"d.rego": "package qiao\n\nallow := true\n"})},
		{"decision in another package", writeBundle(t, map[string]string{"d.rego": "package other\n\ndecision := {}\n"})},
		{"constant division by zero", writeBundle(t, decisionBundle(map[string]string{"max_rows": "1 / 0"}, ""))},
		{"one good file, one bad", writeBundle(t, map[string]string{"decision.rego": good, "extra/x.rego": "package qiao.x\n\ny := \n"})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(ctx, Options{Dir: tc.dir})
			if err == nil {
				t.Fatalf("New succeeded with revision %s", e.Revision())
			}
			t.Logf("error: %v", err)
			if !errors.Is(err, ErrBundle) {
				t.Errorf("error %v does not wrap ErrBundle", err)
			}
		})
	}
}
