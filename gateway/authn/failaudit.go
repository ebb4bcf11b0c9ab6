package authn

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/qiao-exchange/qiao/audit"
	"github.com/qiao-exchange/qiao/crypto/reqsig"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/store"
)

// UnknownPrincipal is the actor of an auth.failed entry whose request
// claimed no registered principal. What such a request claimed is not
// recorded: it is whatever the sender typed, possibly personal data.
const UnknownPrincipal = "unknown"

// failureAudit bounds the auth.failed entries, so that a flood of bad
// requests cannot flood the audit log. The rule, per claimed principal (a
// registered name, or UnknownPrincipal) and reason:
//
//   - a window opens at the first failure and lasts one minute;
//   - the first per failures of a window are each recorded;
//   - the others are not, but counted;
//   - the first entry recorded for the same principal and reason after
//     that carries the count as the reason "suppressed=N".
//
// Every failure is counted in qiao_auth_failures_total whether recorded or
// not, and the ones left out in qiao_auth_failure_audits_suppressed_total.
type failureAudit struct {
	per int
	mu  sync.Mutex
	m   map[failureKey]*failureWindow
}

type failureKey struct{ principal, reason string }

type failureWindow struct {
	start      time.Time
	recorded   int
	suppressed int
}

// auditTimeout bounds the write of one auth.failed entry.
const auditTimeout = 5 * time.Second

// failureWindowLength is how long one rate window lasts.
const failureWindowLength = time.Minute

// maxFailureWindows bounds the windows kept; when full, the ended ones are
// dropped (their unreported suppressed counts stay in the metric only).
const maxFailureWindows = 4096

// admit reports whether a failure of k at now is recorded, and if so how
// many failures of k were left out since the last one recorded.
func (f *failureAudit) admit(k failureKey, now time.Time) (bool, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w, ok := f.m[k]
	if !ok {
		if len(f.m) >= maxFailureWindows {
			for key, old := range f.m {
				if now.Sub(old.start) >= failureWindowLength {
					delete(f.m, key)
				}
			}
		}
		w = &failureWindow{start: now}
		f.m[k] = w
	}
	if now.Sub(w.start) >= failureWindowLength || now.Before(w.start) {
		w.start, w.recorded = now, 0
	}
	if w.recorded >= f.per {
		w.suppressed++
		return false, 0
	}
	w.recorded++
	carried := w.suppressed
	w.suppressed = 0
	return true, carried
}

// restore adds back a suppressed count that an entry failed to carry.
func (f *failureAudit) restore(k failureKey, n int) {
	if n == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if w, ok := f.m[k]; ok {
		w.suppressed += n
	}
}

// auditFailure records a failed authentication in the audit log, within the
// rate of failureAudit, in its own transaction. The call is refused
// whatever happens here; a failed append is logged.
func (a *Authenticator) auditFailure(ctx context.Context, transport, method string, req reqsig.Request, r *resolved, f *Error) {
	if a.audit == nil {
		return
	}
	k := failureKey{principal: a.claimed(ctx, req.Headers, r), reason: f.Reason}
	ok, carried := a.audits.admit(k, a.now())
	if !ok {
		a.unaudited.Inc()
		return
	}
	target := method
	if transport == TransportREST {
		target = method + " " + routeShape(req.Path)
	}
	reasons := []string{"transport=" + transport, "method=" + target}
	if carried > 0 {
		reasons = append(reasons, "suppressed="+strconv.Itoa(carried))
	}
	e := audit.Entry{
		Actor:    audit.Actor{Principal: k.principal},
		Action:   audit.ActionAuthFailed,
		Decision: audit.Decision{Effect: audit.Deny, Reasons: reasons},
		Result:   audit.Result{Status: audit.StatusError, Code: f.Reason},
	}
	// The refusal is recorded even if the caller has gone away.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	err := a.store.InTx(ctx, func(tx *store.Tx) error {
		_, err := a.audit.Append(ctx, tx, e)
		return err
	})
	if err != nil {
		a.audits.restore(k, carried)
		a.log.LogAttrs(ctx, slog.LevelError, "failed authentication not recorded in the audit log",
			slog.String("transport", transport), slog.String("reason", f.Reason), slog.String("error", err.Error()))
	}
}

// claimed returns the principal a failed request claimed if it is
// registered, else UnknownPrincipal. The key resolver has usually looked it
// up already; otherwise (a failure before the key was resolved) it is
// looked up here.
func (a *Authenticator) claimed(ctx context.Context, h reqsig.Headers, r *resolved) string {
	name := h.Principal
	switch {
	case name == "" || len(name) > 128:
		return UnknownPrincipal
	case r.looked:
		if r.known {
			return name
		}
		return UnknownPrincipal
	}
	if _, err := a.store.GetPrincipal(ctx, name); err != nil {
		return UnknownPrincipal
	}
	return name
}

// routeShape returns the path of a REST request target with its query
// dropped and every path segment (or ":verb" part) that is not a literal of
// the API's routes replaced by "*": /v1/principals/user:alice/status
// becomes /v1/principals/*/status. Path parameters and anything else a
// sender typed never reach the audit log.
func routeShape(target string) string {
	path, _, _ := strings.Cut(target, "?")
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	const maxSegs = 8
	if len(segs) > maxSegs {
		segs = append(segs[:maxSegs], "…")
	}
	words := routeWords()
	for i, seg := range segs {
		if seg == "…" && i == maxSegs {
			continue
		}
		parts := strings.Split(seg, ":")
		for j, p := range parts {
			if !words[p] {
				parts[j] = "*"
			}
		}
		segs[i] = strings.Join(parts, ":")
	}
	return "/" + strings.Join(segs, "/")
}

// routeWords are the literal words of the API's REST routes, read once
// from the google.api.http options of its services.
var routeWords = sync.OnceValue(func() map[string]bool {
	words := map[string]bool{}
	add := func(pattern string) {
		for seg := range strings.SplitSeq(pattern, "/") {
			for p := range strings.SplitSeq(seg, ":") {
				if p != "" && !strings.ContainsAny(p, "{}*=") {
					words[p] = true
				}
			}
		}
	}
	var rule func(*annotations.HttpRule)
	rule = func(h *annotations.HttpRule) {
		for _, p := range []string{h.GetGet(), h.GetPost(), h.GetPut(), h.GetPatch(), h.GetDelete(), h.GetCustom().GetPath()} {
			add(p)
		}
		for _, b := range h.GetAdditionalBindings() {
			rule(b)
		}
	}
	for _, fd := range []protoreflect.FileDescriptor{
		exchangev1.File_qiao_exchange_v1_access_proto,
		exchangev1.File_qiao_exchange_v1_catalogue_proto,
		exchangev1.File_qiao_exchange_v1_datasets_proto,
		exchangev1.File_qiao_exchange_v1_directory_proto,
	} {
		for i := range fd.Services().Len() {
			ms := fd.Services().Get(i).Methods()
			for j := range ms.Len() {
				if h, ok := proto.GetExtension(ms.Get(j).Options(), annotations.E_Http).(*annotations.HttpRule); ok {
					rule(h)
				}
			}
		}
	}
	return words
})
