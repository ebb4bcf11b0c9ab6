package policy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Reasons of a deny the Engine makes itself, when the bundle could not
// decide. The wrapped error says more, for the log.
const (
	ReasonInput      = "策略输入不完整 / incomplete policy input"
	ReasonEvaluation = "策略执行出错 / policy evaluation failed"
	ReasonTimeout    = "策略决定超时 / policy decision timed out"
	ReasonUndefined  = "策略未作出决定 / policy gave no decision"
	ReasonMalformed  = "策略决定格式错误 / malformed policy decision"
)

// Engine decides with one bundle at a time. It is safe for concurrent use;
// a Reload swaps the bundle between decisions, never during one.
type Engine struct {
	dir      string
	log      *slog.Logger
	onReload func(context.Context, Reload)
	timeout  time.Duration

	reloading sync.Mutex
	cur       atomic.Pointer[compiled]
	metrics   *engineMetrics
}

// New loads and compiles the bundle of opts.Dir, or the embedded default
// bundle. A missing or empty directory, or a bundle that does not compile or
// defines no data.qiao.decision, is an error wrapping ErrBundle.
func New(ctx context.Context, opts Options) (*Engine, error) {
	e := &Engine{
		dir:      opts.Dir,
		log:      opts.Logger,
		onReload: opts.OnReload,
		timeout:  opts.Timeout,
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.timeout <= 0 {
		e.timeout = DefaultTimeout
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	e.metrics = m
	c, err := load(ctx, e.dir)
	if err != nil {
		return nil, err
	}
	e.cur.Store(c)
	e.log.LogAttrs(ctx, slog.LevelInfo, "policy bundle loaded",
		slog.String("dir", e.source()), slog.String("revision", c.revision))
	return e, nil
}

func load(ctx context.Context, dir string) (*compiled, error) {
	files, err := readBundle(dir)
	if err != nil {
		return nil, err
	}
	return compile(ctx, files)
}

func (e *Engine) source() string {
	if e.dir == "" {
		return "(embedded)"
	}
	return e.dir
}

// Revision returns the revision of the bundle in force.
func (e *Engine) Revision() string { return e.cur.Load().revision }

// Decide decides in. Anything but a well-formed decision from the bundle is
// a deny: Decide then returns Decision{Allow: false} with one of the Reason
// constants, the resource's fields all masked "drop", and an error wrapping
// ErrInput, ErrEvaluation, ErrTimeout, ErrUndefined or ErrMalformed. The
// caller refuses the call either way and logs the error. Each decision is
// bounded by Options.Timeout.
func (e *Engine) Decide(ctx context.Context, in Input) (Decision, error) {
	start := time.Now()
	d, err := e.decide(ctx, in)
	e.metrics.seconds.Observe(time.Since(start).Seconds())
	e.metrics.decisions.WithLabelValues(in.Action, outcome(d, err)).Inc()
	return d, err
}

func (e *Engine) decide(ctx context.Context, in Input) (Decision, error) {
	c := e.cur.Load()
	if err := in.check(); err != nil {
		return e.deny(ctx, c, &in, ReasonInput, err)
	}
	rs, err := e.eval(ctx, c, &in)
	if err != nil {
		if errors.Is(err, ErrTimeout) {
			return e.deny(ctx, c, &in, ReasonTimeout, err)
		}
		return e.deny(ctx, c, &in, ReasonEvaluation, err)
	}
	if len(rs) == 0 {
		return e.deny(ctx, c, &in, ReasonUndefined, ErrUndefined)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return e.deny(ctx, c, &in, ReasonMalformed, malformed("%d results", len(rs)))
	}
	v, ok := rs[0].Expressions[0].Value.(ast.Value)
	if !ok {
		return e.deny(ctx, c, &in, ReasonMalformed, malformed("result is %T", rs[0].Expressions[0].Value))
	}
	d, err := parseDecision(v, &in)
	if err != nil {
		return e.deny(ctx, c, &in, ReasonMalformed, err)
	}
	d.Revision = c.revision
	return d, nil
}

// eval evaluates the prepared query on in, within e.timeout and ctx. It
// cancels through a topdown.Cancel tripped by a timer or by ctx, which spares
// a derived context and the goroutine OPA would start to watch it.
func (e *Engine) eval(ctx context.Context, c *compiled, in *Input) (rego.ResultSet, error) {
	cancel := topdown.NewCancel()
	timer := time.AfterFunc(e.timeout, cancel.Cancel)
	defer timer.Stop()
	stop := context.AfterFunc(ctx, cancel.Cancel)
	defer stop()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	}
	rs, err := c.query.Eval(ctx,
		rego.EvalParsedInput(in.value()),
		rego.EvalTime(in.Time),
		rego.EvalExternalCancel(cancel),
		rego.EvalMetrics(noMetrics),
	)
	switch {
	case err == nil:
		return rs, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	case cancel.Cancelled() || topdown.IsCancel(err):
		return nil, fmt.Errorf("%w: after %v: %w", ErrTimeout, e.timeout, err)
	default:
		return nil, fmt.Errorf("%w: %w", ErrEvaluation, err)
	}
}

// noMetrics spares every evaluation a fresh metrics registry.
var noMetrics = metrics.NoOp()

// deny is the decision made when the bundle could not decide.
func (e *Engine) deny(ctx context.Context, c *compiled, in *Input, reason string, err error) (Decision, error) {
	mask := make(map[string]string, len(in.Resource.Fields))
	for _, f := range in.Resource.Fields {
		mask[f.Name] = MaskDrop
	}
	e.log.LogAttrs(ctx, slog.LevelWarn, "policy denied for want of a decision",
		slog.String("action", in.Action), slog.String("revision", c.revision), slog.Any("error", err))
	return Decision{Mask: mask, Reasons: []string{reason}, Revision: c.revision}, err
}

// Reload re-reads and recompiles the bundle directory (or the embedded
// bundle). A bundle that cannot be read or does not compile is refused and
// the previous one stays in force; the error wraps ErrBundle. OnReload is
// called either way.
func (e *Engine) Reload(ctx context.Context) error {
	e.reloading.Lock()
	defer e.reloading.Unlock()
	prev := e.cur.Load().revision
	c, err := load(ctx, e.dir)
	r := Reload{Previous: prev, Revision: prev, Err: err}
	if err == nil {
		e.metrics.reloads.WithLabelValues("applied").Inc()
	} else {
		e.metrics.reloads.WithLabelValues("refused").Inc()
	}
	if err == nil {
		e.cur.Store(c)
		r.Revision = c.revision
		e.log.LogAttrs(ctx, slog.LevelInfo, "policy bundle reloaded", slog.String("dir", e.source()),
			slog.String("revision", c.revision), slog.String("previous", prev))
	} else {
		e.log.LogAttrs(ctx, slog.LevelError, "policy bundle refused, previous kept", slog.String("dir", e.source()),
			slog.String("revision", prev), slog.Any("error", err))
	}
	if e.onReload != nil {
		e.onReload(ctx, r)
	}
	return err
}

// Watch polls the bundle directory every interval and reloads when its
// revision changes, until ctx ends. A refused bundle is reported once and
// retried only when the directory changes again. With the embedded bundle,
// or an interval that is not positive, there is nothing to watch and Watch
// returns at once.
func (e *Engine) Watch(ctx context.Context, every time.Duration) {
	if e.dir == "" || every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	seen := e.Revision()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rev, err := dirDigest(e.dir)
		if err != nil {
			rev = "error: " + err.Error()
		}
		if rev == seen {
			continue
		}
		seen = rev
		if rev == e.Revision() || ctx.Err() != nil {
			continue
		}
		_ = e.Reload(ctx) // reported through the log and OnReload
	}
}
