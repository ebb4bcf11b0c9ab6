package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/qiao-exchange/qiao/adapters/client"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
)

func newLeadsCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "leads",
		Short: "Read the leads the supervision models found (监督线索)",
	}
	var (
		cf           clientFlags
		model, token string
		limit        int32
	)
	list := &cobra.Command{
		Use:   "list [--model ID] [--subject-token T] [--limit N]",
		Short: "List leads, newest first (线索列表)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *client.Client) error {
				resp, err := c.Leads.ListLeads(ctx, &exchangev1.ListLeadsRequest{Model: model, SubjectToken: token, Limit: limit})
				if err != nil {
					return callError("查询失败 listing failed", err)
				}
				w := cmd.OutOrStdout()
				if len(resp.GetLeads()) == 0 {
					fmt.Fprintln(w, "没有线索 no leads")
				}
				for _, l := range resp.GetLeads() {
					fmt.Fprintf(w, "%.16s  %-30s  %d  %s\n", l.GetLeadId(), l.GetModel(), l.GetPriority(), l.GetTitleZh())
				}
				return nil
			})
		},
	}
	cf.register(list, "user:alice")
	list.Flags().StringVar(&model, "model", "", "only leads of this model, e.g. hrss.pension_after_death")
	list.Flags().StringVar(&token, "subject-token", "", "only leads about the person with this token (qiao audit token)")
	list.Flags().Int32Var(&limit, "limit", 0, "the most leads shown, 1 to 1000 (default 100)")

	var sf clientFlags
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one lead with its evidence (线索详情)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, &sf, func(ctx context.Context, c *client.Client) error {
				resp, err := c.Leads.GetLead(ctx, &exchangev1.GetLeadRequest{LeadId: args[0]})
				if err != nil {
					return callError("查询失败 show failed", err)
				}
				l := resp.GetLead()
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "线索 lead %s\n  模型 model     %s v%d\n  标题 title     %s\n                 %s\n  优先级 priority %d\n  对象 subject   %s (token)\n",
					l.GetLeadId(), l.GetModel(), l.GetModelVersion(), l.GetTitleZh(), l.GetTitleEn(), l.GetPriority(), l.GetSubjectToken())
				var doc any
				if err := json.Unmarshal([]byte(l.GetDocument()), &doc); err != nil {
					return fmt.Errorf("lead %s: its document is not JSON: %w", l.GetLeadId(), err)
				}
				out, _ := json.MarshalIndent(doc, "  ", "  ")
				fmt.Fprintf(w, "  证据 evidence and values:\n  %s\n", out)
				return nil
			})
		},
	}
	sf.register(show, "user:alice")
	c.AddCommand(list, show)
	return c
}
