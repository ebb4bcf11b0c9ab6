package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// RequestState is where an access request stands.
type RequestState string

// The states of an access request. Only a pending request changes state.
const (
	RequestPending   RequestState = "pending"
	RequestApproved  RequestState = "approved"
	RequestDenied    RequestState = "denied"
	RequestExpired   RequestState = "expired"
	RequestWithdrawn RequestState = "withdrawn"
)

// FieldMasking is one field asked for or granted, with its masking:
// "partial", "token", "full", or empty for the policy's default.
type FieldMasking struct {
	Field   string `json:"field"`
	Masking string `json:"masking"`
}

// RowFilter selects the rows a request is for. Dates are YYYY-MM-DD;
// SubjectTokens are HMAC-SM3 tokens of identifiers, never identifiers.
type RowFilter struct {
	DateField     string   `json:"date_field"`
	FromDate      string   `json:"from_date"`
	ToDate        string   `json:"to_date"`
	SubjectTokens []string `json:"subject_tokens"`
}

// AccessRequest is a request for another agency's data.
type AccessRequest struct {
	ID         string
	Requester  string
	Dataset    string
	Purpose    string
	LegalBasis string
	CaseNumber string
	Fields     []FieldMasking
	Filter     RowFilter
	// Duration is how long the grant should last; MaxPulls how many pulls
	// it should allow. Zero: the policy's default.
	Duration time.Duration
	MaxPulls int
	State    RequestState
	// ApprovalsRequired is how many distinct approvers must approve.
	ApprovalsRequired int
	// Reasons and PolicyRevision are the policy's last decision on it.
	Reasons        []string
	PolicyRevision string
	// Decisions are the approvers' decisions, oldest first; filled by
	// GetRequest and ListRequests.
	Decisions []ApproverDecision
	Created   time.Time
	Updated   time.Time
}

// Approvals returns how many distinct approvers approved r.
func (r AccessRequest) Approvals() int {
	n := 0
	for _, d := range r.Decisions {
		if d.Approved {
			n++
		}
	}
	return n
}

// ApproverDecision is one approver's approval or denial of a request.
type ApproverDecision struct {
	Approver string
	Approved bool
	Reason   string
	Created  time.Time
}

// Grant is what an approved request allows its requester to pull.
type Grant struct {
	ID        string
	RequestID string
	// Holder is the requester, the only principal that pulls with it.
	Holder  string
	Dataset string
	Fields  []FieldMasking
	// Mask is the policy's masking of every field of the dataset: "drop",
	// "partial", "token" or "none".
	Mask     map[string]string
	Filter   RowFilter
	MaxRows  int
	MaxPulls int
	Pulls    int
	Expires  time.Time
	// Revoked is the zero time unless the grant was revoked.
	Revoked      time.Time
	RevokeReason string
	Created      time.Time
	Updated      time.Time
}

// RequestQuery selects access requests; unset fields select all.
type RequestQuery struct {
	Requester string
	State     RequestState
	Dataset   string
	// Limit is the most returned, 100 when 0.
	Limit int
}

func checkRequest(r *AccessRequest) error {
	for _, c := range []struct {
		what, v string
		max     int
	}{{"request ID", r.ID, 64}, {"requester", r.Requester, 128}, {"dataset", r.Dataset, 128}} {
		if err := checkText(c.what, c.v, c.max); err != nil {
			return err
		}
	}
	for _, c := range []struct {
		what, v string
		max     int
	}{{"purpose", r.Purpose, 2000}, {"legal basis", r.LegalBasis, 2000}, {"case number", r.CaseNumber, 200}} {
		if err := checkProse(c.what, c.v, c.max); err != nil {
			return err
		}
	}
	switch {
	case r.Duration < 0 || r.MaxPulls < 0 || r.ApprovalsRequired < 0:
		return fmt.Errorf("%w: request %s: negative duration, pulls or approvals", ErrInvalid, r.ID)
	case r.State == "":
		return fmt.Errorf("%w: request %s: no state", ErrInvalid, r.ID)
	}
	return nil
}

