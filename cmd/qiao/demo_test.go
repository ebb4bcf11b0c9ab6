package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// The demo is what a newcomer runs first: it must push, refuse and verify.
func TestDemo(t *testing.T) {
	out := mustRun(t, "demo", "--dir", filepath.Join(t.TempDir(), "demo"))
	for _, want := range []string{
		"batch demo-2026-11-a of police.411528: COMMITTED, 3 rows",
		"push of demo-2026-11-b refused",
		"REJECTED, 3 rows, 2 rejected: row 2 id_number (invalid resident ID number: check digit is wrong); row 3 death_date",
		"needs 2 approvals",
		"user:alice approving her own request: 拒绝 refused",
		"user:carol approved: 已批准 approved, 2 of 2",
		"user:alice pulled 3 rows with grant",
		"411528********",
		"audit log verified",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}
