// Package push is the gateway's push pipeline: the gateway.Pusher that takes
// a batch the gateway has authenticated and policy has allowed, and stores it
// or refuses it whole.
//
// The steps follow docs/api.md and the push flow of the design, in this
// order: open the envelope (sealed to the gateway's encryption key, signed by
// one of the caller's active signing certificates, naming the request's
// dataset and batch ID) → parse the BatchPayload (the schema's fields, size
// limits) → validate every row with the schema, rejecting the batch whole and
// recording every bad row if any is invalid → answer a repeat of a committed
// batch with its record → keep the envelope as evidence → insert the rows
// into the warehouse, invisible → insert and commit the batch record (and its
// audit entry, through Config.Audit) in one state-store transaction → make the
// rows visible. The warehouse and the state store are two databases: if the
// gateway stops between the warehouse insert and the commit, the rows stay
// invisible and Recover removes them at the next start.
//
// It is not the transport, the authentication or the policy (package
// gateway does those before calling it), and it does not define the audit
// entry: it calls Config.Audit inside the transaction that records the batch.
package push

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/envelope"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/crypto/sm3"
	"github.com/qiao-exchange/qiao/gateway"
	"github.com/qiao-exchange/qiao/gateway/authn"
	"github.com/qiao-exchange/qiao/gateway/rpcerr"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/store"
	"github.com/qiao-exchange/qiao/store/evidence"
	"github.com/qiao-exchange/qiao/store/warehouse"
)

// ContentType is the media type a pushed envelope's associated data must
// name: the payload is a BatchPayload's protobuf encoding.
const ContentType = "application/x-protobuf; proto=qiao.exchange.v1.BatchPayload"

const (
	// DefaultMaxRows is the most rows a batch holds unless Config.MaxRows
	// says otherwise.
	DefaultMaxRows = 100_000
	// MaxValueBytes is the longest value of a row, in bytes.
	MaxValueBytes = 4096
)

// Store is what the pipeline reads and writes in the state store.
type Store interface {
	// GetBatch returns the batch key names, or an error wrapping
	// store.ErrNotFound.
	GetBatch(ctx context.Context, key store.BatchKey) (store.Batch, error)
	// ResolveKey returns the certificate of a principal's key, or an error
	// wrapping store.ErrNotFound.
	ResolveKey(ctx context.Context, principal, keyID string) (store.Certificate, error)
	// InTx runs fn in one transaction, committed if fn returns nil.
	InTx(ctx context.Context, fn func(tx *store.Tx) error) error
}

// Evidence keeps received envelopes.
type Evidence interface {
	Put(ctx context.Context, data []byte) (evidence.Ref, error)
}

// Warehouse keeps the rows of committed batches.
type Warehouse interface {
	InsertBatch(ctx context.Context, key warehouse.BatchKey, rows [][]string) (inserted bool, err error)
	MakeVisible(ctx context.Context, key warehouse.BatchKey) error
}

var (
	_ Store     = (*store.DB)(nil)
	_ Evidence  = (*evidence.Store)(nil)
	_ Warehouse = (*warehouse.Warehouse)(nil)
)

// AuditFunc appends the audit entry of a push inside the state-store
// transaction that records its batch, so that the record and its entry
// commit together or not at all. b is the batch as recorded: committed, or
// rejected with its bad rows. An error rolls the transaction back and the
// push is refused.
type AuditFunc func(ctx context.Context, tx *store.Tx, p gateway.Push, b store.Batch) error

// Config is what a Pusher is made of.
type Config struct {
	// Store is the state store.
	Store Store
	// Evidence keeps the envelopes.
	Evidence Evidence
	// Warehouse keeps the rows.
	Warehouse Warehouse
	// Key is the gateway's SM2 encryption key: pushed envelopes are sealed
	// to it.
	Key *sm2.PrivateKey
	// Roots are the SM2 roots that a sender's signing certificate must
	// chain to.
	Roots []*ca.Certificate
	// Audit appends the audit entry of each recorded batch; nil appends
	// none.
	Audit AuditFunc
	// MaxRows is the most rows a batch may hold; DefaultMaxRows when zero.
	MaxRows int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives the pipeline's log; nil discards it.
	Logger *slog.Logger
	// Registerer takes the pipeline's metrics (qiao_push_*); nil registers
	// them nowhere.
	Registerer prometheus.Registerer
	// Published, if set, is called with a batch's dataset once its rows
	// are visible (the supervision models that read it are then due). It
	// must not block.
	Published func(dataset string)
}

