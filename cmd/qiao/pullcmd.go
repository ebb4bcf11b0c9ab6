package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/qiao-exchange/qiao/adapters/client"
)

func newPullCmd() *cobra.Command {
	var (
		cf                     clientFlags
		grant, out, format, cs string
	)
	c := &cobra.Command{
		Use:   "pull --grant ID --out FILE [--format csv|xlsx|jsonl] [--encoding utf-8|gbk]",
		Short: "Pull the rows a grant allows into a file (按授权调取数据)",
		Long: `pull presents a grant to the gateway and writes the rows it returns: masked as the
grant says, sealed to your encryption key and signed by the gateway. The signature is
verified and the rows decrypted before anything is written. The format follows the
file's extension unless --format says otherwise; CSV is UTF-8 (with a byte-order
mark, for Excel) or GBK. The file must not exist.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if grant == "" || out == "" {
				return fmt.Errorf("--grant and --out are required (请指定 --grant 和 --out)")
			}
			opts := client.WriteOptions{Format: format}
			if opts.Format == "" {
				f, err := client.FormatOf(out)
				if err != nil {
					return err
				}
				opts.Format = f
			}
			switch cs {
			case "utf-8", "utf8", "":
			case "gbk", "gb18030":
				opts.GBK = true
			default:
				return fmt.Errorf("--encoding %q is not utf-8 or gbk", cs)
			}
			if opts.GBK && opts.Format != client.FormatCSV {
				return fmt.Errorf("--encoding gbk is for CSV only")
			}
			return withClient(cmd, &cf, func(ctx context.Context, c *client.Client) error {
				p, err := c.Pull(ctx, grant)
				if err != nil {
					return callError("调取失败 pull failed", err)
				}
				if err := client.WritePulled(p, out, opts); err != nil {
					return err
				}
				g := p.Grant
				fmt.Fprintf(cmd.OutOrStdout(), "已调取 pulled %d rows of %s (%d fields) into %s; grant %s: %d of %d pulls made\n",
					len(p.Rows), p.Dataset, len(p.Fields), out, g.GetGrantId(), g.GetPulls(), g.GetMaxPulls())
				return nil
			})
		},
	}
	cf.register(c, "")
	c.Flags().StringVar(&grant, "grant", "", "the grant's ID")
	c.Flags().StringVar(&out, "out", "", "the file to write; must not exist")
	c.Flags().StringVar(&format, "format", "", "csv, xlsx or jsonl (default: from --out's extension)")
	c.Flags().StringVar(&cs, "encoding", "utf-8", "CSV encoding: utf-8 or gbk")
	return c
}