// InsertRequest stores a new access request; ErrConflict if its ID is
// taken, ErrNotFound if the requester is not registered.
func (tx *Tx) InsertRequest(ctx context.Context, r AccessRequest) (AccessRequest, error) {
	if err := checkRequest(&r); err != nil {
		return AccessRequest{}, err
	}
	if err := tx.principalExists(ctx, r.Requester); err != nil {
		return AccessRequest{}, err
	}
	fields, filter, reasons, err := encodeRequestLists(r)
	if err != nil {
		return AccessRequest{}, err
	}
	t := now()
	r.Created, r.Updated, r.Decisions = t, t, []ApproverDecision{}
	res, err := tx.tx.ExecContext(ctx, `INSERT INTO access_requests
        (id, requester, dataset, purpose, legal_basis, case_number, fields, row_filter,
         duration_seconds, max_pulls, state, approvals_required, reasons, policy_revision, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
        ON CONFLICT (id) DO NOTHING`,
		r.ID, r.Requester, r.Dataset, r.Purpose, r.LegalBasis, r.CaseNumber, fields, filter,
		int64(r.Duration/time.Second), r.MaxPulls, string(r.State), r.ApprovalsRequired, reasons, r.PolicyRevision,
		micros(t), micros(t))
	if err != nil {
		return AccessRequest{}, fmt.Errorf("store: inserting request %s: %w", r.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return AccessRequest{}, fmt.Errorf("%w: request ID %s is taken", ErrConflict, r.ID)
	}
	return r, nil
}

// checkProse checks text people wrote (a purpose, a reason): valid UTF-8
// of at most max bytes, without control characters. It may be empty.
func checkProse(what, s string, max int) error {
	if len(s) > max || !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s must be valid UTF-8 of at most %d bytes", ErrInvalid, what, max)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' {
			return fmt.Errorf("%w: %s holds a control character", ErrInvalid, what)
		}
	}
	return nil
}

func encodeRequestLists(r AccessRequest) (fields, filter, reasons string, err error) {
	if fields, err = encodeJSON(r.Fields, []FieldMasking{}); err != nil {
		return
	}
	if filter, err = encodeJSON(r.Filter, RowFilter{}); err != nil {
		return
	}
	reasons, err = encodeJSON(r.Reasons, []string{})
	return
}

// encodeJSON encodes v, or empty when v is a nil slice or map.
func encodeJSON[T any](v T, empty T) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("store: %w", err)
	}
	if string(b) == "null" {
		b, _ = json.Marshal(empty)
	}
	return string(b), nil
}

