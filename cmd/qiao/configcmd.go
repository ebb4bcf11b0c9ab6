package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/qiao-exchange/qiao/config"
	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/keystore"
	"github.com/qiao-exchange/qiao/crypto/sm4"
)

func newConfigCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "config",
		Short: "Inspect and check a deployment's configuration (配置)",
	}
	c.AddCommand(newConfigCheckCmd())
	return c
}

func newConfigCheckCmd() *cobra.Command {
	var path string
	c := &cobra.Command{
		Use:   "check [--config qiao.yaml]",
		Short: "Load qiao.yaml and check the keys and certificates it names",
		Long: `check loads qiao.yaml (with QIAO_* environment overrides), opens the keystore, and
checks that the gateway's signing and encryption keys and the storage master key are
there, that every certificate in the certificate directory chains to its root, is
within its validity period and is meant for its purpose, and that the gateway's
certificates certify its own keys. It exits non-zero if anything is wrong.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			return checkDeployment(cmd.Context(), cfg, cmd.OutOrStdout())
		},
	}
	c.Flags().StringVar(&path, "config", "qiao.yaml", "configuration file")
	return c
}

// checkDeployment verifies what cfg names and reports each finding.
func checkDeployment(ctx context.Context, cfg config.Config, w io.Writer) error {
	var problems []string
	fail := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		problems = append(problems, msg)
		fmt.Fprintf(w, "  FAIL  %s\n", msg)
	}
	ok := func(format string, args ...any) { fmt.Fprintf(w, "  ok    %s\n", fmt.Sprintf(format, args...)) }

	fmt.Fprintf(w, "检查部署 checking the deployment in %s\n", cfg.DataDir)
	ks, err := openKeystore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("opening the keystore: %w", err)
	}
	ok("keystore (%s) opened", cfg.Keystore.Backend)

	roots, err := readRoots(cfg.Path(cfg.PKI.SM2Root))
	if err != nil {
		return err
	}
	ok("SM2 root %s", cfg.PKI.SM2Root)

	now := time.Now()
	certDir := cfg.Path(cfg.PKI.CertDir)
	names, err := filepath.Glob(filepath.Join(certDir, "*.pem"))
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := filepath.Base(name)
		var purpose ca.Purpose
		switch {
		case strings.HasSuffix(base, ".sign.pem"):
			purpose = ca.PurposeSign
		case strings.HasSuffix(base, ".enc.pem"):
			purpose = ca.PurposeEncrypt
		default:
			continue // roots and TLS certificates are checked above and below
		}
		data, err := os.ReadFile(name)
		if err != nil {
			fail("%s: %v", base, err)
			continue
		}
		cert, err := ca.ParseCertificatePEM(data)
		if err != nil {
			fail("%s: %v", base, err)
			continue
		}
		id, err := ca.Verify(cert, roots, purpose, now)
		if err != nil {
			fail("%s: %v", base, err)
			continue
		}
		if days := cert.NotAfter().Sub(now).Hours() / 24; days < 30 {
			fmt.Fprintf(w, "  WARN  %s expires in %.0f days (qiao ca issue renews it)\n", base, days)
		}
		ok("%s: %s certificate of %s, key id %s", base, purpose, id.Principal, id.PublicKey.KeyID())
	}

	// The gateway's own keys must be the ones its certificates certify.
	for _, purpose := range []ca.Purpose{ca.PurposeSign, ca.PurposeEncrypt} {
		keyName := "principals/" + cfg.Principal + "/" + purpose.String()
		key, err := keystore.LoadSM2(ctx, ks, keyName)
		if err != nil {
			fail("gateway key %s: %v", keyName, err)
			continue
		}
		certFile := filepath.Join(certDir, cfg.Principal+"."+purpose.String()+".pem")
		data, err := os.ReadFile(certFile)
		if err != nil {
			fail("gateway certificate: %v", err)
			continue
		}
		cert, err := ca.ParseCertificatePEM(data)
		if err != nil {
			fail("%s: %v", certFile, err)
			continue
		}
		if !cert.PublicKey().Equal(key.PublicKey()) {
			fail("%s does not certify the key %s in the keystore", filepath.Base(certFile), keyName)
			continue
		}
		ok("gateway %s key %s matches its certificate", purpose, keyName)
	}
	if err := checkTLSServer(ctx, ks, cfg, now); err != nil {
		fail("gateway TLS 1.3 certificate: %v", err)
	} else {
		ok("gateway TLS 1.3 certificate and key")
	}

	switch master, err := keystore.LoadSecret(ctx, ks, "gateway/master"); {
	case err != nil:
		fail("storage master key: %v", err)
	case len(master) != sm4.KeySize:
		fail("storage master key is %d bytes, want %d", len(master), sm4.KeySize)
	default:
		ok("storage master key gateway/master")
	}

	if len(problems) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("部署有 %d 个问题 the deployment has %d problem(s)", len(problems), len(problems))}
	}
	fmt.Fprintln(w, "部署正常 the deployment is in order")
	return nil
}

func readRoots(path string) ([]*ca.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("SM2 root: %w", err)
	}
	roots, err := ca.ParseCertificatesPEM(data)
	if err != nil {
		return nil, fmt.Errorf("SM2 root %s: %w", path, err)
	}
	return roots, nil
}

// checkTLSServer checks that the gateway's P-256 certificate chains to the TLS
// root and certifies the key in the keystore.
func checkTLSServer(ctx context.Context, ks keystore.Keystore, cfg config.Config, now time.Time) error {
	rootData, err := os.ReadFile(cfg.Path(cfg.PKI.TLSRoot))
	if err != nil {
		return err
	}
	root, err := ca.ParseTLSCertificatePEM(rootData)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(cfg.Path(cfg.PKI.CertDir), cfg.Principal+".tls.pem"))
	if err != nil {
		return err
	}
	cert, err := ca.ParseTLSCertificatePEM(data)
	if err != nil {
		return err
	}
	if _, err := ca.VerifyTLSServer(cert, []*x509.Certificate{root}, now); err != nil {
		return err
	}
	key, err := loadP256(ctx, ks, "principals/"+cfg.Principal+"/tls")
	if err != nil {
		return err
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return errors.New("the certificate does not certify the key in the keystore")
	}
	return nil
}
