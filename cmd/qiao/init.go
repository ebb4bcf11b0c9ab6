package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/qiao-exchange/qiao/config"
	"github.com/qiao-exchange/qiao/crypto/keystore"
	"github.com/qiao-exchange/qiao/crypto/sm4"
)

// region is the county of the development deployment: 息县, 信阳市, 河南省.
const region = "411528"

// seedPrincipal is one principal of the development deployment, as written to
// principals.yaml for the gateway to register.
type seedPrincipal struct {
	Name   string   `yaml:"name"`
	Kind   string   `yaml:"kind"`
	Agency string   `yaml:"agency,omitempty"`
	Roles  []string `yaml:"roles,omitempty"`
	Note   string   `yaml:"note"`
}

// devPrincipals are the agencies and people of the development deployment.
func devPrincipals() []seedPrincipal {
	proc := "procuratorate." + region
	return []seedPrincipal{
		{Name: "police." + region, Kind: "agency", Agency: "police", Note: "县公安局 county police"},
		{Name: "court." + region, Kind: "agency", Agency: "court", Note: "县人民法院 county court"},
		{Name: "medins." + region, Kind: "agency", Agency: "medins", Note: "县医疗保障局 medical-insurance bureau"},
		{Name: "hrss." + region, Kind: "agency", Agency: "hrss", Note: "县人力资源和社会保障局 HR/social-security bureau"},
		{Name: proc, Kind: "agency", Agency: "procuratorate", Note: "县人民检察院 county procuratorate"},
		{Name: "user:alice", Kind: "user", Agency: proc, Roles: []string{"requester"}, Note: "检察官 prosecutor who requests data"},
		{Name: "user:bob", Kind: "user", Agency: proc, Roles: []string{"approver"}, Note: "数据获取小组 data-acquisition team"},
		{Name: "user:carol", Kind: "user", Agency: proc, Roles: []string{"approver"}, Note: "数据获取小组 data-acquisition team"},
		{Name: "user:dave", Kind: "user", Agency: proc, Roles: []string{"auditor"}, Note: "审计员 auditor"},
		{Name: "user:erin", Kind: "user", Agency: proc, Roles: []string{"admin"}, Note: "系统管理员 administrator"},
	}
}

func newInitCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "init [--dir ./qiao-data]",
		Short: "Create a development deployment: CAs, keys, certificates, principals and qiao.yaml",
		Long: `init creates a development deployment in a directory: an SM2 root and a P-256 root,
the gateway's keys and its TLCP (SM2) and TLS 1.3 (P-256) server certificates, one
principal each for police, court, medins, hrss and procuratorate, the users alice
(requester), bob and carol (approvers), dave (auditor) and erin (admin), the storage
master key, and a qiao.yaml that documents every option.

It is idempotent: a rerun keeps every existing key and certificate and creates only
what is missing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInit(cmd.Context(), dir, cmd.OutOrStdout())
		},
	}
	c.Flags().StringVar(&dir, "dir", "./qiao-data", "deployment directory")
	return c
}

func runInit(ctx context.Context, dir string, w io.Writer) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	fmt.Fprintf(w, "初始化开发部署 initialising a development deployment in %s\n", dir)
	if err := caInit(ctx, dir, w); err != nil {
		return err
	}
	gw := caIssueRequest{Principal: "gateway", Kind: "server", DNS: []string{"localhost"}, IPs: []string{"127.0.0.1", "::1"}}
	if err := caIssue(ctx, dir, gw, w); err != nil {
		return err
	}
	for _, p := range devPrincipals() {
		if err := caIssue(ctx, dir, caIssueRequest{Principal: p.Name, Kind: p.Kind}, w); err != nil {
			return err
		}
	}

	ks, err := keystore.NewFile(filepath.Join(dir, "keys"))
	if err != nil {
		return err
	}
	switch created, err := ensureMasterKey(ctx, ks); {
	case err != nil:
		return err
	case created:
		fmt.Fprintln(w, "  created  storage master key (keystore: gateway/master)")
	default:
		fmt.Fprintln(w, "  kept     storage master key (keystore: gateway/master)")
	}

	seed, err := yaml.Marshal(map[string]any{"principals": devPrincipals()})
	if err != nil {
		return err
	}
	header := "# Principals of this development deployment; the gateway registers them with\n# their certificates from certs/. Roles: requester, approver, auditor, admin.\n"
	if err := writeIfMissing(w, filepath.Join(dir, "principals.yaml"), append([]byte(header), seed...)); err != nil {
		return err
	}
	if err := writeIfMissing(w, filepath.Join(dir, "qiao.yaml"), config.Template()); err != nil {
		return err
	}
	if _, err := config.Load(filepath.Join(dir, "qiao.yaml")); err != nil {
		return fmt.Errorf("the deployment's qiao.yaml does not load: %w", err)
	}

	fmt.Fprintf(w, `
完成 done. The deployment is in %[1]s:
  qiao.yaml        configuration, every option documented
  principals.yaml  agencies and users with their roles
  certs/           CA roots and each principal's signing, encryption and TLS certificates
  keys/            private keys (0600), the file keystore

Next:
  qiao crypto sign --key %[1]s/keys/principals/police.%[2]s/sign.pem --in FILE --out FILE.sig
  qiao crypto verify --cert %[1]s/certs/police.%[2]s.sign.pem --in FILE --sig FILE.sig
`, dir, region)
	return nil
}

// ensureMasterKey creates the storage master key, which wraps the data keys of
// encrypted fields and evidence, unless it exists.
func ensureMasterKey(ctx context.Context, ks keystore.Keystore) (created bool, err error) {
	const name = "gateway/master"
	if _, err := ks.Get(ctx, name); err == nil {
		return false, nil
	} else if !errors.Is(err, keystore.ErrNotFound) {
		return false, err
	}
	k, err := sm4.NewKey()
	if err != nil {
		return false, err
	}
	if err := ks.Create(ctx, name, keystore.EncodeSecret(k)); err != nil {
		return false, err
	}
	return true, nil
}

// writeIfMissing creates path with data unless it exists.
func writeIfMissing(w io.Writer, path string, data []byte) error {
	err := writeNew(path, data, 0o644)
	switch {
	case err == nil:
		fmt.Fprintf(w, "  created  %s\n", filepath.Base(path))
		return nil
	case errors.Is(err, os.ErrExist):
		fmt.Fprintf(w, "  kept     %s\n", filepath.Base(path))
		return nil
	default:
		return err
	}
}
