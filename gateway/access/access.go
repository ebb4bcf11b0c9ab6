// Package access is the gateway's Access service: requests for another
// agency's data, the data-acquisition team's approvals and denials, the
// grants they issue, and pulls with those grants.
//
// Every step asks policy (package policy, through the Policy interface)
// and is recorded in the audit log in the same state-store transaction as
// the change it makes; a refusal is recorded too, in its own transaction.
// A pull's rows are read from the warehouse, masked as policy decided,
// and sealed to the requester's encryption key and signed by the gateway
// only after the pull's audit entry committed: if it cannot be recorded,
// nothing leaves the gateway.
//
// It is not the policy (which decides) nor the warehouse (which holds the
// rows): both are injected.
package access

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/qiao-exchange/qiao/audit"
	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/envelope"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/gateway/authn"
	"github.com/qiao-exchange/qiao/gateway/rpcerr"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/policy"
	"github.com/qiao-exchange/qiao/schema"
	"github.com/qiao-exchange/qiao/store"
	"github.com/qiao-exchange/qiao/store/warehouse"
)

// ContentType is the media type of a pulled envelope's payload: a
// BatchPayload's protobuf encoding, as for pushes.
const ContentType = "application/x-protobuf; proto=qiao.exchange.v1.BatchPayload"

// Store is what the service reads and writes in the state store; *store.DB
// is one.
type Store interface {
	InTx(ctx context.Context, fn func(tx *store.Tx) error) error
	GetRequest(ctx context.Context, id string) (store.AccessRequest, error)
	ListRequests(ctx context.Context, q store.RequestQuery) ([]store.AccessRequest, error)
	GetGrant(ctx context.Context, id string) (store.Grant, error)
	GrantOf(ctx context.Context, requestID string) (store.Grant, error)
	CertificatesFor(ctx context.Context, principal string) ([]store.Certificate, error)
}

var _ Store = (*store.DB)(nil)

// Policy decides each step; *policy.Engine is one.
type Policy interface {
	Decide(ctx context.Context, in policy.Input) (policy.Decision, error)
}

// Auditor appends entries inside the caller's transaction; *audit.Log is one.
type Auditor interface {
	Append(ctx context.Context, tx audit.Tx, e audit.Entry) (uint64, error)
}

// Rows reads a dataset's visible rows; *warehouse.Warehouse is one.
type Rows interface {
	Rows(ctx context.Context, dataset string, q warehouse.Query) ([]warehouse.Row, error)
}

// Config is what the service is made of. Every field but Now and Logger is
// required.
type Config struct {
	Store   Store
	Policy  Policy
	Audit   Auditor
	Rows    Rows
	Schemas *schema.Registry
	// Sign is the gateway's signing key: it signs pulled envelopes.
	Sign *sm2.PrivateKey
	// Roots verify the requester's encryption certificate before data is
	// sealed to it.
	Roots []*ca.Certificate
	// PendingTTL is how long a request may wait for approvers before it
	// expires; DefaultPendingTTL when 0.
	PendingTTL time.Duration
	// Self is the gateway's principal, the actor of expiries.
	Self string
	// Registerer takes the service's metrics (qiao_access_*); nil
	// registers none.
	Registerer prometheus.Registerer
	Now        func() time.Time
	Logger     *slog.Logger
}

// DefaultPendingTTL is how long a request waits for approvers by default.
const DefaultPendingTTL = 30 * 24 * time.Hour

// Service implements exchangev1.AccessServer.
type Service struct {
	exchangev1.UnimplementedAccessServer
	cfg     Config
	log     *slog.Logger
	metrics *metrics
}

var _ exchangev1.AccessServer = (*Service)(nil)

// New returns the service cfg describes.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Policy == nil || cfg.Audit == nil || cfg.Rows == nil || cfg.Schemas == nil || cfg.Sign == nil || len(cfg.Roots) == 0 {
		return nil, errors.New("access: Store, Policy, Audit, Rows, Schemas, Sign and Roots are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PendingTTL <= 0 {
		cfg.PendingTTL = DefaultPendingTTL
	}
	if cfg.Self == "" {
		cfg.Self = "gateway"
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, log: cfg.Logger, metrics: m}, nil
}

// expireRevision names the built-in rule of expiry in audit entries.
const expireRevision = "builtin:pending-expires"

