package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/qiao-exchange/qiao/audit"
	"github.com/qiao-exchange/qiao/gateway/authn"
	"github.com/qiao-exchange/qiao/gateway/catalogue"
	"github.com/qiao-exchange/qiao/gateway/rpcerr"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/schema"
	"github.com/qiao-exchange/qiao/store"
)

// Push is a batch the gateway has authenticated and policy has allowed,
// handed to the Pusher.
type Push struct {
	// Caller pushed the batch.
	Caller *authn.Caller
	// Dataset is the schema of the batch's dataset.
	Dataset *schema.Dataset
	// BatchID is the caller's identifier of the batch, as in the request.
	BatchID string
	// Envelope is the sealed batch, as received and not yet opened.
	Envelope *exchangev1.Envelope
	// Decision is policy's decision to allow the push, for the audit entry.
	Decision Decision
}

// Pusher runs the push pipeline: it opens the envelope, validates the rows
// against the schema, keeps the envelope as evidence, stores the rows and
// commits the batch record. It returns the batch record and whether this
// push stored it (false for a repeat of a batch already stored).
//
// Its errors are mapped by gateway/rpcerr: an rpcerr.InvalidError with one
// rpcerr.RowViolation per bad row for a batch rejected for its rows,
// store.ErrConflict for a batch ID reused for other content,
// rpcerr.InvalidField for a malformed envelope, and anything else is
// INTERNAL.
type Pusher interface {
	PushBatch(ctx context.Context, p Push) (batch store.Batch, created bool, err error)
}

// datasetsService implements exchangev1.DatasetsServer: GetBatch over the
// store, and PushBatch up to the Pusher, after checking the request and
// asking policy.
type datasetsService struct {
	exchangev1.UnimplementedDatasetsServer
	store interface {
		GetBatch(ctx context.Context, key store.BatchKey) (store.Batch, error)
	}
	schemas *schema.Registry
	policy  Policy
	pusher  Pusher
	// audit and tx record pushes policy refused; audit may be nil.
	audit Auditor
	tx    func(ctx context.Context, fn func(tx *store.Tx) error) error
	now   func() time.Time
	log   *slog.Logger
}

var _ exchangev1.DatasetsServer = (*datasetsService)(nil)

// batchKeyViolations reports what is wrong with a request's dataset and
// batch ID, the two fields that name a batch.
func batchKeyViolations(dataset, batchID string) []rpcerr.Violation {
	var vs []rpcerr.Violation
	if dataset == "" {
		vs = append(vs, rpcerr.Violation{Field: "dataset", Description: "required"})
	}
	if problem := checkBatchID(batchID); problem != "" {
		vs = append(vs, rpcerr.Violation{Field: "batch_id", Description: problem})
	}
	return vs
}

