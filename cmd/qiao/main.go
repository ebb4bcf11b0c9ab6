// Command qiao is Qiao's one binary: the gateway, its operators' tools and the
// agencies' client. Each subcommand lives in a file of its own.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// exitError carries an exit status other than 1 out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "qiao",
		Short:         "Qiao (桥): secure data exchange between agencies",
		Long:          "Qiao (桥) is a secure data-exchange gateway between agencies: SM2-signed, SM4-encrypted, policy-governed and audited.\nQiao（桥）是政府机关之间的安全数据交换网关。",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCmd(),
		newCryptoCmd(),
		newInitCmd(),
		newCACmd(),
		newConfigCmd(),
		newAuditCmd(),
		newServeCmd(),
		newDemoCmd(),
		newRequestCmd(),
		newDecideCmd(true),
		newDecideCmd(false),
		newGrantCmd(),
		newPullCmd(),
		newSynthCmd(),
		newPushCmd(),
		newPolicyCmd(),
		newLeadsCmd(),
		newModelsCmd(),
	)
	return root
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "qiao:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}
