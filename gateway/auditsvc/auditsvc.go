// Package auditsvc is the gateway's Audit service: the audit log served to
// auditors — entries by filter, one entry with its inclusion proof, the
// latest signed checkpoint and consistency proofs.
//
// Who may call it is policy's audit.read decision (the default bundle: the
// auditor role), or without a policy the auditor role; any other caller,
// admins included, is refused with PERMISSION_DENIED, and a refusal by
// policy is itself recorded. Every successful read is
// itself recorded as an audit.read entry, in its own store transaction,
// before the answer is returned: if that entry cannot be appended the call
// fails and nothing is returned. The log's resource kinds name no part of
// the log itself, so the entry has no resource: its reasons say what was
// read ("read entries", "read entry/12", "read checkpoint", "read
// consistency/4/9") and, for a query, the filter; of an identifier token
// they keep only the first eight hex digits.
//
// It is not the audit log (package audit) nor its verifier: auditors verify
// proofs and checkpoints themselves.
package auditsvc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/qiao-exchange/qiao/audit"
	"github.com/qiao-exchange/qiao/audit/merkle"
	"github.com/qiao-exchange/qiao/crypto/fieldcrypt"
	"github.com/qiao-exchange/qiao/gateway/authn"
	"github.com/qiao-exchange/qiao/gateway/rpcerr"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/policy"
	"github.com/qiao-exchange/qiao/schema"
	"github.com/qiao-exchange/qiao/store"
)

// Log is what the service reads from and appends to the audit log;
// *audit.Log is one.
type Log interface {
	Query(ctx context.Context, f audit.Filter) ([]audit.Entry, error)
	Entry(ctx context.Context, seq uint64) (audit.Entry, []byte, audit.Proof, error)
	Checkpoint(ctx context.Context) (audit.SignedCheckpoint, error)
	ConsistencyProof(ctx context.Context, size1, size2 uint64) ([]merkle.Hash, error)
	// Append appends an entry inside tx; an error must fail tx.
	Append(ctx context.Context, tx audit.Tx, e audit.Entry) (uint64, error)
	// Export writes the entries logged in [from, to) with a checkpoint
	// covering the newest and their inclusion proofs (audit.Export).
	Export(ctx context.Context, from, to time.Time, w io.Writer) (audit.ExportSummary, error)
}

// Tokens computes the HMAC-SM3 token of an identifier in a domain;
// *fieldcrypt.Keys is one.
type Tokens interface {
	Token(domain, value string) string
}

var _ Tokens = (*fieldcrypt.Keys)(nil)

var _ Log = (*audit.Log)(nil)

// Store runs the transactions the audit.read entries are appended in;
// *store.DB is one.
type Store interface {
	// InTx runs fn in a read-write transaction, committed if fn returns nil.
	InTx(ctx context.Context, fn func(tx *store.Tx) error) error
}

var _ Store = (*store.DB)(nil)

// Service implements exchangev1.AuditServer.
type Service struct {
	exchangev1.UnimplementedAuditServer
	log    Log
	store  Store
	tokens Tokens
	policy Policy
	slog   *slog.Logger
	// maxExport bounds an export's size, in bytes.
	maxExport int
}

var _ exchangev1.AuditServer = (*Service)(nil)

// Config is what the service is made of.
type Config struct {
	// Log is the audit log; Store runs the transactions of audit.read
	// entries. Both are required.
	Log   Log
	Store Store
	// Tokens computes identifiers' tokens for ComputeToken, which answers
	// UNAVAILABLE without it.
	Tokens Tokens
	// MaxExport bounds an export's size in bytes: the gateway's message
	// limit. 64 MiB when 0.
	MaxExport int
	// Policy decides who reads the log (action audit.read); without it,
	// holders of the auditor role do.
	Policy Policy
	// Logger receives one line per read; nil discards them.
	Logger *slog.Logger
}

// Policy decides; *policy.Engine is one.
type Policy interface {
	Decide(ctx context.Context, in policy.Input) (policy.Decision, error)
}