// ExpirePending moves every request pending for longer than PendingTTL to
// expired, each with its audit entry, and returns how many it expired.
func (s *Service) ExpirePending(ctx context.Context) (int, error) {
	cutoff := s.cfg.Now().Add(-s.cfg.PendingTTL)
	n := 0
	for {
		rs, err := s.cfg.Store.ListRequests(ctx, store.RequestQuery{State: store.RequestPending, Limit: 1000})
		if err != nil {
			return n, fmt.Errorf("access: listing pending requests: %w", err)
		}
		expired := 0
		for _, r := range rs {
			if !r.Created.Before(cutoff) {
				continue
			}
			d := policy.Decision{Allow: true, Revision: expireRevision, Reasons: []string{
				fmt.Sprintf("超过 %d 天未审批 / not decided within %s", int(s.cfg.PendingTTL.Hours()/24), s.cfg.PendingTTL)}}
			err := s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
				if _, err := tx.SetRequestState(ctx, r.ID, store.RequestExpired, d.Reasons, d.Revision); err != nil {
					return err
				}
				e := s.entry(&authn.Caller{Principal: s.cfg.Self, Kind: store.KindServer}, audit.ActionRequestExpire, audit.KindRequest, r.ID, r.Dataset, d, nil, nil)
				_, err := s.cfg.Audit.Append(ctx, tx, e)
				return err
			})
			if errors.Is(err, store.ErrConflict) {
				continue // decided meanwhile
			}
			if err != nil {
				return n, fmt.Errorf("access: expiring request %s: %w", r.ID, err)
			}
			n++
			expired++
			s.metrics.expired.Inc()
		}
		if expired == 0 || len(rs) < 1000 {
			return n, nil
		}
	}
}

// maskings maps the API's maskings to policy's names.
var maskings = map[exchangev1.Masking]string{
	exchangev1.Masking_MASKING_UNSPECIFIED: "",
	exchangev1.Masking_MASKING_PARTIAL:     "partial",
	exchangev1.Masking_MASKING_TOKEN:       "token",
	exchangev1.Masking_MASKING_FULL:        "full",
}

// CreateRequest implements exchangev1.AccessServer.
func (s *Service) CreateRequest(ctx context.Context, req *exchangev1.CreateRequestRequest) (*exchangev1.CreateRequestResponse, error) {
	caller, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	ds, err := s.cfg.Schemas.Get(req.GetDataset())
	if err != nil {
		return nil, rpcerr.InvalidField("dataset", "is not a dataset of this gateway", err)
	}
	r := store.AccessRequest{
		ID:         newID("R", s.cfg.Now()),
		Requester:  caller.Principal,
		Dataset:    ds.ID,
		Purpose:    strings.TrimSpace(req.GetPurpose()),
		LegalBasis: strings.TrimSpace(req.GetLegalBasis()),
		CaseNumber: strings.TrimSpace(req.GetCaseNumber()),
		MaxPulls:   int(req.GetMaxPulls()),
		State:      store.RequestPending,
	}
	var vs []rpcerr.Violation
	for i, f := range req.GetFields() {
		m, ok := maskings[f.GetMasking()]
		if !ok {
			vs = append(vs, rpcerr.Violation{Field: "fields[" + strconv.Itoa(i) + "].masking", Description: "must be PARTIAL, TOKEN or FULL (DROP: leave the field out)"})
		}
		r.Fields = append(r.Fields, store.FieldMasking{Field: f.GetField(), Masking: m})
	}
	if d := req.GetDuration(); d != nil {
		if err := d.CheckValid(); err != nil || d.AsDuration() < 0 {
			vs = append(vs, rpcerr.Violation{Field: "duration", Description: "must be a positive duration"})
		}
		r.Duration = d.AsDuration().Truncate(time.Second)
	}
	if req.GetMaxPulls() < 0 {
		vs = append(vs, rpcerr.Violation{Field: "max_pulls", Description: "must not be negative"})
	}
	filter, fvs := filterFromProto(ds, req.GetFilter())
	r.Filter = filter
	if vs = append(vs, fvs...); len(vs) > 0 {
		return nil, rpcerr.Invalid(vs...)
	}

	d, derr := s.decide(ctx, caller, audit.ActionRequestCreate, ds, &r, nil)
	if d.Allow {
		r.ApprovalsRequired = d.NeedsApprovals
		r.Duration, r.MaxPulls = d.TTL, d.MaxPulls
	} else {
		r.State = store.RequestDenied
	}
	r.Reasons, r.PolicyRevision = d.Reasons, d.Revision
	err = s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if r, err = tx.InsertRequest(ctx, r); err != nil {
			return err
		}
		_, err = s.cfg.Audit.Append(ctx, tx, s.entry(caller, audit.ActionRequestCreate, audit.KindRequest, r.ID, ds.ID, d, r.Filter.SubjectTokens, nil))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("access: recording request: %w", err)
	}
	s.logDecision(ctx, caller, audit.ActionRequestCreate, r.ID, d, derr)
	return &exchangev1.CreateRequestResponse{Request: requestToProto(r, nil)}, nil
}

