// Package steptrace is the span of a step's run, which the hub begins as it
// creates the step and ends where the run ends: the gateway as a spoke
// reports the result (or loses the run), the engine as it aborts the step.
// Its IDs travel in the step's request (wire.StepRequest's TraceParent and
// SpanParent), so any hub replica ends it, once, and a restarted hub keeps
// the same trace. It is not the spoke's spans of the run: those are package
// spoke's, children of this one.
package steptrace

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/telemetry"
	"github.com/switchyard-ci/switchyard/wire"
)

// Begin makes the span of a new step run, a child of ctx's span (the
// build's), and names it in the request; a zero Stored when tracing is off.
func Begin(ctx context.Context, req *wire.StepRequest) telemetry.Stored {
	if !telemetry.Enabled() {
		return telemetry.Stored{}
	}
	s := telemetry.NewStored(trace.SpanContextFromContext(ctx))
	req.TraceParent, req.SpanParent = telemetry.FormatStored(s)
	return s
}

// End exports a step run's span as it ends: with res, or aborted. spoke
// names where it ran ("" when not known).
func End(ctx context.Context, st store.Step, spoke string, res wire.Result, aborted bool) {
	if !telemetry.Enabled() {
		return
	}
	var req struct {
		Name        string `json:"name"`
		TraceParent string `json:"traceparent"`
		SpanParent  string `json:"span_parent"`
	}
	if json.Unmarshal(st.Request, &req) != nil || req.TraceParent == "" {
		return
	}
	result := semconv.CICDPipelineTaskRunResultSuccess
	var err error
	switch {
	case aborted:
		result = semconv.CICDPipelineTaskRunResultCancellation
	case res.Error != "":
		result, err = semconv.CICDPipelineTaskRunResultError, errors.New(res.Error)
	case res.ExitStatus != 0:
		result = semconv.CICDPipelineTaskRunResultFailure
	}
	attrs := []attribute.KeyValue{semconv.CICDPipelineTaskName(req.Name), semconv.CICDPipelineTaskRunID(strconv.FormatInt(st.ID, 10)), result,
		semconv.CICDPipelineRunID(strconv.FormatInt(st.BuildID, 10)), attribute.String("switchyard.step.kind", string(st.Kind)),
		attribute.String("switchyard.step.plan_id", st.PlanID), attribute.Int("switchyard.step.run", st.Run)}
	if spoke != "" {
		attrs = append(attrs, semconv.CICDWorkerName(spoke), attribute.String("switchyard.spoke", spoke))
	}
	if res.ExitStatus != 0 {
		attrs = append(attrs, attribute.Int("switchyard.step.exit_status", res.ExitStatus))
	}
	telemetry.ParseStored(req.TraceParent, req.SpanParent).End(ctx, req.Name, st.Created, trace.SpanKindInternal, err, attrs...)
}
