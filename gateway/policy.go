package gateway

import (
	"context"
	"strings"
	"time"

	"github.com/qiao-exchange/qiao/gateway/authn"
	"github.com/qiao-exchange/qiao/policy"
	"github.com/qiao-exchange/qiao/schema"
	"github.com/qiao-exchange/qiao/store"
)

// Action names what a caller asks to do, as policy sees it.
type Action string

// The actions the gateway asks policy about.
const (
	// ActionPush is pushing a batch of a dataset.
	ActionPush Action = "dataset.push"
)

// PolicyInput is what a Policy decides from.
type PolicyInput struct {
	// Subject is the authenticated caller.
	Subject *authn.Caller
	// Action is what the caller asks to do.
	Action Action
	// Dataset is the dataset the action is about.
	Dataset *schema.Dataset
	// Time is when the call arrived.
	Time time.Time
}

// Decision is a Policy's answer.
type Decision struct {
	// Allow is true only if the action is allowed.
	Allow bool
	// Reasons say why, for the audit entry and the log; never personal data.
	Reasons []string
	// Revision names the policy that decided, for the audit entry.
	Revision string
}

// Policy decides whether a caller may do an action. An error, like a
// decision that does not allow, refuses the call: the gateway fails closed.
type Policy interface {
	Decide(ctx context.Context, in PolicyInput) (Decision, error)
}

// OwnDatasets is the gateway's policy until a policy engine is configured:
// an agency may push its own datasets, and everything else is refused. An
// agency's own datasets are those whose owner is its kind, the part of its
// name before the first dot (police.411528 owns police.*).
type OwnDatasets struct{}

// OwnDatasetsRevision is the revision of OwnDatasets' decisions.
const OwnDatasetsRevision = "builtin:own-datasets"

// Decide implements Policy.
func (OwnDatasets) Decide(_ context.Context, in PolicyInput) (Decision, error) {
	d := Decision{Revision: OwnDatasetsRevision}
	switch {
	case in.Subject == nil || in.Dataset == nil:
		d.Reasons = []string{"no subject or no dataset"}
	case in.Action != ActionPush:
		d.Reasons = []string{"only pushes are allowed by the built-in policy"}
	case in.Subject.Kind != store.KindAgency:
		d.Reasons = []string{"only agencies push datasets"}
	case agencyKind(in.Subject.Principal) != in.Dataset.Owner:
		d.Reasons = []string{"an agency pushes only its own datasets"}
	default:
		d.Allow = true
		d.Reasons = []string{"an agency pushes its own dataset"}
	}
	return d, nil
}

var _ Policy = OwnDatasets{}

// Engine is a policy engine deciding from policy's input document;
// *policy.Engine is one.
type Engine interface {
	Decide(ctx context.Context, in policy.Input) (policy.Decision, error)
}

// EnginePolicy is the Policy of a gateway that runs a policy engine: it
// hands the engine the input document of the call.
type EnginePolicy struct {
	Engine Engine
}

// Decide implements Policy. An engine error refuses, with its reasons.
func (p EnginePolicy) Decide(ctx context.Context, in PolicyInput) (Decision, error) {
	pin := policy.Input{Action: string(in.Action), Time: in.Time}
	if c := in.Subject; c != nil {
		pin.Subject = c.PolicySubject()
	}
	if ds := in.Dataset; ds != nil {
		pin.Resource = policy.Resource{Dataset: ds.ID, Owner: ds.Owner, Classification: string(ds.Classification)}
		for _, f := range ds.Fields {
			pin.Resource.Fields = append(pin.Resource.Fields, policy.Field{Name: f.Name, PII: f.PII})
		}
	}
	d, err := p.Engine.Decide(ctx, pin)
	return Decision{Allow: d.Allow && err == nil, Reasons: d.Reasons, Revision: d.Revision}, err
}

var _ Policy = EnginePolicy{}

// agencyKind returns the kind of an agency principal: police for
// police.411528.
func agencyKind(principal string) string {
	kind, _, _ := strings.Cut(principal, ".")
	return kind
}