// GetRequest implements exchangev1.AccessServer. Requesters see their own
// requests; approvers and auditors see every request.
func (s *Service) GetRequest(ctx context.Context, req *exchangev1.GetRequestRequest) (*exchangev1.GetRequestResponse, error) {
	caller, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.cfg.Store.GetRequest(ctx, req.GetRequestId())
	if err != nil {
		return nil, notFound(err, "no such request")
	}
	if !mayRead(caller, r) {
		return nil, notFound(fmt.Errorf("access: %s may not read request %s: %w", caller.Principal, r.ID, store.ErrNotFound), "no such request")
	}
	return &exchangev1.GetRequestResponse{Request: requestToProto(r, s.grantOf(ctx, r))}, nil
}

// mayRead reports whether caller may see r. Another requester's request is
// answered as not found, so that its existence does not leak.
func mayRead(c *authn.Caller, r store.AccessRequest) bool {
	return c.Principal == r.Requester || c.HasRole(store.RoleApprover) || c.HasRole(store.RoleAuditor)
}

// ListRequests implements exchangev1.AccessServer.
func (s *Service) ListRequests(ctx context.Context, req *exchangev1.ListRequestsRequest) (*exchangev1.ListRequestsResponse, error) {
	caller, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	q := store.RequestQuery{Dataset: req.GetDataset(), State: stateFromProto(req.GetState())}
	if !caller.HasRole(store.RoleApprover) && !caller.HasRole(store.RoleAuditor) {
		q.Requester = caller.Principal
	}
	rs, err := s.cfg.Store.ListRequests(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("access: listing requests: %w", err)
	}
	out := &exchangev1.ListRequestsResponse{}
	for _, r := range rs {
		out.Requests = append(out.Requests, requestToProto(r, s.grantOf(ctx, r)))
	}
	return out, nil
}

// Approve implements exchangev1.AccessServer.
func (s *Service) Approve(ctx context.Context, req *exchangev1.ApproveRequest) (*exchangev1.ApproveResponse, error) {
	r, g, err := s.decideRequest(ctx, req.GetRequestId(), req.GetReason(), true)
	if err != nil {
		return nil, err
	}
	return &exchangev1.ApproveResponse{Request: requestToProto(r, g)}, nil
}

// Deny implements exchangev1.AccessServer.
func (s *Service) Deny(ctx context.Context, req *exchangev1.DenyRequest) (*exchangev1.DenyResponse, error) {
	r, g, err := s.decideRequest(ctx, req.GetRequestId(), req.GetReason(), false)
	if err != nil {
		return nil, err
	}
	return &exchangev1.DenyResponse{Request: requestToProto(r, g)}, nil
}

