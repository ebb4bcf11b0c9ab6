package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// check reports what in lacks that every decision needs. The bundle decides
// everything else; a value it does not like is a deny with a reason, not an
// input error.
func (in *Input) check() error {
	var missing []string
	if strings.TrimSpace(in.Action) == "" {
		missing = append(missing, "action")
	}
	if strings.TrimSpace(in.Subject.Principal) == "" {
		missing = append(missing, "subject.principal")
	}
	if strings.TrimSpace(in.Subject.Kind) == "" {
		missing = append(missing, "subject.kind")
	}
	if in.Time.IsZero() {
		missing = append(missing, "time")
	}
	if needsResource(in.Action) {
		if in.Resource.Dataset == "" {
			missing = append(missing, "resource.dataset")
		}
		if in.Resource.Owner == "" {
			missing = append(missing, "resource.owner")
		}
		if in.Resource.Classification == "" {
			missing = append(missing, "resource.classification")
		}
	}
	if needsRequest(in.Action) && in.Request == nil {
		missing = append(missing, "request")
	}
	if in.Request != nil && in.Request.Grant != nil && in.Request.Grant.ExpireTime.IsZero() {
		missing = append(missing, "request.grant.expire_time")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s missing", ErrInput, strings.Join(missing, ", "))
	}
	seen := make(map[string]bool, len(in.Resource.Fields))
	for _, f := range in.Resource.Fields {
		if f.Name == "" {
			return fmt.Errorf("%w: resource field without a name", ErrInput)
		}
		if seen[f.Name] {
			return fmt.Errorf("%w: resource field %q listed twice", ErrInput, f.Name)
		}
		seen[f.Name] = true
	}
	return nil
}

// needsResource reports whether action is about a dataset.
func needsResource(action string) bool {
	return strings.HasPrefix(action, "dataset.") || strings.HasPrefix(action, "request.") ||
		action == ActionModelRead
}

// needsRequest reports whether action is about an access request.
func needsRequest(action string) bool {
	return strings.HasPrefix(action, "request.") || action == ActionPull
}

// needsMask reports whether an allowed decision on action must mask every
// field of the resource.
func needsMask(action string) bool {
	return needsRequest(action) || action == ActionModelRead
}

// Keys of the input document, interned once.
var (
	kSubject        = ast.InternedTerm("subject")
	kPrincipal      = ast.InternedTerm("principal")
	kKind           = ast.InternedTerm("kind")
	kAgency         = ast.InternedTerm("agency")
	kRoles          = ast.InternedTerm("roles")
	kDatasets       = ast.InternedTerm("datasets")
	kAction         = ast.InternedTerm("action")
	kResource       = ast.InternedTerm("resource")
	kDataset        = ast.InternedTerm("dataset")
	kOwner          = ast.InternedTerm("owner")
	kClassification = ast.InternedTerm("classification")
	kFields         = ast.InternedTerm("fields")
	kName           = ast.InternedTerm("name")
	kPII            = ast.InternedTerm("pii")
	kRequest        = ast.InternedTerm("request")
	kID             = ast.InternedTerm("id")
	kRequester      = ast.InternedTerm("requester")
	kState          = ast.InternedTerm("state")
	kPurpose        = ast.InternedTerm("purpose")
	kLegalBasis     = ast.InternedTerm("legal_basis")
	kCaseNumber     = ast.InternedTerm("case_number")
	kField          = ast.InternedTerm("field")
	kMasking        = ast.InternedTerm("masking")
	kDuration       = ast.InternedTerm("duration_seconds")
	kMaxPulls       = ast.InternedTerm("max_pulls")
	kApprovals      = ast.InternedTerm("approvals")
	kApprover       = ast.InternedTerm("approver")
	kApproved       = ast.InternedTerm("approved")
	kGrant          = ast.InternedTerm("grant")
	kHolder         = ast.InternedTerm("holder")
	kExpireTime     = ast.InternedTerm("expire_time")
	kPulls          = ast.InternedTerm("pulls")
	kRevoked        = ast.InternedTerm("revoked")
	kEnv            = ast.InternedTerm("env")
	kTime           = ast.InternedTerm("time")
	kTimeNS         = ast.InternedTerm("time_ns")
)

