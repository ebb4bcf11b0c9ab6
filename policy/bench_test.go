package policy

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// reportLatency reports the median and 99th percentile of durations, and
// the mean CPU time per operation since cpuStart.
func reportLatency(b *testing.B, durations []time.Duration, cpuStart time.Duration) {
	if len(durations) == 0 {
		return
	}
	b.ReportMetric(float64(cpuTime()-cpuStart)/float64(time.Microsecond)/float64(len(durations)), "cpu-µs/op")
	slices.Sort(durations)
	at := func(p float64) float64 {
		i := min(int(float64(len(durations))*p), len(durations)-1)
		return float64(durations[i]) / float64(time.Microsecond)
	}
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}

// benchInputs are the decisions benchmarked: a pull (the most rules), a
// request and a push.
func benchInputs() map[string]Input {
	create := request()
	create.State = ""
	return map[string]Input{
		"pull":   {Subject: requester, Action: ActionPull, Resource: settlements, Request: granted(), Time: now},
		"create": {Subject: requester, Action: ActionRequestCreate, Resource: settlements, Request: create, Time: now},
		"push":   {Subject: policeAgency, Action: ActionPush, Resource: accidents, Time: now},
	}
}

// BenchmarkDecide measures Decide with the default bundle: the query is
// prepared once, the input converted to AST on every call, as in the
// gateway. Target: p99 ≤ 100 µs.
func BenchmarkDecide(b *testing.B) {
	ctx := context.Background()
	// A generous timeout: a loaded machine must not fail the benchmark.
	e, err := New(ctx, Options{Timeout: testTimeout})
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"pull", "create", "push"} {
		in := benchInputs()[name]
		b.Run(name, func(b *testing.B) {
			durations := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				start := time.Now()
				d, err := e.Decide(ctx, in)
				durations = append(durations, time.Since(start))
				if err != nil || !d.Allow {
					b.Fatalf("Decide = %+v, %v", d, err)
				}
			}
			reportLatency(b, durations, cpu)
		})
	}
}

// BenchmarkDecideFloor is a reference for BenchmarkDecide: a bundle whose
// decision is a constant, so what is measured is the Engine's own cost
// (input conversion, OPA's evaluation of one rule, output checks).
func BenchmarkDecideFloor(b *testing.B) {
	ctx := context.Background()
	e, err := New(ctx, Options{Dir: writeBundle(b, decisionBundle(nil, "")), Timeout: testTimeout})
	if err != nil {
		b.Fatal(err)
	}
	in := pullInput()
	durations := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		start := time.Now()
		d, err := e.Decide(ctx, in)
		durations = append(durations, time.Since(start))
		if err != nil || !d.Allow {
			b.Fatalf("Decide = %+v, %v", d, err)
		}
	}
	reportLatency(b, durations, cpu)
}

// BenchmarkDecideUnprepared is the reference: the same pull decided by
// rego.New(...).Eval each time, compiling the bundle on every call, with
// the input converted once.
func BenchmarkDecideUnprepared(b *testing.B) {
	ctx := context.Background()
	files, err := readBundle("")
	if err != nil {
		b.Fatal(err)
	}
	modules, err := parse(files)
	if err != nil {
		b.Fatal(err)
	}
	in := benchInputs()["pull"]
	input := in.value()
	opts := []func(*rego.Rego){
		rego.Query(Query),
		rego.ParsedInput(input),
		rego.StrictBuiltinErrors(true),
		rego.Time(in.Time),
	}
	for _, m := range modules {
		opts = append(opts, rego.ParsedModule(m))
	}
	durations := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		start := time.Now()
		rs, err := rego.New(opts...).Eval(ctx)
		durations = append(durations, time.Since(start))
		if err != nil || len(rs) != 1 {
			b.Fatalf("Eval = %v, %v", rs, err)
		}
	}
	reportLatency(b, durations, cpu)
}

// BenchmarkInput measures converting an Input to the AST input document.
func BenchmarkInput(b *testing.B) {
	in := benchInputs()["pull"]
	b.ReportAllocs()
	var v ast.Value
	for b.Loop() {
		v = in.value()
	}
	_ = v
}
