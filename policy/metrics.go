package policy

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// engineMetrics are the Engine's metrics. Labels name actions and outcomes, never
// principals.
type engineMetrics struct {
	decisions *prometheus.CounterVec // action, outcome
	seconds   prometheus.Histogram
	reloads   *prometheus.CounterVec // result
}

// The outcomes of a decision, qiao_policy_decisions_total's label.
const (
	outcomeAllow     = "allow"
	outcomeDeny      = "deny"
	outcomeInput     = "input"
	outcomeTimeout   = "timeout"
	outcomeError     = "error"
	outcomeUndefined = "undefined"
	outcomeMalformed = "malformed"
)

func newMetrics(r prometheus.Registerer) (*engineMetrics, error) {
	m := &engineMetrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qiao_policy_decisions_total",
			Help: "Policy decisions by action and outcome: allow, deny, or a deny for want of a decision (input, timeout, error, undefined, malformed).",
		}, []string{"action", "outcome"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "qiao_policy_decision_seconds",
			Help:    "Time one policy decision took.",
			Buckets: prometheus.ExponentialBuckets(0.00001, 2.5, 12), // 10 µs to 1.5 s
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qiao_policy_reloads_total",
			Help: "Bundle reloads by result: applied or refused.",
		}, []string{"result"}),
	}
	if r == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.decisions, m.seconds, m.reloads} {
		if err := r.Register(c); err != nil {
			return nil, fmt.Errorf("policy: registering metrics: %w", err)
		}
	}
	return m, nil
}

// outcome names how a decision ended.
func outcome(d Decision, err error) string {
	switch {
	case err == nil && d.Allow:
		return outcomeAllow
	case err == nil:
		return outcomeDeny
	case errors.Is(err, ErrInput):
		return outcomeInput
	case errors.Is(err, ErrTimeout):
		return outcomeTimeout
	case errors.Is(err, ErrUndefined):
		return outcomeUndefined
	case errors.Is(err, ErrMalformed):
		return outcomeMalformed
	}
	return outcomeError
}
