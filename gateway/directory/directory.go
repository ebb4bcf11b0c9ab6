// Package directory is the gateway's Directory service: who is on the
// exchange — the registered principals, their roles and their certificates —
// read by any authenticated caller, and changed (registering a principal,
// enabling or disabling one) by admins only.
//
// It also registers principals outside any call (Register), which `qiao
// serve` uses to seed a development deployment. A certificate is registered
// only if a trusted SM2 root issued it to that principal, for its purpose and
// of the principal's kind.
//
// Every change is recorded in the audit log (an Auditor) inside the change's
// own store transaction: principal.register and one certificate.add per
// certificate for a registration, principal.disable or principal.enable for a
// status change. If the entry cannot be appended the change fails and nothing
// commits.
//
// It is not the key registry's cache nor an authenticator: gateway/authn
// reads the same store records to check signatures.
package directory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/qiao-exchange/qiao/audit"
	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/gateway/authn"
	"github.com/qiao-exchange/qiao/gateway/rpcerr"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/policy"
	"github.com/qiao-exchange/qiao/store"
)

// Store is what the Directory service reads and writes in the state store.
type Store interface {
	ListPrincipals(ctx context.Context, q store.PrincipalQuery) ([]store.Principal, error)
	GetPrincipal(ctx context.Context, name string) (store.Principal, error)
	CertificatesFor(ctx context.Context, principal string) ([]store.Certificate, error)
	// InTx runs fn in a read-write transaction, committed if fn returns nil.
	InTx(ctx context.Context, fn func(tx *store.Tx) error) error
}

var _ Store = (*store.DB)(nil)

// Auditor appends an entry to the audit log inside the caller's
// transaction; *audit.Log is one. An error must fail the transaction.
type Auditor interface {
	Append(ctx context.Context, tx audit.Tx, e audit.Entry) (uint64, error)
}

var _ Auditor = (*audit.Log)(nil)

// Config configures the service.
type Config struct {
	// Store holds the principals. Required.
	Store Store
	// Roots are the SM2 roots a registered certificate must chain to.
	// Required.
	Roots []*ca.Certificate
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives one line per change; nil discards them.
	Logger *slog.Logger
	// Audit records every change in the audit log, in the change's
	// transaction. nil records nothing: only for tools and tests that keep
	// no audit log; qiao serve always sets it.
	Audit Auditor
	// Self is the gateway's own principal name, the actor of changes made
	// outside any call (Register at start-up). Required with Audit.
	Self string
	// Policy decides who changes the directory (action principal.manage);
	// without it, holders of the admin role do.
	Policy Policy
}

// Policy decides; *policy.Engine is one.
type Policy interface {
	Decide(ctx context.Context, in policy.Input) (policy.Decision, error)
}

// Service implements exchangev1.DirectoryServer.
type Service struct {
	exchangev1.UnimplementedDirectoryServer
	store  Store
	roots  []*ca.Certificate
	now    func() time.Time
	log    *slog.Logger
	audit  Auditor
	self   string
	policy Policy
}

var _ exchangev1.DirectoryServer = (*Service)(nil)

// New returns the service for cfg.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || len(cfg.Roots) == 0 {
		return nil, errors.New("directory: Store and Roots are required")
	}
	if cfg.Audit != nil && cfg.Self == "" {
		return nil, errors.New("directory: Self is required with Audit")
	}
	s := &Service{store: cfg.Store, roots: append([]*ca.Certificate(nil), cfg.Roots...), now: cfg.Now, log: cfg.Logger,
		audit: cfg.Audit, self: cfg.Self, policy: cfg.Policy}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// ListPrincipals implements exchangev1.DirectoryServer.
