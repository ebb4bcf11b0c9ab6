package warehouse

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// crashEnv names the database file a child process writes to until it is
// killed; see TestCrashLeavesNoPartialBatch.
const crashEnv = "QIAO_WAREHOUSE_CRASH_DB"

// TestCrashLeavesNoPartialBatch kills a process (SIGKILL, no clean-up) while
// it inserts large batches, then opens its file: every stored batch is whole,
// no row is outside a stored batch, and recovery publishes the committed
// batch and removes the rest.
func TestCrashLeavesNoPartialBatch(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(t, path)
		return
	}
	path := filepath.Join(t.TempDir(), "warehouse.duckdb")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLeavesNoPartialBatch$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	ready := false
	for lines.Scan() {
		if lines.Text() == "ready" {
			ready = true
			break
		}
	}
	if !ready {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("child did not get ready")
	}
	// Let it get into the middle of appending big batches.
	time.Sleep(400 * time.Millisecond)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	ctx := context.Background()
	w := openAt(t, path)
	var batches, rows int64
	var bad []string
	r, err := w.db.Query(`SELECT b.batch_id, b.row_count, (SELECT count(*) FROM main.police__deaths d WHERE d.batch_seq = b.seq) FROM main.qiao_batches b`)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var id string
		var want, got int64
		if err := r.Scan(&id, &want, &got); err != nil {
			t.Fatal(err)
		}
		batches++
		rows += got
		if got != want {
			bad = append(bad, fmt.Sprintf("%s: %d of %d rows", id, got, want))
		}
	}
	r.Close()
	if len(bad) > 0 {
		t.Errorf("partial batches after the crash: %s", strings.Join(bad, "; "))
	}
	if n := stored(t, w, "police.deaths"); n != rows {
		t.Errorf("table holds %d rows, stored batches %d: rows outside any batch", n, rows)
	}
	t.Logf("after the crash: %d batches, %d rows", batches, rows)

	rec, err := w.RemoveInvisible(ctx, func(k BatchKey) (bool, error) { return k.ID == "committed-not-published", nil })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.Published, []BatchKey{bk("police.deaths", "committed-not-published")}) {
		t.Errorf("published %v", rec.Published)
	}
	for _, k := range rec.Removed {
		if !strings.HasPrefix(k.ID, "big-") {
			t.Errorf("removed %v", k)
		}
	}
	if n, want := stored(t, w, "police.deaths"), int64(10+20); n != want {
		t.Errorf("after recovery the table holds %d rows, want %d", n, want)
	}
	if n := count(t, w, "police.deaths"); n != 30 {
		t.Errorf("after recovery Count = %d, want 30", n)
	}
}

// crashChild writes a visible batch and an invisible one, says "ready",
// and inserts 20,000-row batches until it is killed.
func crashChild(t *testing.T, path string) {
	ctx := context.Background()
	w := openAt(t, path)
	mustInsert(t, w, "police.deaths", "visible", deaths(t, 0, 10))
	mustPublish(t, w, "police.deaths", "visible")
	mustInsert(t, w, "police.deaths", "committed-not-published", deaths(t, 100, 20))
	big := deaths(t, 1000, 20000)
	fmt.Println("ready")
	for i := 0; ; i++ {
		if _, err := w.InsertBatch(ctx, bk("police.deaths", fmt.Sprintf("big-%d", i)), big); err != nil {
			t.Fatal(err)
		}
	}
}
