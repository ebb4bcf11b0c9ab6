package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/qiao-exchange/qiao/adapters/client"
	"github.com/qiao-exchange/qiao/audit"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
)

func newAuditTokenCmd() *cobra.Command {
	var (
		cf   clientFlags
		kind string
	)
	c := &cobra.Command{
		Use:   "token VALUE [--kind id|credit|name]",
		Short: "Compute the token auditors search the log for (计算标识令牌)",
		Long: `token asks the gateway for the HMAC-SM3 token of a personal identifier — a resident ID
number by default, a unified social credit code or a name — the value audit entries
and row filters carry instead of the identifier. The gateway computes it with its
token key, which never leaves it; the computation is itself audited. Search with
"qiao audit query --token TOKEN".`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, ok := map[string]exchangev1.IdentifierKind{
				"id": exchangev1.IdentifierKind_IDENTIFIER_KIND_ID_NUMBER, "credit": exchangev1.IdentifierKind_IDENTIFIER_KIND_CREDIT_CODE,
				"name": exchangev1.IdentifierKind_IDENTIFIER_KIND_NAME,
			}[kind]
			if !ok {
				return fmt.Errorf("--kind %q is not id, credit or name", kind)
			}
			return withClient(cmd, &cf, func(ctx context.Context, c *client.Client) error {
				resp, err := c.Audit.ComputeToken(ctx, &exchangev1.ComputeTokenRequest{Value: args[0], Kind: k})
				if err != nil {
					return callError("计算令牌失败 token failed", err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), resp.GetToken())
				return nil
			})
		},
	}
	cf.register(c, "user:dave")
	c.Flags().StringVar(&kind, "kind", "id", "what VALUE is: id (resident ID number), credit (credit code) or name")
	return c
}

func newAuditQueryCmd() *cobra.Command {
	var (
		cf                                      clientFlags
		from, to, actor, action, ds, dec, token string
		start                                   int64
		follow                                  bool
		every                                   time.Duration
	)
	c := &cobra.Command{
		Use:   "query [--from T] [--to T] [--actor P] [--action A] [--dataset D] [--decision allow|deny] [--token T] [--follow]",
		Short: "Query the audit log through the gateway; --follow prints new entries as they come (查询审计日志)",
		Long: `query prints the audit entries the filters select, one canonical JSON entry per line with
its sequence number, as an auditor reads them through the gateway. With --follow it
keeps polling for new entries until interrupted. Every query is itself audited.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &exchangev1.QueryEntriesRequest{Actor: actor, Action: action, Dataset: ds, Decision: dec, Token: token, StartSeq: start}
			for _, b := range []struct {
				flag, v string
				dst     **timestamppb.Timestamp
			}{{"--from", from, &req.StartTime}, {"--to", to, &req.EndTime}} {
				t, err := parseAuditTime(b.v)
				if err != nil {
					return fmt.Errorf("%s: %w", b.flag, err)
				}
				if !t.IsZero() {
					*b.dst = timestamppb.New(t)
				}
			}
			c, err := cf.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			return auditQuery(cmd.Context(), c, req, follow, every, cmd.OutOrStdout())
		},
	}
	cf.register(c, "user:dave")
	c.Flags().StringVar(&from, "from", "", "first time, inclusive (RFC 3339 or YYYY-MM-DD)")
	c.Flags().StringVar(&to, "to", "", "end time, exclusive (RFC 3339 or YYYY-MM-DD)")
	c.Flags().StringVar(&actor, "actor", "", "only entries by this principal")
	c.Flags().StringVar(&action, "action", "", "only entries of this action, e.g. dataset.pull")
	c.Flags().StringVar(&ds, "dataset", "", "only entries concerning this dataset")
	c.Flags().StringVar(&dec, "decision", "", "only allow or deny")
	c.Flags().StringVar(&token, "token", "", "only entries concerning the identifier with this token (qiao audit token)")
	c.Flags().Int64Var(&start, "start-seq", 0, "the first sequence number")
	c.Flags().BoolVar(&follow, "follow", false, "keep printing new entries until interrupted")
	c.Flags().DurationVar(&every, "interval", 2*time.Second, "how often --follow asks for new entries")
	return c
}

// auditQuery pages through the entries req selects and, with follow, keeps
// asking for new ones every interval until ctx ends.
func auditQuery(ctx context.Context, c *client.Client, req *exchangev1.QueryEntriesRequest, follow bool, every time.Duration, w io.Writer) error {
	for {
		cctx, cancel := client.WithTimeout(ctx)
		resp, err := c.Audit.QueryEntries(cctx, req)
		cancel()
		if err != nil {
			if follow && ctx.Err() != nil {
				return nil
			}
			return callError("查询失败 query failed", err)
		}
		for _, e := range resp.GetEntries() {
			if _, err := audit.ParseEntry(e.GetEncoding()); err != nil {
				return fmt.Errorf("entry %d: %w", e.GetSeq(), err)
			}
			fmt.Fprintf(w, "%s\n", e.GetEncoding())
		}
		req.StartSeq = resp.GetNextSeq()
		if len(resp.GetEntries()) > 0 {
			continue
		}
		if !follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}

// auditExportGateway writes an export made by the gateway to out.
func auditExportGateway(ctx context.Context, cf *clientFlags, from, to time.Time, out string, w io.Writer) error {
	c, err := cf.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	req := &exchangev1.ExportEntriesRequest{}
	if !from.IsZero() {
		req.StartTime = timestamppb.New(from)
	}
	if !to.IsZero() {
		req.EndTime = timestamppb.New(to)
	}
	cctx, cancel := client.WithTimeout(ctx)
	defer cancel()
	resp, err := c.Audit.ExportEntries(cctx, req)
	if err != nil {
		return callError("导出失败 export failed", err)
	}
	var hdr struct {
		Format string `json:"format"`
	}
	line, _, _ := strings.Cut(string(resp.GetExport()), "\n")
	if json.Unmarshal([]byte(line), &hdr) != nil || hdr.Format != audit.ExportFormat {
		return fmt.Errorf("the gateway's answer is not an audit export (%w)", audit.ErrMalformedExport)
	}
	if err := os.WriteFile(out, resp.GetExport(), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(w, "已导出 exported %d entries from %d to %s\n", resp.GetCount(), resp.GetFirstSeq(), out)
	return nil
}