// decideRequest records an approver's approval or denial of a request. The
// approval that completes the required number approves the request and
// issues its grant, in the same transaction; a denial denies it.
func (s *Service) decideRequest(ctx context.Context, id, reason string, approve bool) (store.AccessRequest, *store.Grant, error) {
	caller, err := callerOf(ctx)
	if err != nil {
		return store.AccessRequest{}, nil, err
	}
	if strings.TrimSpace(reason) == "" {
		return store.AccessRequest{}, nil, rpcerr.InvalidField("reason", "required: say why", nil)
	}
	action := audit.ActionRequestApprove
	if !approve {
		action = audit.ActionRequestDeny
	}
	r, err := s.cfg.Store.GetRequest(ctx, id)
	if err != nil {
		return store.AccessRequest{}, nil, notFound(err, "no such request")
	}
	ds, err := s.cfg.Schemas.Get(r.Dataset)
	if err != nil {
		return store.AccessRequest{}, nil, fmt.Errorf("access: request %s: %w", r.ID, err)
	}
	d, derr := s.decide(ctx, caller, action, ds, &r, nil)
	s.logDecision(ctx, caller, action, r.ID, d, derr)
	if !d.Allow {
		return store.AccessRequest{}, nil, s.refuse(ctx, caller, action, audit.KindRequest, r.ID, ds.ID, d)
	}

	var grant *store.Grant
	err = s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.AddDecision(ctx, r.ID, store.ApproverDecision{Approver: caller.Principal, Approved: approve, Reason: strings.TrimSpace(reason)}); err != nil {
			return err
		}
		cur, err := tx.GetRequest(ctx, r.ID)
		if err != nil {
			return err
		}
		switch {
		case !approve:
			cur, err = tx.SetRequestState(ctx, r.ID, store.RequestDenied, d.Reasons, d.Revision)
		case cur.Approvals() >= cur.ApprovalsRequired && cur.Approvals() >= d.NeedsApprovals:
			if cur, err = tx.SetRequestState(ctx, r.ID, store.RequestApproved, d.Reasons, d.Revision); err != nil {
				return err
			}
			g, gerr := tx.InsertGrant(ctx, store.Grant{
				ID: newID("G", s.cfg.Now()), RequestID: r.ID, Holder: r.Requester, Dataset: r.Dataset,
				Fields: r.Fields, Mask: d.Mask, Filter: r.Filter, MaxRows: d.MaxRows, MaxPulls: r.MaxPulls,
				Expires: s.cfg.Now().Add(r.Duration),
			})
			if gerr != nil {
				return gerr
			}
			grant = &g
		}
		if err != nil {
			return err
		}
		r = cur
		e := s.entry(caller, action, audit.KindRequest, r.ID, ds.ID, d, r.Filter.SubjectTokens, nil)
		if grant != nil {
			e.Decision.Reasons = append(slices.Clone(e.Decision.Reasons), "grant "+grant.ID+" issued")
		}
		_, err = s.cfg.Audit.Append(ctx, tx, e)
		return err
	})
	if errors.Is(err, store.ErrConflict) {
		return store.AccessRequest{}, nil, rpcerr.WithMessage(fmt.Errorf("access: %w: %w", rpcerr.ErrFailedPrecondition, err),
			"请求已不在待审批状态或您已审批过 the request is no longer pending, or you already decided on it")
	}
	if err != nil {
		return store.AccessRequest{}, nil, fmt.Errorf("access: recording %s: %w", action, err)
	}
	return r, grant, nil
}

// WithdrawRequest implements exchangev1.AccessServer: the requester
// withdraws a pending request.
func (s *Service) WithdrawRequest(ctx context.Context, req *exchangev1.WithdrawRequestRequest) (*exchangev1.WithdrawRequestResponse, error) {
	caller, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.cfg.Store.GetRequest(ctx, req.GetRequestId())
	if err != nil || !mayRead(caller, r) {
		if err == nil {
			err = store.ErrNotFound
		}
		return nil, notFound(err, "no such request")
	}
	d := policy.Decision{Allow: caller.Principal == r.Requester, Revision: withdrawRevision}
	if d.Allow {
		d.Reasons = []string{"申请人撤回 / the requester withdraws the request"}
		if why := strings.TrimSpace(req.GetReason()); why != "" {
			d.Reasons = append(d.Reasons, why)
		}
	} else {
		d.Reasons = []string{"只有申请人可以撤回 / only the requester withdraws a request"}
		return nil, s.refuse(ctx, caller, audit.ActionRequestWithdraw, audit.KindRequest, r.ID, r.Dataset, d)
	}
	err = s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if r, err = tx.SetRequestState(ctx, r.ID, store.RequestWithdrawn, d.Reasons, d.Revision); err != nil {
			return err
		}
		_, err = s.cfg.Audit.Append(ctx, tx, s.entry(caller, audit.ActionRequestWithdraw, audit.KindRequest, r.ID, r.Dataset, d, nil, nil))
		return err
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, rpcerr.WithMessage(fmt.Errorf("access: %w: %w", rpcerr.ErrFailedPrecondition, err), "请求已不在待审批状态 the request is no longer pending")
	}
	if err != nil {
		return nil, fmt.Errorf("access: withdrawing: %w", err)
	}
	return &exchangev1.WithdrawRequestResponse{Request: requestToProto(r, nil)}, nil
}