// Pusher implements gateway.Pusher. It is safe for concurrent use.
type Pusher struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics

	mu   sync.Mutex
	keys map[string]*sm2.PublicKey // verified signing certificates' keys, by fingerprint
}

var _ gateway.Pusher = (*Pusher)(nil)

// maxCachedKeys bounds the cache of verified keys; it is emptied when full.
const maxCachedKeys = 4096

// New returns a Pusher over cfg.
func New(cfg Config) (*Pusher, error) {
	switch {
	case cfg.Store == nil, cfg.Evidence == nil, cfg.Warehouse == nil:
		return nil, errors.New("push: Store, Evidence and Warehouse are required")
	case cfg.Key == nil:
		return nil, errors.New("push: the gateway's encryption key is required")
	case len(cfg.Roots) == 0:
		return nil, errors.New("push: no trusted SM2 roots")
	case cfg.MaxRows < 0:
		return nil, errors.New("push: negative MaxRows")
	}
	if cfg.MaxRows == 0 {
		cfg.MaxRows = DefaultMaxRows
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Pusher{cfg: cfg, log: cfg.Logger, metrics: m, keys: map[string]*sm2.PublicKey{}}, nil
}

// PushBatch implements gateway.Pusher.
func (p *Pusher) PushBatch(ctx context.Context, in gateway.Push) (store.Batch, bool, error) {
	start := p.cfg.Now()
	if in.Caller == nil || in.Dataset == nil {
		return store.Batch{}, false, errors.New("push: no caller or dataset")
	}
	b, created, err := p.push(ctx, in, start)
	var result string
	var ie *rpcerr.InvalidError
	switch {
	case err == nil && created:
		result = resultCommitted
	case err == nil:
		result = resultRepeated
	case errors.As(err, &ie) && isRowRejection(ie):
		result = resultRejected
	case errors.As(err, &ie), errors.Is(err, store.ErrConflict),
		errors.Is(err, rpcerr.ErrFailedPrecondition), errors.Is(err, rpcerr.ErrResourceExhausted):
		result = resultRefused
	default:
		result = resultFailed
	}
	p.metrics.observe(result, b.Rows, p.cfg.Now().Sub(start))
	return b, created, err
}

// isRowRejection reports whether ie rejects a batch for its rows.
func isRowRejection(ie *rpcerr.InvalidError) bool {
	return len(ie.Violations) > 0 && strings.HasPrefix(ie.Violations[0].Field, "rows[")
}

// push runs the pipeline.
func (p *Pusher) push(ctx context.Context, in gateway.Push, start time.Time) (store.Batch, bool, error) {
	key := store.BatchKey{Dataset: in.Dataset.ID, Principal: in.Caller.Principal, ID: in.BatchID}

	raw, payload, err := p.open(ctx, in)
	if err != nil {
		return store.Batch{}, false, err
	}
	rows, err := p.parse(in, payload)
	if err != nil {
		return store.Batch{}, false, err
	}
	base := store.Batch{
		BatchKey:    key,
		Rows:        int64(len(rows)),
		EnvelopeSM3: sm3.SumHex(raw),
		ContentSM3:  sm3.SumHex(payload),
	}
	canonical, bad := validate(in, rows)
	if len(bad) > 0 {
		return store.Batch{}, false, p.reject(ctx, in, base, bad)
	}

	// A repeat of a committed batch answers with its record.
	switch old, err := p.cfg.Store.GetBatch(ctx, key); {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return store.Batch{}, false, fmt.Errorf("push: batch %s: %w", key, err)
	case old.State == store.BatchCommitted && old.ContentSM3 == base.ContentSM3:
		p.publish(ctx, key)
		p.logPushed(ctx, in, old, false, start)
		return old, false, nil
	case old.State == store.BatchCommitted:
		return store.Batch{}, false, rpcerr.WithMessage(
			fmt.Errorf("push: %w: batch %s was committed before with other content", store.ErrConflict, key),
			"this batch ID was pushed before with other content; push new content under a new batch ID")
	}

	ref, err := p.cfg.Evidence.Put(ctx, raw)
	if err != nil {
		return store.Batch{}, false, fmt.Errorf("push: keeping the envelope of batch %s: %w", key, err)
	}
	whKey := warehouse.BatchKey{Dataset: key.Dataset, Principal: key.Principal, ID: key.ID}
	if _, err := p.cfg.Warehouse.InsertBatch(ctx, whKey, canonical); err != nil {
		if errors.Is(err, warehouse.ErrBatchConflict) {
			// Rows of an earlier push of this batch ID with other content
			// wait, invisible, for the start-up recovery to remove them.
			return store.Batch{}, false, rpcerr.WithMessage(
				fmt.Errorf("push: %w: batch %s: %w", rpcerr.ErrFailedPrecondition, key, err),
				"an unfinished push of this batch ID with other content is pending; push under a new batch ID")
		}
		return store.Batch{}, false, fmt.Errorf("push: storing the rows of batch %s: %w", key, err)
	}

	rec := base
	rec.State, rec.EvidenceRef = store.BatchReceived, ref.String()
	var (
		stored  store.Batch
		created bool
	)
	err = p.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		b, ok, err := tx.InsertBatch(ctx, rec)
		if err != nil {
			return err
		}
		if !ok && b.State == store.BatchCommitted {
			// A concurrent push of the same batch committed it first.
			stored, created = b, false
			return nil
		}
		if b, err = tx.CommitBatch(ctx, key); err != nil {
			return err
		}
		if p.cfg.Audit != nil {
			if err := p.cfg.Audit(ctx, tx, in, b); err != nil {
				return fmt.Errorf("appending the audit entry: %w", err)
			}
		}
		stored, created = b, true
		return nil
	})
	if err != nil {
		// The rows stay invisible; a retry of the same batch commits them,
		// and the start-up recovery removes them otherwise.
		return store.Batch{}, false, fmt.Errorf("push: committing batch %s: %w", key, err)
	}
	p.publish(ctx, key)
	p.logPushed(ctx, in, stored, created, start)
	return stored, created, nil
}