// value builds the input document (docs/policy.md) as an AST value directly,
// without a JSON round trip. Times are RFC 3339 in UTC with nanoseconds.
func (in *Input) value() ast.Value {
	items := [][2]*ast.Term{
		ast.Item(kSubject, ast.NewTerm(subjectValue(&in.Subject))),
		ast.Item(kAction, ast.StringTerm(in.Action)),
		ast.Item(kResource, ast.NewTerm(resourceValue(&in.Resource))),
		ast.Item(kEnv, ast.NewTerm(ast.NewObject(
			ast.Item(kTime, timeTerm(in.Time)),
			ast.Item(kTimeNS, ast.InternedTerm(in.Time.UnixNano())),
		))),
	}
	if in.Request != nil {
		items = append(items, ast.Item(kRequest, ast.NewTerm(requestValue(in.Request))))
	}
	return ast.NewObject(items...)
}

func subjectValue(s *Subject) ast.Object {
	return ast.NewObject(
		ast.Item(kPrincipal, ast.StringTerm(s.Principal)),
		ast.Item(kKind, ast.StringTerm(s.Kind)),
		ast.Item(kAgency, ast.StringTerm(s.Agency)),
		ast.Item(kRoles, stringsTerm(s.Roles)),
		ast.Item(kDatasets, stringsTerm(s.Datasets)),
	)
}

func resourceValue(r *Resource) ast.Object {
	fields := make([]*ast.Term, len(r.Fields))
	for i, f := range r.Fields {
		fields[i] = ast.NewTerm(ast.NewObject(
			ast.Item(kName, ast.StringTerm(f.Name)),
			ast.Item(kPII, ast.InternedTerm(f.PII)),
		))
	}
	return ast.NewObject(
		ast.Item(kDataset, ast.StringTerm(r.Dataset)),
		ast.Item(kOwner, ast.StringTerm(r.Owner)),
		ast.Item(kClassification, ast.StringTerm(r.Classification)),
		ast.Item(kFields, ast.ArrayTerm(fields...)),
	)
}

func requestValue(r *Request) ast.Object {
	approvals := make([]*ast.Term, len(r.Approvals))
	for i, a := range r.Approvals {
		approvals[i] = ast.NewTerm(ast.NewObject(
			ast.Item(kApprover, ast.StringTerm(a.Approver)),
			ast.Item(kApproved, ast.InternedTerm(a.Approved)),
		))
	}
	items := [][2]*ast.Term{
		ast.Item(kID, ast.StringTerm(r.ID)),
		ast.Item(kRequester, ast.StringTerm(r.Requester)),
		ast.Item(kState, ast.StringTerm(r.State)),
		ast.Item(kPurpose, ast.StringTerm(r.Purpose)),
		ast.Item(kLegalBasis, ast.StringTerm(r.LegalBasis)),
		ast.Item(kCaseNumber, ast.StringTerm(r.CaseNumber)),
		ast.Item(kFields, fieldsTerm(r.Fields)),
		ast.Item(kDuration, ast.InternedTerm(int64(r.Duration/time.Second))),
		ast.Item(kMaxPulls, ast.InternedTerm(r.MaxPulls)),
		ast.Item(kApprovals, ast.ArrayTerm(approvals...)),
	}
	if g := r.Grant; g != nil {
		items = append(items, ast.Item(kGrant, ast.NewTerm(ast.NewObject(
			ast.Item(kID, ast.StringTerm(g.ID)),
			ast.Item(kHolder, ast.StringTerm(g.Holder)),
			ast.Item(kExpireTime, timeTerm(g.ExpireTime)),
			ast.Item(kPulls, ast.InternedTerm(g.Pulls)),
			ast.Item(kMaxPulls, ast.InternedTerm(g.MaxPulls)),
			ast.Item(kRevoked, ast.InternedTerm(g.Revoked)),
			ast.Item(kFields, fieldsTerm(g.Fields)),
		))))
	}
	return ast.NewObject(items...)
}

func fieldsTerm(fs []FieldMasking) *ast.Term {
	terms := make([]*ast.Term, len(fs))
	for i, f := range fs {
		terms[i] = ast.NewTerm(ast.NewObject(
			ast.Item(kField, ast.StringTerm(f.Field)),
			ast.Item(kMasking, ast.InternedTerm(f.Masking)),
		))
	}
	return ast.ArrayTerm(terms...)
}

func stringsTerm(ss []string) *ast.Term {
	terms := make([]*ast.Term, len(ss))
	for i, s := range ss {
		terms[i] = ast.StringTerm(s)
	}
	return ast.ArrayTerm(terms...)
}

func timeTerm(t time.Time) *ast.Term {
	return ast.StringTerm(t.UTC().Format(time.RFC3339Nano))
}
