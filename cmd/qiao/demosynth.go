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
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
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
	return demoLeads(ctx, dir, a, sum, w)
}

// demoLeads waits for the supervision models, which run after the pushes,
// to store their leads, and prints them by model with one title each, as
// user:alice (procuratorate) reads them through the Leads API.
func demoLeads(ctx context.Context, dir string, a gateway.Addrs, sum synth.Summary, w io.Writer) error {
	planted := 0
	for _, c := range sum.Truth {
		if c.Kind == synth.Planted {
			planted++
		}
	}
	cfg, err := client.FromDeployment(ctx, dir, "user:alice")
	if err != nil {
		return err
	}
	cfg.Address = a.GRPC.String()
	c, err := client.Dial(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	var ls []*exchangev1.Lead
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := c.Leads.ListLeads(ctx, &exchangev1.ListLeadsRequest{Limit: 1000})
		if err != nil {
			return fmt.Errorf("alice listing leads: %w", err)
		}
		ls = resp.GetLeads()
		if len(ls) >= planted || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	byModel := map[string][]*exchangev1.Lead{}
	var names []string
	for _, l := range ls {
		if _, ok := byModel[l.GetModel()]; !ok {
			names = append(names, l.GetModel())
		}
		byModel[l.GetModel()] = append(byModel[l.GetModel()], l)
	}
	slices.Sort(names)
	fmt.Fprintf(w, "\n监督模型 supervision models ran after the pushes: %d leads (%d cases planted by qiao synth), each audited and in the outbox; user:alice reads them (qiao leads list):\n", len(ls), planted)
	table := [][]string{{"模型 model", "线索 leads", "例 example"}}
	for _, n := range names {
		table = append(table, []string{n, strconv.Itoa(len(byModel[n])), byModel[n][0].GetTitleZh()})
	}
	printTable(w, table)
	if len(ls) != planted {
		// A model that ran while a dataset was still arriving can find a
		// case twice, with fewer and with all its records (docs/leads.md).
		fmt.Fprintf(w, "注意 note: the models found %d leads for %d planted cases\n", len(ls), planted)
	}
	return nil
}