// New returns the service cfg describes.
func New(cfg Config) (*Service, error) {
	if cfg.Log == nil || cfg.Store == nil {
		return nil, errors.New("auditsvc: Log and Store are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxExport <= 0 {
		cfg.MaxExport = 64 << 20
	}
	return &Service{log: cfg.Log, store: cfg.Store, tokens: cfg.Tokens, policy: cfg.Policy, slog: cfg.Logger, maxExport: cfg.MaxExport}, nil
}

// QueryEntries implements exchangev1.AuditServer.
func (s *Service) QueryEntries(ctx context.Context, req *exchangev1.QueryEntriesRequest) (*exchangev1.QueryEntriesResponse, error) {
	caller, err := s.authorize(ctx)
	if err != nil {
		return nil, err
	}
	f, reasons, err := filterFromProto(req)
	if err != nil {
		return nil, err
	}
	entries, err := s.log.Query(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("auditsvc: query: %w", err)
	}
	out := &exchangev1.QueryEntriesResponse{Entries: make([]*exchangev1.AuditEntry, 0, len(entries)), NextSeq: req.GetStartSeq()}
	for _, e := range entries {
		enc, err := e.Encode()
		if err != nil {
			return nil, fmt.Errorf("auditsvc: encoding entry %d: %w", e.Seq, err)
		}
		out.Entries = append(out.Entries, entryToProto(e.Seq, enc))
		out.NextSeq = int64(e.Seq) + 1
	}
	reasons = append(reasons, "returned "+strconv.Itoa(len(entries))+" entries")
	if err := s.record(ctx, caller, "entries", reasons); err != nil {
		return nil, err
	}
	return out, nil
}

// GetEntry implements exchangev1.AuditServer.
func (s *Service) GetEntry(ctx context.Context, req *exchangev1.GetEntryRequest) (*exchangev1.GetEntryResponse, error) {
	caller, err := s.authorize(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetSeq() < 0 {
		return nil, rpcerr.InvalidField("seq", "must not be negative", nil)
	}
	seq := uint64(req.GetSeq())
	_, enc, proof, err := s.log.Entry(ctx, seq)
	if err != nil {
		return nil, notFound(fmt.Errorf("auditsvc: entry %d: %w", seq, err), "no such entry")
	}
	out := &exchangev1.GetEntryResponse{
		Entry: entryToProto(seq, enc),
		Proof: &exchangev1.InclusionProof{
			LeafIndex:  int64(proof.Index),
			TreeSize:   int64(proof.Checkpoint.Size),
			Hashes:     hexHashes(proof.Hashes),
			Checkpoint: string(proof.Checkpoint.Note),
		},
	}
	if err := s.record(ctx, caller, "entry/"+strconv.FormatUint(seq, 10),
		[]string{"inclusion proof against tree size " + strconv.FormatUint(proof.Checkpoint.Size, 10)}); err != nil {
		return nil, err
	}
	return out, nil
}

// GetCheckpoint implements exchangev1.AuditServer.
func (s *Service) GetCheckpoint(ctx context.Context, _ *exchangev1.GetCheckpointRequest) (*exchangev1.GetCheckpointResponse, error) {
	caller, err := s.authorize(ctx)
	if err != nil {
		return nil, err
	}
	cp, err := s.log.Checkpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("auditsvc: checkpoint: %w", err)
	}
	out := &exchangev1.GetCheckpointResponse{
		Checkpoint: string(cp.Note),
		TreeSize:   int64(cp.Size),
		RootHash:   merkle.Hash(cp.Hash).String(),
		SignTime:   timestamppb.New(cp.SignedAt),
	}
	if err := s.record(ctx, caller, "checkpoint", []string{"tree size " + strconv.FormatUint(cp.Size, 10)}); err != nil {
		return nil, err
	}
	return out, nil
}

// GetConsistencyProof implements exchangev1.AuditServer.
func (s *Service) GetConsistencyProof(ctx context.Context, req *exchangev1.GetConsistencyProofRequest) (*exchangev1.GetConsistencyProofResponse, error) {
	caller, err := s.authorize(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case req.GetSize1() < 0:
		return nil, rpcerr.InvalidField("size1", "must not be negative", nil)
	case req.GetSize2() < req.GetSize1():
		return nil, rpcerr.InvalidField("size2", "must not be less than size1", nil)
	}
	size1, size2 := uint64(req.GetSize1()), uint64(req.GetSize2())
	p, err := s.log.ConsistencyProof(ctx, size1, size2)
	if err != nil {
		return nil, notFound(fmt.Errorf("auditsvc: consistency proof: %w", err), "the log has not reached size2")
	}
	out := &exchangev1.GetConsistencyProofResponse{Hashes: hexHashes(p)}
	if err := s.record(ctx, caller, "consistency/"+strconv.FormatUint(size1, 10)+"/"+strconv.FormatUint(size2, 10),
		[]string{"consistency proof"}); err != nil {
		return nil, err
	}
	return out, nil
}

// ExportEntries implements exchangev1.AuditServer.
func (s *Service) ExportEntries(ctx context.Context, req *exchangev1.ExportEntriesRequest) (*exchangev1.ExportEntriesResponse, error) {
	caller, err := s.authorize(ctx)
	if err != nil {
		return nil, err
	}
	var from, to time.Time
	var reasons []string
	if t := req.GetStartTime(); t != nil {
		if err := t.CheckValid(); err != nil {
			return nil, rpcerr.InvalidField("start_time", "must be a valid time", err)
		}
		from = t.AsTime()
		reasons = append(reasons, "from "+from.UTC().Format(time.RFC3339Nano))
	}
	if t := req.GetEndTime(); t != nil {
		if err := t.CheckValid(); err != nil {
			return nil, rpcerr.InvalidField("end_time", "must be a valid time", err)
		}
		to = t.AsTime()
		reasons = append(reasons, "to "+to.UTC().Format(time.RFC3339Nano))
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return nil, rpcerr.InvalidField("end_time", "must be after start_time", nil)
	}
	w := &limitedBuffer{max: s.maxExport}
	sum, err := s.log.Export(ctx, from, to, w)
	if errors.Is(err, errExportTooLarge) {
		return nil, rpcerr.WithMessage(fmt.Errorf("auditsvc: export: %w: over %d bytes", rpcerr.ErrResourceExhausted, s.maxExport),
			"the export is larger than the gateway's message limit: narrow the time range")
	}
	if err != nil {
		return nil, fmt.Errorf("auditsvc: export: %w", err)
	}
	reasons = append(reasons, fmt.Sprintf("exported %d entries from %d, checkpoint size %d", sum.Count, sum.First, sum.Checkpoint.Size))
	if err := s.record(ctx, caller, "export", reasons); err != nil {
		return nil, err
	}
	return &exchangev1.ExportEntriesResponse{Export: w.buf.Bytes(), FirstSeq: int64(sum.First), Count: int64(sum.Count)}, nil
}

var errExportTooLarge = errors.New("export too large")

// limitedBuffer is a bytes.Buffer that refuses to grow past max.
type limitedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.buf.Len()+len(p) > b.max {
		return 0, errExportTooLarge
	}
	return b.buf.Write(p)
}

