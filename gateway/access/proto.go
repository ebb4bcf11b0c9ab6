package access

import (
	"strconv"
	"time"

	"github.com/qiao-exchange/qiao/crypto/fieldcrypt"
	"github.com/qiao-exchange/qiao/gateway/rpcerr"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/schema"
	"github.com/qiao-exchange/qiao/store"
)

// filterFromProto checks a request's row filter against the dataset.
func filterFromProto(ds *schema.Dataset, f *exchangev1.RowFilter) (store.RowFilter, []rpcerr.Violation) {
	out := store.RowFilter{SubjectTokens: []string{}}
	if f == nil {
		return out, nil
	}
	var vs []rpcerr.Violation
	if name := f.GetDateField(); name != "" {
		fd, ok := ds.Field(name)
		if !ok || (fd.Type != schema.TypeDate && fd.Type != schema.TypeMonth) {
			vs = append(vs, rpcerr.Violation{Field: "filter.date_field", Description: "is not a date field of " + ds.ID})
		}
		out.DateField = name
	}
	for _, b := range []struct {
		name string
		v    string
		dst  *string
	}{{"filter.from_date", f.GetFromDate(), &out.FromDate}, {"filter.to_date", f.GetToDate(), &out.ToDate}} {
		if b.v == "" {
			continue
		}
		d, err := schema.NormalizeDate(b.v)
		if err != nil {
			vs = append(vs, rpcerr.Violation{Field: b.name, Description: "must be a date, YYYY-MM-DD"})
			continue
		}
		if out.DateField == "" {
			vs = append(vs, rpcerr.Violation{Field: b.name, Description: "needs filter.date_field"})
		}
		*b.dst = d
	}
	if out.FromDate != "" && out.ToDate != "" && out.ToDate < out.FromDate {
		vs = append(vs, rpcerr.Violation{Field: "filter.to_date", Description: "is before filter.from_date"})
	}
	for i, t := range f.GetSubjectTokens() {
		if !fieldcrypt.ValidToken(t) {
			vs = append(vs, rpcerr.Violation{Field: "filter.subject_tokens[" + strconv.Itoa(i) + "]",
				Description: "must be a token, 64 lower-case hex digits (qiao audit token computes it)"})
		}
		out.SubjectTokens = append(out.SubjectTokens, t)
	}
	return out, vs
}

var states = map[store.RequestState]exchangev1.RequestState{
	store.RequestPending:   exchangev1.RequestState_REQUEST_STATE_PENDING,
	store.RequestApproved:  exchangev1.RequestState_REQUEST_STATE_APPROVED,
	store.RequestDenied:    exchangev1.RequestState_REQUEST_STATE_DENIED,
	store.RequestExpired:   exchangev1.RequestState_REQUEST_STATE_EXPIRED,
	store.RequestWithdrawn: exchangev1.RequestState_REQUEST_STATE_WITHDRAWN,
}

func stateFromProto(s exchangev1.RequestState) store.RequestState {
	for k, v := range states {
		if v == s {
			return k
		}
	}
	return ""
}

var maskingsProto = map[string]exchangev1.Masking{
	"partial": exchangev1.Masking_MASKING_PARTIAL,
	"token":   exchangev1.Masking_MASKING_TOKEN,
	"full":    exchangev1.Masking_MASKING_FULL,
}

func fieldsToProto(fs []store.FieldMasking) []*exchangev1.FieldMasking {
	out := make([]*exchangev1.FieldMasking, len(fs))
	for i, f := range fs {
		out[i] = &exchangev1.FieldMasking{Field: f.Field, Masking: maskingsProto[f.Masking]}
	}
	return out
}

func filterToProto(f store.RowFilter) *exchangev1.RowFilter {
	return &exchangev1.RowFilter{DateField: f.DateField, FromDate: f.FromDate, ToDate: f.ToDate, SubjectTokens: f.SubjectTokens}
}

func requestToProto(r store.AccessRequest, g *store.Grant) *exchangev1.AccessRequest {
	out := &exchangev1.AccessRequest{
		RequestId: r.ID, Requester: r.Requester, Dataset: r.Dataset, Purpose: r.Purpose, LegalBasis: r.LegalBasis,
		CaseNumber: r.CaseNumber, Fields: fieldsToProto(r.Fields), Filter: filterToProto(r.Filter),
		Duration: durationOf(r.Duration), State: states[r.State], ApprovalsRequired: int32(r.ApprovalsRequired),
		Reasons: r.Reasons, CreateTime: timeOf(r.Created), UpdateTime: timeOf(r.Updated),
	}
	for _, d := range r.Decisions {
		out.Approvals = append(out.Approvals, &exchangev1.Approval{Approver: d.Approver, Approved: d.Approved, Reason: d.Reason, CreateTime: timeOf(d.Created)})
	}
	if g != nil {
		out.Grant = grantToProto(*g, time.Now())
	}
	return out
}

func grantToProto(g store.Grant, now time.Time) *exchangev1.Grant {
	state := exchangev1.GrantState_GRANT_STATE_ACTIVE
	switch {
	case !g.Revoked.IsZero():
		state = exchangev1.GrantState_GRANT_STATE_REVOKED
	case !now.Before(g.Expires):
		state = exchangev1.GrantState_GRANT_STATE_EXPIRED
	case g.Pulls >= g.MaxPulls:
		state = exchangev1.GrantState_GRANT_STATE_EXHAUSTED
	}
	return &exchangev1.Grant{
		GrantId: g.ID, RequestId: g.RequestID, Dataset: g.Dataset, Fields: fieldsToProto(g.Fields),
		Filter: filterToProto(g.Filter), ExpireTime: timeOf(g.Expires), MaxPulls: int32(g.MaxPulls),
		Pulls: int32(g.Pulls), State: state,
	}
}
