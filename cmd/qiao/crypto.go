package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/crypto/sm3"
)

// newCryptoCmd gathers the primitives operators and auditors use to check
// Qiao's output with other GM tools (OpenSSL 3, gmssl).
func newCryptoCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "crypto",
		Short: "SM2/SM3 tools that interoperate with OpenSSL 3 (国密工具)",
	}
	c.AddCommand(newCryptoSM3Cmd(), newCryptoKeygenCmd(), newCryptoSignCmd(), newCryptoVerifyCmd())
	return c
}

func newCryptoSM3Cmd() *cobra.Command {
	return &cobra.Command{
		Use:   "sm3 FILE…",
		Short: "Print the SM3 digest of each file (- reads standard input)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, name := range args {
				data, err := readInput(cmd, name)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s  %s\n", sm3.SumHex(data), name)
			}
			return nil
		},
	}
}

func newCryptoKeygenCmd() *cobra.Command {
	var out, pub string
	c := &cobra.Command{
		Use:   "keygen --out KEY.pem [--pub PUB.pem]",
		Short: "Generate an SM2 key pair (PKCS#8 private key, mode 0600)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := sm2.GenerateKey()
			if err != nil {
				return err
			}
			p, err := k.MarshalPEM()
			if err != nil {
				return err
			}
			if err := writeNew(out, p, 0o600); err != nil {
				return err
			}
			if pub != "" {
				if err := writeNew(pub, k.PublicKey().MarshalPEM(), 0o644); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "key id %s\n", k.PublicKey().KeyID())
			return nil
		},
	}
	c.Flags().StringVar(&out, "out", "", "private key file to create (PEM, PKCS#8)")
	c.Flags().StringVar(&pub, "pub", "", "public key file to create (PEM, SubjectPublicKeyInfo)")
	_ = c.MarkFlagRequired("out")
	return c
}

func newCryptoSignCmd() *cobra.Command {
	var keyFile, in, out, uid string
	c := &cobra.Command{
		Use:   "sign --key KEY.pem --in FILE --out SIG",
		Short: "Sign a file with SM2 (DER signature, SM3, user ID 1234567812345678)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kp, err := os.ReadFile(keyFile)
			if err != nil {
				return fmt.Errorf("reading key: %w", err)
			}
			k, err := sm2.ParsePrivateKeyPEM(kp)
			if err != nil {
				return fmt.Errorf("key %s: %w", keyFile, err)
			}
			data, err := readInput(cmd, in)
			if err != nil {
				return err
			}
			sig, err := k.SignUID(rand.Reader, []byte(uid), data)
			if err != nil {
				return err
			}
			return os.WriteFile(out, sig, 0o644)
		},
	}
	c.Flags().StringVar(&keyFile, "key", "", "SM2 private key (PEM: PKCS#8 or EC PRIVATE KEY)")
	c.Flags().StringVar(&in, "in", "", "file to sign (- for standard input)")
	c.Flags().StringVar(&out, "out", "", "where to write the DER signature")
	c.Flags().StringVar(&uid, "uid", sm2.DefaultUID, "signer user ID (distid)")
	for _, f := range []string{"key", "in", "out"} {
		_ = c.MarkFlagRequired(f)
	}
	return c
}

func newCryptoVerifyCmd() *cobra.Command {
	var pubFile, certFile, caFile, in, sigFile, uid string
	c := &cobra.Command{
		Use:   "verify --pub PUB.pem|--cert CERT.pem [--ca ROOT.pem] --in FILE --sig SIG",
		Short: "Verify an SM2 signature; exit status 0 only if it is valid",
		Long: `verify checks a DER SM2 signature over a file against a public key (--pub) or the
key of a signing certificate (--cert). With --ca the certificate must also chain to
that SM2 root, be within its validity period and be meant for signing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pub, who, err := verifyKey(pubFile, certFile, caFile)
			if err != nil {
				return err
			}
			data, err := readInput(cmd, in)
			if err != nil {
				return err
			}
			sig, err := os.ReadFile(sigFile)
			if err != nil {
				return fmt.Errorf("reading signature: %w", err)
			}
			if err := pub.VerifyUID([]byte(uid), data, sig); err != nil {
				return &exitError{code: 1, err: fmt.Errorf("签名无效 signature is NOT valid for %s: %w", in, err)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "签名有效 signature OK (%skey id %s)\n", who, pub.KeyID())
			return nil
		},
	}
	c.Flags().StringVar(&pubFile, "pub", "", "SM2 public key (PEM)")
	c.Flags().StringVar(&certFile, "cert", "", "SM2 signing certificate (PEM) instead of --pub")
	c.Flags().StringVar(&caFile, "ca", "", "with --cert: SM2 root the certificate must chain to")
	c.Flags().StringVar(&in, "in", "", "signed file (- for standard input)")
	c.Flags().StringVar(&sigFile, "sig", "", "DER signature")
	c.Flags().StringVar(&uid, "uid", sm2.DefaultUID, "signer user ID (distid)")
	c.MarkFlagsOneRequired("pub", "cert")
	c.MarkFlagsMutuallyExclusive("pub", "cert")
	for _, f := range []string{"in", "sig"} {
		_ = c.MarkFlagRequired(f)
	}
	return c
}

// verifyKey returns the key a signature is checked against and, for a
// certificate, who it names.
func verifyKey(pubFile, certFile, caFile string) (*sm2.PublicKey, string, error) {
	if pubFile != "" {
		if caFile != "" {
			return nil, "", errors.New("--ca goes with --cert, not --pub")
		}
		pp, err := os.ReadFile(pubFile)
		if err != nil {
			return nil, "", fmt.Errorf("reading public key: %w", err)
		}
		pub, err := sm2.ParsePublicKeyPEM(pp)
		if err != nil {
			return nil, "", fmt.Errorf("public key %s: %w", pubFile, err)
		}
		return pub, "", nil
	}
	cp, err := os.ReadFile(certFile)
	if err != nil {
		return nil, "", fmt.Errorf("reading certificate: %w", err)
	}
	cert, err := ca.ParseCertificatePEM(cp)
	if err != nil {
		return nil, "", fmt.Errorf("certificate %s: %w", certFile, err)
	}
	if caFile == "" {
		return cert.PublicKey(), cert.Principal() + ", ", nil
	}
	rp, err := os.ReadFile(caFile)
	if err != nil {
		return nil, "", fmt.Errorf("reading CA certificate: %w", err)
	}
	roots, err := ca.ParseCertificatesPEM(rp)
	if err != nil {
		return nil, "", fmt.Errorf("CA certificate %s: %w", caFile, err)
	}
	id, err := ca.Verify(cert, roots, ca.PurposeSign, time.Now())
	if err != nil {
		return nil, "", &exitError{code: 1, err: fmt.Errorf("证书无效 certificate %s is NOT valid: %w", certFile, err)}
	}
	return id.PublicKey, id.Principal + ", certificate chain OK, ", nil
}

// readInput reads a named file, or standard input for "-".
func readInput(cmd *cobra.Command, name string) ([]byte, error) {
	if name == "-" {
		data, err := io.ReadAll(cmd.InOrStdin())
		if err != nil {
			return nil, fmt.Errorf("reading standard input: %w", err)
		}
		return data, nil
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return data, nil
}

// writeNew creates path with mode and data, refusing to overwrite a file.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s already exists; refusing to overwrite it: %w", path, os.ErrExist)
		}
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
