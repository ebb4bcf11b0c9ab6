// Package leads runs the supervision models (leads/models) when the
// datasets they read change, and stores what they find: each new lead in
// the state store with its audit entry and, in the same transaction, its
// signed message in the outbox that leads/forward publishes to Kafka. A
// lead found again is stored once: its ID is the SM3 of its model, version
// and evidence.
//
// It is not a model (leads/models holds them) nor the forwarder.
package leads

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/qiao-exchange/qiao/audit"
	"github.com/qiao-exchange/qiao/crypto/fieldcrypt"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/leads/models"
	"github.com/qiao-exchange/qiao/store"
)

// Topic is the topic lead messages are written to.
const Topic = "qiao.leads.v1"

// Store runs the transactions leads are stored in; *store.DB is one.
type Store interface {
	InTx(ctx context.Context, fn func(tx *store.Tx) error) error
}

// Auditor appends inside the caller's transaction; *audit.Log is one.
type Auditor interface {
	Append(ctx context.Context, tx audit.Tx, e audit.Entry) (uint64, error)
}

// Config is what a Runner is made of. Models, Warehouse, Store, Audit and
// Sign are required.
type Config struct {
	Models    []*models.Model
	Warehouse models.Querier
	Store     Store
	Audit     Auditor
	// Sign is the gateway's signing key: every lead message is signed.
	Sign *sm2.PrivateKey
	// Self is the gateway's principal, the actor of the audit entries.
	Self string
	// Kick, if set, is called after new leads were stored (the forwarder's
	// Kick).
	Kick func()
	// Settle is how long no dataset must change before the runner runs the
	// models that read the changed ones, so that a burst of pushes makes one
	// run (at most 30 Settles after the first change); 2 s when 0.
	Settle time.Duration
	// Now is the clock; its date in China Standard Time is the as-of date.
	Now        func() time.Time
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Runner runs the models as their datasets change.
type Runner struct {
	cfg  Config
	log  *slog.Logger
	wake chan struct{}

	mu  sync.Mutex
	due map[string]bool // model ID → due

	runs  *prometheus.CounterVec // model, result
	found *prometheus.CounterVec // model
}

// New returns a Runner for cfg.
func New(cfg Config) (*Runner, error) {
	if len(cfg.Models) == 0 || cfg.Warehouse == nil || cfg.Store == nil || cfg.Audit == nil || cfg.Sign == nil {
		return nil, errors.New("leads: Models, Warehouse, Store, Audit and Sign are required")
	}
	if cfg.Settle <= 0 {
		cfg.Settle = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Self == "" {
		cfg.Self = "gateway"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{
		cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1), due: map[string]bool{},
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qiao_model_runs_total", Help: "Model runs by model and result (ok, error).",
		}, []string{"model", "result"}),
		found: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qiao_model_leads_total", Help: "New leads stored, by model.",
		}, []string{"model"}),
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{r.runs, r.found} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("leads: registering metrics: %w", err)
			}
		}
	}
	return r, nil
}

