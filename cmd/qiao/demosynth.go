package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/qiao-exchange/qiao/adapters/client"
	"github.com/qiao-exchange/qiao/adapters/synth"
	"github.com/qiao-exchange/qiao/gateway"
	"github.com/qiao-exchange/qiao/store"
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
	return demoLeads(ctx, dir, sum, w)
}

// demoLeads waits for the supervision models, which run after the pushes,
// to store their leads, and prints them by model with one title each.
func demoLeads(ctx context.Context, dir string, sum synth.Summary, w io.Writer) error {
	planted := 0
	for _, c := range sum.Truth {
		if c.Kind == synth.Planted {
			planted++
		}
	}
	db, err := store.Open(ctx, store.Config{DSN: filepath.Join(dir, "state.db")})
	if err != nil {
		return err
	}
	defer db.Close()
	var ls []store.Lead
	deadline := time.Now().Add(time.Minute)
	for {
		if ls, err = db.ListLeads(ctx, store.LeadQuery{Limit: 10000}); err != nil {
			return err
		}
		if len(ls) >= planted || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	byModel := map[string][]store.Lead{}
	var names []string
	for _, l := range ls {
		if _, ok := byModel[l.Model]; !ok {
			names = append(names, l.Model)
		}
		byModel[l.Model] = append(byModel[l.Model], l)
	}
	slices.Sort(names)
	fmt.Fprintf(w, "\n监督模型 supervision models ran after the pushes: %d leads (%d cases planted by qiao synth), each audited and in the outbox:\n", len(ls), planted)
	table := [][]string{{"模型 model", "线索 leads", "例 example"}}
	for _, n := range names {
		table = append(table, []string{n, strconv.Itoa(len(byModel[n])), byModel[n][0].TitleZh})
	}
	printTable(w, table)
	if len(ls) != planted {
		return fmt.Errorf("the models found %d leads; qiao synth planted %d cases", len(ls), planted)
	}
	return nil
}