// PushBatch implements exchangev1.DatasetsServer.
func (d *datasetsService) PushBatch(ctx context.Context, req *exchangev1.PushBatchRequest) (*exchangev1.PushBatchResponse, error) {
	caller, ok := authn.FromContext(ctx)
	if !ok {
		return nil, fmt.Errorf("datasets: %w: no authenticated caller", rpcerr.ErrUnauthenticated)
	}
	vs := batchKeyViolations(req.GetDataset(), req.GetBatchId())
	if env := req.GetEnvelope(); env == nil || len(env.GetContent()) == 0 || len(env.GetSignature()) == 0 {
		vs = append(vs, rpcerr.Violation{Field: "envelope", Description: "required, with content and signature"})
	}
	if len(vs) > 0 {
		return nil, rpcerr.Invalid(vs...)
	}
	ds, err := d.schemas.Get(req.GetDataset())
	if err != nil {
		return nil, rpcerr.WithMessage(fmt.Errorf("datasets: %w", err), "no such dataset")
	}
	dec, err := d.policy.Decide(ctx, PolicyInput{Subject: caller, Action: ActionPush, Dataset: ds, Time: d.now()})
	if err != nil || !dec.Allow {
		if aerr := d.recordRefusal(ctx, caller, ds, dec, req.GetBatchId()); aerr != nil {
			return nil, aerr
		}
	}
	if err != nil {
		return nil, fmt.Errorf("datasets: policy failed, push refused: %w", err)
	}
	if !dec.Allow {
		d.log.LogAttrs(ctx, slog.LevelInfo, "push refused by policy",
			slog.String("principal", authn.LogName(caller.Principal)), slog.String("dataset", ds.ID),
			slog.String("revision", dec.Revision), slog.String("reasons", strings.Join(dec.Reasons, "; ")))
		return nil, rpcerr.WithMessage(fmt.Errorf("datasets: %w: %s", rpcerr.ErrPermissionDenied, strings.Join(dec.Reasons, "; ")), "this principal may not push this dataset")
	}
	if d.pusher == nil {
		return nil, rpcerr.WithMessage(fmt.Errorf("datasets: %w: no push pipeline configured", rpcerr.ErrUnimplemented), "this gateway does not take pushes")
	}
	b, created, err := d.pusher.PushBatch(ctx, Push{
		Caller:   caller,
		Dataset:  ds,
		BatchID:  req.GetBatchId(),
		Envelope: req.GetEnvelope(),
		Decision: dec,
	})
	if err != nil {
		return nil, fmt.Errorf("datasets: pushing %s: %w", ds.ID, err)
	}
	return &exchangev1.PushBatchResponse{Batch: catalogue.BatchToProto(b), Created: created}, nil
}

// recordRefusal appends the audit entry of a push policy refused, in its
// own transaction. Without an audit log it records nothing.
func (d *datasetsService) recordRefusal(ctx context.Context, caller *authn.Caller, ds *schema.Dataset, dec Decision, batchID string) error {
	if d.audit == nil {
		return nil
	}
	actor := caller.AuditActor()
	reasons := dec.Reasons
	if len(reasons) == 0 {
		reasons = []string{"policy could not decide"}
	}
	e := audit.Entry{
		Actor:    actor,
		Action:   audit.ActionDatasetPush,
		Resource: audit.Resource{Kind: audit.KindBatch, ID: batchID},
		Dataset:  ds.ID,
		Decision: audit.Decision{Effect: audit.Deny, Reasons: reasons, PolicyRevision: dec.Revision},
		Result:   audit.Result{Status: audit.StatusError, Code: "PERMISSION_DENIED"},
	}
	if err := d.tx(ctx, func(tx *store.Tx) error {
		_, err := d.audit.Append(ctx, tx, e)
		return err
	}); err != nil {
		return fmt.Errorf("datasets: recording a refused push: %w", err)
	}
	return nil
}

// GetBatch implements exchangev1.DatasetsServer. A caller reads only the
// batches it pushed: the caller is part of the batch's key.
func (d *datasetsService) GetBatch(ctx context.Context, req *exchangev1.GetBatchRequest) (*exchangev1.GetBatchResponse, error) {
	caller, ok := authn.FromContext(ctx)
	if !ok {
		return nil, fmt.Errorf("datasets: %w: no authenticated caller", rpcerr.ErrUnauthenticated)
	}
	vs := batchKeyViolations(req.GetDataset(), req.GetBatchId())
	if len(vs) > 0 {
		return nil, rpcerr.Invalid(vs...)
	}
	b, err := d.store.GetBatch(ctx, store.BatchKey{Dataset: req.GetDataset(), Principal: caller.Principal, ID: req.GetBatchId()})
	if err != nil {
		return nil, rpcerr.WithMessage(fmt.Errorf("datasets: %w", err), "no such batch pushed by this principal")
	}
	return &exchangev1.GetBatchResponse{Batch: catalogue.BatchToProto(b)}, nil
}

// checkBatchID says what is wrong with a batch ID, or returns "".
func checkBatchID(id string) string {
	if id == "" {
		return "required"
	}
	if len(id) > 128 {
		return "longer than 128 bytes"
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] > 0x7e {
			return "not printable ASCII"
		}
	}
	return ""
}

// unservedAccess is the Access service of a gateway configured without one
// (tests of other parts): every method answers UNIMPLEMENTED.
type unservedAccess struct {
	exchangev1.UnimplementedAccessServer
}
