// Package telemetry is Switchyard's tracing and log correlation, shared by
// the hub and the spoke: OpenTelemetry traces exported over OTLP when the
// standard OTEL_* environment asks for them (off otherwise: no spans, no
// propagation), spans that one process starts and another ends (a build's
// and a step's span carry IDs stored with them, so a hub that restarts
// mid-build continues the same trace), and a slog handler that adds the
// trace and span ids of a call's context to every line logged with it.
//
// It is not the metrics: those are package metrics.
package telemetry