// ComputeToken implements exchangev1.AuditServer.
func (s *Service) ComputeToken(ctx context.Context, req *exchangev1.ComputeTokenRequest) (*exchangev1.ComputeTokenResponse, error) {
	caller, err := s.authorize(ctx)
	if err != nil {
		return nil, err
	}
	if s.tokens == nil {
		return nil, fmt.Errorf("auditsvc: %w: no token keys configured", rpcerr.ErrUnavailable)
	}
	var domain, value string
	switch req.GetKind() {
	case exchangev1.IdentifierKind_IDENTIFIER_KIND_UNSPECIFIED, exchangev1.IdentifierKind_IDENTIFIER_KIND_ID_NUMBER:
		domain = fieldcrypt.DomainIDNumber
		value, err = schema.NormalizeIDNumber(req.GetValue())
	case exchangev1.IdentifierKind_IDENTIFIER_KIND_CREDIT_CODE:
		domain = fieldcrypt.DomainCreditCode
		value, err = schema.NormalizeCreditCode(req.GetValue())
	case exchangev1.IdentifierKind_IDENTIFIER_KIND_NAME:
		domain = fieldcrypt.DomainName
		value = strings.TrimSpace(req.GetValue())
		if value == "" || !utf8.ValidString(value) || utf8.RuneCountInString(value) > 64 {
			err = errors.New("a name is 1 to 64 characters of valid UTF-8")
		}
	default:
		return nil, rpcerr.InvalidField("kind", "must be ID_NUMBER, CREDIT_CODE or NAME", nil)
	}
	if err != nil {
		// The message names the problem, never the value.
		return nil, rpcerr.InvalidField("value", "is not a valid identifier of its kind", err)
	}
	token := s.tokens.Token(domain, value)
	if err := s.recordEntry(ctx, caller, audit.ActionAuditToken, "token",
		[]string{"token of a " + strings.ReplaceAll(domain, "_", " ") + " computed"}, []string{token}); err != nil {
		return nil, err
	}
	return &exchangev1.ComputeTokenResponse{Token: token}, nil
}

