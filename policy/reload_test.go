package policy

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// reloads collects what OnReload reports.
type reloads struct {
	mu   sync.Mutex
	all  []Reload
	seen chan Reload
}

func newReloads() *reloads { return &reloads{seen: make(chan Reload, 16)} }

func (r *reloads) on(_ context.Context, rl Reload) {
	r.mu.Lock()
	r.all = append(r.all, rl)
	r.mu.Unlock()
	r.seen <- rl
}

func (r *reloads) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.all)
}

func (r *reloads) next(t *testing.T) Reload {
	t.Helper()
	select {
	case rl := <-r.seen:
		return rl
	case <-time.After(5 * time.Second):
		t.Fatal("no reload reported")
		return Reload{}
	}
}

// writeFile replaces dir/name atomically, as operators should: Watch may
// otherwise catch a half-written file (and refuse it until the next poll).
func writeFile(t *testing.T, dir, name, src string) {
	t.Helper()
	tmp := filepath.Join(dir, ".tmp-"+name)
	if err := os.WriteFile(tmp, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func TestReload(t *testing.T) {
	ctx := context.Background()
	dir := writeBundle(t, decisionBundle(nil, ""))
	rs := newReloads()
	e, err := New(ctx, Options{Dir: dir, OnReload: rs.on, Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	first := e.Revision()
	if !strings.HasPrefix(first, "sm3:") || len(first) != len("sm3:")+64 {
		t.Fatalf("Revision = %q", first)
	}

	// Unchanged: same revision, still reported.
	if err := e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if rl := rs.next(t); rl.Revision != first || rl.Previous != first || rl.Err != nil {
		t.Errorf("reload of the same bundle: %+v", rl)
	}

	// Changed: new revision, new decisions.
	writeFile(t, dir, "decision.rego", decisionBundle(map[string]string{"allow": "false"}, "")["decision.rego"])
	if err := e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	second := e.Revision()
	if second == first {
		t.Fatal("revision unchanged after an edit")
	}
	if rl := rs.next(t); rl.Revision != second || rl.Previous != first || rl.Err != nil {
		t.Errorf("reload: %+v", rl)
	}
	d, err := e.Decide(ctx, pullInput())
	if err != nil || d.Allow || d.Revision != second {
		t.Errorf("Decide after reload = %+v, %v", d, err)
	}

	// Broken: refused, previous kept and still deciding, error reported.
	writeFile(t, dir, "decision.rego", "package qiao\n\ndecision := {\n")
	err = e.Reload(ctx)
	if !errors.Is(err, ErrBundle) {
		t.Fatalf("Reload of a broken bundle: %v", err)
	}
	if e.Revision() != second {
		t.Errorf("Revision = %q after a refused reload, want %q", e.Revision(), second)
	}
	if rl := rs.next(t); rl.Revision != second || rl.Previous != second || !errors.Is(rl.Err, ErrBundle) {
		t.Errorf("refused reload reported as %+v", rl)
	}
	if d, err := e.Decide(ctx, pullInput()); err != nil || d.Revision != second {
		t.Errorf("Decide after a refused reload = %+v, %v", d, err)
	}

	// Gone: refused too.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(ctx); !errors.Is(err, ErrBundle) || e.Revision() != second {
		t.Errorf("Reload of a removed directory: %v, revision %q", err, e.Revision())
	}
	rs.next(t)
}

func TestWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := writeBundle(t, decisionBundle(nil, ""))
	rs := newReloads()
	e, err := New(ctx, Options{Dir: dir, OnReload: rs.on, Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	first := e.Revision()
	done := make(chan struct{})
	go func() {
		e.Watch(ctx, 5*time.Millisecond)
		close(done)
	}()

	// An edit is picked up.
	writeFile(t, dir, "decision.rego", decisionBundle(map[string]string{"max_rows": "7"}, "")["decision.rego"])
	rl := rs.next(t)
	if rl.Err != nil || rl.Previous != first || rl.Revision == first || e.Revision() != rl.Revision {
		t.Fatalf("reload after an edit: %+v, engine at %s", rl, e.Revision())
	}
	second := rl.Revision
	if d, err := e.Decide(ctx, pullInput()); err != nil || d.MaxRows != 7 {
		t.Errorf("Decide after the edit = %+v, %v", d, err)
	}

	// A test file changes nothing.
	writeFile(t, dir, "decision_test.rego", "package qiao\n\ntest_nothing if true\n")

	// A broken edit is refused once, the previous kept.
	writeFile(t, dir, "decision.rego", "package qiao\n\ndecision := {\n")
	rl = rs.next(t)
	if !errors.Is(rl.Err, ErrBundle) || rl.Revision != second || e.Revision() != second {
		t.Fatalf("reload after a broken edit: %+v, engine at %s", rl, e.Revision())
	}
	time.Sleep(50 * time.Millisecond)
	if n := rs.count(); n != 2 {
		t.Errorf("%d reloads reported, want 2: a broken bundle is reported once", n)
	}

	// Fixing it is picked up; a new file counts as a change.
	writeFile(t, dir, "decision.rego", decisionBundle(map[string]string{"max_rows": "8"}, "")["decision.rego"])
	rl = rs.next(t)
	if rl.Err != nil || rl.Previous != second || e.Revision() == second {
		t.Fatalf("reload after the fix: %+v", rl)
	}
	writeFile(t, dir, "helpers.rego", "package qiao.helpers\n\nx := 1\n")
	if rl = rs.next(t); rl.Err != nil {
		t.Fatalf("reload after a new file: %+v", rl)
	}

	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return when its context ended")
	}
}

func TestWatchEmbeddedReturns(t *testing.T) {
	e := newDefault(t)
	done := make(chan struct{})
	go func() {
		e.Watch(context.Background(), time.Millisecond)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch of the embedded bundle did not return")
	}
	if err := e.Reload(context.Background()); err != nil {
		t.Errorf("Reload of the embedded bundle: %v", err)
	}
}

// TestRevisionOfCopy shows that the default bundle copied to a directory
// has the embedded bundle's revision, whatever its tests say.
func TestRevisionOfCopy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	err := fs.WalkDir(defaultBundle, "bundle", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(defaultBundle, p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, d.Name()), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "extra_test.rego", "package qiao_test\n\ntest_extra if true\n")
	writeFile(t, dir, "README.md", "not policy")
	embedded := newDefault(t)
	copied, err := New(ctx, Options{Dir: dir, Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	if embedded.Revision() != copied.Revision() {
		t.Errorf("copy has revision %s, embedded %s", copied.Revision(), embedded.Revision())
	}
	t.Logf("default bundle revision %s", embedded.Revision())
}

// TestDecideDuringReload runs decisions while the bundle is swapped; run
// with -race.
func TestDecideDuringReload(t *testing.T) {
	ctx := context.Background()
	dir := writeBundle(t, decisionBundle(nil, ""))
	e, err := New(ctx, Options{Dir: dir, Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if d, err := e.Decide(ctx, pullInput()); err != nil || !d.Allow {
					t.Errorf("Decide = %+v, %v", d, err)
					return
				}
			}
		})
	}
	for i := range 20 {
		writeFile(t, dir, "decision.rego", decisionBundle(map[string]string{"max_rows": strconv.Itoa(i + 1)}, "")["decision.rego"])
		if err := e.Reload(ctx); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
}

// TestConfigMapLayout reads a bundle laid out as Kubernetes mounts a
// ConfigMap: the files in a hidden, timestamped directory, reached through
// the ..data link and one link per file.
func TestConfigMapLayout(t *testing.T) {
	ctx := context.Background()
	src := decisionBundle(nil, "")["decision.rego"]
	plain := writeBundle(t, map[string]string{"decision.rego": src})
	dir := writeBundle(t, map[string]string{"..2026_11_26_01_00_00.1/decision.rego": src})
	for old, link := range map[string]string{
		"..2026_11_26_01_00_00.1": "..data",
		"..data/decision.rego":    "decision.rego",
	} {
		if err := os.Symlink(old, filepath.Join(dir, link)); err != nil {
			t.Fatalf("making the ConfigMap layout: %v", err)
		}
	}
	want, err := New(ctx, Options{Dir: plain, Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	got, err := New(ctx, Options{Dir: dir, Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	if got.Revision() != want.Revision() {
		t.Errorf("revision %s, want %s", got.Revision(), want.Revision())
	}
}
