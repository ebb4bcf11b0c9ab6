package push

import (
	"github.com/qiao-exchange/qiao/audit"
	"github.com/qiao-exchange/qiao/gateway"
	"github.com/qiao-exchange/qiao/store"
)

// AuditEntry is the audit entry of a recorded push: a committed batch, or one
// rejected for its rows. The resource is the batch, named
// "<dataset>/<principal>/<batch ID>"; the request digest is the SM3 of the
// envelope as received. It names no row and no value: the batch's personal
// identifiers are in the warehouse, tokenised, not on the log.
func AuditEntry(p gateway.Push, b store.Batch) audit.Entry {
	e := audit.Entry{
		Action:   audit.ActionDatasetPush,
		Resource: audit.Resource{Kind: audit.KindBatch, ID: b.Dataset + "/" + b.Principal + "/" + b.ID},
		Dataset:  b.Dataset,
		Decision: audit.Decision{
			Effect:         audit.Allow,
			Reasons:        p.Decision.Reasons,
			PolicyRevision: p.Decision.Revision,
		},
		RequestDigest: b.EnvelopeSM3,
		Result:        audit.Result{Status: audit.StatusOK},
	}
	if p.Caller != nil {
		e.Actor = audit.Actor{Principal: p.Caller.Principal, Agency: p.Caller.Agency}
		for _, r := range p.Caller.Roles {
			e.Actor.Roles = append(e.Actor.Roles, string(r))
		}
	}
	if b.State == store.BatchRejected {
		e.Result = audit.Result{Status: audit.StatusError, Code: "INVALID_ARGUMENT"}
	}
	return e
}
