package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/qiao-exchange/qiao/adapters"
	"github.com/qiao-exchange/qiao/adapters/client"
	"github.com/qiao-exchange/qiao/adapters/court"
	"github.com/qiao-exchange/qiao/adapters/hrss"
	"github.com/qiao-exchange/qiao/adapters/medins"
	"github.com/qiao-exchange/qiao/adapters/police"
	"github.com/qiao-exchange/qiao/crypto/sm3"
	"github.com/qiao-exchange/qiao/schema"
)

// pushOptions are the flags of `qiao push`.
type pushOptions struct {
	as, dataset, dir, gateway string
	serverName                string
	batchRows, inFlight       int
	dryRun                    bool
	report, mapping, sheet    string
	stateDir, schemas         string
	// onResult, if set, receives each file's result (the demo's summary).
	onResult func(file string, r client.Result)
}

// pushExitInvalid is the exit status of a push that found problems in the
// input or had rows rejected: the data needs fixing, not the setup.
const pushExitInvalid = 2

func newPushCmd() *cobra.Command {
	var o pushOptions
	c := &cobra.Command{
		Use:   "push --as PRINCIPAL --dataset ID [flags] FILE…",
		Short: "Push export files of a dataset to the gateway (推送数据)",
		Long: `push reads agency exports (.csv in UTF-8 or GBK, .xlsx, .jsonl), checks every row
against the dataset's schema, and pushes the rows to the gateway in signed,
SM4-sealed batches. 读取导出文件，逐行校验，分批签名加密推送到网关。

Each file is read twice: first every row is checked; only if no row of the file
has a problem are its rows pushed (a file with any bad row is not pushed at all).
Problems are listed, and written with --report to a CSV file that Excel opens.
Batches the gateway accepted are recorded in FILE.qiao-push (or --state-dir), so
running the same command again after an interruption pushes only what is missing.

Exit status: 0 when every row of every file is on the gateway (or, with
--dry-run, valid); 2 when a file had problems or the gateway rejected rows; 1 for
any other failure (no such file, the gateway refused the principal or stayed
unreachable). See docs/push.md.`,
		Example: `  qiao push --as police.411528 --dataset police.deaths 死亡注销2026-11.xlsx
  qiao push --as police.411528 --dataset police.deaths --dry-run --report 问题.csv exports/*.csv`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			return pushRun(cmd.Context(), o, files, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := c.Flags()
	f.StringVar(&o.as, "as", "", "the pushing principal, e.g. police.411528 (推送机构)")
	f.StringVar(&o.dataset, "dataset", "", "the dataset, e.g. police.deaths (数据集)")
	f.StringVar(&o.dir, "dir", "./qiao-data", "deployment directory holding the principal's keys and certificates")
	f.StringVar(&o.gateway, "gateway", "", "the gateway's gRPC address, host:port (default: the deployment's)")
	f.StringVar(&o.serverName, "server-name", "", "the name the gateway's certificate carries (default: the --gateway host name, or localhost for an IP address)")
	f.IntVar(&o.batchRows, "batch-rows", client.DefaultBatchRows, "rows per batch")
	f.IntVar(&o.inFlight, "in-flight", client.DefaultInFlight, "batches pushed at once")
	f.BoolVar(&o.dryRun, "dry-run", false, "check the files only; push nothing (只校验，不推送)")
	f.StringVar(&o.report, "report", "", "write every problem to this CSV file (问题清单)")
	f.StringVar(&o.mapping, "mapping", "", "YAML file mapping the agency's column headers to fields (列名映射)")
	f.StringVar(&o.sheet, "sheet", "", "worksheet of .xlsx files to read (default: the first)")
	f.StringVar(&o.stateDir, "state-dir", "", "directory for the state files (default: beside each file)")
	f.StringVar(&o.schemas, "schemas", "", "directory of extra dataset schema files")
	return c
}

// pushAgencies are the agencies' column names and value fixes, by the
// dataset's owner.
var pushAgencies = map[string]*adapters.Agency{
	"police": police.Agency,
	"court":  court.Agency,
	"medins": medins.Agency,
	"hrss":   hrss.Agency,
}

func pushRun(ctx context.Context, o pushOptions, files []string, stdout, stderr io.Writer) error {
	switch {
	case o.dataset == "":
		return errors.New("push: --dataset is required (请指定数据集), e.g. --dataset police.deaths")
	case o.as == "" && !o.dryRun:
		return errors.New("push: --as is required (请指定推送机构), e.g. --as police.411528")
	case o.batchRows < 1 || o.batchRows > client.MaxBatchRows:
		return fmt.Errorf("push: --batch-rows %d: choose 1 to %d", o.batchRows, client.MaxBatchRows)
	case o.inFlight < 1 || o.inFlight > 64:
		return fmt.Errorf("push: --in-flight %d: choose 1 to 64", o.inFlight)
	}
	reg, err := schema.Load(o.schemas)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	ds, err := reg.Get(o.dataset)
	if err != nil {
		var ids []string
		for _, d := range reg.List() {
			ids = append(ids, d.ID)
		}
		return fmt.Errorf("push: 未知数据集 %w; the datasets are %s", err, strings.Join(ids, ", "))
	}
	opts := adapters.Options{Sheet: o.sheet, Agency: pushAgencies[ds.Owner]}
	var mappingDigest string
	if o.mapping != "" {
		if opts.Mapping, err = adapters.LoadMapping(o.mapping); err != nil {
			return fmt.Errorf("push: %w", err)
		}
		if err := opts.Mapping.Check(reg); err != nil {
			return fmt.Errorf("push: %w", err)
		}
		mappingDigest = pushMappingDigest(opts.Mapping[ds.ID])
	}

	var c *client.Client
	if !o.dryRun {
		cfg, err := client.FromDeployment(ctx, o.dir, o.as)
		if err != nil {
			return fmt.Errorf("push: %s 的密钥或证书无法读取 cannot read the keys and certificates of %s: %w", o.as, o.as, err)
		}
		if o.gateway != "" {
			cfg.Address = o.gateway
			if host, _, err := net.SplitHostPort(o.gateway); err == nil && net.ParseIP(host) == nil {
				cfg.ServerName = host
			}
		}
		if o.serverName != "" {
			cfg.ServerName = o.serverName
		}
		if c, err = client.Dial(cfg); err != nil {
			return fmt.Errorf("push: %w", err)
		}
		defer c.Close()
	}

	var (
		report *client.Report
		rf     *os.File
	)
	if o.report != "" {
		rf, err = os.Create(o.report)
		if err != nil {
			return fmt.Errorf("push: report: %w", err)
		}
		defer rf.Close()
		if report, err = client.NewReport(rf); err != nil {
			return fmt.Errorf("push: %w", err)
		}
	}

	prog := pushNewProgress(stderr)
	var shown []client.Problem // of the current file, for the summary
	shownTotal := 0
	popts := client.PushOptions{
		BatchRows: o.batchRows, InFlight: o.inFlight, StateDir: o.stateDir, DryRun: o.dryRun,
		Progress: prog.update,
		Problem: func(p client.Problem) {
			if report != nil {
				_ = report.Write(p) // Flush reports the first error
			}
			shownTotal++
			if len(shown) < pushShownProblems {
				shown = append(shown, p)
			}
		},
	}
	var p *client.Pusher
	if c != nil {
		p, err = client.NewPusher(c, ds, popts)
	} else {
		p, err = client.NewDryRunPusher(ds, popts)
	}
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}

	var (
		bad          []string
		done, rows   int
		pushed, held int
		fatal        error
	)
	for _, file := range files {
		shown, shownTotal = nil, 0
		in, err := pushInput(file, ds, opts, mappingDigest, o.sheet)
		if err != nil {
			fatal = fmt.Errorf("push: %w", err)
			break
		}
		res, err := p.Push(ctx, in)
		prog.finish()
		rows, pushed, held = rows+res.Rows, pushed+res.Pushed, held+res.Pushed+res.Skipped+res.AlreadyStored
		pushSummary(stdout, ds, res, shown, shownTotal, o.report != "")
		if o.onResult != nil {
			o.onResult(file, res)
		}
		switch {
		case err == nil:
			done++
		case errors.Is(err, client.ErrInvalidInput), errors.Is(err, client.ErrRejected):
			bad = append(bad, file)
		default:
			if errors.Is(err, context.Canceled) && res.StateFile != "" {
				fmt.Fprintf(stdout, "已中断 interrupted: the batches accepted so far are recorded in %s; run the same command again to push the rest\n", res.StateFile)
			}
			fatal = fmt.Errorf("push: %s: %w", file, err)
		}
		if fatal != nil {
			break
		}
	}
	if len(files) > 1 && fatal == nil {
		if o.dryRun {
			fmt.Fprintf(stdout, "\n合计 total: %d of %d files valid, %s rows read\n", done, len(files), pushGroup(rows))
		} else {
			fmt.Fprintf(stdout, "\n合计 total: %d of %d files complete, %s rows read, %s pushed now, %s on the gateway\n",
				done, len(files), pushGroup(rows), pushGroup(pushed), pushGroup(held))
		}
	}
	if report != nil {
		err := report.Flush()
		if cerr := rf.Close(); err == nil {
			err = cerr
		}
		if err != nil && fatal == nil {
			fatal = fmt.Errorf("push: %w", err)
		}
		if fatal == nil {
			fmt.Fprintf(stdout, "问题清单 report: %d problems written to %s\n", report.Len(), o.report)
		}
	}
	if fatal != nil {
		return fatal
	}
	if len(bad) > 0 {
		what := "推送未完成 not everything was pushed"
		if o.dryRun {
			what = "校验未通过 the check found problems"
		}
		return &exitError{code: pushExitInvalid, err: fmt.Errorf("%s: %d of %d files need fixing: %s", what, len(bad), len(files), strings.Join(bad, ", "))}
	}
	return nil
}

// pushMappingDigest is the SM3 of the dataset's part of a mapping file, in
// a canonical form: a change to another dataset's part, a comment or the
// order of lines does not change the batches of a file.
func pushMappingDigest(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "\x00" + m[k] + "\n")
	}
	return sm3.SumHex([]byte(b.String()))
}

