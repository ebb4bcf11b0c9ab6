package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/qiao-exchange/qiao/adapters"
	"github.com/qiao-exchange/qiao/adapters/client"
	"github.com/qiao-exchange/qiao/gateway/push"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/schema"
)

// The client copies the gateway's content type rather than importing the
// gateway: the two must agree.
func TestPushContentTypeMatchesGateway(t *testing.T) {
	if client.BatchContentType != push.ContentType {
		t.Errorf("client %q, gateway %q", client.BatchContentType, push.ContentType)
	}
}

// pushRunCmd runs `qiao push args…` and returns its output.
func pushRunCmd(ctx context.Context, args ...string) (string, error) {
	cmd := newPushCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

// pushWriteDeathsCSV writes rows as a police export: a title row, then the
// Chinese headers.
func pushWriteDeathsCSV(t *testing.T, path string, rows [][]string) {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"户籍注销(死亡)人员名单"})
	_ = w.Write([]string{"公民身份号码", "姓名", "死亡日期", "注销日期"})
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// pushTestPrefix returns the batch-ID prefix `qiao push` uses for file.
func pushTestPrefix(t *testing.T, c *client.Client, ds *schema.Dataset, file string, batchRows int) string {
	t.Helper()
	in, err := pushInput(file, ds, adapters.Options{Agency: pushAgencies["police"]}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := client.NewPusher(c, ds, client.PushOptions{BatchRows: batchRows})
	if err != nil {
		t.Fatal(err)
	}
	return p.BatchPrefix(in.Digest)
}

// `qiao push` against `qiao serve` on loopback: a valid file is pushed in
// batches and read back; a file with bad rows is not pushed and the report
// lists its problems; a dry run pushes nothing; an interrupted push resumes
// with only what is missing; another agency's dataset is refused; and the
// warehouse holds every pushed row exactly once.
func TestPushCommand(t *testing.T) {
	d := serveDeployment(t)
	ctx := t.Context()
	const police = "police." + region
	dir := t.TempDir()
	gw := d.addrs.GRPC.String()
	base := []string{"--as", police, "--dataset", "police.deaths", "--dir", d.dir, "--gateway", gw}
	cfg, err := client.FromDeployment(ctx, d.dir, police)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Address = gw
	c, err := client.Dial(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reg, err := schema.Load("")
	if err != nil {
		t.Fatal(err)
	}
	deaths, err := reg.Get("police.deaths")
	if err != nil {
		t.Fatal(err)
	}
	batchRows := func(prefix string, n int) (rows int64, states []exchangev1.BatchState) {
		t.Helper()
		for i := 1; i <= n; i++ {
			got, err := c.Datasets.GetBatch(ctx, &exchangev1.GetBatchRequest{Dataset: "police.deaths", BatchId: fmt.Sprintf("%s-%06d", prefix, i)})
			if status.Code(err) == codes.NotFound {
				states = append(states, exchangev1.BatchState_BATCH_STATE_UNSPECIFIED)
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			rows += got.GetBatch().GetRowCount()
			states = append(states, got.GetBatch().GetState())
		}
		return rows, states
	}
	stored := 0 // rows the gateway should hold

	t.Run("valid file", func(t *testing.T) {
		file := filepath.Join(dir, "死亡注销.csv")
		pushWriteDeathsCSV(t, file, deathRows(t, 0, 250))
		out, err := pushRunCmd(ctx, append(base, "--batch-rows", "100", file)...)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		for _, want := range []string{"推送完成 pushed", "rows read:                 250", "pushed:                    250 (3 batches)", "rejected by the gateway: 0 rows"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		n, states := batchRows(pushTestPrefix(t, c, deaths, file, 100), 4)
		if n != 250 || fmt.Sprint(states) != "[BATCH_STATE_COMMITTED BATCH_STATE_COMMITTED BATCH_STATE_COMMITTED BATCH_STATE_UNSPECIFIED]" {
			t.Errorf("the gateway holds %d rows in batches %v", n, states)
		}
		stored += 250
		// Again: every batch is skipped as already pushed.
		out, err = pushRunCmd(ctx, append(base, "--batch-rows", "100", file)...)
		if err != nil || !strings.Contains(out, "skipped, pushed before: 250 (3 batches)") || !strings.Contains(out, "pushed:                    0 (0 batches)") {
			t.Errorf("pushing again: %v\n%s", err, out)
		}
	})

	t.Run("bad rows", func(t *testing.T) {
		rows := deathRows(t, 300, 40)
		secret := rows[9][0]
		rows[9][0] = wrongCheckDigit(secret)
		rows[30][2] = "2023-02-30"
		file := filepath.Join(dir, "bad.csv")
		pushWriteDeathsCSV(t, file, rows)
		good := filepath.Join(dir, "good.csv")
		pushWriteDeathsCSV(t, good, deathRows(t, 400, 30))
		report := filepath.Join(dir, "errors.csv")
		out, err := pushRunCmd(ctx, append(base, "--batch-rows", "10", "--report", report, file, good)...)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != pushExitInvalid || !strings.Contains(err.Error(), "1 of 2 files need fixing: "+file) {
			t.Fatalf("%v, want exit status %d\n%s", err, pushExitInvalid, out)
		}
		for _, want := range []string{"有问题，未推送 has problems", "problems:                  2 (in 2 rows)", "bad.csv:12: column 公民身份号码 (id_number)", "bad.csv:33: column 死亡日期 (death_date)", "report: 2 problems",
			"合计 total: 1 of 2 files complete, 70 rows read, 30 pushed now, 30 on the gateway"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if n, _ := batchRows(pushTestPrefix(t, c, deaths, file, 10), 4); n != 0 {
			t.Errorf("%d rows of the bad file were pushed", n)
		}
		if _, err := os.Stat(file + ".qiao-push"); err == nil {
			t.Error("the bad file has a state file")
		}
		// The other file is pushed.
		if n, _ := batchRows(pushTestPrefix(t, c, deaths, good, 10), 3); n != 30 {
			t.Errorf("%d rows of the good file were pushed, want 30", n)
		}
		stored += 30
		data, err := os.ReadFile(report)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, []byte("\uFEFF")) {
			t.Error("the report has no byte-order mark")
		}
		recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\uFEFF")))).ReadAll()
		if err != nil || len(recs) != 3 {
			t.Fatalf("report: %v\n%s", err, data)
		}
		if r := recs[1]; r[0] != file || r[1] != "12" || r[2] != "公民身份号码" || r[3] != "id_number" || r[4] == "" {
			t.Errorf("report line %q", r)
		}
		if r := recs[2]; r[1] != "33" || r[3] != "death_date" {
			t.Errorf("report line %q", r)
		}
		if strings.Contains(string(data), secret[:14]) || strings.Contains(out, secret[:14]) {
			t.Error("the report or the output quotes a resident ID number")
		}
	})

	t.Run("dry run", func(t *testing.T) {
		file := filepath.Join(dir, "dry.csv")
		pushWriteDeathsCSV(t, file, deathRows(t, 500, 20))
		// No keys needed: --as and --dir are not used.
		out, err := pushRunCmd(ctx, "--dataset", "police.deaths", "--dry-run", file)
		if err != nil || !strings.Contains(out, "校验通过 valid (dry run: nothing pushed)") || !strings.Contains(out, "rows read:                 20") {
			t.Errorf("%v\n%s", err, out)
		}
		if n, _ := batchRows(pushTestPrefix(t, c, deaths, file, client.DefaultBatchRows), 1); n != 0 {
			t.Errorf("a dry run pushed %d rows", n)
		}
		if _, err := os.Stat(file + ".qiao-push"); err == nil {
			t.Error("a dry run wrote a state file")
		}
		bad := filepath.Join(dir, "dry-bad.csv")
		rows := deathRows(t, 600, 5)
		rows[2][3] = ""
		pushWriteDeathsCSV(t, bad, rows)
		out, err = pushRunCmd(ctx, "--dataset", "police.deaths", "--dry-run", bad)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != pushExitInvalid || !strings.Contains(out, "dry-bad.csv:5: column 注销日期 (cancel_date)") {
			t.Errorf("%v\n%s", err, out)
		}
	})

	t.Run("resume", func(t *testing.T) {
		file := filepath.Join(dir, "resume.csv")
		pushWriteDeathsCSV(t, file, deathRows(t, 1000, 500))
		state := filepath.Join(dir, "state")
		// Interrupted after 3 batches, as a crash or Ctrl-C would.
		in, err := pushInput(file, deaths, adapters.Options{Agency: pushAgencies["police"]}, "", "")
		if err != nil {
			t.Fatal(err)
		}
		ictx, cancel := context.WithCancel(ctx)
		p, err := client.NewPusher(c, deaths, client.PushOptions{BatchRows: 50, InFlight: 1, StateDir: state, Progress: func(g client.Progress) {
			if g.Batches == 3 {
				cancel()
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := p.Push(ictx, in)
		cancel()
		if !errors.Is(err, context.Canceled) || res.BatchesPushed != 3 {
			t.Fatalf("interrupted push: %v, %+v", err, res)
		}
		out, err := pushRunCmd(ctx, append(base, "--batch-rows", "50", "--state-dir", state, file)...)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if !strings.Contains(out, "skipped, pushed before: 150 (3 batches)") || !strings.Contains(out, "pushed:                    350 (7 batches)") {
			t.Errorf("resumed push:\n%s", out)
		}
		// A state file that lost its last lines: those batches go again
		// and the gateway, which has them, stores nothing twice.
		data, err := os.ReadFile(res.StateFile)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n")
		if err := os.WriteFile(res.StateFile, []byte(strings.Join(lines[:len(lines)-2], "")), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err = pushRunCmd(ctx, append(base, "--batch-rows", "50", "--state-dir", state, file)...)
		if err != nil || !strings.Contains(out, "already on the gateway: 100 (2 batches)") || !strings.Contains(out, "pushed:                    0 (0 batches)") {
			t.Errorf("after losing state: %v\n%s", err, out)
		}
		if n, _ := batchRows(res.BatchPrefix, 10); n != 500 {
			t.Errorf("the gateway holds %d rows of the file, want 500", n)
		}
		stored += 500
	})

	t.Run("mapping", func(t *testing.T) {
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		_ = w.Write([]string{"人员身份证号", "姓名", "死亡日期", "注销日期", "经办单位"})
		for _, r := range deathRows(t, 2100, 12) {
			_ = w.Write(append(r, "城关派出所"))
		}
		w.Flush()
		file := filepath.Join(dir, "own-headers.csv")
		if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		// Without the mapping, the unknown columns are problems.
		out, err := pushRunCmd(ctx, append(base, file)...)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != pushExitInvalid || !strings.Contains(out, "人员身份证号") || !strings.Contains(out, "pushed:                    0 (0 batches)") {
			t.Fatalf("%v\n%s", err, out)
		}
		mapping := filepath.Join(dir, "mapping.yaml")
		if err := os.WriteFile(mapping, []byte("police.deaths:\n  人员身份证号: id_number\n  经办单位: \"-\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err = pushRunCmd(ctx, append(base, "--mapping", mapping, file)...)
		if err != nil || !strings.Contains(out, "pushed:                    12 (1 batches)") {
			t.Fatalf("with the mapping: %v\n%s", err, out)
		}
		stored += 12
	})

	t.Run("another agency's dataset", func(t *testing.T) {
		file := filepath.Join(dir, "court.csv")
		pushWriteDeathsCSV(t, file, deathRows(t, 2000, 5))
		out, err := pushRunCmd(ctx, "--as", "court."+region, "--dataset", "police.deaths", "--dir", d.dir, "--gateway", gw, file)
		var ee *exitError
		if err == nil || errors.As(err, &ee) || status.Code(err) != codes.PermissionDenied ||
			!strings.Contains(err.Error(), "推送被拒绝") || !strings.Contains(err.Error(), "court.411528 may not push dataset police.deaths (owned by police agencies)") {
			t.Errorf("%v\n%s", err, out)
		}
	})

	t.Run("batch too large", func(t *testing.T) {
		// 1,500 rows exceed this gateway's 64 KiB message limit: refused
		// at once, not retried, with what to do.
		file := filepath.Join(dir, "big.csv")
		pushWriteDeathsCSV(t, file, deathRows(t, 0, 1500))
		start := time.Now()
		out, err := pushRunCmd(ctx, append(base, "--batch-rows", "1500", file)...)
		if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "--batch-rows") || time.Since(start) > 10*time.Second {
			t.Errorf("%v\n%s", err, out)
		}
	})

	t.Run("flags", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--as", police, "x.csv"}, "--dataset is required"},
			{[]string{"--dataset", "police.deaths", "x.csv"}, "--as is required"},
			{[]string{"--as", police, "--dataset", "police.nothing", "x.csv"}, "police.deaths"},
			{[]string{"--as", police, "--dataset", "police.deaths", "--batch-rows", "0", "x.csv"}, "--batch-rows 0"},
			{[]string{"--as", police, "--dataset", "police.deaths", "--dir", d.dir, "--gateway", gw, filepath.Join(dir, "missing.csv")}, "no such file"},
		} {
			if out, err := pushRunCmd(ctx, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("qiao push %v: %v, want %q\n%s", tc.args, err, tc.want, out)
			}
		}
	})

	c.Close()
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	if n := d.visibleRows(t, "police.deaths"); n != int64(stored) {
		t.Errorf("the warehouse holds %d rows, want %d: every pushed row once", n, stored)
	}
}

// Off a terminal, progress is plain lines; the summary groups thousands.
func TestPushProgressLines(t *testing.T) {
	var b bytes.Buffer
	p := pushNewProgress(&b)
	p.every = 0
	for _, g := range []client.Progress{
		{File: "a.csv", Phase: client.Validating, Read: 12000},
		{File: "a.csv", Phase: client.Pushing, Total: 50000, Pushed: 12000},
		{File: "a.csv", Phase: client.Done, Total: 50000, Pushed: 50000},
	} {
		p.update(g)
	}
	p.finish()
	out := b.String()
	if p.tty || !strings.Contains(out, "校验进度 checked 12,000 rows (") || !strings.Contains(out, "推送进度 pushed 12,000 of 50,000 rows (") ||
		strings.Count(out, "\n") != 2 {
		t.Errorf("progress lines:\n%s", out)
	}
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -12000: "-12,000"} {
		if got := pushGroup(n); got != want {
			t.Errorf("pushGroup(%d) = %q, want %q", n, got, want)
		}
	}
}
