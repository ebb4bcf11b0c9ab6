// Package leadsvc is the gateway's Leads service: the leads the
// supervision models found, served to the procuratorate's staff.
//
// Policy decides who reads them (action lead.read). Every read, and every
// refusal, is recorded in the audit log before the answer is returned, with
// the tokens of the people the returned leads concern; if the entry cannot
// be recorded, nothing is returned.
//
// It is not the model runner nor the lead store (package leads, store).
package leadsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/qiao-exchange/qiao/audit"
	"github.com/qiao-exchange/qiao/crypto/fieldcrypt"
	"github.com/qiao-exchange/qiao/gateway/authn"
	"github.com/qiao-exchange/qiao/gateway/rpcerr"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/policy"
	"github.com/qiao-exchange/qiao/store"
)

// Store is what the service reads and records in; *store.DB is one.
type Store interface {
	InTx(ctx context.Context, fn func(tx *store.Tx) error) error
	GetLead(ctx context.Context, id string) (store.Lead, error)
	ListLeads(ctx context.Context, q store.LeadQuery) ([]store.Lead, error)
}

var _ Store = (*store.DB)(nil)

// Policy decides; *policy.Engine is one.
type Policy interface {
	Decide(ctx context.Context, in policy.Input) (policy.Decision, error)
}

// Auditor appends inside the caller's transaction; *audit.Log is one.
type Auditor interface {
	Append(ctx context.Context, tx audit.Tx, e audit.Entry) (uint64, error)
}

// Service implements exchangev1.LeadsServer.
type Service struct {
	exchangev1.UnimplementedLeadsServer
	store  Store
	policy Policy
	audit  Auditor
	now    func() time.Time
	log    *slog.Logger
}

var _ exchangev1.LeadsServer = (*Service)(nil)

// New returns the service; every argument but logger is required.
func New(st Store, p Policy, a Auditor, logger *slog.Logger) (*Service, error) {
	if st == nil || p == nil || a == nil {
		return nil, errors.New("leadsvc: Store, Policy and Auditor are required")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: st, policy: p, audit: a, now: time.Now, log: logger}, nil
}

// ListLeads implements exchangev1.LeadsServer.
func (s *Service) ListLeads(ctx context.Context, req *exchangev1.ListLeadsRequest) (*exchangev1.ListLeadsResponse, error) {
	switch {
	case req.GetLimit() < 0 || req.GetLimit() > 1000:
		return nil, rpcerr.InvalidField("limit", "must be 0 to 1000", nil)
	case req.GetSubjectToken() != "" && !fieldcrypt.ValidToken(req.GetSubjectToken()):
		return nil, rpcerr.InvalidField("subject_token", "must be a token, 64 lower-case hex digits (qiao audit token computes it)", nil)
	}
	caller, d, err := s.authorize(ctx, "leads")
	if err != nil {
		return nil, err
	}
	ls, err := s.store.ListLeads(ctx, store.LeadQuery{Model: req.GetModel(), Subject: req.GetSubjectToken(), Limit: int(req.GetLimit())})
	if err != nil {
		return nil, fmt.Errorf("leadsvc: listing: %w", err)
	}
	details := []string{"returned " + strconv.Itoa(len(ls)) + " leads"}
	if req.GetModel() != "" {
		details = append(details, "model "+req.GetModel())
	}
	if err := s.record(ctx, caller, d, "leads", tokensOf(ls), details); err != nil {
		return nil, err
	}
	out := &exchangev1.ListLeadsResponse{Leads: make([]*exchangev1.Lead, len(ls))}
	for i, l := range ls {
		out.Leads[i] = toProto(l)
	}
	return out, nil
}

// GetLead implements exchangev1.LeadsServer.
func (s *Service) GetLead(ctx context.Context, req *exchangev1.GetLeadRequest) (*exchangev1.GetLeadResponse, error) {
	if req.GetLeadId() == "" {
		return nil, rpcerr.InvalidField("lead_id", "required", nil)
	}
	caller, d, err := s.authorize(ctx, req.GetLeadId())
	if err != nil {
		return nil, err
	}
	l, err := s.store.GetLead(ctx, req.GetLeadId())
	if errors.Is(err, store.ErrNotFound) {
		return nil, rpcerr.WithMessage(err, "no such lead")
	}
	if err != nil {
		return nil, fmt.Errorf("leadsvc: %w", err)
	}
	if err := s.record(ctx, caller, d, l.ID, tokensOf([]store.Lead{l}), []string{"model " + l.Model}); err != nil {
		return nil, err
	}
	return &exchangev1.GetLeadResponse{Lead: toProto(l)}, nil
}

// authorize asks policy whether the caller may read leads; a refusal is
// recorded and returned as PERMISSION_DENIED.
func (s *Service) authorize(ctx context.Context, what string) (*authn.Caller, policy.Decision, error) {
	c, ok := authn.FromContext(ctx)
	if !ok {
		return nil, policy.Decision{}, fmt.Errorf("leadsvc: %w: no authenticated caller", rpcerr.ErrUnauthenticated)
	}
	in := policy.Input{Subject: c.PolicySubject(), Action: policy.ActionLeadRead, Time: s.now()}
	d, err := s.policy.Decide(ctx, in)
	if err == nil && d.Allow {
		return c, d, nil
	}
	d.Allow = false
	if len(d.Reasons) == 0 {
		d.Reasons = []string{"policy could not decide"}
	}
	if rerr := s.record(ctx, c, d, what, nil, nil); rerr != nil {
		return nil, d, rerr
	}
	return nil, d, rpcerr.WithMessage(fmt.Errorf("leadsvc: %w: %s reading leads: %v", rpcerr.ErrPermissionDenied, c.Principal, err),
		"拒绝 refused: "+strings.Join(d.Reasons, "; "))
}

// record appends the lead.read entry of a read (or refusal) in its own
// transaction. An error fails the call.
func (s *Service) record(ctx context.Context, c *authn.Caller, d policy.Decision, what string, tokens, details []string) error {
	actor := c.AuditActor()
	e := audit.Entry{
		Actor:    actor,
		Action:   audit.ActionLeadRead,
		Resource: audit.Resource{Kind: audit.KindLead, ID: what},
		Decision: audit.Decision{Effect: audit.Allow, Reasons: append(slices.Clone(d.Reasons), details...), PolicyRevision: d.Revision},
		Result:   audit.Result{Status: audit.StatusOK},
		Tokens:   tokens,
	}
	if !d.Allow {
		e.Decision.Effect, e.Result = audit.Deny, audit.Result{Status: audit.StatusError, Code: "PERMISSION_DENIED"}
	}
	if err := s.store.InTx(ctx, func(tx *store.Tx) error {
		_, err := s.audit.Append(ctx, tx, e)
		return err
	}); err != nil {
		return fmt.Errorf("leadsvc: recording the read: %w", err)
	}
	return nil
}

// tokensOf returns the subjects of ls that are tokens.
func tokensOf(ls []store.Lead) []string {
	var out []string
	for _, l := range ls {
		if fieldcrypt.ValidToken(l.Subject) {
			out = append(out, l.Subject)
		}
	}
	return out
}

func toProto(l store.Lead) *exchangev1.Lead {
	return &exchangev1.Lead{
		LeadId: l.ID, Model: l.Model, ModelVersion: int32(l.ModelVersion), SubjectToken: l.Subject,
		TitleZh: l.TitleZh, TitleEn: l.TitleEn, Priority: int32(l.Priority), Document: string(l.Document),
		CreateTime: timestamppb.New(l.Created),
	}
}
