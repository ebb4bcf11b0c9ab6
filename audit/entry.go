package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/qiao-exchange/qiao/crypto/fieldcrypt"
)

var (
	// ErrInvalidEntry means an entry cannot be logged: a required field is
	// empty, a value is outside its closed set, a digest or token is not
	// lower-case hex of the right length, or a string is not valid UTF-8.
	// It is a bug in the caller; the caller's transaction must fail.
	ErrInvalidEntry = errors.New("audit: invalid entry")
	// ErrNonCanonical means bytes given to ParseEntry are not the canonical
	// encoding of an entry, though they may be valid JSON. A stored or
	// exported entry that fails so was altered: refuse it.
	ErrNonCanonical = errors.New("audit: entry is not in canonical encoding")
)

// Actions the gateway logs. Later flows add their own with the same
// "<noun>.<verb>" shape.
const (
	ActionDatasetPush       = "dataset.push"
	ActionDatasetPull       = "dataset.pull"
	ActionRequestCreate     = "request.create"
	ActionRequestApprove    = "request.approve"
	ActionAuthFailed        = "auth.failed"
	ActionPrincipalRegister = "principal.register"
	ActionPrincipalDisable  = "principal.disable"
	ActionPrincipalEnable   = "principal.enable"
	ActionCertificateAdd    = "certificate.add"
	ActionConfigReload      = "config.reload"
	ActionPolicyReload      = "policy.reload"
	ActionKeyCreate         = "key.create"
	ActionKeyLoad           = "key.load"
	ActionAuditRead         = "audit.read"
	ActionAuditToken        = "audit.token"
	ActionRequestDeny       = "request.deny"
	ActionRequestWithdraw   = "request.withdraw"
	ActionRequestExpire     = "request.expire"
	ActionGrantRevoke       = "grant.revoke"
	ActionLeadCreate        = "lead.create"
	ActionLeadRead          = "lead.read"
)

// Resource kinds.
const (
	KindDataset   = "dataset"
	KindBatch     = "batch"
	KindRequest   = "request"
	KindGrant     = "grant"
	KindLead      = "lead"
	KindPrincipal = "principal"
	// KindLog is the audit log itself, read by auditors: the ID says what
	// was read, e.g. "entries", "entry/12", "checkpoint".
	KindLog = "log"
)

// Decision effects.
const (
	Allow = "allow"
	Deny  = "deny"
)

// Result statuses.
const (
	StatusOK    = "ok"
	StatusError = "error"
)

// Entry is one record of the audit log: who did what to which resource,
// what the policy decided and why, and how it ended. It never holds a
// personal identifier in plaintext: those appear only as HMAC-SM3 tokens
// (fieldcrypt.Keys.Token).
//
// The JSON field names are the canonical encoding's; see Encode.
type Entry struct {
	// Seq is the entry's sequence number, which is also its leaf index in
	// the Merkle tree: 0 for the first entry. Append assigns it.
	Seq uint64
	// Time is when the entry was logged, UTC, to the microsecond. Append
	// sets it from the clock when it is zero.
	Time time.Time
	// Actor is who acted.
	Actor Actor
	// Action is what was done, such as ActionDatasetPush: required, one
	// "<noun>.<verb>" of lower-case letters, digits and underscores.
	Action string
	// Resource is what the action was on; empty for actions on nothing in
	// particular (a failed authentication, a configuration reload).
	Resource Resource
	// Dataset is the dataset concerned, if any: the resource itself, or
	// the dataset of a batch, request or grant. It is an indexed column.
	Dataset string
	// Decision is what the policy decided.
	Decision Decision
	// RequestDigest is the lower-case hex SM3 digest of the signed request,
	// or empty when the action came from no signed request.
	RequestDigest string
	// Result is how the action ended.
	Result Result
	// Tokens are the HMAC-SM3 tokens of the personal identifiers the
	// action concerned, 64 lower-case hex digits each. Encode sorts them
	// and drops duplicates.
	Tokens []string
}

