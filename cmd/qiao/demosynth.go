package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/qiao-exchange/qiao/adapters/client"
	"github.com/qiao-exchange/qiao/adapters/synth"
	"github.com/qiao-exchange/qiao/gateway"
)

// demoPeople is the population of the demo's synthetic county.
const demoPeople = 3000

// demoSynthPush writes synthetic exports of every dataset with qiao synth
// and has each agency push its own over GM-TLS, as qiao push does, then
// prints what was pushed and rejected.
func demoSynthPush(ctx context.Context, dir string, a gateway.Addrs, w io.Writer) error {
	out := filepath.Join(dir, "synth")
	start := time.Now()
	sum, err := synth.Generate(ctx, synth.Options{People: demoPeople, Seed: 1, Out: out, Region: region})
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	rows := 0
	for _, f := range sum.Files {
		rows += f.Rows
	}
	fmt.Fprintf(w, "\n合成数据 qiao synth: %d people, %d files, %d rows, as of %s, in %s (%s)\n",
		sum.People, len(sum.Files), rows, sum.AsOf, out, time.Since(start).Round(time.Millisecond))

	table := [][]string{{"机构 agency", "数据集 dataset", "文件 file", "读取 read", "推送 pushed", "已有 kept", "拒绝 rejected", "问题 problems"}}
	var total client.Result
	for _, f := range sum.Files {
		owner, _, _ := strings.Cut(f.Dataset, ".")
		var res client.Result
		err := pushRun(ctx, pushOptions{
			as: owner + "." + region, dataset: f.Dataset, dir: dir, gateway: a.GRPC.String(), serverName: "localhost",
			batchRows: client.DefaultBatchRows, inFlight: client.DefaultInFlight,
			onResult: func(_ string, r client.Result) { res = r },
		}, []string{filepath.Join(out, f.Name)}, io.Discard, io.Discard)
		if err != nil {
			return fmt.Errorf("%s pushing %s: %w", owner, f.Name, err)
		}
		table = append(table, []string{owner + "." + region, f.Dataset, f.Name, strconv.Itoa(res.Rows), strconv.Itoa(res.Pushed),
			strconv.Itoa(res.Skipped + res.AlreadyStored), strconv.Itoa(res.Rejected), strconv.Itoa(res.Problems)})
		total.Rows += res.Rows
		total.Pushed += res.Pushed
		total.Skipped += res.Skipped + res.AlreadyStored
		total.Rejected += res.Rejected
		total.Problems += res.Problems
	}
	table = append(table, []string{"合计 total", "", "", strconv.Itoa(total.Rows), strconv.Itoa(total.Pushed),
		strconv.Itoa(total.Skipped), strconv.Itoa(total.Rejected), strconv.Itoa(total.Problems)})
	fmt.Fprintln(w, "各机构推送 each agency pushes its exports (qiao push, GM-TLS, SM2-signed, SM4-sealed):")
	printTable(w, table)
	return nil
}