// AddDecision records an approver's decision on a pending request. A
// second decision by the same approver is ErrConflict; an unknown request
// ErrNotFound; a request that is not pending ErrConflict.
func (tx *Tx) AddDecision(ctx context.Context, requestID string, d ApproverDecision) (ApproverDecision, error) {
	if err := checkText("approver", d.Approver, 128); err != nil {
		return ApproverDecision{}, err
	}
	if err := checkProse("reason", d.Reason, 2000); err != nil {
		return ApproverDecision{}, err
	}
	r, err := getRequest(ctx, tx.tx, requestID)
	if err != nil {
		return ApproverDecision{}, err
	}
	if r.State != RequestPending {
		return ApproverDecision{}, fmt.Errorf("%w: request %s is %s, not pending", ErrConflict, requestID, r.State)
	}
	d.Created = now()
	approved := 0
	if d.Approved {
		approved = 1
	}
	res, err := tx.tx.ExecContext(ctx, `INSERT INTO access_decisions (request_id, approver, approved, reason, created_at)
        VALUES ($1, $2, $3, $4, $5) ON CONFLICT (request_id, approver) DO NOTHING`,
		requestID, d.Approver, approved, d.Reason, micros(d.Created))
	if err != nil {
		return ApproverDecision{}, fmt.Errorf("store: recording %s's decision on request %s: %w", d.Approver, requestID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return ApproverDecision{}, fmt.Errorf("%w: %s already decided on request %s", ErrConflict, d.Approver, requestID)
	}
	return d, nil
}

// SetRequestState moves a pending request to state with the policy's
// reasons and revision. A request that is no longer pending is ErrConflict:
// two concurrent decisions cannot both move it.
func (tx *Tx) SetRequestState(ctx context.Context, id string, state RequestState, reasons []string, revision string) (AccessRequest, error) {
	r, err := encodeJSON(reasons, []string{})
	if err != nil {
		return AccessRequest{}, err
	}
	res, err := tx.tx.ExecContext(ctx, `UPDATE access_requests SET state = $2, reasons = $3, policy_revision = $4, updated_at = $5
        WHERE id = $1 AND state = 'pending'`, id, string(state), r, revision, micros(now()))
	if err != nil {
		return AccessRequest{}, fmt.Errorf("store: request %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		if _, err := getRequest(ctx, tx.tx, id); err != nil {
			return AccessRequest{}, err
		}
		return AccessRequest{}, fmt.Errorf("%w: request %s is no longer pending", ErrConflict, id)
	}
	return getRequest(ctx, tx.tx, id)
}

// GetRequest returns the request with its decisions, or ErrNotFound.
func (tx *Tx) GetRequest(ctx context.Context, id string) (AccessRequest, error) {
	return getRequest(ctx, tx.tx, id)
}

// GetRequest returns the request with its decisions, or ErrNotFound.
func (db *DB) GetRequest(ctx context.Context, id string) (AccessRequest, error) {
	return getRequest(ctx, db.r, id)
}

// ListRequests returns the requests q selects, newest first, with their
// decisions.
func (db *DB) ListRequests(ctx context.Context, q RequestQuery) ([]AccessRequest, error) {
	if q.Limit < 0 {
		return nil, fmt.Errorf("%w: negative limit", ErrInvalid)
	}
	if q.Limit == 0 {
		q.Limit = 100
	}
	var w where
	if q.Requester != "" {
		w.add("requester = $%d", q.Requester)
	}
	if q.State != "" {
		w.add("state = $%d", string(q.State))
	}
	if q.Dataset != "" {
		w.add("dataset = $%d", q.Dataset)
	}
	args := append(w.args, q.Limit)
	rows, err := db.r.QueryContext(ctx, "SELECT "+requestColumns+" FROM access_requests"+w.String()+
		fmt.Sprintf(" ORDER BY created_at DESC, id DESC LIMIT $%d", len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("store: listing requests: %w", err)
	}
	rs, err := collect(rows, scanRequest, "listing requests")
	if err != nil {
		return nil, err
	}
	for i := range rs {
		if rs[i].Decisions, err = decisionsOf(ctx, db.r, rs[i].ID); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

const requestColumns = `id, requester, dataset, purpose, legal_basis, case_number, fields, row_filter,
    duration_seconds, max_pulls, state, approvals_required, reasons, policy_revision, created_at, updated_at`

func scanRequest(s interface{ Scan(...any) error }) (AccessRequest, error) {
	var (
		r                        AccessRequest
		fields, filter, reasons  string
		state                    string
		seconds, created, update int64
	)
	err := s.Scan(&r.ID, &r.Requester, &r.Dataset, &r.Purpose, &r.LegalBasis, &r.CaseNumber, &fields, &filter,
		&seconds, &r.MaxPulls, &state, &r.ApprovalsRequired, &reasons, &r.PolicyRevision, &created, &update)
	if err != nil {
		return AccessRequest{}, err
	}
	if err := decodeJSON(fields, &r.Fields); err != nil {
		return AccessRequest{}, fmt.Errorf("fields of request %s: %w", r.ID, err)
	}
	if err := decodeJSON(filter, &r.Filter); err != nil {
		return AccessRequest{}, fmt.Errorf("filter of request %s: %w", r.ID, err)
	}
	if err := decodeJSON(reasons, &r.Reasons); err != nil {
		return AccessRequest{}, fmt.Errorf("reasons of request %s: %w", r.ID, err)
	}
	r.Duration = time.Duration(seconds) * time.Second
	r.State, r.Created, r.Updated = RequestState(state), fromMicros(created), fromMicros(update)
	return r, nil
}

func decodeJSON(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func getRequest(ctx context.Context, q querier, id string) (AccessRequest, error) {
	r, err := scanRequest(q.QueryRowContext(ctx, "SELECT "+requestColumns+" FROM access_requests WHERE id = $1", id))
	if err != nil {
		return AccessRequest{}, notFound(err, "request "+id)
	}
	if r.Decisions, err = decisionsOf(ctx, q, id); err != nil {
		return AccessRequest{}, err
	}
	return r, nil
}

func decisionsOf(ctx context.Context, q querier, id string) ([]ApproverDecision, error) {
	rows, err := q.QueryContext(ctx, `SELECT approver, approved, reason, created_at FROM access_decisions
        WHERE request_id = $1 ORDER BY created_at, approver`, id)
	if err != nil {
		return nil, fmt.Errorf("store: decisions on request %s: %w", id, err)
	}
	return collect(rows, func(s interface{ Scan(...any) error }) (ApproverDecision, error) {
		var (
			d        ApproverDecision
			approved int
			created  int64
		)
		if err := s.Scan(&d.Approver, &approved, &d.Reason, &created); err != nil {
			return d, err
		}
		d.Approved, d.Created = approved == 1, fromMicros(created)
		return d, nil
	}, "decisions on request "+id)
}

// InsertGrant stores the grant of an approved request; ErrConflict if the
// request already has one or the ID is taken.
func (tx *Tx) InsertGrant(ctx context.Context, g Grant) (Grant, error) {
	if err := checkText("grant ID", g.ID, 64); err != nil {
		return Grant{}, err
	}
	if g.MaxPulls < 0 || g.MaxRows < 0 || g.Pulls != 0 {
		return Grant{}, fmt.Errorf("%w: grant %s: negative limits or pulls already made", ErrInvalid, g.ID)
	}
	fields, err := encodeJSON(g.Fields, []FieldMasking{})
	if err != nil {
		return Grant{}, err
	}
	mask, err := encodeJSON(g.Mask, map[string]string{})
	if err != nil {
		return Grant{}, err
	}
	filter, err := encodeJSON(g.Filter, RowFilter{})
	if err != nil {
		return Grant{}, err
	}
	t := now()
	g.Created, g.Updated, g.Expires = t, t, g.Expires.UTC().Truncate(time.Microsecond)
	res, err := tx.tx.ExecContext(ctx, `INSERT INTO grants
        (id, request_id, holder, dataset, fields, mask, row_filter, max_rows, max_pulls, pulls,
         expires_at, revoked_at, revoke_reason, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, 0, '', $11, $12)
        ON CONFLICT DO NOTHING`,
		g.ID, g.RequestID, g.Holder, g.Dataset, fields, mask, filter, g.MaxRows, g.MaxPulls,
		micros(g.Expires), micros(t), micros(t))
	if err != nil {
		return Grant{}, fmt.Errorf("store: inserting grant %s: %w", g.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return Grant{}, fmt.Errorf("%w: grant %s or a grant of request %s exists", ErrConflict, g.ID, g.RequestID)
	}
	return g, nil
}

// GetGrant returns a grant, or ErrNotFound.
func (tx *Tx) GetGrant(ctx context.Context, id string) (Grant, error) {
	return getGrant(ctx, tx.tx, id)
}

// GetGrant returns a grant, or ErrNotFound.
func (db *DB) GetGrant(ctx context.Context, id string) (Grant, error) { return getGrant(ctx, db.r, id) }

// GrantOf returns the grant issued for a request, or ErrNotFound.
func (db *DB) GrantOf(ctx context.Context, requestID string) (Grant, error) {
	g, err := scanGrant(db.r.QueryRowContext(ctx, "SELECT "+grantColumns+" FROM grants WHERE request_id = $1", requestID))
	if err != nil {
		return Grant{}, notFound(err, "grant of request "+requestID)
	}
	return g, nil
}

// CountPull counts one pull of a grant and returns the grant after it. A
// grant whose pulls are used up or that was revoked is ErrConflict: the
// check and the count are one statement, so concurrent pulls cannot exceed
// the limit. Expiry is the caller's policy decision.
func (tx *Tx) CountPull(ctx context.Context, id string) (Grant, error) {
	res, err := tx.tx.ExecContext(ctx, `UPDATE grants SET pulls = pulls + 1, updated_at = $2
        WHERE id = $1 AND pulls < max_pulls AND revoked_at = 0`, id, micros(now()))
	if err != nil {
		return Grant{}, fmt.Errorf("store: counting a pull of grant %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		if _, err := getGrant(ctx, tx.tx, id); err != nil {
			return Grant{}, err
		}
		return Grant{}, fmt.Errorf("%w: grant %s is revoked or used up", ErrConflict, id)
	}
	return getGrant(ctx, tx.tx, id)
}

// RevokeGrant revokes a grant with a reason. Revoking a revoked grant is
// ErrConflict.
func (tx *Tx) RevokeGrant(ctx context.Context, id, reason string) (Grant, error) {
	if err := checkProse("reason", reason, 2000); err != nil {
		return Grant{}, err
	}
	t := micros(now())
	res, err := tx.tx.ExecContext(ctx, `UPDATE grants SET revoked_at = $2, revoke_reason = $3, updated_at = $2
        WHERE id = $1 AND revoked_at = 0`, id, t, reason)
	if err != nil {
		return Grant{}, fmt.Errorf("store: revoking grant %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		if _, err := getGrant(ctx, tx.tx, id); err != nil {
			return Grant{}, err
		}
		return Grant{}, fmt.Errorf("%w: grant %s was already revoked", ErrConflict, id)
	}
	return getGrant(ctx, tx.tx, id)
}

const grantColumns = `id, request_id, holder, dataset, fields, mask, row_filter, max_rows, max_pulls, pulls,
    expires_at, revoked_at, revoke_reason, created_at, updated_at`

func scanGrant(s interface{ Scan(...any) error }) (Grant, error) {
	var (
		g                                  Grant
		fields, mask, filter               string
		expires, revoked, created, updated int64
	)
	err := s.Scan(&g.ID, &g.RequestID, &g.Holder, &g.Dataset, &fields, &mask, &filter, &g.MaxRows, &g.MaxPulls,
		&g.Pulls, &expires, &revoked, &g.RevokeReason, &created, &updated)
	if err != nil {
		return Grant{}, err
	}
	if err := decodeJSON(fields, &g.Fields); err != nil {
		return Grant{}, fmt.Errorf("fields of grant %s: %w", g.ID, err)
	}
	if err := decodeJSON(mask, &g.Mask); err != nil {
		return Grant{}, fmt.Errorf("mask of grant %s: %w", g.ID, err)
	}
	if err := decodeJSON(filter, &g.Filter); err != nil {
		return Grant{}, fmt.Errorf("filter of grant %s: %w", g.ID, err)
	}
	g.Expires, g.Created, g.Updated = fromMicros(expires), fromMicros(created), fromMicros(updated)
	if revoked != 0 {
		g.Revoked = fromMicros(revoked)
	}
	return g, nil
}

func getGrant(ctx context.Context, q querier, id string) (Grant, error) {
	g, err := scanGrant(q.QueryRowContext(ctx, "SELECT "+grantColumns+" FROM grants WHERE id = $1", id))
	if err != nil {
		return Grant{}, notFound(err, "grant "+id)
	}
	return g, nil
}