// open resolves the sender's key, opens the envelope and checks its
// associated data against the request. It returns the envelope's wire bytes
// and the payload.
func (p *Pusher) open(ctx context.Context, in gateway.Push) (raw, payload []byte, err error) {
	raw, err = envelope.Marshal(in.Envelope)
	if err != nil {
		return nil, nil, envelopeError(err)
	}
	sender, err := p.senderKey(ctx, in)
	if err != nil {
		return nil, nil, err
	}
	ad, payload, err := envelope.Open(in.Envelope, p.cfg.Key, sender)
	if err != nil {
		return nil, nil, envelopeError(err)
	}
	var vs []rpcerr.Violation
	if ad.Dataset != in.Dataset.ID {
		vs = append(vs, rpcerr.Violation{Field: "envelope", Description: "its associated data names another dataset than the request"})
	}
	if ad.BatchID != in.BatchID {
		vs = append(vs, rpcerr.Violation{Field: "envelope", Description: "its associated data names another batch ID than the request"})
	}
	if ad.ContentType != ContentType {
		vs = append(vs, rpcerr.Violation{Field: "envelope", Description: "its content type must be " + strconv.Quote(ContentType)})
	}
	if len(vs) > 0 {
		return nil, nil, rpcerr.Invalid(vs...)
	}
	return raw, payload, nil
}

// senderKey returns the public key of the caller's active signing
// certificate that the envelope names. The key ID is read from the content
// before the signature is checked, only to choose the key to check it with.
func (p *Pusher) senderKey(ctx context.Context, in gateway.Push) (*sm2.PublicKey, error) {
	var c exchangev1.EnvelopeContent
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(in.Envelope.GetContent(), &c); err != nil || c.GetSenderKeyId() == "" {
		return nil, rpcerr.InvalidField("envelope", "malformed: the content names no sender key (docs/envelope.md)", err)
	}
	notCallers := func(format string, args ...any) error {
		return rpcerr.InvalidField("envelope", "not signed with an active signing certificate of the caller",
			fmt.Errorf("push: sender key %s of %s: "+format, append([]any{c.SenderKeyId, in.Caller.Principal}, args...)...))
	}
	cert, err := p.cfg.Store.ResolveKey(ctx, in.Caller.Principal, c.SenderKeyId)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, notCallers("no certificate")
	case err != nil:
		return nil, fmt.Errorf("push: resolving the sender's key: %w", err)
	case cert.Purpose != store.PurposeSign:
		return nil, notCallers("not a signing certificate")
	case !cert.ValidAt(p.cfg.Now()):
		return nil, notCallers("certificate %s or outside its validity", cert.Status)
	}
	p.mu.Lock()
	k, ok := p.keys[cert.Fingerprint]
	p.mu.Unlock()
	if ok {
		return k, nil
	}
	parsed, err := ca.ParseCertificatePEM(cert.PEM)
	if err != nil {
		return nil, fmt.Errorf("push: registered certificate %s: %w", cert.Fingerprint, err)
	}
	id, err := ca.Verify(parsed, p.cfg.Roots, ca.PurposeSign, p.cfg.Now())
	if err != nil {
		return nil, notCallers("certificate %s: %w", cert.Fingerprint, err)
	}
	if id.Principal != in.Caller.Principal {
		return nil, notCallers("certificate %s names another principal", cert.Fingerprint)
	}
	k = parsed.PublicKey()
	p.mu.Lock()
	if len(p.keys) >= maxCachedKeys {
		clear(p.keys)
	}
	p.keys[cert.Fingerprint] = k
	p.mu.Unlock()
	return k, nil
}

