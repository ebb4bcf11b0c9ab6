package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/qiao-exchange/qiao/leads/models"
)

func newModelsCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "models",
		Short: "The supervision models the gateway runs (法律监督模型)",
	}
	c.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the built-in models with the datasets they read",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ms, err := models.Load()
			if err != nil {
				return err
			}
			table := [][]string{{"模型 model", "版本 v", "名称 title", "数据集 datasets"}}
			for _, m := range ms {
				table = append(table, []string{m.ID, strconv.Itoa(m.Version), m.TitleZh, strings.Join(m.Datasets, ", ")})
			}
			printTable(cmd.OutOrStdout(), table)
			return nil
		},
	}, &cobra.Command{
		Use:   "show ID",
		Short: "Show a model's rule, legal basis, parameters and SQL",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := models.Get(args[0])
			if err != nil {
				return fmt.Errorf("%w (qiao models list names them)", err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s v%d  %s / %s\n\n规则 rule:\n  %s\n  %s\n\n法律依据 legal basis:\n", m.ID, m.Version, m.TitleZh, m.TitleEn,
				strings.TrimSpace(m.RuleZh), strings.TrimSpace(m.RuleEn))
			for _, b := range m.LegalBasis {
				fmt.Fprintf(w, "  %s\n", b)
			}
			fmt.Fprintf(w, "\n数据集 datasets: %s\n", strings.Join(m.Datasets, ", "))
			if len(m.Params) > 0 {
				fmt.Fprintln(w, "\n参数 parameters:")
				for _, p := range m.Params {
					fmt.Fprintf(w, "  %s = %d (%d to %d): %s / %s\n", p.Name, p.Default, p.Min, p.Max, p.DescriptionZh, p.DescriptionEn)
				}
			}
			fmt.Fprintf(w, "\nSQL:\n%s\n", strings.TrimSpace(m.SQL))
			return nil
		},
	})
	return c
}