// Actor is who acted: the authenticated principal, or for a failed
// authentication whatever the request claimed, never a personal identifier.
type Actor struct {
	Principal string
	Agency    string
	// Roles are sorted and deduplicated by Encode.
	Roles []string
}

// Resource names what an action was on.
type Resource struct {
	// Kind is one of KindDataset, KindBatch, …; empty with ID.
	Kind string
	ID   string
}

// Decision is the policy's decision on the action.
type Decision struct {
	// Effect is Allow or Deny.
	Effect string
	// Reasons say why, in the policy's words, in its order.
	Reasons []string
	// PolicyRevision names the policy that decided.
	PolicyRevision string
}

// Result is how the action ended.
type Result struct {
	// Status is StatusOK or StatusError.
	Status string
	// Code is the error code when Status is StatusError, else empty.
	Code string
}

// wireEntry and the types below are the canonical encoding: every field
// present, fields in the order of their names (encoding/json writes struct
// fields in declaration order), arrays never null.
type wireEntry struct {
	Action        string       `json:"action"`
	Actor         wireActor    `json:"actor"`
	Dataset       string       `json:"dataset"`
	Decision      wireDecision `json:"decision"`
	RequestDigest string       `json:"request_digest"`
	Resource      wireResource `json:"resource"`
	Result        wireResult   `json:"result"`
	Seq           uint64       `json:"seq"`
	Time          string       `json:"time"`
	Tokens        []string     `json:"tokens"`
	Version       int          `json:"v"`
}

type wireActor struct {
	Agency    string   `json:"agency"`
	Principal string   `json:"principal"`
	Roles     []string `json:"roles"`
}

type wireDecision struct {
	Effect         string   `json:"effect"`
	PolicyRevision string   `json:"policy_revision"`
	Reasons        []string `json:"reasons"`
}

type wireResource struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
}

type wireResult struct {
	Code   string `json:"code"`
	Status string `json:"status"`
}

// encodingVersion is the "v" field of every entry.
const encodingVersion = 1

// timeLayout is the canonical time: UTC, exactly six fraction digits.
const timeLayout = "2006-01-02T15:04:05.000000Z"

var (
	actionRE = regexp.MustCompile(`^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$`)
	hexRE    = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

var kinds = []string{KindDataset, KindBatch, KindRequest, KindGrant, KindLead, KindPrincipal, KindLog}

// normalize returns e with its sets sorted and deduplicated, its time in
// UTC at microsecond precision and nil lists made empty.
func (e Entry) normalize() Entry {
	set := func(s []string) []string {
		s = slices.Clone(s)
		slices.Sort(s)
		s = slices.Compact(s)
		if s == nil {
			s = []string{}
		}
		return s
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	e.Actor.Roles = set(e.Actor.Roles)
	e.Tokens = set(e.Tokens)
	e.Decision.Reasons = slices.Clone(e.Decision.Reasons)
	if e.Decision.Reasons == nil {
		e.Decision.Reasons = []string{}
	}
	return e
}

// Validate reports, wrapping ErrInvalidEntry, what makes e unfit for the
// log.
func (e Entry) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidEntry}, a...)...)
	}
	strs := []string{e.Actor.Principal, e.Actor.Agency, e.Action, e.Resource.Kind, e.Resource.ID,
		e.Dataset, e.Decision.Effect, e.Decision.PolicyRevision, e.RequestDigest, e.Result.Status, e.Result.Code}
	strs = append(append(append(strs, e.Actor.Roles...), e.Decision.Reasons...), e.Tokens...)
	for _, s := range strs {
		if !utf8.ValidString(s) {
			return bad("a field is not valid UTF-8")
		}
	}
	switch {
	case e.Time.IsZero():
		return bad("no time")
	case e.Time.Year() < 1 || e.Time.UTC().Year() > 9999:
		return bad("time %v out of range", e.Time)
	case !actionRE.MatchString(e.Action):
		return bad("action %.64q is not <noun>.<verb>", e.Action)
	case e.Resource.Kind == "" && e.Resource.ID != "":
		return bad("resource ID without kind")
	case e.Resource.Kind != "" && !slices.Contains(kinds, e.Resource.Kind):
		return bad("resource kind %.32q unknown", e.Resource.Kind)
	case e.Resource.Kind != "" && e.Resource.ID == "":
		return bad("resource of kind %s without ID", e.Resource.Kind)
	case e.Decision.Effect != Allow && e.Decision.Effect != Deny:
		return bad("decision %.16q is neither allow nor deny", e.Decision.Effect)
	case e.RequestDigest != "" && !hexRE.MatchString(e.RequestDigest):
		return bad("request digest is not 64 lower-case hex digits")
	case e.Result.Status != StatusOK && e.Result.Status != StatusError:
		return bad("result %.16q is neither ok nor error", e.Result.Status)
	case e.Result.Status == StatusOK && e.Result.Code != "":
		return bad("result ok with error code %.32q", e.Result.Code)
	case e.Result.Status == StatusError && e.Result.Code == "":
		return bad("result error without a code")
	}
	for _, t := range e.Tokens {
		if !fieldcrypt.ValidToken(t) {
			return bad("token is not 64 lower-case hex digits")
		}
	}
	return nil
}