// withdrawRevision and revokeRevision name the built-in rules of withdrawal
// and revocation in audit entries.
const (
	withdrawRevision = "builtin:requester-withdraws"
	revokeRevision   = "builtin:approver-revokes"
)

// RevokeGrant implements exchangev1.AccessServer: an approver revokes a
// grant.
func (s *Service) RevokeGrant(ctx context.Context, req *exchangev1.RevokeGrantRequest) (*exchangev1.RevokeGrantResponse, error) {
	caller, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	reason := strings.TrimSpace(req.GetReason())
	if reason == "" {
		return nil, rpcerr.InvalidField("reason", "required: say why", nil)
	}
	g, err := s.cfg.Store.GetGrant(ctx, req.GetGrantId())
	if err != nil {
		return nil, notFound(err, "no such grant")
	}
	d := policy.Decision{Allow: caller.HasRole(store.RoleApprover), Revision: revokeRevision}
	if !d.Allow {
		d.Reasons = []string{"只有数据获取小组可以撤销授权 / only approvers revoke grants"}
		return nil, s.refuse(ctx, caller, audit.ActionGrantRevoke, audit.KindGrant, g.ID, g.Dataset, d)
	}
	d.Reasons = []string{"审批人撤销授权 / an approver revokes the grant", reason}
	err = s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if g, err = tx.RevokeGrant(ctx, g.ID, reason); err != nil {
			return err
		}
		_, err = s.cfg.Audit.Append(ctx, tx, s.entry(caller, audit.ActionGrantRevoke, audit.KindGrant, g.ID, g.Dataset, d, nil, nil))
		return err
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, rpcerr.WithMessage(fmt.Errorf("access: %w: %w", rpcerr.ErrFailedPrecondition, err), "授权已被撤销 the grant was already revoked")
	}
	if err != nil {
		return nil, fmt.Errorf("access: revoking: %w", err)
	}
	return &exchangev1.RevokeGrantResponse{Grant: grantToProto(g, s.cfg.Now())}, nil
}

// Pull implements exchangev1.AccessServer.
func (s *Service) Pull(ctx context.Context, req *exchangev1.PullRequest) (*exchangev1.PullResponse, error) {
	caller, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	g, err := s.cfg.Store.GetGrant(ctx, req.GetGrantId())
	if err != nil {
		return nil, notFound(err, "no such grant")
	}
	r, err := s.cfg.Store.GetRequest(ctx, g.RequestID)
	if err != nil {
		return nil, fmt.Errorf("access: request of grant %s: %w", g.ID, err)
	}
	ds, err := s.cfg.Schemas.Get(g.Dataset)
	if err != nil {
		return nil, fmt.Errorf("access: grant %s: %w", g.ID, err)
	}
	d, derr := s.decide(ctx, caller, audit.ActionDatasetPull, ds, &r, &g)
	s.logDecision(ctx, caller, audit.ActionDatasetPull, g.ID, d, derr)
	if !d.Allow {
		return nil, s.refuse(ctx, caller, audit.ActionDatasetPull, audit.KindGrant, g.ID, ds.ID, d)
	}
	q, err := pullQuery(ds, g, d)
	if err != nil {
		return nil, fmt.Errorf("access: grant %s: %w", g.ID, err)
	}
	recipient, err := s.encryptionKey(ctx, caller.Principal)
	if err != nil {
		return nil, err
	}
	rows, err := s.cfg.Rows.Rows(ctx, ds.ID, q)
	if err != nil {
		return nil, fmt.Errorf("access: reading %s: %w", ds.ID, err)
	}
	payload := maskRows(ds, q.Fields, d.Mask, rows)
	body, err := proto.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("access: encoding the pull: %w", err)
	}
	if len(body) > envelope.MaxPlaintextSize {
		// Refused before the pull is counted: the requester keeps it.
		return nil, rpcerr.WithMessage(fmt.Errorf("access: %w: %d rows make %d bytes, over the envelope's %d",
			rpcerr.ErrResourceExhausted, len(payload.Rows), len(body), envelope.MaxPlaintextSize),
			"结果过大，请缩小时间范围 the rows exceed one envelope: ask for a narrower time range")
	}

	// The pull is counted and audited before anything is sealed: if the
	// entry cannot be recorded, or the grant was used up meanwhile,
	// nothing leaves the gateway.
	err = s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if g, err = tx.CountPull(ctx, g.ID); err != nil {
			return err
		}
		e := s.entry(caller, audit.ActionDatasetPull, audit.KindGrant, g.ID, ds.ID, d, g.Filter.SubjectTokens,
			[]string{fmt.Sprintf("pull %d of %d, %d rows, fields %s", g.Pulls, g.MaxPulls, len(payload.Rows), strings.Join(payload.Fields, ","))})
		_, err = s.cfg.Audit.Append(ctx, tx, e)
		return err
	})
	if errors.Is(err, store.ErrConflict) {
		d.Allow, d.Reasons = false, []string{"授权已撤销或次数已用完 / the grant was revoked or its pulls are used up"}
		return nil, s.refuse(ctx, caller, audit.ActionDatasetPull, audit.KindGrant, g.ID, ds.ID, d)
	}
	if err != nil {
		return nil, fmt.Errorf("access: recording the pull: %w", err)
	}
	env, err := envelope.Seal(s.cfg.Sign, recipient, envelope.AssociatedData{
		Dataset: ds.ID, BatchID: g.ID + ".pull-" + strconv.Itoa(g.Pulls), Created: s.cfg.Now(), ContentType: ContentType}, body)
	if err != nil {
		return nil, fmt.Errorf("access: sealing the pull: %w", err)
	}
	s.metrics.rows.WithLabelValues(ds.ID).Add(float64(len(payload.Rows)))
	return &exchangev1.PullResponse{Envelope: env, RowCount: int64(len(payload.Rows)), Grant: grantToProto(g, s.cfg.Now())}, nil
}

