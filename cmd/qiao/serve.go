package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/qiao-exchange/qiao/audit"
	"github.com/qiao-exchange/qiao/config"
	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/fieldcrypt"
	"github.com/qiao-exchange/qiao/crypto/gmtls"
	"github.com/qiao-exchange/qiao/crypto/keystore"
	"github.com/qiao-exchange/qiao/crypto/reqsig"
	"github.com/qiao-exchange/qiao/gateway"
	"github.com/qiao-exchange/qiao/gateway/access"
	"github.com/qiao-exchange/qiao/gateway/authn"
	"github.com/qiao-exchange/qiao/gateway/directory"
	"github.com/qiao-exchange/qiao/gateway/leadsvc"
	"github.com/qiao-exchange/qiao/gateway/push"
	"github.com/qiao-exchange/qiao/leads"
	"github.com/qiao-exchange/qiao/leads/forward"
	"github.com/qiao-exchange/qiao/leads/models"
	"github.com/qiao-exchange/qiao/policy"
	"github.com/qiao-exchange/qiao/schema"
	"github.com/qiao-exchange/qiao/store"
	"github.com/qiao-exchange/qiao/store/evidence"
	"github.com/qiao-exchange/qiao/store/warehouse"
)

func newServeCmd() *cobra.Command {
	var path string
	c := &cobra.Command{
		Use:   "serve [--config qiao.yaml]",
		Short: "Run the gateway: gRPC, REST and admin listeners (运行交换网关)",
		Long: `serve runs the exchange gateway that qiao.yaml describes: gRPC on GM-TLS (TLCP) or
TLS 1.3, REST/JSON and /openapi.json on TLS 1.3 and on TLCP, and an admin listener on
loopback with /healthz, /readyz and /metrics. Every call must carry the caller's SM2
request signature (docs/request-signing.md).

On its first start over an empty state store it registers the gateway itself and the
principals of principals.yaml (as qiao init writes it) with their certificates from the
certificate directory, so that a development deployment needs no other setup.

Pushed batches are kept as encrypted evidence in evidence.dir and their rows in the
warehouse (warehouse.path), personal data encrypted under keys derived from the
storage master key in the keystore. Before it listens, serve finishes what a stop
interrupted: rows of batches whose state-store transaction committed are made
visible, the others removed.

SIGINT or SIGTERM stops it gracefully within server.shutdown_timeout.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			return runServe(cmd.Context(), cfg, cmd.ErrOrStderr(), nil)
		},
	}
	c.Flags().StringVar(&path, "config", "qiao.yaml", "configuration file")
	return c
}

// runServe runs the gateway of cfg until ctx ends, logging to logOut.
// listening, if not nil, is called with the bound addresses once every
// listener is bound.
func runServe(ctx context.Context, cfg config.Config, logOut io.Writer, listening func(gateway.Addrs)) error {
	log, level := newLevelLogger(cfg.Log, logOut)

	ks, err := openKeystore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("opening the keystore: %w", err)
	}
	id, err := loadGatewayIdentity(ctx, cfg, ks)
	if err != nil {
		return err
	}
	roots, err := readRoots(cfg.Path(cfg.PKI.SM2Root))
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, store.Config{DSN: cfg.Path(cfg.Store.Path), Logger: log})
	if err != nil {
		return fmt.Errorf("opening the state store: %w", err)
	}
	defer db.Close()
	schemas, err := schema.Load(cfg.Path(cfg.Schema.Dir))
	if err != nil {
		return err
	}
	auditLog, err := audit.New(audit.Config{DB: db, Key: id.sign.Key, Origin: cfg.Audit.Origin, Logger: log})
	if err != nil {
		return fmt.Errorf("opening the audit log: %w", err)
	}
	if err := seedPrincipals(ctx, cfg, db, roots, auditLog, log); err != nil {
		return err
	}
	if err := recordKeyLoad(ctx, cfg, auditLog, id); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// The models that read a dataset run after its batches are published;
	// the runner is made once the warehouse is open.
	var published func(dataset string)
	pusher, wh, keys, err := openPushPipeline(ctx, cfg, ks, db, schemas, id, roots, auditLog, reg, log,
		func(dataset string) {
			if published != nil {
				published(dataset)
			}
		})
	if err != nil {
		return err
	}
	defer wh.Close()
	engine, err := openPolicy(ctx, cfg, auditLog, id, reg, log)
	if err != nil {
		return err
	}
	accessSvc, err := access.New(access.Config{
		Store: db, Policy: engine, Audit: auditLog, Rows: wh, Schemas: schemas,
		Sign: id.sign.Key, Roots: roots, Self: id.sign.Cert.Principal(), Registerer: reg, Logger: log,
	})
	if err != nil {
		return err
	}
	leadSvc, err := leadsvc.New(db, engine, auditLog, log)
	if err != nil {
		return err
	}
	var fw *forward.Forwarder
	if brokers := cfg.Leads.Brokers(); len(brokers) > 0 {
		if fw, err = forward.New(forward.Config{Brokers: brokers, Outbox: db, Registerer: reg, Logger: log}); err != nil {
			return err
		}
	}
	ms, err := models.Load()
	if err != nil {
		return err
	}
	var kick func()
	if fw != nil {
		kick = fw.Kick
	}
	runner, err := leads.New(leads.Config{Models: ms, Warehouse: wh, Store: db, Audit: auditLog, Sign: id.sign.Key,
		Self: id.sign.Cert.Principal(), Kick: kick, Registerer: reg, Logger: log})
	if err != nil {
		return err
	}
	published = runner.Changed
	// Checkpoints are issued until the gateway stops, and the loop has ended
	// before the state store closes.
	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		_ = auditLog.Run(runCtx, cfg.Audit.CheckpointInterval)
	}()
	if fw != nil {
		fwDone := make(chan struct{})
		go func() {
			defer close(fwDone)
			_ = fw.Run(runCtx)
		}()
		defer func() { stopRun(); <-fwDone }()
		log.InfoContext(ctx, "forwarding leads to Kafka", slog.String("brokers", cfg.Leads.KafkaBrokers), slog.String("topic", forward.DefaultTopic))
	}
	runnerDone := make(chan struct{})
	go func() {
		defer close(runnerDone)
		runner.Run(runCtx)
	}()
	defer func() { stopRun(); <-runnerDone }()
	expireDone := make(chan struct{})
	go func() {
		defer close(expireDone)
		expirePending(runCtx, accessSvc, log)
	}()
	defer func() { stopRun(); <-expireDone }()
	if cfg.Policy.Dir != "" {
		watchDone := make(chan struct{})
		go func() {
			defer close(watchDone)
			engine.Watch(runCtx, cfg.Policy.ReloadInterval)
		}()
		defer func() { stopRun(); <-watchDone }()
	}
	defer func() {
		stopRun()
		<-runDone
		// A final checkpoint signs the log's tail, so that what was appended
		// since the last tick verifies offline too.
		if _, err := auditLog.Checkpoint(context.WithoutCancel(ctx)); err != nil {
			log.ErrorContext(ctx, "final audit checkpoint failed", slog.Any("err", err))
		}
	}()

	srv, err := gateway.New(gateway.Options{
		Server:    cfg.Server,
		Limits:    cfg.Limits,
		ClockSkew: cfg.Auth.ClockSkew,
		Sign:      id.sign,
		Enc:       id.enc,
		TLSCert:   id.tlsCert,
		TLSKey:    id.tlsKey,
		Roots:     roots,
		Store:     db,
		Schemas:   schemas,
		Policy:    gateway.EnginePolicy{Engine: engine},
		Engine:    engine,
		Pusher:    pusher,
		Access:    accessSvc,
		Leads:     leadSvc,
		Tokens:    keys,
		Audit:     auditLog,
		Nonces:    reqsig.NewMemoryNonceStore(cfg.Auth.NonceCapacity, nil),
		Metrics:   reg,
		Logger:    log,
		Ready: []gateway.Check{{Name: "store", Func: func(ctx context.Context) error {
			var one int
			return db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
		}}},
	})
	if err != nil {
		return err
	}
	if cfg.File != "" {
		r := &configReloader{running: cfg, level: level, log: auditLog, actor: id.sign.Cert.Principal(), slog: log}
		hup := notifyReload()
		reloadDone := make(chan struct{})
		go func() {
			defer close(reloadDone)
			r.watch(runCtx, hup)
		}()
		defer func() { signal.Stop(hup); stopRun(); <-reloadDone }()
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	if listening != nil {
		listening(srv.Addrs())
	}
	return srv.Serve(ctx)
}

// openPushPipeline opens the evidence directory and the warehouse with the
// storage keys from the keystore, runs the warehouse's start-up recovery,
// and returns the Pusher over them. The caller closes the warehouse.
func openPushPipeline(ctx context.Context, cfg config.Config, ks keystore.Keystore, db *store.DB,
	schemas *schema.Registry, id identity, roots []*ca.Certificate, auditLog *audit.Log, reg prometheus.Registerer, log *slog.Logger,
	published func(dataset string)) (*push.Pusher, *warehouse.Warehouse, *fieldcrypt.Keys, error) {
	master, err := keystore.LoadSecret(ctx, ks, fieldcrypt.MasterKeyName)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("存储主密钥不可用 the storage master key: %w", err)
	}
	ev, err := evidence.Open(cfg.Path(cfg.Evidence.Dir), master)
	clear(master)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("opening the evidence directory: %w", err)
	}
	keys, err := fieldcrypt.Load(ctx, ks)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("字段密钥不可用 the field keys: %w", err)
	}
	wh, err := warehouse.Open(ctx, cfg.Path(cfg.Warehouse.Path), schemas, keys)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("opening the warehouse: %w", err)
	}
	rec, err := push.Recover(ctx, db, wh)
	if err != nil {
		wh.Close()
		return nil, nil, nil, fmt.Errorf("recovering unfinished pushes: %w", err)
	}
	if len(rec.Published)+len(rec.Removed) > 0 {
		log.LogAttrs(ctx, slog.LevelWarn, "recovered unfinished pushes",
			slog.Int("published", len(rec.Published)), slog.Int("removed", len(rec.Removed)))
	}
	p, err := push.New(push.Config{
		Store:     db,
		Evidence:  ev,
		Warehouse: wh,
		Key:       id.enc.Key,
		Roots:     roots,
		Audit: func(ctx context.Context, tx *store.Tx, p gateway.Push, b store.Batch) error {
			_, err := auditLog.Append(ctx, tx, push.AuditEntry(p, b))
			return err
		},
		Logger:     log,
		Registerer: reg,
		Published:  published,
	})
	if err != nil {
		wh.Close()
		return nil, nil, nil, err
	}
	return p, wh, keys, nil
}

// expirePending expires access requests left undecided too long, at start
// and every hour, until ctx ends.
func expirePending(ctx context.Context, s *access.Service, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := s.ExpirePending(ctx); err != nil && ctx.Err() == nil {
			log.ErrorContext(ctx, "expiring pending requests failed", slog.Any("err", err))
		} else if n > 0 {
			log.InfoContext(ctx, "pending requests expired", slog.Int("count", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// recordKeyLoad writes to the audit log which keys the gateway started
// with, by key ID, and from which keystore: a key rotation shows as a
// change of IDs between starts.
func recordKeyLoad(ctx context.Context, cfg config.Config, auditLog *audit.Log, id identity) error {
	e := audit.Entry{
		Actor:    audit.Actor{Principal: id.sign.Cert.Principal()},
		Action:   audit.ActionKeyLoad,
		Resource: audit.Resource{Kind: audit.KindPrincipal, ID: id.sign.Cert.Principal()},
		Decision: audit.Decision{Effect: audit.Allow, Reasons: []string{
			"keystore " + cfg.Keystore.Backend,
			"sign key " + id.sign.Key.PublicKey().KeyID(),
			"enc key " + id.enc.Key.PublicKey().KeyID(),
			"tls key " + cfg.Principal + "/tls",
			"storage master key " + fieldcrypt.MasterKeyName,
		}},
		Result: audit.Result{Status: audit.StatusOK},
	}
	if _, err := auditLog.Record(ctx, e); err != nil {
		return fmt.Errorf("recording the keys loaded: %w", err)
	}
	return nil
}

// openPolicy loads the policy bundle cfg names (the built-in one when
// none) and records the load in the audit log, as it records every later
// reload: the bundle's digest, and why a refused bundle was refused.
func openPolicy(ctx context.Context, cfg config.Config, auditLog *audit.Log, id identity, reg prometheus.Registerer, log *slog.Logger) (*policy.Engine, error) {
	record := func(ctx context.Context, r policy.Reload, reason string) {
		e := audit.Entry{
			Actor:    audit.Actor{Principal: id.sign.Cert.Principal()},
			Action:   audit.ActionPolicyReload,
			Decision: audit.Decision{Effect: audit.Allow, Reasons: []string{reason}, PolicyRevision: r.Revision},
			Result:   audit.Result{Status: audit.StatusOK},
		}
		if r.Previous != "" {
			e.Decision.Reasons = append(e.Decision.Reasons, "previous revision "+r.Previous)
		}
		if r.Err != nil {
			e.Decision.Effect = audit.Deny
			e.Decision.Reasons = []string{"bundle refused, previous kept: " + r.Err.Error()}
			e.Result = audit.Result{Status: audit.StatusError, Code: "INVALID_ARGUMENT"}
		}
		if _, err := auditLog.Record(ctx, e); err != nil {
			log.ErrorContext(ctx, "recording a policy reload failed", slog.Any("err", err))
		}
	}
	dir := ""
	if cfg.Policy.Dir != "" {
		dir = cfg.Path(cfg.Policy.Dir)
	}
	engine, err := policy.New(ctx, policy.Options{
		Dir:        dir,
		Logger:     log,
		Timeout:    cfg.Policy.DecisionTimeout,
		Registerer: reg,
		OnReload: func(ctx context.Context, r policy.Reload) {
			if r.Err == nil && r.Revision == r.Previous {
				return
			}
			record(ctx, r, "policy bundle reloaded from "+dir)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("策略包无法加载 the policy bundle: %w", err)
	}
	where := "built-in bundle"
	if dir != "" {
		where = "bundle " + dir
	}
	record(ctx, policy.Reload{Revision: engine.Revision()}, "policy loaded at start: "+where)
	log.InfoContext(ctx, "policy loaded", slog.String("bundle", where), slog.String("revision", engine.Revision()))
	return engine, nil
}

// newLevelLogger returns the logger cfg asks for and the variable that
// sets its level.
func newLevelLogger(cfg config.Log, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	level.Set(parseLevel(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), level
	}
	return slog.New(slog.NewTextHandler(w, opts)), level
}

// identity is the gateway's certificates and keys.
type identity struct {
	sign, enc gmtls.KeyPair
	tlsCert   *x509.Certificate
	tlsKey    *ecdsa.PrivateKey
}

// loadGatewayIdentity reads the gateway's certificates from the certificate
// directory and its keys from the keystore.
func loadGatewayIdentity(ctx context.Context, cfg config.Config, ks keystore.Keystore) (identity, error) {
	p := cfg.Principal
	certDir := cfg.Path(cfg.PKI.CertDir)
	var id identity
	for _, half := range []struct {
		name string
		into *gmtls.KeyPair
	}{{"sign", &id.sign}, {"enc", &id.enc}} {
		path := filepath.Join(certDir, p+"."+half.name+".pem")
		data, err := os.ReadFile(path)
		if err != nil {
			return identity{}, fmt.Errorf("网关证书缺失 the gateway's certificate: %w (run qiao init or qiao ca issue --kind server)", err)
		}
		cert, err := ca.ParseCertificatePEM(data)
		if err != nil {
			return identity{}, fmt.Errorf("%s: %w", path, err)
		}
		key, err := keystore.LoadSM2(ctx, ks, "principals/"+p+"/"+half.name)
		if err != nil {
			return identity{}, fmt.Errorf("网关私钥不可用 the gateway's %s key: %w", half.name, err)
		}
		*half.into = gmtls.KeyPair{Cert: cert, Key: key}
	}
	path := filepath.Join(certDir, p+".tls.pem")
	data, err := os.ReadFile(path)
	if err != nil {
		return identity{}, fmt.Errorf("网关 TLS 证书缺失 the gateway's TLS 1.3 certificate: %w", err)
	}
	if id.tlsCert, err = ca.ParseTLSCertificatePEM(data); err != nil {
		return identity{}, fmt.Errorf("%s: %w", path, err)
	}
	if id.tlsKey, err = loadP256(ctx, ks, "principals/"+p+"/tls"); err != nil {
		return identity{}, fmt.Errorf("网关 TLS 私钥不可用 the gateway's TLS key: %w", err)
	}
	return id, nil
}

// seedPrincipals registers, in a store without principals, the gateway
// itself and the principals of principals.yaml in the data directory (as
// qiao init writes it), each with its double certificate from the
// certificate directory. A store that has principals is left alone.
func seedPrincipals(ctx context.Context, cfg config.Config, db *store.DB, roots []*ca.Certificate, auditLog *audit.Log, log *slog.Logger) error {
	existing, err := db.ListPrincipals(ctx, store.PrincipalQuery{})
	if err != nil {
		return fmt.Errorf("reading the principals: %w", err)
	}
	if len(existing) > 0 {
		return nil
	}
	seeds := []seedPrincipal{{Name: cfg.Principal, Kind: "server", Note: "交换网关 the exchange gateway"}}
	path := filepath.Join(cfg.DataDir, "principals.yaml")
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		log.LogAttrs(ctx, slog.LevelInfo, "no principals.yaml; registering the gateway only", slog.String("path", path))
	case err != nil:
		return err
	default:
		var file struct {
			Principals []seedPrincipal `yaml:"principals"`
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&file); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		seeds = append(seeds, file.Principals...)
	}
	dir, err := directory.New(directory.Config{Store: db, Roots: roots, Logger: log, Audit: auditLog, Self: cfg.Principal})
	if err != nil {
		return err
	}
	certDir := cfg.Path(cfg.PKI.CertDir)
	for _, s := range seeds {
		p := store.Principal{Name: s.Name, Kind: store.PrincipalKind(s.Kind), Agency: s.Agency, DisplayName: s.Note}
		for _, r := range s.Roles {
			p.Roles = append(p.Roles, store.Role(r))
		}
		var signPEM, encPEM []byte
		if p.Kind != store.KindModel {
			if signPEM, err = os.ReadFile(filepath.Join(certDir, s.Name+".sign.pem")); err != nil {
				return fmt.Errorf("注册 %s registering %s: %w", s.Name, s.Name, err)
			}
			if encPEM, err = os.ReadFile(filepath.Join(certDir, s.Name+".enc.pem")); err != nil {
				return fmt.Errorf("注册 %s registering %s: %w", s.Name, s.Name, err)
			}
		}
		if _, _, err := dir.Register(ctx, p, signPEM, encPEM); err != nil {
			return fmt.Errorf("注册 %s registering %s: %w", s.Name, s.Name, err)
		}
		log.LogAttrs(ctx, slog.LevelInfo, "principal registered",
			slog.String("principal", authn.LogName(s.Name)), slog.String("kind", s.Kind))
	}
	log.LogAttrs(ctx, slog.LevelInfo, "seeded an empty state store", slog.Int("principals", len(seeds)))
	return nil
}