// pushShownProblems is how many problems of a file the summary lists.
const pushShownProblems = 20

// pushInput describes a file to the Pusher: its digest covers the file's
// bytes, the mapping and the worksheet, and each pass opens it anew with
// the adapters' reader.
func pushInput(path string, ds *schema.Dataset, opts adapters.Options, mappingDigest, sheet string) (client.Input, error) {
	f, err := os.Open(path)
	if err != nil {
		return client.Input{}, err
	}
	defer f.Close()
	h := sm3.New()
	if _, err := io.Copy(h, f); err != nil {
		return client.Input{}, fmt.Errorf("reading %s: %w", path, err)
	}
	h.Write([]byte("\x00mapping " + mappingDigest + "\x00sheet " + sheet))
	return client.Input{
		Name:   path,
		Digest: fmt.Sprintf("%x", h.Sum(nil)),
		Open: func() (client.Source, error) {
			r, err := adapters.Open(path, ds, opts)
			switch {
			case errors.Is(err, adapters.ErrNoHeader), errors.Is(err, adapters.ErrUnsupportedFormat):
				// The file is not an export of the dataset: a problem
				// of the input, reported as such.
				return &pushFileProblem{p: client.Problem{File: path, Reason: strings.TrimPrefix(err.Error(), "adapters: ")}}, nil
			case err != nil:
				return nil, err
			}
			return &pushSource{r: r, header: r.Header()}, nil
		},
	}, nil
}