// Encode returns the canonical encoding of e, the bytes its Merkle leaf
// hashes: JSON (RFC 8259) with every field present, object keys in
// ascending byte order, no insignificant whitespace, strings escaped as
// docs/audit.md specifies, roles and tokens sorted and deduplicated, and the
// time in UTC with exactly six fraction digits. It refuses an entry that
// does not Validate.
func (e Entry) Encode() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	e = e.normalize()
	w := wireEntry{
		Action:        e.Action,
		Actor:         wireActor{Agency: e.Actor.Agency, Principal: e.Actor.Principal, Roles: e.Actor.Roles},
		Dataset:       e.Dataset,
		Decision:      wireDecision{Effect: e.Decision.Effect, PolicyRevision: e.Decision.PolicyRevision, Reasons: e.Decision.Reasons},
		RequestDigest: e.RequestDigest,
		Resource:      wireResource{ID: e.Resource.ID, Kind: e.Resource.Kind},
		Result:        wireResult{Code: e.Result.Code, Status: e.Result.Status},
		Seq:           e.Seq,
		Time:          e.Time.Format(timeLayout),
		Tokens:        e.Tokens,
		Version:       encodingVersion,
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidEntry, err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}

// ParseEntry reads an entry from its canonical encoding and refuses, with
// ErrNonCanonical, anything else: unknown or missing fields, another key
// order, whitespace, other escapes, unsorted roles or tokens, an entry that
// does not Validate. Encode(ParseEntry(b)) == b for every b it accepts.
func ParseEntry(b []byte) (Entry, error) {
	var w wireEntry
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Entry{}, fmt.Errorf("%w: %w", ErrNonCanonical, err)
	}
	if w.Version != encodingVersion {
		return Entry{}, fmt.Errorf("%w: version %d, want %d", ErrNonCanonical, w.Version, encodingVersion)
	}
	t, err := time.Parse(timeLayout, w.Time)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: time: %w", ErrNonCanonical, err)
	}
	e := Entry{
		Seq:           w.Seq,
		Time:          t,
		Actor:         Actor{Principal: w.Actor.Principal, Agency: w.Actor.Agency, Roles: w.Actor.Roles},
		Action:        w.Action,
		Resource:      Resource{Kind: w.Resource.Kind, ID: w.Resource.ID},
		Dataset:       w.Dataset,
		Decision:      Decision{Effect: w.Decision.Effect, Reasons: w.Decision.Reasons, PolicyRevision: w.Decision.PolicyRevision},
		RequestDigest: w.RequestDigest,
		Result:        Result{Status: w.Result.Status, Code: w.Result.Code},
		Tokens:        w.Tokens,
	}
	again, err := e.Encode()
	if err != nil {
		return Entry{}, fmt.Errorf("%w: %w", ErrNonCanonical, err)
	}
	if !bytes.Equal(again, b) {
		return Entry{}, fmt.Errorf("%w: differs from its re-encoding at byte %d", ErrNonCanonical, firstDiff(again, b))
	}
	return e.normalize(), nil
}

func firstDiff(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