// encryptionKey returns principal's registered, valid encryption key,
// verified against the roots.
func (s *Service) encryptionKey(ctx context.Context, principal string) (*sm2.PublicKey, error) {
	certs, err := s.cfg.Store.CertificatesFor(ctx, principal)
	if err != nil {
		return nil, fmt.Errorf("access: certificates of %s: %w", principal, err)
	}
	now := s.cfg.Now()
	for _, c := range certs {
		if c.Purpose != store.PurposeEnc || !c.ValidAt(now) {
			continue
		}
		cert, err := ca.ParseCertificatePEM(c.PEM)
		if err != nil {
			continue
		}
		id, err := ca.Verify(cert, s.cfg.Roots, ca.PurposeEncrypt, now)
		if err != nil || id.Principal != principal {
			continue
		}
		return cert.PublicKey(), nil
	}
	return nil, rpcerr.WithMessage(fmt.Errorf("access: %w: %s has no valid encryption certificate", rpcerr.ErrFailedPrecondition, principal),
		"没有有效的加密证书 you have no valid encryption certificate registered")
}

// decide asks policy about action and returns its decision. An error is a
// deny; its reasons say so.
func (s *Service) decide(ctx context.Context, caller *authn.Caller, action string, ds *schema.Dataset, r *store.AccessRequest, g *store.Grant) (policy.Decision, error) {
	in := policy.Input{
		Subject:  caller.PolicySubject(),
		Action:   action,
		Resource: resourceOf(ds),
		Request:  requestOf(r, g),
		Time:     s.cfg.Now(),
	}
	d, err := s.cfg.Policy.Decide(ctx, in)
	if err != nil {
		d.Allow = false
		if len(d.Reasons) == 0 {
			d.Reasons = []string{"策略无法作出决定 / policy could not decide"}
		}
	}
	return d, err
}

func (s *Service) logDecision(ctx context.Context, caller *authn.Caller, action, id string, d policy.Decision, err error) {
	level := slog.LevelInfo
	attrs := []slog.Attr{slog.String("action", action), slog.String("resource", id),
		slog.String("by", authn.LogName(caller.Principal)), slog.Bool("allow", d.Allow), slog.String("policy", d.Revision)}
	if err != nil {
		level = slog.LevelError
		attrs = append(attrs, slog.Any("err", err))
	}
	s.log.LogAttrs(ctx, level, "access decision", attrs...)
}