// Changed marks the models that read dataset as due. It does not block.
func (r *Runner) Changed(dataset string) {
	r.mu.Lock()
	marked := false
	for _, m := range r.cfg.Models {
		if slices.Contains(m.Datasets, dataset) {
			r.due[m.ID] = true
			marked = true
		}
	}
	r.mu.Unlock()
	if marked {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// Run runs due models, Settle after they became due, until ctx ends. Every
// model is due at the start, so that what was pushed while the gateway was
// down is matched.
func (r *Runner) Run(ctx context.Context) {
	r.mu.Lock()
	for _, m := range r.cfg.Models {
		r.due[m.ID] = true
	}
	r.mu.Unlock()
	r.wake <- struct{}{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		}
		// Let a burst of pushes settle: wait until no dataset changed for
		// Settle, but no longer than 30 Settles in all.
		settled := time.NewTimer(r.cfg.Settle)
		limit := time.NewTimer(30 * r.cfg.Settle)
	settle:
		for {
			select {
			case <-ctx.Done():
				settled.Stop()
				limit.Stop()
				return
			case <-r.wake:
				settled.Reset(r.cfg.Settle)
			case <-settled.C:
				break settle
			case <-limit.C:
				break settle
			}
		}
		settled.Stop()
		limit.Stop()
		r.mu.Lock()
		var due []*models.Model
		for _, m := range r.cfg.Models {
			if r.due[m.ID] {
				due = append(due, m)
				delete(r.due, m.ID)
			}
		}
		r.mu.Unlock()
		for _, m := range due {
			if _, err := r.RunModel(ctx, m, r.cfg.Now()); err != nil && ctx.Err() == nil {
				r.log.LogAttrs(ctx, slog.LevelError, "model run failed", slog.String("model", m.ID), slog.Any("err", err))
			}
		}
	}
}

// RunModel runs m as of asOf and stores the leads not stored before,
// returning how many were new.
func (r *Runner) RunModel(ctx context.Context, m *models.Model, asOf time.Time) (int, error) {
	start := time.Now()
	found, err := m.Run(ctx, r.cfg.Warehouse, asOf, nil)
	if err != nil {
		r.runs.WithLabelValues(m.ID, "error").Inc()
		return 0, fmt.Errorf("leads: running %s: %w", m.ID, err)
	}
	created := 0
	err = r.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		created = 0
		for _, l := range found {
			n, err := r.store(ctx, tx, l)
			if err != nil {
				return err
			}
			created += n
		}
		return nil
	})
	if err != nil {
		r.runs.WithLabelValues(m.ID, "error").Inc()
		return 0, fmt.Errorf("leads: storing the leads of %s: %w", m.ID, err)
	}
	r.runs.WithLabelValues(m.ID, "ok").Inc()
	r.found.WithLabelValues(m.ID).Add(float64(created))
	r.log.LogAttrs(ctx, slog.LevelInfo, "model run", slog.String("model", m.ID), slog.String("as_of", models.AsOfDate(asOf)),
		slog.Int("found", len(found)), slog.Int("new", created), slog.Duration("took", time.Since(start)))
	if created > 0 && r.cfg.Kick != nil {
		r.cfg.Kick()
	}
	return created, nil
}

// Message is the value of a lead's Kafka message: the lead as the model
// found it, and the gateway's SM2 signature (default user ID, standard
// base64 of the DER) over exactly the bytes of Lead.
type Message struct {
	Lead      json.RawMessage `json:"lead"`
	KeyID     string          `json:"key_id"`
	Signature string          `json:"signature"`
}

// store stores one lead with its audit entry and outbox message, unless it
// is stored; it returns 1 for a new lead.
func (r *Runner) store(ctx context.Context, tx *store.Tx, l models.Lead) (int, error) {
	doc, err := json.Marshal(l)
	if err != nil {
		return 0, err
	}
	_, created, err := tx.InsertLead(ctx, store.Lead{
		ID: l.ID, Model: l.Model, ModelVersion: l.Version, Subject: l.Subject,
		TitleZh: l.TitleZh, TitleEn: l.TitleEn, Priority: l.Priority, Document: doc,
	})
	if err != nil || !created {
		return 0, err
	}
	sig, err := r.cfg.Sign.Sign(doc)
	if err != nil {
		return 0, fmt.Errorf("signing lead %s: %w", l.ID, err)
	}
	value, err := json.Marshal(Message{Lead: doc, KeyID: r.cfg.Sign.PublicKey().KeyID(), Signature: base64.StdEncoding.EncodeToString(sig)})
	if err != nil {
		return 0, err
	}
	if _, err := tx.Enqueue(ctx, store.Message{Topic: Topic, Key: l.ID, Value: value}); err != nil {
		return 0, err
	}
	datasets := make([]string, 0, len(l.Evidence))
	for _, e := range l.Evidence {
		if !slices.Contains(datasets, e.Dataset) {
			datasets = append(datasets, e.Dataset)
		}
	}
	var tokens []string
	if fieldcrypt.ValidToken(l.Subject) {
		tokens = []string{l.Subject}
	}
	_, err = r.cfg.Audit.Append(ctx, tx, audit.Entry{
		Actor:    audit.Actor{Principal: r.cfg.Self},
		Action:   audit.ActionLeadCreate,
		Resource: audit.Resource{Kind: audit.KindLead, ID: l.ID},
		Decision: audit.Decision{Effect: audit.Allow, Reasons: []string{
			"model " + l.Model + " v" + fmt.Sprint(l.Version) + " as of " + l.AsOf,
			fmt.Sprintf("%d evidence records from %v", len(l.Evidence), datasets),
		}},
		Result: audit.Result{Status: audit.StatusOK},
		Tokens: tokens,
	})
	if err != nil {
		return 0, err
	}
	return 1, nil
}
