package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// The demo is what a newcomer runs first: it must push, refuse and verify.
func TestDemo(t *testing.T) {
	out := mustRun(t, "demo", "--dir", filepath.Join(t.TempDir(), "demo"))
	// Every agency pushed every synthetic file, and nothing was refused.
	total := ""
	pushers := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "合计 total") {
			total = strings.Join(strings.Fields(line), " ")
		}
		if f := strings.Fields(line); len(f) > 1 && strings.HasSuffix(f[0], ".411528") && strings.HasPrefix(f[1], strings.TrimSuffix(f[0], "411528")) {
			pushers[strings.TrimSuffix(f[0], ".411528")] = true
		}
	}
	f := strings.Fields(total)
	if len(f) != 7 || f[2] != f[3] || f[4] != "0" || f[5] != "0" || f[6] != "0" || f[2] == "0" {
		t.Errorf("the demo's push total %q: want every row read pushed, none kept, rejected or with problems", total)
	}
	for _, agency := range []string{"police", "court", "medins", "hrss"} {
		if !pushers[agency] {
			t.Errorf("no push by %s in the demo:\n%s", agency, out)
		}
	}
	for _, want := range []string{
		"batch demo-2026-11-a of police.411528: COMMITTED, 3 rows",
		"push of demo-2026-11-b refused",
		"REJECTED, 3 rows, 2 rejected: row 2 id_number (invalid resident ID number: check digit is wrong); row 3 death_date",
		"supervision models ran after the pushes",
		"hrss.pension_after_death",
		"needs 2 approvals",
		"user:alice approving her own request: 拒绝 refused",
		"user:carol approved: 已批准 approved, 2 of 2",
		"user:alice pulled ",
		"第一行 first row (脱敏 masked): JS",
		"********",
		"audit log verified",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}