// refuse records a refusal in its own transaction and returns the
// PERMISSION_DENIED error whose message carries policy's reasons.
func (s *Service) refuse(ctx context.Context, caller *authn.Caller, action, kind, id, dataset string, d policy.Decision) error {
	d.Allow = false
	err := s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		_, err := s.cfg.Audit.Append(ctx, tx, s.entry(caller, action, kind, id, dataset, d, nil, nil))
		return err
	})
	if err != nil {
		return fmt.Errorf("access: recording a refusal of %s: %w", action, err)
	}
	return rpcerr.WithMessage(fmt.Errorf("access: %w: %s refused: %s", rpcerr.ErrPermissionDenied, action, strings.Join(d.Reasons, "; ")),
		"拒绝 refused: "+strings.Join(d.Reasons, "; "))
}

// entry is the audit entry of action by caller. Every step recorded goes
// through it, so it also counts the decision.
func (s *Service) entry(caller *authn.Caller, action, kind, id, dataset string, d policy.Decision, tokens, details []string) audit.Entry {
	s.metrics.decisions.WithLabelValues(action, effect(d.Allow)).Inc()
	actor := caller.AuditActor()
	effect := audit.Deny
	if d.Allow {
		effect = audit.Allow
	}
	status := audit.Result{Status: audit.StatusOK}
	if !d.Allow {
		status = audit.Result{Status: audit.StatusError, Code: "PERMISSION_DENIED"}
	}
	return audit.Entry{
		Actor:    actor,
		Action:   action,
		Resource: audit.Resource{Kind: kind, ID: id},
		Dataset:  dataset,
		Decision: audit.Decision{Effect: effect, Reasons: append(slices.Clone(d.Reasons), details...), PolicyRevision: d.Revision},
		Result:   status,
		Tokens:   tokens,
	}
}

func (s *Service) grantOf(ctx context.Context, r store.AccessRequest) *store.Grant {
	if r.State != store.RequestApproved {
		return nil
	}
	g, err := s.cfg.Store.GrantOf(ctx, r.ID)
	if err != nil {
		return nil
	}
	return &g
}

func callerOf(ctx context.Context) (*authn.Caller, error) {
	c, ok := authn.FromContext(ctx)
	if !ok {
		return nil, fmt.Errorf("access: %w: no authenticated caller", rpcerr.ErrUnauthenticated)
	}
	return c, nil
}

func notFound(err error, msg string) error {
	if errors.Is(err, store.ErrNotFound) {
		return rpcerr.WithMessage(err, msg)
	}
	return err
}

// newID returns a new identifier: a prefix, the UTC date and 8 random
// bytes in hex, e.g. R20261125-3fa2b1c94e5d6a7b.
func newID(prefix string, now time.Time) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + now.UTC().Format("20060102") + "-" + hex.EncodeToString(b[:])
}

func resourceOf(ds *schema.Dataset) policy.Resource {
	r := policy.Resource{Dataset: ds.ID, Owner: ds.Owner, Classification: string(ds.Classification)}
	for _, f := range ds.Fields {
		r.Fields = append(r.Fields, policy.Field{Name: f.Name, PII: f.PII})
	}
	return r
}

func requestOf(r *store.AccessRequest, g *store.Grant) *policy.Request {
	if r == nil {
		return nil
	}
	pr := &policy.Request{
		ID: r.ID, Requester: r.Requester, State: string(r.State), Purpose: r.Purpose, LegalBasis: r.LegalBasis,
		CaseNumber: r.CaseNumber, Fields: fieldsOf(r.Fields), Duration: r.Duration, MaxPulls: r.MaxPulls,
	}
	for _, d := range r.Decisions {
		pr.Approvals = append(pr.Approvals, policy.Approval{Approver: d.Approver, Approved: d.Approved})
	}
	if g != nil {
		pr.Grant = &policy.Grant{ID: g.ID, Holder: g.Holder, ExpireTime: g.Expires, Pulls: g.Pulls, MaxPulls: g.MaxPulls,
			Revoked: !g.Revoked.IsZero(), Fields: fieldsOf(g.Fields)}
	}
	return pr
}

func fieldsOf(fs []store.FieldMasking) []policy.FieldMasking {
	out := make([]policy.FieldMasking, len(fs))
	for i, f := range fs {
		out[i] = policy.FieldMasking{Field: f.Field, Masking: f.Masking}
	}
	return out
}

// durationOf is a request's duration for the API; nil when unset.
func durationOf(d time.Duration) *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(d)
}

func timeOf(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