func (s *Service) ListPrincipals(ctx context.Context, req *exchangev1.ListPrincipalsRequest) (*exchangev1.ListPrincipalsResponse, error) {
	q := store.PrincipalQuery{
		Kind:   kindFromProto(req.GetKind()),
		Status: statusFromProto(req.GetStatus()),
		Agency: req.GetAgency(),
		Role:   roleFromProto(req.GetRole()),
	}
	ps, err := s.store.ListPrincipals(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("directory: listing principals: %w", err)
	}
	resp := &exchangev1.ListPrincipalsResponse{Principals: make([]*exchangev1.Principal, 0, len(ps))}
	for _, p := range ps {
		certs, err := s.store.CertificatesFor(ctx, p.Name)
		if err != nil {
			return nil, fmt.Errorf("directory: certificates of %s: %w", p.Name, err)
		}
		resp.Principals = append(resp.Principals, PrincipalToProto(p, certs))
	}
	return resp, nil
}

// GetPrincipal implements exchangev1.DirectoryServer.
func (s *Service) GetPrincipal(ctx context.Context, req *exchangev1.GetPrincipalRequest) (*exchangev1.GetPrincipalResponse, error) {
	if req.GetName() == "" {
		return nil, rpcerr.InvalidField("name", "required", nil)
	}
	p, certs, err := s.get(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	return &exchangev1.GetPrincipalResponse{Principal: PrincipalToProto(p, certs)}, nil
}

func (s *Service) get(ctx context.Context, name string) (store.Principal, []store.Certificate, error) {
	p, err := s.store.GetPrincipal(ctx, name)
	if err != nil {
		return store.Principal{}, nil, rpcerr.WithMessage(fmt.Errorf("directory: %w", err), "no such principal")
	}
	certs, err := s.store.CertificatesFor(ctx, name)
	if err != nil {
		return store.Principal{}, nil, fmt.Errorf("directory: certificates of %s: %w", name, err)
	}
	return p, certs, nil
}

// RegisterPrincipal implements exchangev1.DirectoryServer. It needs the
// admin role.
func (s *Service) RegisterPrincipal(ctx context.Context, req *exchangev1.RegisterPrincipalRequest) (*exchangev1.RegisterPrincipalResponse, error) {
	ctx, caller, err := s.authorize(ctx)
	if err != nil {
		return nil, err
	}
	p := store.Principal{
		Name:        req.GetName(),
		Kind:        kindFromProto(req.GetKind()),
		Agency:      req.GetAgency(),
		DisplayName: req.GetDisplayName(),
	}
	for _, r := range req.GetRoles() {
		role := roleFromProto(r)
		if role == "" {
			return nil, rpcerr.InvalidField("roles", "ROLE_UNSPECIFIED is not a role", nil)
		}
		p.Roles = append(p.Roles, role)
	}
	stored, certs, err := s.Register(ctx, p, []byte(req.GetSigningCertificatePem()), []byte(req.GetEncryptionCertificatePem()))
	if err != nil {
		return nil, err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "principal registered",
		slog.String("principal", authn.LogName(stored.Name)), slog.String("kind", string(stored.Kind)),
		slog.String("by", authn.LogName(caller.Principal)))
	return &exchangev1.RegisterPrincipalResponse{Principal: PrincipalToProto(stored, certs)}, nil
}

// Register stores a new principal with its signing and encryption
// certificates (PEM), in one transaction with their audit entries, and
// returns them as stored. The actor is the authenticated caller of ctx, or
// the gateway itself (Config.Self) outside any call. Both
// certificates are required, except for models, which have none. Each must
// chain to one of the roots, name the principal, be of its kind and for its
// purpose, and be valid now. Errors are rpcerr.InvalidError for a record or
// certificate that does not fit, and wrap store.ErrExists for a name that is
// taken.
func (s *Service) Register(ctx context.Context, p store.Principal, signPEM, encPEM []byte) (store.Principal, []store.Certificate, error) {
	if p.Kind == "" {
		return store.Principal{}, nil, rpcerr.InvalidField("kind", "required", nil)
	}
	var certs []store.Certificate
	if p.Kind == store.KindModel {
		if len(signPEM) != 0 || len(encPEM) != 0 {
			return store.Principal{}, nil, rpcerr.InvalidField("signing_certificate_pem", "models have no certificates", nil)
		}
	} else {
		for _, c := range []struct {
			field   string
			pem     []byte
			purpose ca.Purpose
		}{
			{"signing_certificate_pem", signPEM, ca.PurposeSign},
			{"encryption_certificate_pem", encPEM, ca.PurposeEncrypt},
		} {
			rec, problem, err := s.checkCertificate(p, c.pem, c.purpose)
			if problem != "" {
				return store.Principal{}, nil, rpcerr.InvalidField(c.field, problem, err)
			}
			certs = append(certs, rec)
		}
	}
	var stored store.Principal
	var storedCerts []store.Certificate
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if stored, err = tx.RegisterPrincipal(ctx, p); err != nil {
			return err
		}
		storedCerts = storedCerts[:0]
		for _, c := range certs {
			sc, err := tx.AddCertificate(ctx, c)
			if err != nil {
				return err
			}
			storedCerts = append(storedCerts, sc)
		}
		if err := s.record(ctx, tx, audit.ActionPrincipalRegister, stored.Name); err != nil {
			return err
		}
		for _, c := range storedCerts {
			if err := s.record(ctx, tx, audit.ActionCertificateAdd, stored.Name,
				"purpose "+string(c.Purpose), "fingerprint "+c.Fingerprint); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrExists):
		return store.Principal{}, nil, rpcerr.WithMessage(fmt.Errorf("directory: %w", err), "a principal of that name, or one of the certificates, is registered already")
	case errors.Is(err, store.ErrInvalid):
		return store.Principal{}, nil, rpcerr.InvalidField("name", "not a valid principal record: check the name's form for its kind, the agency, roles and display name", err)
	case err != nil:
		return store.Principal{}, nil, fmt.Errorf("directory: registering %s: %w", p.Name, err)
	}
	return stored, storedCerts, nil
}

