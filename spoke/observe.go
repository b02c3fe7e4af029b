package spoke

import (
	"context"
	"errors"
	"log/slog"
	"maps"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-ci/switchyard/metrics"
	"github.com/switchyard-ci/switchyard/telemetry"
	"github.com/switchyard-ci/switchyard/wire"
)

// traceRun is ctx within the span of the step's run on this spoke, a child
// of the span the hub named in the request, with the build and step ids on
// every log line. The step's process gets the run's span as TRACEPARENT
// (or, when this spoke does not trace, the hub's span of the step), so its
// own spans join the build's trace.
func (a *Agent) traceRun(ctx context.Context, as *wire.Assignment) (context.Context, trace.Span) {
	ctx = telemetry.WithAttrs(ctx, slog.Int64("build_id", as.BuildID), slog.Int64("step_id", as.StepID))
	parent := telemetry.ParseTraceparent(as.Request.TraceParent)
	if parent.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	}
	ctx, span := telemetry.Tracer().Start(ctx, "run on spoke "+a.cfg.Name, trace.WithAttributes(
		semconv.CICDWorkerName(a.cfg.Name), semconv.CICDPipelineTaskName(as.Request.Name), attribute.String("switchyard.step.kind", string(as.Request.Kind)),
		attribute.Int64("switchyard.step_id", as.StepID), attribute.Int64("switchyard.build_id", as.BuildID)))
	env := telemetry.Inject(ctx)
	if env == nil && parent.IsValid() {
		env = map[string]string{"TRACEPARENT": telemetry.Traceparent(parent)}
	}
	if env != nil {
		// The assignment's request is this run's copy; its env map may be
		// shared, so it is copied before it changes.
		merged := maps.Clone(as.Request.Env)
		if merged == nil {
			merged = map[string]string{}
		}
		maps.Copy(merged, env)
		as.Request.Env = merged
	}
	return ctx, span
}

// endRun counts the run by kind and result and closes its span's status.
func endRun(span trace.Span, as wire.Assignment, res wire.Result) {
	result := "succeeded"
	switch {
	case res.Error != "":
		result = "errored"
		telemetry.Fail(span, errors.New(res.Error))
	case res.ExitStatus != 0:
		result = "failed"
		span.SetAttributes(attribute.Int("switchyard.step.exit_status", res.ExitStatus))
	}
	metrics.StepsRun.WithLabelValues(string(as.Request.Kind), result).Inc()
	span.SetAttributes(attribute.String("switchyard.step.result", result))
}