// envelopeError maps an error of crypto/envelope to the refusal the client
// sees. The descriptions name no key or value beyond what the client sent.
func envelopeError(err error) error {
	var desc string
	switch {
	case errors.Is(err, envelope.ErrTooLarge):
		return rpcerr.WithMessage(fmt.Errorf("push: %w: %w", rpcerr.ErrResourceExhausted, err),
			"the envelope is too large; split the data into smaller batches")
	case errors.Is(err, envelope.ErrUnsupportedVersion):
		desc = "unsupported version; the gateway opens version " + strconv.Itoa(envelope.Version)
	case errors.Is(err, envelope.ErrBadSignature), errors.Is(err, envelope.ErrWrongSender):
		desc = "the signature does not verify with the caller's signing key the envelope names"
	case errors.Is(err, envelope.ErrWrongRecipient):
		desc = "sealed to another recipient; seal to the gateway's current encryption certificate"
	case errors.Is(err, envelope.ErrDecrypt):
		desc = "the data key or the payload does not decrypt"
	case errors.Is(err, envelope.ErrMalformed):
		desc = "malformed (docs/envelope.md)"
	default:
		return fmt.Errorf("push: opening the envelope: %w", err)
	}
	return rpcerr.InvalidField("envelope", desc, err)
}

// parse decodes the payload and checks its fields and size.
func (p *Pusher) parse(in gateway.Push, payload []byte) ([][]string, error) {
	var bp exchangev1.BatchPayload
	if err := proto.Unmarshal(payload, &bp); err != nil {
		return nil, rpcerr.InvalidField("payload", "not a BatchPayload's protobuf encoding", err)
	}
	if len(bp.ProtoReflect().GetUnknown()) > 0 {
		return nil, rpcerr.InvalidField("payload", "holds fields BatchPayload does not define", nil)
	}
	fields := in.Dataset.Fields
	ok := len(bp.Fields) == len(fields)
	for i := 0; ok && i < len(fields); i++ {
		ok = bp.Fields[i] == fields[i].Name
	}
	if !ok {
		return nil, rpcerr.InvalidField("payload.fields",
			"must be the "+strconv.Itoa(len(fields))+" canonical field names of "+in.Dataset.ID+", in the schema's order", nil)
	}
	switch n := len(bp.Rows); {
	case n == 0:
		return nil, rpcerr.InvalidField("payload.rows", "no rows", nil)
	case n > p.cfg.MaxRows:
		return nil, rpcerr.InvalidField("payload.rows",
			"more than "+strconv.Itoa(p.cfg.MaxRows)+" rows; split the data into smaller batches", nil)
	}
	rows := make([][]string, len(bp.Rows))
	for i, r := range bp.Rows {
		rows[i] = r.GetValues()
	}
	return rows, nil
}

// validate normalises every row and reports every error of every row.
func validate(in gateway.Push, rows [][]string) (canonical [][]string, bad []store.RejectedRow) {
	canonical = make([][]string, len(rows))
	for i, values := range rows {
		n := int64(i + 1)
		var long bool
		for j, v := range values {
			if len(v) > MaxValueBytes && j < len(in.Dataset.Fields) {
				bad = append(bad, store.RejectedRow{Row: n, Field: in.Dataset.Fields[j].Name,
					Reason: "longer than " + strconv.Itoa(MaxValueBytes) + " bytes"})
				long = true
			}
		}
		if long {
			continue
		}
		out, errs := in.Dataset.ValidateRow(values)
		for _, e := range errs {
			bad = append(bad, store.RejectedRow{Row: n, Field: e.Field, Reason: e.Reason})
		}
		canonical[i] = out
	}
	return canonical, bad
}

