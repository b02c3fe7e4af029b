package kube_test

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-ci/switchyard/spoke/runtime/kube"
	"github.com/switchyard-ci/switchyard/spoke/runtime/kube/kubetest"
)

// A pod's scheduling and start is a span of the run's trace, ending as the
// task runs, with where it was scheduled; the task sees the trace context
// the spoke gave the step.
func TestPodStartIsASpan(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	old := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(old) })

	_, ns := cluster(t)
	sk, skCfg := kubetest.Spoke(t, ns)
	rt := &kube.Runtime{Client: sk, Config: skCfg, Namespace: ns, Spoke: "spoke-1"}
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0736aa-00f067aa0ba902b7-01"
	a := assignment(8, "ci", "traced", "test", task(`echo "$TRACEPARENT"`))
	a.Request.Env["TRACEPARENT"] = traceparent
	ctx, run := tp.Tracer("test").Start(context.Background(), "run")
	logs := newLines()
	res := rt.Run(ctx, a, logs)
	run.End()
	if res.Error != "" || res.ExitStatus != 0 {
		t.Fatalf("result %+v", res)
	}
	if got := strings.TrimSpace(logs.String()); got != traceparent {
		t.Errorf("the task saw TRACEPARENT %q, want %q", got, traceparent)
	}
	var start *tracetest.SpanStub
	spans := exp.GetSpans()
	for i := range spans {
		if spans[i].Name == "pod scheduling and start" {
			start = &spans[i]
		}
	}
	if start == nil {
		t.Fatalf("no pod start span among %d", len(spans))
	}
	if start.Parent.SpanID() != run.SpanContext().SpanID() || start.SpanContext.TraceID() != run.SpanContext().TraceID() {
		t.Errorf("the pod's span is not the run's child")
	}
	attrs := map[string]string{}
	for _, kv := range start.Attributes {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	if attrs["k8s.node.name"] != "test-node" || attrs["k8s.namespace.name"] != ns || !strings.HasPrefix(attrs["k8s.pod.name"], "ci-traced-b8-test") {
		t.Errorf("pod span attributes %v", attrs)
	}
	events := []string{}
	for _, e := range start.Events {
		events = append(events, e.Name)
	}
	if len(events) == 0 || events[0] != "scheduled on node test-node" {
		t.Errorf("pod span events %q", events)
	}
	if !start.EndTime.After(start.StartTime) || start.SpanKind != trace.SpanKindInternal {
		t.Errorf("pod span from %s to %s", start.StartTime, start.EndTime)
	}
}
