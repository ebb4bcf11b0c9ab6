package gateway

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's per-call metrics. Labels name transports,
// methods and codes, never principals.
type metrics struct {
	requests *prometheus.CounterVec   // transport, method, code
	seconds  *prometheus.HistogramVec // transport, method
	bytes    *prometheus.HistogramVec // transport, method
	limited  *prometheus.CounterVec   // transport
}

// unrouted is the method label of a REST call refused before it was routed
// (unauthenticated, too large) or that matched no route.
const unrouted = "unrouted"

func newMetrics(r prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qiao_api_requests_total",
			Help: "Calls answered, by transport (grpc, rest), gRPC method and gRPC status code.",
		}, []string{"transport", "method", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "qiao_api_request_seconds",
			Help:    "Time from receiving a call to answering it, by transport and gRPC method.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 14), // 0.5 ms to 74 s
		}, []string{"transport", "method"}),
		bytes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "qiao_api_request_bytes",
			Help:    "Size of request messages (gRPC) and bodies (REST) received, by transport and gRPC method.",
			Buckets: prometheus.ExponentialBuckets(64, 4, 12), // 64 B to 256 MiB
		}, []string{"transport", "method"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qiao_api_rate_limited_total",
			Help: "Authenticated calls refused because their principal exceeded its rate limit, by transport.",
		}, []string{"transport"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.seconds, m.bytes, m.limited} {
		if err := r.Register(c); err != nil {
			return nil, fmt.Errorf("gateway: registering metrics: %w", err)
		}
	}
	return m, nil
}