// checkCertificate parses and verifies one certificate of p and returns its
// store record, or what is wrong with it (for the client) and why (for the
// log).
func (s *Service) checkCertificate(p store.Principal, pemData []byte, purpose ca.Purpose) (store.Certificate, string, error) {
	if len(pemData) == 0 {
		return store.Certificate{}, "required", nil
	}
	cert, err := ca.ParseCertificatePEM(pemData)
	if err != nil {
		return store.Certificate{}, "not a PEM certificate", err
	}
	id, err := ca.Verify(cert, s.roots, purpose, s.now())
	if err != nil {
		use := "signing"
		if purpose == ca.PurposeEncrypt {
			use = "encryption"
		}
		return store.Certificate{}, "not a valid " + use + " certificate from this exchange's SM2 root", err
	}
	if id.Principal != p.Name {
		return store.Certificate{}, "issued to another principal", nil
	}
	if string(id.Kind) != string(p.Kind) {
		return store.Certificate{}, fmt.Sprintf("issued for a principal of kind %s", id.Kind), nil
	}
	rec := store.Certificate{
		Principal: p.Name,
		Purpose:   store.PurposeSign,
		KeyID:     cert.PublicKey().KeyID(),
		Serial:    cert.SerialNumber().Text(16),
		PEM:       cert.PEM(),
		NotBefore: cert.NotBefore(),
		NotAfter:  cert.NotAfter(),
	}
	if purpose == ca.PurposeEncrypt {
		rec.Purpose = store.PurposeEnc
	}
	return rec, "", nil
}

// SetPrincipalStatus implements exchangev1.DirectoryServer. It needs the
// admin role.
func (s *Service) SetPrincipalStatus(ctx context.Context, req *exchangev1.SetPrincipalStatusRequest) (*exchangev1.SetPrincipalStatusResponse, error) {
	ctx, caller, err := s.authorize(ctx)
	if err != nil {
		return nil, err
	}
	status := statusFromProto(req.GetStatus())
	switch {
	case req.GetName() == "":
		return nil, rpcerr.InvalidField("name", "required", nil)
	case status == "":
		return nil, rpcerr.InvalidField("status", "PRINCIPAL_STATUS_ACTIVE or PRINCIPAL_STATUS_DISABLED", nil)
	case req.GetName() == caller.Principal && status == store.StatusDisabled:
		return nil, rpcerr.WithMessage(fmt.Errorf("directory: %w: an admin disabling itself", rpcerr.ErrFailedPrecondition), "an admin cannot disable itself")
	}
	action := audit.ActionPrincipalEnable
	if status == store.StatusDisabled {
		action = audit.ActionPrincipalDisable
	}
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.SetPrincipalStatus(ctx, req.GetName(), status); err != nil {
			return err
		}
		return s.record(ctx, tx, action, req.GetName())
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, rpcerr.WithMessage(fmt.Errorf("directory: setting status: %w", err), "no such principal")
	case err != nil:
		return nil, fmt.Errorf("directory: setting the status of %s: %w", req.GetName(), err)
	}
	p, certs, err := s.get(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "principal status set",
		slog.String("principal", authn.LogName(p.Name)), slog.String("status", string(status)),
		slog.String("by", authn.LogName(caller.Principal)))
	return &exchangev1.SetPrincipalStatusResponse{Principal: PrincipalToProto(p, certs)}, nil
}

