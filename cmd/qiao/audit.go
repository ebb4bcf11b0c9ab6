package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/qiao-exchange/qiao/audit"
	"github.com/qiao-exchange/qiao/audit/checkpoint"
	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/store"
)

// exitTampered is the exit status of a verification that found the log
// altered; other failures exit with 1.
const exitTampered = 2

func newAuditCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "audit",
		Short: "Verify and export the audit log (审计日志)",
	}
	c.AddCommand(newAuditVerifyCmd(), newAuditExportCmd(), newAuditTokenCmd(), newAuditQueryCmd())
	return c
}

func newAuditVerifyCmd() *cobra.Command {
	var dbPath, key, certPath string
	c := &cobra.Command{
		Use:   "verify (--db PATH | FILE) (--key VERIFIER_KEY | --cert CERT.pem)",
		Short: "Recompute a stored audit log, or check an export offline (验证审计日志)",
		Long: `verify checks the audit log against the gateway's checkpoint key.

With --db it recomputes the whole log stored in the database file: every entry's
encoding and leaf hash, the Merkle tree, every stored node hash, the tree state, and
every stored checkpoint's signature and root.

With FILE it checks an export written by "qiao audit export" offline, without a server
or database: the checkpoint's signature, each entry's encoding and sequence number,
and each entry's inclusion proof.

The key is the gateway's verifier key (<name>+<key ID>+<key>, or a file holding it),
or --cert the gateway's signing certificate. It exits 0 if the log verifies, 2 if it
does not — naming the first bad sequence number — and 1 on any other error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (dbPath == "") == (len(args) == 0) {
				return errors.New("give either --db PATH or an export FILE (请指定 --db 或导出文件)")
			}
			if (key == "") == (certPath == "") {
				return errors.New("give either --key or --cert (请指定 --key 或 --cert)")
			}
			w := cmd.OutOrStdout()
			if dbPath != "" {
				return auditVerifyDB(cmd, dbPath, key, certPath, w)
			}
			return auditVerifyFile(args[0], key, certPath, w)
		},
	}
	c.Flags().StringVar(&dbPath, "db", "", "the gateway's state database file")
	c.Flags().StringVar(&key, "key", "", "verifier key, or a file holding it")
	c.Flags().StringVar(&certPath, "cert", "", "the gateway's signing certificate (PEM), instead of --key")
	return c
}

// loadVerifier returns the verifier of --key, or of --cert under origin.
func loadVerifier(key, certPath, origin string) (*checkpoint.Verifier, error) {
	if key != "" {
		if b, err := os.ReadFile(key); err == nil {
			key = strings.TrimSpace(string(b))
		}
		return checkpoint.ParseVerifier(key)
	}
	pem, err := os.ReadFile(certPath)
	if err != nil {
		return nil, err
	}
	cert, err := ca.ParseCertificatePEM(pem)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	return checkpoint.NewVerifier(origin, cert.PublicKey())
}

// noteOrigin returns the origin line of a signed checkpoint note.
func noteOrigin(note string) string {
	origin, _, _ := strings.Cut(note, "\n")
	return origin
}

func auditVerifyDB(cmd *cobra.Command, path, key, certPath string, w io.Writer) error {
	ctx := cmd.Context()
	if _, err := os.Stat(path); err != nil {
		return err
	}
	db, err := store.Open(ctx, store.Config{DSN: path})
	if err != nil {
		return err
	}
	defer db.Close()
	origin := ""
	if certPath != "" {
		cp, err := audit.LatestCheckpoint(ctx, db)
		if err != nil {
			return tampered(w, err)
		}
		origin = noteOrigin(string(cp.Note))
	}
	v, err := loadVerifier(key, certPath, origin)
	if err != nil {
		return err
	}
	rep, err := audit.VerifyDB(ctx, db, v)
	if err != nil {
		return tampered(w, err)
	}
	fmt.Fprintf(w, "审计日志验证通过 audit log verified: %d entries, %d checkpoints (latest at size %d), root %s\n",
		rep.Entries, rep.Checkpoints, rep.Latest, rep.Root)
	return nil
}

func auditVerifyFile(path, key, certPath string, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	origin := ""
	if certPath != "" {
		var hdr struct {
			Checkpoint string `json:"checkpoint"`
		}
		line, err := bufio.NewReader(f).ReadBytes('\n')
		if err != nil || json.Unmarshal(line, &hdr) != nil {
			return fmt.Errorf("%s: %w", path, audit.ErrMalformedExport)
		}
		origin = noteOrigin(hdr.Checkpoint)
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
	}
	v, err := loadVerifier(key, certPath, origin)
	if err != nil {
		return err
	}
	sum, err := audit.VerifyExport(f, v)
	if err != nil {
		return tampered(w, err)
	}
	last := "none"
	if sum.Count > 0 {
		last = fmt.Sprintf("%d..%d", sum.First, sum.First+sum.Count-1)
	}
	fmt.Fprintf(w, "导出文件验证通过 export verified: %d entries (%s) in log %s at size %d, root %s\n",
		sum.Count, last, sum.Checkpoint.Origin, sum.Checkpoint.Size, sum.Checkpoint.Hash)
	return nil
}

// tampered reports a log that does not verify, bilingually, and returns the
// error with exit status 2; other errors pass through.
func tampered(w io.Writer, err error) error {
	var ve *audit.VerifyError
	switch {
	case errors.As(err, &ve):
		fmt.Fprintf(w, "审计日志验证失败，首个异常序号 %d\naudit log does NOT verify; first bad sequence number %d\n", ve.Seq, ve.Seq)
		return &exitError{code: exitTampered, err: err}
	case errors.Is(err, audit.ErrNoCheckpoint):
		fmt.Fprintln(w, "审计日志没有检查点 the audit log has no checkpoint")
		return &exitError{code: exitTampered, err: err}
	}
	return err
}

func newAuditExportCmd() *cobra.Command {
	var (
		dbPath, from, to string
		cf               clientFlags
	)
	c := &cobra.Command{
		Use:   "export (--db PATH | --as AUDITOR) [--from TIME] [--to TIME] OUT",
		Short: "Export audit entries with their proofs for offline checking (导出审计日志)",
		Long: `export writes the entries logged from --from (inclusive) to --to (exclusive) that the
latest checkpoint covers, as JSON lines: a header with the signed checkpoint, then one
line per entry with its inclusion proof. Times are RFC 3339 or YYYY-MM-DD (UTC); an
omitted bound leaves that end open. "qiao audit verify OUT --key …" checks the file.

With --db it reads the gateway's database file directly (an operator on the gateway's
machine); otherwise it asks the gateway as an auditor (--as, default user:dave), which
signs a checkpoint of the newest entries first and records the export in the log.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lo, err := parseAuditTime(from)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			hi, err := parseAuditTime(to)
			if err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			if dbPath == "" {
				if _, err := os.Stat(args[0]); err == nil {
					return fmt.Errorf("%s exists; an export is never written over a file", args[0])
				}
				return auditExportGateway(cmd.Context(), &cf, lo, hi, args[0], cmd.OutOrStdout())
			}
			if _, err := os.Stat(dbPath); err != nil {
				return err
			}
			db, err := store.Open(cmd.Context(), store.Config{DSN: dbPath})
			if err != nil {
				return err
			}
			defer db.Close()
			out, err := os.OpenFile(args[0], os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			sum, err := audit.Export(cmd.Context(), db, lo, hi, out)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(args[0])
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "已导出 exported %d entries from %d to %s (checkpoint size %d)\n",
				sum.Count, sum.First, args[0], sum.Checkpoint.Size)
			return nil
		},
	}
	c.Flags().StringVar(&dbPath, "db", "", "the gateway's state database file (else: through the gateway)")
	cf.register(c, "user:dave")
	c.Flags().StringVar(&from, "from", "", "first time, inclusive (RFC 3339 or YYYY-MM-DD)")
	c.Flags().StringVar(&to, "to", "", "end time, exclusive (RFC 3339 or YYYY-MM-DD)")
	return c
}

// parseAuditTime reads RFC 3339 or a date (UTC midnight); empty is zero.
func parseAuditTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}
