// Package policy decides whether a caller may do an action on Qiao's data:
// push a dataset, file, approve or deny an access request, pull with a grant,
// read the audit log, manage principals, or run a model over a dataset.
//
// It embeds the Open Policy Agent as a library. The policy is a bundle of
// Rego v1 files whose rules produce one document, data.qiao.decision: allow
// or deny, how many distinct approvals the data needs, how each field is
// masked, the limits of a grant, and bilingual reasons for the audit log. The
// default bundle is compiled into the binary (policy/bundle); operators may
// point the Engine at a bundle directory of their own, which it re-reads
// without a restart. A bundle's revision is the SM3 digest of its files, so
// every decision names the exact policy that made it.
//
// The Engine fails closed: an evaluation error, a timeout, an undefined
// decision or a decision of the wrong shape is a deny, returned together
// with an error that wraps one of the sentinel errors below.
//
// It is not an authenticator, a store or an enforcer: it decides from its
// Input alone, reads no database, makes no network call (the builtins that
// would are removed from the bundle's capabilities), and neither masks rows
// nor counts pulls. The gateway supplies the facts and applies the decision.
package policy

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Actions the default bundle knows. Any other action is denied.
const (
	// ActionPush is pushing a batch of a dataset.
	ActionPush = "dataset.push"
	// ActionRequestCreate is filing an access request.
	ActionRequestCreate = "request.create"
	// ActionRequestApprove is approving an access request.
	ActionRequestApprove = "request.approve"
	// ActionRequestDeny is denying an access request.
	ActionRequestDeny = "request.deny"
	// ActionPull is pulling rows with a grant.
	ActionPull = "dataset.pull"
	// ActionAuditRead is reading the audit log.
	ActionAuditRead = "audit.read"
	// ActionLeadRead is reading the leads the models found.
	ActionLeadRead = "lead.read"
	// ActionPrincipalManage is registering, changing or removing principals.
	ActionPrincipalManage = "principal.manage"
	// ActionModelRead is a model reading a dataset in the warehouse.
	ActionModelRead = "model.read"
)

// Masks a Decision may give a field.
const (
	// MaskDrop leaves the field out.
	MaskDrop = "drop"
	// MaskPartial shows part of the value (e.g. 4101**********1234).
	MaskPartial = "partial"
	// MaskToken replaces the value by its HMAC-SM3 token.
	MaskToken = "token"
	// MaskNone passes the value as it is.
	MaskNone = "none"
)

// Sentinel errors. Decide returns a deny together with an error wrapping one
// of the first five; the caller refuses the call (the deny says so already),
// records the decision's reason in the audit entry, and logs the error for
// operators. None of them is the client's doing: the client is told only
// the reason.
var (
	// ErrInput means the Input lacks something the decision needs (a
	// principal, an action, a time, a resource or a request). It is a bug in
	// the caller: fix the call site.
	ErrInput = errors.New("policy: incomplete input")
	// ErrEvaluation means the bundle failed while deciding (a builtin error
	// such as a division by zero, conflicting rule values). Fix the bundle.
	ErrEvaluation = errors.New("policy: evaluation failed")
	// ErrTimeout means the decision took longer than Options.Timeout or the
	// caller's context ended first. Retry later; if it persists, the bundle
	// is too slow.
	ErrTimeout = errors.New("policy: decision timed out")
	// ErrUndefined means the bundle gave no data.qiao.decision for this
	// input. Fix the bundle: a decision must always be defined.
	ErrUndefined = errors.New("policy: decision undefined")
	// ErrMalformed means data.qiao.decision was not a well-formed decision
	// document (see Decision). Fix the bundle.
	ErrMalformed = errors.New("policy: malformed decision")
	// ErrBundle means a bundle could not be read or compiled. New returns it;
	// Reload returns it and keeps the previous bundle.
	ErrBundle = errors.New("policy: bad bundle")
)

// Subject is who asks.
type Subject struct {
	// Principal is the authenticated name: police.411528, user:li,
	// model:medins.third_party_injury.
	Principal string
	// Kind is "agency", "user", "model" or "gateway".
	Kind string
	// Agency is the agency the subject belongs to, e.g. procuratorate.411528.
	Agency string
	// Roles are a user's roles: requester, approver, auditor, admin.
	Roles []string
	// Datasets are the datasets a model declared it reads.
	Datasets []string
}

// Field is one field of a dataset, as policy sees it.
type Field struct {
	// Name is the canonical field name.
	Name string
	// PII marks personal data.
	PII bool
}