// reject records a batch rejected for its rows and returns the refusal,
// with one violation per bad field. The record lists every bad row, so that
// GetBatch shows them all.
func (p *Pusher) reject(ctx context.Context, in gateway.Push, base store.Batch, bad []store.RejectedRow) error {
	vs := make([]rpcerr.Violation, len(bad))
	var badRows int64
	var last int64 = -1
	for i, r := range bad {
		vs[i] = rpcerr.RowViolation(r.Row, r.Field, r.Reason)
		if r.Row != last {
			badRows, last = badRows+1, r.Row
		}
	}
	refusal := &rpcerr.InvalidError{Violations: vs,
		Err: fmt.Errorf("push: batch %s: %d of %d rows invalid", base.BatchKey, badRows, base.Rows)}

	rec := base
	rec.State, rec.RejectedRows, rec.Rejected = store.BatchRejected, badRows, bad
	err := p.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		b, _, err := tx.InsertBatch(ctx, rec)
		if err != nil {
			return err
		}
		if p.cfg.Audit != nil {
			if err := p.cfg.Audit(ctx, tx, in, b); err != nil {
				return fmt.Errorf("appending the audit entry: %w", err)
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		// The batch ID holds a committed batch: it stays as it is, and
		// the invalid rows are still reported.
		p.log.LogAttrs(ctx, slog.LevelInfo, "invalid batch not recorded: its ID holds a committed batch",
			slog.String("principal", authn.LogName(in.Caller.Principal)), slog.String("dataset", in.Dataset.ID))
	case err != nil:
		return fmt.Errorf("push: recording rejected batch %s: %w", base.BatchKey, err)
	}
	p.log.LogAttrs(ctx, slog.LevelInfo, "batch rejected",
		slog.String("principal", authn.LogName(in.Caller.Principal)), slog.String("dataset", in.Dataset.ID),
		slog.String("batch_id", in.BatchID), slog.Int64("rows", base.Rows), slog.Int64("rejected_rows", badRows),
		slog.Int("errors", len(bad)))
	return refusal
}

// publish makes a committed batch's rows visible. A failure is logged, not
// returned: the batch is committed, and the start-up recovery (or the next
// push of the same batch) publishes its rows.
func (p *Pusher) publish(ctx context.Context, key store.BatchKey) {
	err := p.cfg.Warehouse.MakeVisible(ctx, warehouse.BatchKey{Dataset: key.Dataset, Principal: key.Principal, ID: key.ID})
	if err != nil {
		p.log.LogAttrs(ctx, slog.LevelError, "committed batch not yet visible; the next start publishes it",
			slog.String("principal", authn.LogName(key.Principal)), slog.String("dataset", key.Dataset),
			slog.String("batch_id", key.ID), slog.String("error", err.Error()))
		return
	}
	if p.cfg.Published != nil {
		p.cfg.Published(key.Dataset)
	}
}

func (p *Pusher) logPushed(ctx context.Context, in gateway.Push, b store.Batch, created bool, start time.Time) {
	p.log.LogAttrs(ctx, slog.LevelInfo, "batch pushed",
		slog.String("principal", authn.LogName(in.Caller.Principal)), slog.String("dataset", b.Dataset),
		slog.String("batch_id", b.ID), slog.Int64("rows", b.Rows), slog.Bool("created", created),
		slog.Duration("took", p.cfg.Now().Sub(start)))
}

// Recover is the start-up recovery of the push pipeline: every batch still
// invisible in the warehouse is published if the state store committed it
// and removed otherwise. Call it before the gateway accepts pushes.
func Recover(ctx context.Context, db interface {
	GetBatch(ctx context.Context, key store.BatchKey) (store.Batch, error)
}, wh *warehouse.Warehouse) (warehouse.Recovery, error) {
	return wh.RemoveInvisible(ctx, func(k warehouse.BatchKey) (bool, error) {
		b, err := db.GetBatch(ctx, store.BatchKey{Dataset: k.Dataset, Principal: k.Principal, ID: k.ID})
		switch {
		case errors.Is(err, store.ErrNotFound):
			return false, nil
		case err != nil:
			return false, err
		}
		return b.State == store.BatchCommitted, nil
	})
}