// record appends the audit.read entry of a read by caller of what, in its
// own transaction. An error fails the call.
func (s *Service) record(ctx context.Context, caller *reader, what string, details []string) error {
	return s.recordEntry(ctx, caller, audit.ActionAuditRead, what, details, nil)
}

// recordEntry appends an entry of action by caller on the log's what, with
// tokens, in its own transaction. An error fails the call.
func (s *Service) recordEntry(ctx context.Context, caller *reader, action, what string, details, tokens []string) error {
	actor := caller.AuditActor()
	e := audit.Entry{
		Actor:    actor,
		Action:   action,
		Resource: audit.Resource{Kind: audit.KindLog, ID: what},
		Tokens:   tokens,
		Decision: audit.Decision{Effect: audit.Allow, Reasons: append(append(slices.Clone(caller.reasons), "read "+what), details...),
			PolicyRevision: caller.revision},
		Result: audit.Result{Status: audit.StatusOK},
	}
	var seq uint64
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		seq, err = s.log.Append(ctx, tx, e)
		return err
	})
	if err != nil {
		return fmt.Errorf("auditsvc: recording the read of %s: %w", what, err)
	}
	s.slog.LogAttrs(ctx, slog.LevelInfo, "audit log read",
		slog.String("what", what), slog.String("by", authn.LogName(caller.Principal)), slog.Uint64("entry", seq))
	return nil
}

// reader is a caller allowed to read the log, with the decision that
// allowed it.
type reader struct {
	*authn.Caller
	reasons  []string
	revision string
}

// authorize returns the caller if it may read the log: policy's audit.read
// decision when the service has a policy, else the auditor role. A refusal
// by policy is itself recorded.
func (s *Service) authorize(ctx context.Context) (*reader, error) {
	c, ok := authn.FromContext(ctx)
	if !ok {
		return nil, fmt.Errorf("auditsvc: %w: no authenticated caller", rpcerr.ErrUnauthenticated)
	}
	if s.policy == nil {
		if !c.HasRole(store.RoleAuditor) {
			return nil, rpcerr.WithMessage(fmt.Errorf("auditsvc: %w: caller is not an auditor", rpcerr.ErrPermissionDenied), "only auditors read the audit log")
		}
		return &reader{Caller: c, reasons: []string{"the caller holds the auditor role"}}, nil
	}
	in := policy.Input{Subject: c.PolicySubject(), Action: audit.ActionAuditRead, Time: time.Now()}
	d, err := s.policy.Decide(ctx, in)
	if err == nil && d.Allow {
		return &reader{Caller: c, reasons: d.Reasons, revision: d.Revision}, nil
	}
	reasons := d.Reasons
	if len(reasons) == 0 {
		reasons = []string{"policy could not decide"}
	}
	actor := c.AuditActor()
	e := audit.Entry{
		Actor: actor, Action: audit.ActionAuditRead, Resource: audit.Resource{Kind: audit.KindLog, ID: "refused"},
		Decision: audit.Decision{Effect: audit.Deny, Reasons: reasons, PolicyRevision: d.Revision},
		Result:   audit.Result{Status: audit.StatusError, Code: "PERMISSION_DENIED"},
	}
	if aerr := s.store.InTx(ctx, func(tx *store.Tx) error {
		_, err := s.log.Append(ctx, tx, e)
		return err
	}); aerr != nil {
		return nil, fmt.Errorf("auditsvc: recording a refused read: %w", aerr)
	}
	return nil, rpcerr.WithMessage(fmt.Errorf("auditsvc: %w: policy refused %s reading the log: %v", rpcerr.ErrPermissionDenied, c.Principal, err),
		"only auditors read the audit log: "+strings.Join(reasons, "; "))
}