// pushSource is a client.Source over an adapters.Reader: the header's
// problems first, then the rows.
type pushSource struct {
	r      *adapters.Reader
	header []client.Problem
}

func (s *pushSource) Next() (client.Row, []client.Problem, error) {
	if len(s.header) > 0 {
		h := s.header
		s.header = nil
		return client.Row{}, h, nil
	}
	return s.r.Next()
}

func (s *pushSource) Close() error { return s.r.Close() }

// pushFileProblem is a file that cannot be read as the dataset at all.
type pushFileProblem struct {
	p    client.Problem
	done bool
}

func (s *pushFileProblem) Next() (client.Row, []client.Problem, error) {
	if s.done {
		return client.Row{}, nil, io.EOF
	}
	s.done = true
	return client.Row{}, []client.Problem{s.p}, nil
}

func (s *pushFileProblem) Close() error { return nil }

// pushSummary tells agency staff what became of one file.
func pushSummary(w io.Writer, ds *schema.Dataset, r client.Result, shown []client.Problem, total int, reported bool) {
	var verdict string
	switch {
	case r.Problems > 0 || r.Invalid > 0:
		verdict = "有问题，未推送 has problems: nothing of it was pushed"
	case r.BatchesRejected > 0:
		verdict = "网关拒绝部分行 the gateway rejected rows"
	case r.Rows == 0 && r.OK():
		verdict = "没有数据行 the file has no rows: nothing to push"
	case r.DryRun && r.OK():
		verdict = "校验通过 valid (dry run: nothing pushed)"
	case r.OK():
		verdict = "推送完成 pushed"
	default:
		verdict = "已停止 stopped before the end"
	}
	fmt.Fprintf(w, "\n文件 %s → %s: %s\n", r.File, ds.ID, verdict)
	fmt.Fprintf(w, "  读取 rows read:                 %s\n", pushGroup(r.Rows))
	if r.Problems > 0 || r.Invalid > 0 {
		fmt.Fprintf(w, "  问题 problems:                  %s (in %s rows)\n", pushGroup(r.Problems), pushGroup(r.Invalid))
	}
	if !r.DryRun {
		fmt.Fprintf(w, "  推送 pushed:                    %s (%s batches)\n", pushGroup(r.Pushed), pushGroup(r.BatchesPushed))
		if r.BatchesSkipped > 0 {
			fmt.Fprintf(w, "  已推送，跳过 skipped, pushed before: %s (%s batches)\n", pushGroup(r.Skipped), pushGroup(r.BatchesSkipped))
		}
		if r.BatchesAlreadyStored > 0 {
			fmt.Fprintf(w, "  网关已有 already on the gateway: %s (%s batches)\n", pushGroup(r.AlreadyStored), pushGroup(r.BatchesAlreadyStored))
		}
		fmt.Fprintf(w, "  网关拒绝 rejected by the gateway: %s rows (%s batches)\n", pushGroup(r.Rejected), pushGroup(r.BatchesRejected))
	}
	el := r.Elapsed.Round(time.Millisecond)
	if el == 0 {
		el = r.Elapsed.Round(time.Microsecond)
	}
	fmt.Fprintf(w, "  用时 time:                      %s", el)
	if r.Pushed > 0 && r.Elapsed > 0 {
		fmt.Fprintf(w, " (%s rows/s)", pushGroup(int(float64(r.Pushed)/r.Elapsed.Seconds())))
	}
	fmt.Fprintln(w)
	for _, p := range shown {
		fmt.Fprintf(w, "  ✗ %s\n", p.Error())
	}
	if total > len(shown) {
		fmt.Fprintf(w, "  … 另有 %s 个问题 and %s more", pushGroup(total-len(shown)), pushGroup(total-len(shown)))
		if !reported {
			fmt.Fprint(w, "; list them all with --report FILE.csv")
		}
		fmt.Fprintln(w)
	}
}