// record appends the audit entry of a change to principal inside tx, the
// change's transaction: the actor is the authenticated caller of ctx, or the
// gateway itself outside any call. details follow the reason in the entry's
// decision. Without an Auditor it records nothing.
func (s *Service) record(ctx context.Context, tx *store.Tx, action, principal string, details ...string) error {
	if s.audit == nil {
		return nil
	}
	actor := audit.Actor{Principal: s.self}
	dec := allowed{reasons: []string{"the gateway registers its seed principals at start-up"}}
	if c, ok := authn.FromContext(ctx); ok {
		actor = c.AuditActor()
		dec = allowed{reasons: []string{"the caller holds the admin role"}}
		if a, ok := ctx.Value(allowedKey{}).(allowed); ok {
			dec = a
		}
	}
	e := audit.Entry{
		Actor:    actor,
		Action:   action,
		Resource: audit.Resource{Kind: audit.KindPrincipal, ID: principal},
		Decision: audit.Decision{Effect: audit.Allow, Reasons: append(slices.Clone(dec.reasons), details...), PolicyRevision: dec.revision},
		Result:   audit.Result{Status: audit.StatusOK},
	}
	if _, err := s.audit.Append(ctx, tx, e); err != nil {
		return fmt.Errorf("directory: audit entry %s: %w", action, err)
	}
	return nil
}

// allowed is policy's decision to let the caller change the directory,
// carried in the call's context to the audit entries of the change.
type allowed struct {
	reasons  []string
	revision string
}

type allowedKey struct{}

// ActionManage is the policy action of changing the directory.
const ActionManage = "principal.manage"

// authorize returns the caller if it may change the directory — policy's
// principal.manage decision when the service has a policy, else the admin
// role — with ctx carrying the decision. A refusal by policy is recorded.
func (s *Service) authorize(ctx context.Context) (context.Context, *authn.Caller, error) {
	c, ok := authn.FromContext(ctx)
	if !ok {
		return ctx, nil, fmt.Errorf("directory: %w: no authenticated caller", rpcerr.ErrUnauthenticated)
	}
	refused := rpcerr.WithMessage(fmt.Errorf("directory: %w: %s may not change the directory", rpcerr.ErrPermissionDenied, c.Principal), "only admins change the directory")
	if s.policy == nil {
		if !c.HasRole(store.RoleAdmin) {
			return ctx, nil, refused
		}
		return context.WithValue(ctx, allowedKey{}, allowed{reasons: []string{"the caller holds the admin role"}}), c, nil
	}
	in := policy.Input{Subject: c.PolicySubject(), Action: ActionManage, Time: s.now()}
	d, err := s.policy.Decide(ctx, in)
	if err == nil && d.Allow {
		return context.WithValue(ctx, allowedKey{}, allowed{reasons: d.Reasons, revision: d.Revision}), c, nil
	}
	if s.audit != nil {
		reasons := d.Reasons
		if len(reasons) == 0 {
			reasons = []string{"policy could not decide"}
		}
		e := audit.Entry{Actor: c.AuditActor(), Action: ActionManage,
			Decision: audit.Decision{Effect: audit.Deny, Reasons: reasons, PolicyRevision: d.Revision},
			Result:   audit.Result{Status: audit.StatusError, Code: "PERMISSION_DENIED"}}
		if aerr := s.store.InTx(ctx, func(tx *store.Tx) error {
			_, err := s.audit.Append(ctx, tx, e)
			return err
		}); aerr != nil {
			return ctx, nil, fmt.Errorf("directory: recording a refused change: %w", aerr)
		}
	}
	return ctx, nil, refused
}

