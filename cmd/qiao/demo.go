package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/qiao-exchange/qiao/adapters/client"
	"github.com/qiao-exchange/qiao/audit"
	"github.com/qiao-exchange/qiao/config"
	"github.com/qiao-exchange/qiao/crypto/envelope"
	"github.com/qiao-exchange/qiao/gateway"
	"github.com/qiao-exchange/qiao/gateway/push"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/schema"
	"github.com/qiao-exchange/qiao/store"
)

func newDemoCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "demo [--dir DIR]",
		Short: "Run the gateway's main job on a development deployment (演示)",
		Long: `demo creates a development deployment (as qiao init), starts the gateway on
loopback ports, writes synthetic exports of every dataset (as qiao synth) and has
each agency push its own over GM-TLS (as qiao push: signed requests, SM2/SM4
envelopes), printing what was pushed and rejected; pushes a batch with bad rows that
is refused, reads it back; then user:alice requests medical-insurance settlements for a case, bob
and carol approve, and alice pulls them masked into a CSV file; finally it stops the
gateway and verifies the audit log.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), dir, cmd.OutOrStdout())
		},
	}
	c.Flags().StringVar(&dir, "dir", "./qiao-demo", "deployment directory")
	return c
}

func runDemo(ctx context.Context, dir string, w io.Writer) error {
	if err := runInit(ctx, dir, io.Discard); err != nil {
		return err
	}
	dir, _ = filepath.Abs(dir)
	cfg, err := config.Load(filepath.Join(dir, "qiao.yaml"))
	if err != nil {
		return err
	}
	// Free loopback ports, so the demo runs beside anything else.
	cfg.Server.GRPCAddress = "127.0.0.1:0"
	cfg.Server.RESTTLS13Address = "127.0.0.1:0"
	cfg.Server.RESTTLCPAddress = "127.0.0.1:0"
	cfg.Server.AdminAddress = "127.0.0.1:0"
	logFile, err := os.Create(filepath.Join(dir, "gateway.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()

	srvCtx, stop := context.WithCancel(ctx)
	defer stop()
	addrs := make(chan gateway.Addrs, 1)
	done := make(chan error, 1)
	go func() { done <- runServe(srvCtx, cfg, logFile, func(a gateway.Addrs) { addrs <- a }) }()
	var a gateway.Addrs
	select {
	case a = <-addrs:
	case err := <-done:
		return fmt.Errorf("the gateway did not start: %w", err)
	}
	fmt.Fprintf(w, "网关已启动 gateway serving: gRPC (GM-TLS) %s, REST (TLS 1.3) %s, admin %s; log in %s\n",
		a.GRPC, a.RESTTLS13, a.Admin, logFile.Name())

	pushErr := demoSynthPush(ctx, dir, a, w)
	if pushErr == nil {
		pushErr = demoPushes(ctx, dir, a, w)
	}
	if pushErr == nil {
		pushErr = demoAccess(ctx, dir, a, w)
	}
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("the gateway: %w", err)
	}
	if pushErr != nil {
		return pushErr
	}

	db, err := store.Open(ctx, store.Config{DSN: cfg.Path(cfg.Store.Path)})
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := loadVerifier("", filepath.Join(dir, "certs", cfg.Principal+".sign.pem"), cfg.Audit.Origin)
	if err != nil {
		return err
	}
	rep, err := audit.VerifyDB(ctx, db, v)
	if err != nil {
		return fmt.Errorf("审计日志验证失败 the audit log does not verify: %w", err)
	}
	fmt.Fprintf(w, "审计日志验证通过 audit log verified: %d entries, root %s, signed checkpoint at size %d\n",
		rep.Entries, rep.Root, rep.Latest)
	fmt.Fprintf(w, "\n部署目录 the deployment stays in %s; run it again with:\n  qiao serve --config %s/qiao.yaml\n", dir, dir)
	return nil
}

// demoPushes pushes one good and one bad batch as the police and reads both back.
func demoPushes(ctx context.Context, dir string, a gateway.Addrs, w io.Writer) error {
	const principal = "police." + region
	cfg, err := client.FromDeployment(ctx, dir, principal)
	if err != nil {
		return err
	}
	cfg.Address = a.GRPC.String()
	c, err := client.Dial(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	key, gwEnc := cfg.Sign.Key, cfg.GatewayEnc
	ds := c.Datasets
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	good, err := demoDeaths(3, false)
	if err != nil {
		return err
	}
	bad, err := demoDeaths(3, true)
	if err != nil {
		return err
	}
	for _, b := range []struct {
		id   string
		rows [][]string
	}{{"demo-2026-11-a", good}, {"demo-2026-11-b", bad}} {
		payload := &exchangev1.BatchPayload{Fields: []string{"id_number", "name", "death_date", "cancel_date"}}
		for _, r := range b.rows {
			payload.Rows = append(payload.Rows, &exchangev1.BatchPayload_Row{Values: r})
		}
		body, err := proto.Marshal(payload)
		if err != nil {
			return err
		}
		env, err := envelope.Seal(key, gwEnc.PublicKey(), envelope.AssociatedData{
			Dataset: "police.deaths", BatchID: b.id, ContentType: push.ContentType}, body)
		if err != nil {
			return err
		}
		_, err = ds.PushBatch(ctx, &exchangev1.PushBatchRequest{Dataset: "police.deaths", BatchId: b.id, Envelope: env})
		if err != nil {
			fmt.Fprintf(w, "推送被拒 push of %s refused: %s\n", b.id, status.Convert(err).Message())
		}
		got, err := ds.GetBatch(ctx, &exchangev1.GetBatchRequest{Dataset: "police.deaths", BatchId: b.id})
		if err != nil {
			return fmt.Errorf("reading batch %s: %w", b.id, err)
		}
		bt := got.GetBatch()
		fmt.Fprintf(w, "批次 batch %s of %s: %s, %d rows", bt.GetBatchId(), bt.GetPrincipal(),
			strings.TrimPrefix(bt.GetState().String(), "BATCH_STATE_"), bt.GetRowCount())
		if n := bt.GetRejectedRowCount(); n > 0 {
			fmt.Fprintf(w, ", %d rejected:", n)
			for _, r := range bt.GetRejectedRows() {
				fmt.Fprintf(w, " row %d %s (%s);", r.GetRow(), r.GetField(), r.GetReason())
			}
		}
		fmt.Fprintln(w)
	}
	return nil
}

// demoDeaths returns n synthetic police.deaths rows with valid resident ID
// numbers of the demo county; with bad, the second row has a wrong check
// digit and the third an impossible date.
func demoDeaths(n int, bad bool) ([][]string, error) {
	rows := make([][]string, n)
	for i := range n {
		first := fmt.Sprintf("%s19%02d0101%03d", region, 40+i, 100+i)
		c, err := schema.IDCheckDigit(first)
		if err != nil {
			return nil, err
		}
		rows[i] = []string{first + string(c), fmt.Sprintf("演示%d", i+1), "2023/3/1", "2023年3月5日"}
	}
	if bad && n >= 3 {
		id := []byte(rows[1][0])
		if id[17] == '1' {
			id[17] = '2'
		} else {
			id[17] = '1'
		}
		rows[1][0] = string(id)
		rows[2][2] = "2023-02-30"
	}
	return rows, nil
}
