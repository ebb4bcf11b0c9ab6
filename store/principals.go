package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// PrincipalKind says what a principal is.
type PrincipalKind string

// The kinds of principal.
const (
	// KindAgency is a partner agency's system, e.g. "police.411528".
	KindAgency PrincipalKind = "agency"
	// KindUser is a person, "user:<name>".
	KindUser PrincipalKind = "user"
	// KindServer is a gateway endpoint, e.g. "gateway".
	KindServer PrincipalKind = "server"
	// KindModel is a supervision model, "model:<id>".
	KindModel PrincipalKind = "model"
)

// PrincipalStatus says whether a principal may act.
type PrincipalStatus string

// The statuses of a principal.
const (
	// StatusActive principals may call the gateway.
	StatusActive PrincipalStatus = "active"
	// StatusDisabled principals are refused; their records stay.
	StatusDisabled PrincipalStatus = "disabled"
)

// Role is what a person may do on the exchange; policy decides what each
// role allows.
type Role string

// The roles.
const (
	RoleRequester Role = "requester"
	RoleApprover  Role = "approver"
	RoleAuditor   Role = "auditor"
	RoleAdmin     Role = "admin"
)

// Principal is a registered caller of the gateway.
type Principal struct {
	// Name identifies the principal: 1 to 128 characters of lower-case
	// letters, digits and ".", "_", ":" and "-", starting with a letter (the
	// characters a keystore name allows, since keys are stored under it).
	// Users are "user:<name>", models "model:<id>"; agencies and servers
	// have no ":".
	Name string
	Kind PrincipalKind
	// Agency is the agency the principal belongs to or acts for, e.g.
	// "procuratorate.411528"; empty if none. Same characters as Name,
	// without ":".
	Agency string
	// Roles, sorted and without repeats.
	Roles []Role
	// Status is StatusActive when registered with it empty.
	Status PrincipalStatus
	// DisplayName is a label for people, such as an agency's or an office's
	// name; at most 200 characters, no control characters.
	DisplayName string
	// Created and Updated are set by the store.
	Created, Updated time.Time
}

// PrincipalQuery selects principals; empty fields select all.
type PrincipalQuery struct {
	Kind   PrincipalKind
	Status PrincipalStatus
	Agency string
	Role   Role
}

func validKind(k PrincipalKind) bool {
	switch k {
	case KindAgency, KindUser, KindServer, KindModel:
		return true
	}
	return false
}

func validStatus(s PrincipalStatus) bool { return s == StatusActive || s == StatusDisabled }

func validRole(r Role) bool {
	switch r {
	case RoleRequester, RoleApprover, RoleAuditor, RoleAdmin:
		return true
	}
	return false
}

// checkName checks a principal or agency name's characters.
func checkName(what, name string, colon bool) error {
	if name == "" || len(name) > 128 {
		return fmt.Errorf("%w: %s %q must be 1 to 128 characters", ErrInvalid, what, name)
	}
	if name[0] < 'a' || name[0] > 'z' {
		return fmt.Errorf("%w: %s %q must start with a lower-case letter", ErrInvalid, what, name)
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' || colon && r == ':'
		if !ok {
			return fmt.Errorf("%w: %s %q: character %q not allowed", ErrInvalid, what, name, r)
		}
	}
	return nil
}

// checkPrincipalName checks name, and that its form matches kind.
func checkPrincipalName(name string, kind PrincipalKind) error {
	if err := checkName("principal", name, true); err != nil {
		return err
	}
	prefix := map[PrincipalKind]string{KindUser: "user:", KindModel: "model:"}[kind]
	if prefix == "" {
		if strings.ContainsRune(name, ':') {
			return fmt.Errorf("%w: %s principal %q must not contain ':'", ErrInvalid, kind, name)
		}
		return nil
	}
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok || rest == "" || strings.ContainsRune(rest, ':') {
		return fmt.Errorf("%w: %s principal %q must be %q followed by a name without ':'", ErrInvalid, kind, name, prefix)
	}
	return checkName("principal", rest, false)
}