// PrincipalToProto converts a principal and its certificates to the API's
// form.
func PrincipalToProto(p store.Principal, certs []store.Certificate) *exchangev1.Principal {
	out := &exchangev1.Principal{
		Name:         p.Name,
		Kind:         kindToProto(p.Kind),
		Agency:       p.Agency,
		Status:       statusToProto(p.Status),
		DisplayName:  p.DisplayName,
		Certificates: make([]*exchangev1.Certificate, 0, len(certs)),
		CreateTime:   timestamppb.New(p.Created),
		UpdateTime:   timestamppb.New(p.Updated),
	}
	for _, r := range p.Roles {
		out.Roles = append(out.Roles, roleToProto(r))
	}
	for _, c := range certs {
		pc := &exchangev1.Certificate{
			Fingerprint: c.Fingerprint,
			Purpose:     exchangev1.CertificatePurpose_CERTIFICATE_PURPOSE_SIGN,
			KeyId:       c.KeyID,
			Serial:      c.Serial,
			NotBefore:   timestamppb.New(c.NotBefore),
			NotAfter:    timestamppb.New(c.NotAfter),
			Status:      exchangev1.CertificateStatus_CERTIFICATE_STATUS_ACTIVE,
			Pem:         string(c.PEM),
		}
		if c.Purpose == store.PurposeEnc {
			pc.Purpose = exchangev1.CertificatePurpose_CERTIFICATE_PURPOSE_ENCRYPT
		}
		if c.Status != store.CertActive {
			pc.Status = exchangev1.CertificateStatus_CERTIFICATE_STATUS_REVOKED
		}
		out.Certificates = append(out.Certificates, pc)
	}
	return out
}

var kinds = map[store.PrincipalKind]exchangev1.PrincipalKind{
	store.KindAgency: exchangev1.PrincipalKind_PRINCIPAL_KIND_AGENCY,
	store.KindUser:   exchangev1.PrincipalKind_PRINCIPAL_KIND_USER,
	store.KindServer: exchangev1.PrincipalKind_PRINCIPAL_KIND_SERVER,
	store.KindModel:  exchangev1.PrincipalKind_PRINCIPAL_KIND_MODEL,
}

var roles = map[store.Role]exchangev1.Role{
	store.RoleRequester: exchangev1.Role_ROLE_REQUESTER,
	store.RoleApprover:  exchangev1.Role_ROLE_APPROVER,
	store.RoleAuditor:   exchangev1.Role_ROLE_AUDITOR,
	store.RoleAdmin:     exchangev1.Role_ROLE_ADMIN,
}

func kindToProto(k store.PrincipalKind) exchangev1.PrincipalKind { return kinds[k] }

func kindFromProto(k exchangev1.PrincipalKind) store.PrincipalKind {
	for sk, pk := range kinds {
		if pk == k {
			return sk
		}
	}
	return ""
}

func roleToProto(r store.Role) exchangev1.Role { return roles[r] }

func roleFromProto(r exchangev1.Role) store.Role {
	for sr, pr := range roles {
		if pr == r {
			return sr
		}
	}
	return ""
}

func statusToProto(s store.PrincipalStatus) exchangev1.PrincipalStatus {
	switch s {
	case store.StatusActive:
		return exchangev1.PrincipalStatus_PRINCIPAL_STATUS_ACTIVE
	case store.StatusDisabled:
		return exchangev1.PrincipalStatus_PRINCIPAL_STATUS_DISABLED
	}
	return exchangev1.PrincipalStatus_PRINCIPAL_STATUS_UNSPECIFIED
}

func statusFromProto(s exchangev1.PrincipalStatus) store.PrincipalStatus {
	switch s {
	case exchangev1.PrincipalStatus_PRINCIPAL_STATUS_ACTIVE:
		return store.StatusActive
	case exchangev1.PrincipalStatus_PRINCIPAL_STATUS_DISABLED:
		return store.StatusDisabled
	}
	return ""
}
