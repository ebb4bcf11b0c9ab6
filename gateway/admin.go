package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// readyTimeout bounds each readiness check.
const readyTimeout = 2 * time.Second

// newAdminHandler returns the admin listener's handler: /healthz (the
// process answers), /readyz (serving, not shutting down, and every
// readiness check passes) and /metrics (Prometheus text format).
func (s *Server) newAdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.opts.Metrics, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelError),
		Registry:          s.opts.Metrics,
		EnableOpenMetrics: false,
	}))
	return mux
}

// readyz answers 200 "ready" or 503 with one line per failing part. The
// failing checks' errors go to the log only.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	var failed []string
	if !s.ready.Load() {
		failed = append(failed, "gateway: not serving (starting or shutting down)")
	}
	for _, c := range s.opts.Ready {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		err := c.Func(ctx)
		cancel()
		if err != nil {
			s.log.LogAttrs(r.Context(), slog.LevelWarn, "readiness check failed", slog.String("check", c.Name), slog.String("error", err.Error()))
			failed = append(failed, c.Name+": failing")
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if len(failed) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, strings.Join(failed, "\n"))
		return
	}
	fmt.Fprintln(w, "ready")
}
