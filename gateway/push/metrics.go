package push

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The results of a push, the values of qiao_push_batches_total's label.
const (
	resultCommitted = "committed" // stored and made visible
	resultRepeated  = "repeated"  // a repeat of a committed batch; nothing stored
	resultRejected  = "rejected"  // invalid rows; recorded as rejected, nothing stored
	resultRefused   = "refused"   // a bad envelope or payload, or a conflicting batch ID
	resultFailed    = "failed"    // a fault of the gateway; nothing committed
)

// metrics are the pipeline's metrics. Labels name results, never principals
// or datasets' rows.
type metrics struct {
	batches *prometheus.CounterVec // result
	rows    prometheus.Counter
	seconds prometheus.Histogram
}

func newMetrics(r prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qiao_push_batches_total",
			Help: "Pushed batches by result: committed, repeated (stored before), rejected (invalid rows), refused (bad envelope or payload, conflicting batch ID), failed (gateway fault).",
		}, []string{"result"}),
		rows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "qiao_push_rows_total",
			Help: "Rows of committed batches.",
		}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "qiao_push_seconds",
			Help:    "Time the push pipeline took for a committed batch, from opening its envelope to making its rows visible.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12), // 1 ms to 15 s
		}),
	}
	if r == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.batches, m.rows, m.seconds} {
		if err := r.Register(c); err != nil {
			return nil, fmt.Errorf("push: registering metrics: %w", err)
		}
	}
	return m, nil
}

// observe counts one push.
func (m *metrics) observe(result string, rows int64, took time.Duration) {
	m.batches.WithLabelValues(result).Inc()
	if result == resultCommitted {
		m.rows.Add(float64(rows))
		m.seconds.Observe(took.Seconds())
	}
}