// normRoles checks roles and returns them sorted without repeats.
func normRoles(roles []Role) ([]Role, error) {
	out := make([]Role, 0, len(roles))
	for _, r := range roles {
		if !validRole(r) {
			return nil, fmt.Errorf("%w: role %q is not requester, approver, auditor or admin", ErrInvalid, r)
		}
		out = append(out, r)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func checkPrincipal(p *Principal) error {
	if !validKind(p.Kind) {
		return fmt.Errorf("%w: principal kind %q is not agency, user, server or model", ErrInvalid, p.Kind)
	}
	if err := checkPrincipalName(p.Name, p.Kind); err != nil {
		return err
	}
	if p.Agency != "" {
		if err := checkName("agency", p.Agency, false); err != nil {
			return err
		}
	}
	if p.Status == "" {
		p.Status = StatusActive
	}
	if !validStatus(p.Status) {
		return fmt.Errorf("%w: principal status %q is not active or disabled", ErrInvalid, p.Status)
	}
	if utf8.RuneCountInString(p.DisplayName) > 200 || !utf8.ValidString(p.DisplayName) ||
		strings.IndexFunc(p.DisplayName, unicode.IsControl) >= 0 {
		return fmt.Errorf("%w: display name of %q: at most 200 characters of valid UTF-8 without control characters", ErrInvalid, p.Name)
	}
	roles, err := normRoles(p.Roles)
	if err != nil {
		return err
	}
	p.Roles = roles
	return nil
}

// RegisterPrincipal stores a new principal and returns it as stored. It
// returns ErrExists if the name is taken and ErrInvalid for a malformed
// record. Principals are never deleted: disable them instead.
func (tx *Tx) RegisterPrincipal(ctx context.Context, p Principal) (Principal, error) {
	if err := checkPrincipal(&p); err != nil {
		return Principal{}, err
	}
	t := now()
	p.Created, p.Updated = t, t
	res, err := tx.tx.ExecContext(ctx, `INSERT INTO principals
        (name, kind, agency, status, display_name, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (name) DO NOTHING`,
		p.Name, string(p.Kind), p.Agency, string(p.Status), p.DisplayName, micros(t), micros(t))
	if err != nil {
		return Principal{}, fmt.Errorf("store: registering principal %s: %w", p.Name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return Principal{}, fmt.Errorf("store: registering principal %s: %w", p.Name, err)
	} else if n == 0 {
		return Principal{}, fmt.Errorf("%w: principal %s", ErrExists, p.Name)
	}
	if err := insertRoles(ctx, tx.tx, p.Name, p.Roles); err != nil {
		return Principal{}, err
	}
	return p, nil
}

func insertRoles(ctx context.Context, q querier, name string, roles []Role) error {
	for _, r := range roles {
		if _, err := q.ExecContext(ctx, "INSERT INTO principal_roles (principal, role) VALUES ($1, $2)", name, string(r)); err != nil {
			return fmt.Errorf("store: roles of %s: %w", name, err)
		}
	}
	return nil
}

// SetPrincipalStatus enables or disables a principal. It returns ErrNotFound
// for an unknown name.
func (tx *Tx) SetPrincipalStatus(ctx context.Context, name string, status PrincipalStatus) error {
	if !validStatus(status) {
		return fmt.Errorf("%w: principal status %q is not active or disabled", ErrInvalid, status)
	}
	return tx.touchPrincipal(ctx, name, "status = $3", string(status))
}

// SetPrincipalRoles replaces a principal's roles. It returns ErrNotFound for
// an unknown name.
func (tx *Tx) SetPrincipalRoles(ctx context.Context, name string, roles []Role) error {
	roles, err := normRoles(roles)
	if err != nil {
		return err
	}
	if err := tx.touchPrincipal(ctx, name, "", nil); err != nil {
		return err
	}
	if _, err := tx.tx.ExecContext(ctx, "DELETE FROM principal_roles WHERE principal = $1", name); err != nil {
		return fmt.Errorf("store: roles of %s: %w", name, err)
	}
	return insertRoles(ctx, tx.tx, name, roles)
}

// touchPrincipal sets updated_at, and set (with its argument as $3) if not
// empty, on the principal name.
func (tx *Tx) touchPrincipal(ctx context.Context, name, set string, arg any) error {
	q := "UPDATE principals SET updated_at = $2 WHERE name = $1"
	args := []any{name, micros(now())}
	if set != "" {
		q = "UPDATE principals SET updated_at = $2, " + set + " WHERE name = $1"
		args = append(args, arg)
	}
	res, err := tx.tx.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("store: updating principal %s: %w", name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: updating principal %s: %w", name, err)
	} else if n == 0 {
		return fmt.Errorf("%w: principal %s", ErrNotFound, name)
	}
	return nil
}

// GetPrincipal returns the principal name, or ErrNotFound.
func (tx *Tx) GetPrincipal(ctx context.Context, name string) (Principal, error) {
	return getPrincipal(ctx, tx.tx, name)
}

// GetPrincipal returns the principal name, or ErrNotFound.
func (db *DB) GetPrincipal(ctx context.Context, name string) (Principal, error) {
	return getPrincipal(ctx, db.r, name)
}

// ListPrincipals returns the principals q selects, by name.
func (tx *Tx) ListPrincipals(ctx context.Context, q PrincipalQuery) ([]Principal, error) {
	return listPrincipals(ctx, tx.tx, q)
}

// ListPrincipals returns the principals q selects, by name.
func (db *DB) ListPrincipals(ctx context.Context, q PrincipalQuery) ([]Principal, error) {
	return listPrincipals(ctx, db.r, q)
}

const principalColumns = "p.name, p.kind, p.agency, p.status, p.display_name, p.created_at, p.updated_at, r.role"

// principalQuery selects principals with their roles, one row per role (a
// principal without roles has one row with a NULL role).
const principalQuery = "SELECT " + principalColumns + `
    FROM principals p LEFT JOIN principal_roles r ON r.principal = p.name`

func getPrincipal(ctx context.Context, q querier, name string) (Principal, error) {
	ps, err := scanPrincipals(q.QueryContext(ctx, principalQuery+" WHERE p.name = $1 ORDER BY r.role", name))
	if err != nil {
		return Principal{}, fmt.Errorf("store: principal %s: %w", name, err)
	}
	if len(ps) == 0 {
		return Principal{}, fmt.Errorf("%w: principal %s", ErrNotFound, name)
	}
	return ps[0], nil
}

func listPrincipals(ctx context.Context, q querier, pq PrincipalQuery) ([]Principal, error) {
	var w where
	if pq.Kind != "" {
		w.add("p.kind = $%d", string(pq.Kind))
	}
	if pq.Status != "" {
		w.add("p.status = $%d", string(pq.Status))
	}
	if pq.Agency != "" {
		w.add("p.agency = $%d", pq.Agency)
	}
	if pq.Role != "" {
		w.add("EXISTS (SELECT 1 FROM principal_roles x WHERE x.principal = p.name AND x.role = $%d)", string(pq.Role))
	}
	ps, err := scanPrincipals(q.QueryContext(ctx, principalQuery+w.String()+" ORDER BY p.name, r.role", w.args...))
	if err != nil {
		return nil, fmt.Errorf("store: listing principals: %w", err)
	}
	return ps, nil
}

// scanPrincipals folds the rows of principalQuery, ordered by name, into
// principals.
func scanPrincipals(rows *sql.Rows, err error) ([]Principal, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ps []Principal
	for rows.Next() {
		var (
			p                Principal
			kind, status     string
			created, updated int64
			role             sql.NullString
		)
		if err := rows.Scan(&p.Name, &kind, &p.Agency, &status, &p.DisplayName, &created, &updated, &role); err != nil {
			return nil, err
		}
		if n := len(ps); n == 0 || ps[n-1].Name != p.Name {
			p.Kind, p.Status = PrincipalKind(kind), PrincipalStatus(status)
			p.Created, p.Updated = fromMicros(created), fromMicros(updated)
			p.Roles = []Role{}
			ps = append(ps, p)
		}
		if role.Valid {
			last := &ps[len(ps)-1]
			last.Roles = append(last.Roles, Role(role.String))
		}
	}
	return ps, rows.Err()
}

// where builds a WHERE clause with numbered placeholders.
type where struct {
	conds []string
	args  []any
}

// add appends a condition; its one "%d" becomes the argument's number.
func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, fmt.Sprintf(cond, len(w.args)))
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// notFound turns sql.ErrNoRows into ErrNotFound about what.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	return fmt.Errorf("store: %s: %w", what, err)
}
