package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/qiao-exchange/qiao/policy"
)

func newPolicyCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "policy",
		Short: "Export and check policy bundles (访问控制策略)",
	}
	c.AddCommand(&cobra.Command{
		Use:   "export DIR",
		Short: "Write the built-in policy bundle, with its Rego tests, to a new directory",
		Long: `export writes the built-in bundle's Rego files and their tests into DIR, which must
not exist: the starting point of an operator's own bundle. Edit it, run "opa test DIR"
if you have the stock opa, check it with "qiao policy check DIR", and point the
gateway's policy.dir at it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if _, err := os.Stat(dir); err == nil {
				return fmt.Errorf("%s exists; export writes a new directory (目录已存在)", dir)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			n := 0
			err := fs.WalkDir(policy.DefaultBundle(), ".", func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				data, err := fs.ReadFile(policy.DefaultBundle(), p)
				if err != nil {
					return err
				}
				n++
				return os.WriteFile(filepath.Join(dir, filepath.FromSlash(p)), data, 0o644)
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "已导出 wrote %d Rego files of the built-in bundle to %s\n", n, dir)
			return nil
		},
	}, &cobra.Command{
		Use:   "check DIR",
		Short: "Check that a bundle directory compiles and print its revision",
		Long: `check loads DIR as the gateway would — every .rego file but the tests, compiled with
the gateway's restrictions (no network or environment builtins), with a decision at
data.qiao.decision — and prints the revision the gateway's audit entries would name.
It exits non-zero, saying why, if the gateway would refuse the bundle.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := policy.New(cmd.Context(), policy.Options{Dir: args[0]})
			if err != nil {
				if errors.Is(err, policy.ErrBundle) {
					return fmt.Errorf("策略包无效 the gateway would refuse this bundle: %w", err)
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "策略包有效 the bundle compiles: revision %s\n", e.Revision())
			return nil
		},
	})
	return c
}