// Resource is the dataset an action is about.
type Resource struct {
	// Dataset is the dataset ID, e.g. medins.settlements.
	Dataset string
	// Owner is the agency kind that pushes it, e.g. medins.
	Owner string
	// Classification is "internal" or "sensitive".
	Classification string
	// Fields are all the dataset's fields.
	Fields []Field
}

// FieldMasking is a field asked for in a request or granted, with the masking
// asked for: "" (the default, partial), "partial", "token" or "full".
type FieldMasking struct {
	Field   string
	Masking string
}

// Approval is one approver's decision on a request.
type Approval struct {
	// Approver is the principal who decided.
	Approver string
	// Approved is true for an approval, false for a denial.
	Approved bool
}

// Grant is what an approved request issued.
type Grant struct {
	// ID names the grant.
	ID string
	// Holder is the principal who may pull with it.
	Holder string
	// ExpireTime is when it stops being valid.
	ExpireTime time.Time
	// Pulls is how many pulls were made with it; MaxPulls how many it allows.
	Pulls, MaxPulls int
	// Revoked is true once it was revoked.
	Revoked bool
	// Fields are the granted fields and their masking.
	Fields []FieldMasking
}

// Request is an access request: filed, being decided, or presented with its
// grant for a pull.
type Request struct {
	// ID names the request.
	ID string
	// Requester is the principal who filed it.
	Requester string
	// State is the request's state: "pending" while it awaits approvals.
	State string
	// Purpose, LegalBasis (法律依据) and CaseNumber (案号) justify it.
	Purpose, LegalBasis, CaseNumber string
	// Fields are the fields asked for and their masking.
	Fields []FieldMasking
	// Duration is how long the grant should live; 0 asks for the default.
	Duration time.Duration
	// MaxPulls is how many pulls the grant should allow; 0 asks for the
	// default.
	MaxPulls int
	// Approvals are the decisions approvers made so far.
	Approvals []Approval
	// Grant is the grant the request issued, for pulls; nil before.
	Grant *Grant
}

// Input is everything a decision is made from.
type Input struct {
	// Subject is the authenticated caller. Principal and Kind are required.
	Subject Subject
	// Action is what the subject asks to do (see the Action constants).
	// Required.
	Action string
	// Resource is the dataset. Dataset, Owner and Classification are
	// required for dataset.*, request.* and model.read, and field names must
	// be distinct.
	Resource Resource
	// Request is required for request.* and dataset.pull.
	Request *Request
	// Time is when the call arrived. Required.
	Time time.Time
}

// Decision is the Engine's answer. Anything but Allow == true refuses.
type Decision struct {
	// Allow is true only if the action is allowed. For request.create it
	// means the request may be filed; it then waits for NeedsApprovals
	// approvals.
	Allow bool
	// NeedsApprovals is how many distinct approvers the request needs.
	NeedsApprovals int
	// Mask maps every field of the resource to "drop", "partial", "token"
	// or "none". A field the bundle did not mention is "drop".
	Mask map[string]string
	// MaxRows is the most rows one pull may return; 0 for actions that
	// return no rows by pull.
	MaxRows int
	// MaxPulls is how many pulls the grant allows.
	MaxPulls int
	// TTL is how long the grant lives (request.*) or has left (dataset.pull).
	TTL time.Duration
	// Reasons say why, "中文 / English", for the audit entry and the caller.
	// They never carry personal data.
	Reasons []string
	// Revision names the bundle that decided: "sm3:" and the hex SM3 digest
	// of its files.
	Revision string
}

// Options configure an Engine.
type Options struct {
	// Dir is the bundle directory; "" uses the embedded default bundle.
	Dir string
	// Logger receives reloads and failed decisions; nil discards them.
	Logger *slog.Logger
	// OnReload, if set, is called after every Reload, whether it succeeded
	// or not (for metrics and the audit log). It must not call Reload.
	OnReload func(ctx context.Context, r Reload)
	// Timeout bounds one decision; 0 means DefaultTimeout.
	Timeout time.Duration
	// Registerer takes the Engine's metrics (qiao_policy_*); nil registers
	// none.
	Registerer prometheus.Registerer
}

// DefaultTimeout is the time one decision may take unless Options say
// otherwise.
const DefaultTimeout = 50 * time.Millisecond

// Reload reports one reload of the bundle.
type Reload struct {
	// Revision is the revision now in force: the new one, or the previous
	// one if the reload failed.
	Revision string
	// Previous is the revision before the reload.
	Previous string
	// Err is why the reload was refused, or nil.
	Err error
}