// filterFromProto checks req and returns its filter with the reasons that
// describe it in the audit.read entry.
func filterFromProto(req *exchangev1.QueryEntriesRequest) (audit.Filter, []string, error) {
	var f audit.Filter
	var reasons []string
	switch {
	case req.GetStartSeq() < 0:
		return f, nil, rpcerr.InvalidField("start_seq", "must not be negative", nil)
	case req.GetLimit() < 0 || req.GetLimit() > audit.DefaultQueryLimit:
		return f, nil, rpcerr.InvalidField("limit", "must be 0 to 1000", nil)
	case req.GetDecision() != "" && req.GetDecision() != audit.Allow && req.GetDecision() != audit.Deny:
		return f, nil, rpcerr.InvalidField("decision", `must be "allow" or "deny"`, nil)
	case req.GetToken() != "" && !isToken(req.GetToken()):
		return f, nil, rpcerr.InvalidField("token", "must be 64 lower-case hex digits", nil)
	}
	if t := req.GetStartTime(); t != nil {
		if err := t.CheckValid(); err != nil {
			return f, nil, rpcerr.InvalidField("start_time", "must be a valid time", err)
		}
		f.From = t.AsTime()
		reasons = append(reasons, "from "+f.From.UTC().Format("2006-01-02T15:04:05.000000Z"))
	}
	if t := req.GetEndTime(); t != nil {
		if err := t.CheckValid(); err != nil {
			return f, nil, rpcerr.InvalidField("end_time", "must be a valid time", err)
		}
		f.To = t.AsTime()
		reasons = append(reasons, "to "+f.To.UTC().Format("2006-01-02T15:04:05.000000Z"))
	}
	f.Actor, f.Action, f.Dataset, f.Decision, f.Token = req.GetActor(), req.GetAction(), req.GetDataset(), req.GetDecision(), req.GetToken()
	f.Start, f.Limit = uint64(req.GetStartSeq()), int(req.GetLimit())
	for _, kv := range []struct{ name, v string }{
		{"actor", f.Actor}, {"action", f.Action}, {"dataset", f.Dataset}, {"decision", f.Decision},
	} {
		if kv.v != "" {
			reasons = append(reasons, kv.name+" "+kv.v)
		}
	}
	if f.Token != "" {
		reasons = append(reasons, "token "+f.Token[:8]+"…")
	}
	if f.Start > 0 {
		reasons = append(reasons, "start_seq "+strconv.FormatUint(f.Start, 10))
	}
	if f.Limit > 0 {
		reasons = append(reasons, "limit "+strconv.Itoa(f.Limit))
	}
	return f, reasons, nil
}

func isToken(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
}

// notFound gives err, if it is the log's ErrNotFound, the NOT_FOUND class
// with msg for the client.
func notFound(err error, msg string) error {
	if errors.Is(err, audit.ErrNotFound) {
		return rpcerr.WithMessage(fmt.Errorf("%w: %w", store.ErrNotFound, err), msg)
	}
	return err
}

func entryToProto(seq uint64, enc []byte) *exchangev1.AuditEntry {
	return &exchangev1.AuditEntry{Seq: int64(seq), Encoding: enc, LeafHash: merkle.LeafHash(enc).String()}
}

func hexHashes(hs []merkle.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.String()
	}
	return out
}
