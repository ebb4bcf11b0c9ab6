package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/keystore"
	"github.com/qiao-exchange/qiao/crypto/sm2"
)

// Key names in the deployment's keystore and certificate files under certs/.
const (
	caSM2RootKey  = "ca/sm2-root"
	caTLSRootKey  = "ca/tls-root"
	caSM2RootFile = "ca-sm2.pem"
	caTLSRootFile = "ca-tls.pem"
)

// newCACmd is `qiao ca`: the deployment's two roots and the certificates they
// issue. docs/pki.md describes the layout.
func newCACmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "ca",
		Short: "Certificate authority: SM2 root and double certificates, P-256 root for TLS 1.3 (证书管理)",
		Long: `ca runs the deployment's certificate authority.

An SM2 root issues each principal a signing and an encryption certificate (GM/T 0015
double certificates, used for request signatures, envelopes and TLCP); a separate
ECDSA P-256 root issues the TLS 1.3 server certificate, because browsers and Go's
crypto/tls have no SM2. Private keys are kept in the file keystore DIR/keys,
certificates in DIR/certs. Both commands are idempotent and never overwrite a key.`,
	}
	c.AddCommand(newCAInitCmd(), newCAIssueCmd())
	return c
}

func newCAInitCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "init [--dir DIR]",
		Short: "Create the SM2 root and the P-256 TLS root, keeping existing ones",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return caInit(cmd.Context(), dir, cmd.OutOrStdout())
		},
	}
	c.Flags().StringVar(&dir, "dir", "./qiao-data", "deployment directory")
	return c
}