// pushGroup writes n with thousands separators: 12,000.
func pushGroup(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + pushGroup(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// pushProgress shows a push advancing: a progress bar with rows/s on a
// terminal, a plain line every pushProgressEvery otherwise.
type pushProgress struct {
	w     io.Writer
	tty   bool
	every time.Duration // between plain lines
	bar   *progressbar.ProgressBar
	phase client.Phase
	start time.Time // of the phase
	last  time.Time // of the last plain line
	rows  int       // at the last update
}

// pushProgressEvery is how often a plain progress line is written.
const pushProgressEvery = 5 * time.Second

func pushNewProgress(w io.Writer) *pushProgress {
	f, ok := w.(*os.File)
	return &pushProgress{w: w, tty: ok && term.IsTerminal(int(f.Fd())), every: pushProgressEvery}
}

func (p *pushProgress) update(g client.Progress) {
	rows := g.Read
	if g.Phase == client.Pushing {
		rows = g.Pushed
	}
	if g.Phase != p.phase {
		p.finishBar()
		p.phase, p.start, p.last = g.Phase, time.Now(), time.Now()
		if p.tty && g.Phase != client.Done {
			p.bar = p.newBar(g)
		}
	}
	p.rows = rows
	if g.Phase == client.Done {
		return
	}
	if p.bar != nil {
		_ = p.bar.Set(rows)
		return
	}
	if time.Since(p.last) >= p.every {
		p.last = time.Now()
		rate := float64(rows) / max(time.Since(p.start).Seconds(), 0.001)
		if g.Phase == client.Validating {
			fmt.Fprintf(p.w, "校验进度 checked %s rows (%s rows/s)\n", pushGroup(rows), pushGroup(int(rate)))
		} else {
			fmt.Fprintf(p.w, "推送进度 pushed %s of %s rows (%s rows/s)\n", pushGroup(rows), pushGroup(g.Total), pushGroup(int(rate)))
		}
	}
}

func (p *pushProgress) newBar(g client.Progress) *progressbar.ProgressBar {
	total, desc := int64(-1), "校验 checking "+g.File
	if g.Phase == client.Pushing {
		total, desc = int64(g.Total), "推送 pushing "+g.File
	}
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionFullWidth(),
	)
}

func (p *pushProgress) finishBar() {
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
}

// finish ends the current file's display.
func (p *pushProgress) finish() {
	p.finishBar()
	p.phase = 0
}
