package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/qiao-exchange/qiao/adapters/synth"
)

func newSynthCmd() *cobra.Command {
	var (
		opts synth.Options
		asOf string
	)
	c := &cobra.Command{
		Use:   "synth --people N --seed S --out DIR [--as-of YYYY-MM-DD]",
		Short: "Generate realistic synthetic agency exports with planted cases (合成数据)",
		Long: `synth writes synthetic exports of the ten datasets for one county — police and
HR/social-security GBK CSV, court XLSX with a title row, medical insurance in both —
with cases planted for each of the six supervision models, near-misses that must not
match, and truth.jsonl saying which is which. The same seed gives the same files.
See docs/synth.md.
synth 生成一个县十个数据集的合成导出文件，为六个法律监督模型植入案例和近似未命中案例，并写出真值文件 truth.jsonl。`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asOf != "" {
				t, err := time.Parse("2006-01-02", asOf)
				if err != nil {
					return fmt.Errorf("--as-of: want YYYY-MM-DD: %w", err)
				}
				opts.AsOf = t
			}
			start := time.Now()
			sum, err := synth.Generate(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return printSynthSummary(cmd.OutOrStdout(), opts.Out, sum, time.Since(start))
		},
	}
	f := c.Flags()
	f.IntVar(&opts.People, "people", 10000, "background population (100 to 4,000,000)")
	f.Int64Var(&opts.Seed, "seed", 1, "random seed; the same seed gives the same files")
	f.StringVar(&opts.Out, "out", "./synth", "output directory")
	f.StringVar(&asOf, "as-of", "", "as-of date YYYY-MM-DD (default today in China Standard Time)")
	f.StringVar(&opts.Region, "region", "411528", "county code (a Henan county; default 息县)")
	return c
}

func printSynthSummary(w io.Writer, dir string, sum synth.Summary, took time.Duration) error {
	fmt.Fprintf(w, "合成数据 synthetic data: %d 人 people (+%d 植入案例人员 planted), 截至 as of %s, 目录 in %s\n\n",
		sum.People, sum.PlantedPeople, sum.AsOf, dir)
	var files [][]string
	files = append(files, []string{"文件 file", "数据集 dataset", "格式 format", "行数 rows"})
	total := 0
	for _, f := range sum.Files {
		files = append(files, []string{f.Name, f.Dataset, f.Format + " (" + f.Encoding + ")", strconv.Itoa(f.Rows)})
		total += f.Rows
	}
	files = append(files, []string{"合计 total", "", "", strconv.Itoa(total)})
	printTable(w, files)

	fmt.Fprintf(w, "\n真值 ground truth: %s\n", sum.TruthFile)
	counts := sum.Counts()
	models := make([]string, 0, len(counts))
	for m := range counts {
		models = append(models, m)
	}
	slices.Sort(models)
	truth := [][]string{{"模型 model", "植入 planted", "近似未命中 near-misses"}}
	for _, m := range models {
		truth = append(truth, []string{m, strconv.Itoa(counts[m][0]), strconv.Itoa(counts[m][1])})
	}
	printTable(w, truth)
	_, err := fmt.Fprintf(w, "清单 manifest: %s\n用时 took: %s\n", sum.ManifestFile, took.Round(time.Millisecond))
	return err
}

// printTable prints rows in columns aligned by display width, Chinese
// characters taking two columns of a terminal.
func printTable(w io.Writer, rows [][]string) {
	width := func(s string) int {
		n := 0
		for _, r := range s {
			if r >= 0x1100 {
				n += 2
			} else {
				n++
			}
		}
		return n
	}
	var cols []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(cols) {
				cols = append(cols, 0)
			}
			cols[i] = max(cols[i], width(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", cols[i]-width(c)+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}