func newCAIssueCmd() *cobra.Command {
	var dir string
	var req caIssueRequest
	c := &cobra.Command{
		Use:   "issue --principal NAME --kind agency|user|server [--dns NAME]... [--ip ADDR]... [--sign-pub PUB.pem --enc-pub PUB.pem] [--days N]",
		Short: "Issue a principal's signing and encryption certificates (and a server's TLS certificate)",
		Long: `issue gives a principal its double certificate: certs/NAME.sign.pem and
certs/NAME.enc.pem, issued by the SM2 root. A server also gets certs/NAME.tls.pem
from the P-256 root, and names its DNS names and IP addresses in all three.

Without --sign-pub and --enc-pub the keys are generated into the keystore
(principals/NAME/sign, principals/NAME/enc, and principals/NAME/tls for a server's
TLS key) or taken from it if they are there. With them, the agency keeps its own
private keys and hands over only the public keys (PEM, e.g. from
qiao crypto keygen --pub or openssl pkey -pubout).

A certificate that exists and is still valid for the same principal, key and names
is kept; an expired or mismatching one is replaced. Keys are never overwritten.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return caIssue(cmd.Context(), dir, req, cmd.OutOrStdout())
		},
	}
	f := c.Flags()
	f.StringVar(&dir, "dir", "./qiao-data", "deployment directory")
	f.StringVar(&req.Principal, "principal", "", "principal name, e.g. police.411528 or user:alice")
	f.StringVar(&req.Kind, "kind", "", "agency, user or server")
	f.StringArrayVar(&req.DNS, "dns", nil, "DNS name of a server (repeatable)")
	f.StringArrayVar(&req.IPs, "ip", nil, "IP address of a server (repeatable)")
	f.StringVar(&req.SignPub, "sign-pub", "", "SM2 public key (PEM) to certify for signing, instead of a keystore key")
	f.StringVar(&req.EncPub, "enc-pub", "", "SM2 public key (PEM) to certify for encryption, instead of a keystore key")
	f.StringVar(&req.TLSPub, "tls-pub", "", "P-256 public key (PEM) for a server's TLS certificate, instead of a keystore key")
	f.IntVar(&req.Days, "days", 365, "validity in days (never past the root's)")
	_ = c.MarkFlagRequired("principal")
	_ = c.MarkFlagRequired("kind")
	c.MarkFlagsRequiredTogether("sign-pub", "enc-pub")
	return c
}

// caIssueRequest is what `qiao ca issue` is asked for.
type caIssueRequest struct {
	// Principal is the principal's name, e.g. "police.411528" or "user:alice".
	Principal string
	// Kind is "agency", "user" or "server".
	Kind string
	// DNS and IPs are a server's names; other kinds have none.
	DNS []string
	IPs []string
	// SignPub and EncPub are PEM files of public keys to certify; empty means
	// the keys in the keystore, generated if missing. They go together.
	SignPub, EncPub string
	// TLSPub is a PEM file with a server's P-256 public key; empty means the
	// keystore's key, generated if missing.
	TLSPub string
	// Days is the validity of new certificates; 0 means a year.
	Days int
}

// caDeployment is an opened deployment directory.
type caDeployment struct {
	ks    keystore.Keystore
	certs string
	now   time.Time
	w     io.Writer
}

func openCADeployment(dir string, w io.Writer) (*caDeployment, error) {
	if dir == "" {
		return nil, errors.New("ca: no deployment directory")
	}
	ks, err := keystore.NewFile(filepath.Join(dir, "keys"))
	if err != nil {
		return nil, err
	}
	certs := filepath.Join(dir, "certs")
	if err := os.MkdirAll(certs, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", certs, err)
	}
	return &caDeployment{ks: ks, certs: certs, now: time.Now(), w: w}, nil
}

// report prints one line of what was done: created, kept, renewed.
func (d *caDeployment) report(verb, what, detail string) {
	fmt.Fprintf(d.w, "  %-8s %s  %s\n", verb, what, detail)
}

func (d *caDeployment) certPath(name string) string { return filepath.Join(d.certs, name) }

// caInit creates the deployment's SM2 root and P-256 TLS root in dir, or
// keeps them if they exist: keys ca/sm2-root and ca/tls-root in the file
// keystore dir/keys, certificates dir/certs/ca-sm2.pem and ca-tls.pem.
func caInit(ctx context.Context, dir string, w io.Writer) error {
	d, err := openCADeployment(dir, w)
	if err != nil {
		return err
	}
	if _, err := d.sm2Root(ctx, true); err != nil {
		return err
	}
	_, err = d.tlsRoot(ctx, true)
	return err
}

// sm2Root loads the SM2 root, or creates it if create is set and there is
// no root certificate yet.
func (d *caDeployment) sm2Root(ctx context.Context, create bool) (*ca.Root, error) {
	path := d.certPath(caSM2RootFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		cert, err := ca.ParseCertificatePEM(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		key, err := keystore.LoadSM2(ctx, d.ks, caSM2RootKey)
		if err != nil {
			return nil, fmt.Errorf("SM2 根证书 %s 的私钥不可用 the key of the SM2 root %s is not usable: %w", path, path, err)
		}
		root, err := ca.LoadRoot(cert, key)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if err := d.rootValid(path, cert.NotBefore(), cert.NotAfter()); err != nil {
			return nil, err
		}
		if create {
			d.report("kept", "certs/"+caSM2RootFile, fmt.Sprintf("SM2 根证书 SM2 root %q, valid until %s", cert.Principal(), day(cert.NotAfter())))
		}
		return root, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	case !create:
		return nil, fmt.Errorf("没有 SM2 根证书 no SM2 root in %s: run qiao ca init --dir %s first", d.certs, filepath.Dir(d.certs))
	}
	key, created, err := keystore.EnsureSM2(ctx, d.ks, caSM2RootKey)
	if err != nil {
		return nil, err
	}
	if created {
		d.report("created", "key "+caSM2RootKey, "SM2 根密钥 SM2 root key (keystore)")
	}
	root, err := ca.NewRoot(key, ca.RootOptions{Now: d.now})
	if err != nil {
		return nil, err
	}
	if err := caWriteFile(path, root.Certificate().PEM()); err != nil {
		return nil, err
	}
	c := root.Certificate()
	d.report("created", "certs/"+caSM2RootFile, fmt.Sprintf("SM2 根证书 SM2 root %q, valid until %s", c.Principal(), day(c.NotAfter())))
	return root, nil
}

// tlsRoot loads the P-256 TLS root, or creates it if create is set and there
// is no root certificate yet.
func (d *caDeployment) tlsRoot(ctx context.Context, create bool) (*ca.TLSRoot, error) {
	path := d.certPath(caTLSRootFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		cert, err := ca.ParseTLSCertificatePEM(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		key, err := loadP256(ctx, d.ks, caTLSRootKey)
		if err != nil {
			return nil, fmt.Errorf("TLS 根证书 %s 的私钥不可用 the key of the TLS root %s is not usable: %w", path, path, err)
		}
		root, err := ca.LoadTLSRoot(cert, key)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if err := d.rootValid(path, cert.NotBefore, cert.NotAfter); err != nil {
			return nil, err
		}
		if create {
			d.report("kept", "certs/"+caTLSRootFile, fmt.Sprintf("P-256 根证书 TLS root %q, valid until %s", cert.Subject.CommonName, day(cert.NotAfter)))
		}
		return root, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	case !create:
		return nil, fmt.Errorf("没有 TLS 根证书 no TLS root in %s: run qiao ca init --dir %s first", d.certs, filepath.Dir(d.certs))
	}
	key, created, err := ensureP256(ctx, d.ks, caTLSRootKey)
	if err != nil {
		return nil, err
	}
	if created {
		d.report("created", "key "+caTLSRootKey, "P-256 根密钥 TLS root key (keystore)")
	}
	root, err := ca.NewTLSRoot(key, ca.RootOptions{Now: d.now})
	if err != nil {
		return nil, err
	}
	if err := caWriteFile(path, ca.EncodePEM(root.Certificate().Raw)); err != nil {
		return nil, err
	}
	c := root.Certificate()
	d.report("created", "certs/"+caTLSRootFile, fmt.Sprintf("P-256 根证书 TLS root %q, valid until %s", c.Subject.CommonName, day(c.NotAfter)))
	return root, nil
}

// rootValid refuses a root certificate outside its validity period.
func (d *caDeployment) rootValid(path string, notBefore, notAfter time.Time) error {
	switch {
	case d.now.After(notAfter):
		return fmt.Errorf("根证书已过期 root certificate %s expired on %s: move it aside, run qiao ca init to make a new root, then reissue every certificate: %w", path, day(notAfter), ca.ErrExpired)
	case d.now.Before(notBefore):
		return fmt.Errorf("根证书尚未生效 root certificate %s is valid from %s: check this machine's clock: %w", path, notBefore.UTC().Format(time.RFC3339), ca.ErrNotYetValid)
	}
	return nil
}

// caIssue issues the certificates of one principal into dir/certs: the
// signing and encryption certificates from the SM2 root and, for a server,
// the TLS certificate from the P-256 root. Certificates that exist and are
// valid for the same principal, key and names are kept.
func caIssue(ctx context.Context, dir string, r caIssueRequest, w io.Writer) error {
	kind, err := ca.ParseKind(r.Kind)
	if err != nil {
		return err
	}
	if err := ca.ValidPrincipal(r.Principal, kind); err != nil {
		return err
	}
	if (r.SignPub == "") != (r.EncPub == "") {
		return errors.New("--sign-pub and --enc-pub go together: give both public keys or neither")
	}
	if r.TLSPub != "" && kind != ca.KindServer {
		return errors.New("--tls-pub is for servers only")
	}
	if r.Days < 0 {
		return fmt.Errorf("--days %d: must not be negative (0 means 365)", r.Days)
	}
	ips := make([]net.IP, 0, len(r.IPs))
	for _, s := range r.IPs {
		ip := net.ParseIP(s)
		if ip == nil {
			return fmt.Errorf("--ip %q is not an IP address", s)
		}
		ips = append(ips, ip)
	}
	d, err := openCADeployment(dir, w)
	if err != nil {
		return err
	}
	root, err := d.sm2Root(ctx, false)
	if err != nil {
		return err
	}
	var tlsRoot *ca.TLSRoot
	if kind == ca.KindServer {
		if tlsRoot, err = d.tlsRoot(ctx, false); err != nil {
			return err
		}
	}
	req := ca.Request{
		Principal:   r.Principal,
		Kind:        kind,
		DNSNames:    r.DNS,
		IPAddresses: ips,
		Validity:    time.Duration(r.Days) * 24 * time.Hour,
		Now:         d.now,
	}
	if err := req.Validate(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s (%s)\n", r.Principal, kind)

	type half struct {
		purpose  ca.Purpose
		label    string
		file     string
		existing *ca.Certificate
		why      string
		key      *sm2.PublicKey
		held     string
	}
	halves := []*half{
		{purpose: ca.PurposeSign, label: "签名证书 signing certificate"},
		{purpose: ca.PurposeEncrypt, label: "加密证书 encryption certificate"},
	}
	for i, h := range halves {
		h.file = r.Principal + "." + h.purpose.String() + ".pem"
		h.existing, h.why = readSM2Cert(d.certPath(h.file))
		pubFile := []string{r.SignPub, r.EncPub}[i]
		h.key, h.held, err = d.principalSM2Key(ctx, "principals/"+r.Principal+"/"+h.purpose.String(), pubFile, h.existing)
		if err != nil {
			return err
		}
	}
	if halves[0].key.Equal(halves[1].key) {
		return errors.New("签名密钥与加密密钥相同 the signing and encryption keys are the same key: a double certificate needs two keys")
	}
	for _, h := range halves {
		if h.existing != nil {
			h.why = d.sm2CertStale(h.existing, root, req, h.purpose, h.key)
		}
		if h.why == "" {
			d.report("kept", "certs/"+h.file, fmt.Sprintf("%s, valid until %s%s", h.label, day(h.existing.NotAfter()), h.held))
			continue
		}
		cert, err := root.Issue(req, h.purpose, h.key)
		if err != nil {
			return err
		}
		if err := caWriteFile(d.certPath(h.file), cert.PEM()); err != nil {
			return err
		}
		verb, detail := "created", fmt.Sprintf("%s, key id %s, valid until %s%s", h.label, h.key.KeyID(), day(cert.NotAfter()), h.held)
		if h.why != "missing" {
			verb, detail = "renewed", detail+" (was: "+h.why+")"
		}
		d.report(verb, "certs/"+h.file, detail)
	}
	if kind == ca.KindServer {
		return d.issueTLS(ctx, tlsRoot, req, r.TLSPub)
	}
	return nil
}

// principalSM2Key returns the public key to certify: from pubFile if given;
// else the keystore's key; else, when a certificate exists, the key it
// certifies, which the principal holds outside this keystore (held says so);
// else a new key generated into the keystore.
func (d *caDeployment) principalSM2Key(ctx context.Context, name, pubFile string, existing *ca.Certificate) (key *sm2.PublicKey, held string, err error) {
	if pubFile != "" {
		data, err := os.ReadFile(pubFile)
		if err != nil {
			return nil, "", err
		}
		pub, err := sm2.ParsePublicKeyPEM(data)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", pubFile, err)
		}
		return pub, " (key held by the principal)", nil
	}
	k, err := keystore.LoadSM2(ctx, d.ks, name)
	switch {
	case err == nil:
		return k.PublicKey(), "", nil
	case !errors.Is(err, keystore.ErrNotFound):
		return nil, "", err
	case existing != nil:
		return existing.PublicKey(), " (key held by the principal)", nil
	}
	k, _, err = keystore.EnsureSM2(ctx, d.ks, name)
	if err != nil {
		return nil, "", err
	}
	d.report("created", "key "+name, fmt.Sprintf("SM2 私钥 private key (keystore), key id %s", k.PublicKey().KeyID()))
	return k.PublicKey(), "", nil
}

// sm2CertStale says why an existing certificate cannot be kept, or "" if it
// can: it must verify under root for purpose, name the same principal and
// kind, certify key and, for a server, name the requested DNS names and IPs.
func (d *caDeployment) sm2CertStale(c *ca.Certificate, root *ca.Root, req ca.Request, purpose ca.Purpose, key *sm2.PublicKey) string {
	id, err := ca.Verify(c, []*ca.Certificate{root.Certificate()}, purpose, d.now)
	switch {
	case err != nil:
		return err.Error()
	case id.Principal != req.Principal || id.Kind != req.Kind:
		return fmt.Sprintf("issued to %s (%s)", id.Principal, id.Kind)
	case !id.PublicKey.Equal(key):
		return "certifies key id " + id.PublicKey.KeyID()
	case !sameNames(c.DNSNames(), c.IPAddresses(), req):
		return "other DNS names or IP addresses"
	}
	return ""
}

// issueTLS issues or keeps a server's P-256 TLS certificate.
func (d *caDeployment) issueTLS(ctx context.Context, root *ca.TLSRoot, req ca.Request, pubFile string) error {
	file := req.Principal + ".tls.pem"
	path := d.certPath(file)
	why := "missing"
	var existing *x509.Certificate
	if data, err := os.ReadFile(path); err == nil {
		if existing, err = ca.ParseTLSCertificatePEM(data); err != nil {
			why = err.Error()
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		why = err.Error()
	}
	key, held, err := d.serverTLSKey(ctx, "principals/"+req.Principal+"/tls", pubFile, existing)
	if err != nil {
		return err
	}
	if existing != nil {
		principal, err := ca.VerifyTLSServer(existing, []*x509.Certificate{root.Certificate()}, d.now)
		pub, _ := existing.PublicKey.(*ecdsa.PublicKey)
		switch {
		case err != nil:
			why = err.Error()
		case principal != req.Principal:
			why = "issued to " + principal
		case pub == nil || !pub.Equal(key):
			why = "certifies another key"
		case !sameNames(existing.DNSNames, existing.IPAddresses, req):
			why = "other DNS names or IP addresses"
		default:
			d.report("kept", "certs/"+file, fmt.Sprintf("TLS 1.3 证书 TLS 1.3 certificate, valid until %s%s", day(existing.NotAfter), held))
			return nil
		}
	}
	cert, err := root.IssueServer(req, key)
	if err != nil {
		return err
	}
	if err := caWriteFile(path, ca.EncodePEM(cert.Raw)); err != nil {
		return err
	}
	verb, detail := "created", fmt.Sprintf("TLS 1.3 证书 TLS 1.3 certificate, valid until %s%s", day(cert.NotAfter), held)
	if why != "missing" {
		verb, detail = "renewed", detail+" (was: "+why+")"
	}
	d.report(verb, "certs/"+file, detail)
	return nil
}

// serverTLSKey returns the P-256 public key to certify, chosen like
// principalSM2Key's.
func (d *caDeployment) serverTLSKey(ctx context.Context, name, pubFile string, existing *x509.Certificate) (key *ecdsa.PublicKey, held string, err error) {
	if pubFile != "" {
		data, err := os.ReadFile(pubFile)
		if err != nil {
			return nil, "", err
		}
		pub, err := ca.ParseTLSPublicKeyPEM(data)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", pubFile, err)
		}
		return pub, " (key held by the server)", nil
	}
	k, err := loadP256(ctx, d.ks, name)
	switch {
	case err == nil:
		return &k.PublicKey, "", nil
	case !errors.Is(err, keystore.ErrNotFound):
		return nil, "", err
	case existing != nil:
		if pub, ok := existing.PublicKey.(*ecdsa.PublicKey); ok {
			return pub, " (key held by the server)", nil
		}
	}
	k, _, err = ensureP256(ctx, d.ks, name)
	if err != nil {
		return nil, "", err
	}
	d.report("created", "key "+name, "P-256 私钥 TLS private key (keystore)")
	return &k.PublicKey, "", nil
}

// readSM2Cert reads a certificate file. Without a usable certificate it
// returns nil and why: "missing", or what is wrong with the file.
func readSM2Cert(path string) (*ca.Certificate, string) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "missing"
	}
	if err != nil {
		return nil, err.Error()
	}
	c, err := ca.ParseCertificatePEM(data)
	if err != nil {
		return nil, err.Error()
	}
	return c, ""
}

// sameNames reports whether a certificate names exactly the request's DNS
// names and IP addresses, in any order.
func sameNames(dns []string, ips []net.IP, req ca.Request) bool {
	a, b := slices.Clone(dns), slices.Clone(req.DNSNames)
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) || len(ips) != len(req.IPAddresses) {
		return false
	}
	for _, want := range req.IPAddresses {
		if !slices.ContainsFunc(ips, want.Equal) {
			return false
		}
	}
	return true
}

// loadP256 reads the P-256 private key stored under name.
func loadP256(ctx context.Context, ks keystore.Keystore, name string) (*ecdsa.PrivateKey, error) {
	p, err := ks.Get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", name, err)
	}
	k, err := ca.ParseTLSKeyPEM(p)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", name, err)
	}
	return k, nil
}

// ensureP256 loads the P-256 key stored under name, generating and storing
// a new one (PKCS#8 PEM) if there is none.
func ensureP256(ctx context.Context, ks keystore.Keystore, name string) (k *ecdsa.PrivateKey, created bool, err error) {
	k, err = loadP256(ctx, ks, name)
	if err == nil || !errors.Is(err, keystore.ErrNotFound) {
		return k, false, err
	}
	if k, err = ca.GenerateTLSKey(); err != nil {
		return nil, false, err
	}
	p, err := ca.MarshalTLSKeyPEM(k)
	if err != nil {
		return nil, false, err
	}
	if err := ks.Create(ctx, name, p); err != nil {
		return nil, false, fmt.Errorf("storing %s: %w", name, err)
	}
	return k, true, nil
}

// caWriteFile writes a certificate file (mode 0644) through a temporary
// file and a rename, so that a reader sees the old or the new certificate,
// never a part.
func caWriteFile(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*.pem")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// day formats a certificate date for operators.
func day(t time.Time) string { return t.UTC().Format("2006-01-02") }
