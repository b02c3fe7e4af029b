package server

import (
	"bufio"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/switchyard-ci/switchyard/metrics"
	"github.com/switchyard-ci/switchyard/telemetry"
)

// scrape serves /metrics to Prometheus: with the --metrics-token bearer,
// or to an admin. Labels name teams, pipelines and jobs, so it is not
// public.
func (s *Server) scrape(w http.ResponseWriter, r *http.Request, c *caller) error {
	if s.cfg.Metrics == nil {
		return notFound("metrics")
	}
	token, _ := bearer(r)
	scraper := s.cfg.MetricsToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.MetricsToken)) == 1
	if !scraper && (c == nil || !c.admin) {
		if c == nil || c.claims == nil {
			return errorf(http.StatusUnauthorized, "metrics: scrape with the hub's --metrics-token as a bearer token, or as an admin")
		}
		return errorf(http.StatusForbidden, "metrics: only the --metrics-token bearer and admins may scrape")
	}
	s.cfg.Metrics.ServeHTTP(w, r)
	return nil
}

// timed observes each response's duration by method, route (its pattern)
// and status, as Concourse's concourse_http_responses_duration_seconds.
func timed(method, pattern string, next http.Handler) http.Handler {
	route := method + " " + pattern
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		metrics.HTTPDuration.WithLabelValues(method, route, strconv.Itoa(sw.status)).Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers a response's status; it flushes and hijacks as
// the writer it wraps does (the event stream, fly intercept).
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := w.ResponseWriter.(http.Hijacker); ok {
		w.status = http.StatusSwitchingProtocols
		return h.Hijack()
	}
	return nil, nil, errors.New("the connection cannot be taken over")
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// traceparent is the W3C trace context a request carries, which a build
// it creates continues; "" when tracing is off (as in Concourse, nothing is
// propagated then).
func traceparent(r *http.Request) string {
	if !telemetry.Enabled() {
		return ""
	}
	return r.Header.Get("Traceparent")
}
