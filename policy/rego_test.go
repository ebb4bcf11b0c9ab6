package policy

import (
	"context"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/tester"
)

// minCoverage is the share of the default bundle's lines (its _test.rego
// files excluded) that its Rego tests must exercise.
const minCoverage = 95.0

// TestRegoBundle runs the default bundle's Rego tests (bundle/*_test.rego)
// through OPA's tester, with builtin errors raised as under Decide, and
// fails if any fails or if they cover less than minCoverage percent of the
// bundle's lines. `opa test --coverage policy/bundle` runs the same tests.
func TestRegoBundle(t *testing.T) {
	ctx := context.Background()
	modules := map[string]*ast.Module{}
	err := fs.WalkDir(defaultBundle, "bundle", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") {
			return err
		}
		src, err := fs.ReadFile(defaultBundle, p)
		if err != nil {
			return err
		}
		m, err := ast.ParseModuleWithOpts(p, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return err
		}
		modules[p] = m
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	cov := cover.New()
	runner := tester.NewRunner().
		SetCompiler(ast.NewCompiler().WithCapabilities(capabilities()).WithStrict(true)).
		SetModules(modules).
		SetCoverageQueryTracer(cov).
		RaiseBuiltinErrors(true).
		SetTimeout(30 * time.Second)
	ch, err := runner.RunTests(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var passed, failed int
	for r := range ch {
		if r.Pass() {
			passed++
			continue
		}
		failed++
		t.Errorf("%s (%s:%d): %s, error %v", r.Name, r.Location.File, r.Location.Row, r.String(), r.Error)
	}
	if passed+failed == 0 {
		t.Fatal("no Rego tests ran")
	}
	t.Logf("Rego tests: %d passed, %d failed", passed, failed)

	// Coverage over the policy files alone: the tests cover themselves.
	policies := map[string]*ast.Module{}
	for name, m := range modules {
		if isPolicyFile(path.Base(name)) {
			policies[name] = m
		}
	}
	report := cov.Report(policies)
	var covered, notCovered int
	for _, name := range slices.Sorted(maps.Keys(policies)) {
		fr := report.Files[name]
		if fr == nil {
			t.Errorf("%s: no coverage report", name)
			continue
		}
		covered += fr.CoveredLines
		notCovered += fr.NotCoveredLines
		for _, r := range fr.NotCovered {
			t.Logf("%s: lines %d-%d not covered", name, r.Start.Row, r.End.Row)
		}
	}
	pct := 100 * float64(covered) / float64(covered+notCovered)
	t.Logf("Rego coverage of the bundle: %.1f%% (%d of %d lines)", pct, covered, covered+notCovered)
	if pct < minCoverage {
		t.Errorf("Rego coverage %.1f%% below %.0f%%", pct, minCoverage)
	}
}
