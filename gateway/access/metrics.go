package access

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the service's metrics. Labels name actions, effects and
// datasets, never principals or rows.
type metrics struct {
	decisions *prometheus.CounterVec // action, effect
	rows      *prometheus.CounterVec // dataset
	expired   prometheus.Counter
}

func newMetrics(r prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qiao_access_decisions_total",
			Help: "Access steps decided, by action (request.create, request.approve, request.deny, request.withdraw, grant.revoke, dataset.pull) and effect (allow, deny).",
		}, []string{"action", "effect"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qiao_access_pulled_rows_total",
			Help: "Rows returned by pulls, by dataset.",
		}, []string{"dataset"}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "qiao_access_requests_expired_total",
			Help: "Requests expired for being left pending too long.",
		}),
	}
	if r == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.decisions, m.rows, m.expired} {
		if err := r.Register(c); err != nil {
			return nil, fmt.Errorf("access: registering metrics: %w", err)
		}
	}
	return m, nil
}

func effect(allow bool) string {
	if allow {
		return "allow"
	}
	return "deny"
}
