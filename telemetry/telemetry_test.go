package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// record makes this process trace into memory for one test (the exporter
// is the seam; the e2e tests send to a real Jaeger).
func record(t *testing.T) *tracetest.InMemoryExporter {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithIDGenerator(ids{}))
	old := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	enabled.Store(true)
	t.Cleanup(func() { enabled.Store(false); otel.SetTracerProvider(old); _ = tp.Shutdown(context.Background()) })
	return exp
}

func TestStoredSpanEndsWithItsIDs(t *testing.T) {
	exp := record(t)
	parent := ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0736aa-00f067aa0ba902b7-01")
	child := NewStored(parent)
	root := NewStored(trace.SpanContext{})
	// What is stored is read back as another process would.
	child = ParseStored(FormatStored(child))
	root = ParseStored(FormatStored(root))
	start := time.Now().Add(-time.Minute).Truncate(time.Second)
	child.End(context.Background(), "child", start, trace.SpanKindInternal, nil)
	root.End(context.Background(), "root", start, trace.SpanKindServer, nil)

	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("want 2 spans, have %d", len(spans))
	}
	c, r := spans[0], spans[1]
	if c.SpanContext.TraceID() != parent.TraceID() || c.SpanContext.SpanID() != child.Span.SpanID() || c.Parent.SpanID() != parent.SpanID() {
		t.Errorf("child span: trace %s span %s parent %s; want trace %s span %s parent %s", c.SpanContext.TraceID(), c.SpanContext.SpanID(), c.Parent.SpanID(),
			parent.TraceID(), child.Span.SpanID(), parent.SpanID())
	}
	if !c.StartTime.Equal(start) {
		t.Errorf("child span starts at %s, want %s", c.StartTime, start)
	}
	if r.SpanContext.TraceID() != root.Span.TraceID() || r.SpanContext.SpanID() != root.Span.SpanID() || r.Parent.SpanID().IsValid() {
		t.Errorf("root span: trace %s span %s parent %s; want trace %s span %s and no parent", r.SpanContext.TraceID(), r.SpanContext.SpanID(), r.Parent.SpanID(),
			root.Span.TraceID(), root.Span.SpanID())
	}
	if root.Span.TraceID() == parent.TraceID() {
		t.Error("a root has the parent's trace")
	}
}

func TestStoredIsNothingWhenOff(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	old := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	defer otel.SetTracerProvider(old)
	NewStored(trace.SpanContext{}).End(context.Background(), "x", time.Now(), trace.SpanKindInternal, nil)
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("tracing is off, yet %d spans were exported", n)
	}
	if env := Inject(context.Background()); env != nil {
		t.Errorf("tracing is off, yet a step gets %v", env)
	}
}

// Whatever a caller or a stored row holds, a malformed context is no
// context: the build starts a trace of its own.
func TestHostileTraceparents(t *testing.T) {
	for _, h := range []string{
		"", "garbage", "00-4bf92f3577b34da6a3ce929d0e0736aa-00f067aa0ba902b7", // no flags
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01", // zero trace id
		"00-4bf92f3577b34da6a3ce929d0e0736aa-0000000000000000-01", // zero span id
		"ff-4bf92f3577b34da6a3ce929d0e0736aa-00f067aa0ba902b7-01", // forbidden version
		"00-4BF92F3577B34DA6A3CE929D0E0736AA-00F067AA0BA902B7-01", // upper case
		"00-4bf92f3577b34da6a3ce929d0e0736aa-00f067aa0ba902b7-01" + strings.Repeat("-x", 200),
		"00-4bf92f3577b34da6a3ce929d0e0736aa\n-00f067aa0ba902b7-01",
	} {
		if sc := ParseTraceparent(h); sc.IsValid() {
			t.Errorf("%q was read as a valid context", h)
		}
		if s := ParseStored(h, "zz"); s.Span.IsValid() || s.Parent.IsValid() {
			t.Errorf("%q was read as a stored span", h)
		}
	}
	if sc := ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0736aa-00f067aa0ba902b7-01"); !sc.IsValid() || !sc.IsRemote() {
		t.Error("a well-formed traceparent was refused")
	}
}

func TestConfigured(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://x:4318/v1/traces"}, true},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318", "OTEL_SDK_DISABLED": "true"}, false},
	} {
		if got := Configured(func(k string) string { return c.env[k] }); got != c.want {
			t.Errorf("%v: configured %v, want %v", c.env, got, c.want)
		}
	}
}

func TestSetupSaysWhatItExports(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	_, err := Setup(context.Background(), "test")
	if err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_PROTOCOL=grpc") || !strings.Contains(err.Error(), "http/protobuf") {
		t.Errorf("a gRPC exporter was asked for: %v", err)
	}
	if Enabled() {
		t.Error("tracing is on after a failed set-up")
	}
}

func TestLogLinesJoinTheTrace(t *testing.T) {
	exp := record(t)
	_ = exp
	var buf bytes.Buffer
	log := slog.New(Logs(slog.NewJSONHandler(&buf, nil))).With(slog.String("component", "hub"))
	ctx := WithAttrs(context.Background(), slog.Int64("build_id", 7))
	ctx = WithAttrs(ctx, slog.Int64("step_id", 9))
	ctx, span := Tracer().Start(ctx, "s")
	defer span.End()
	log.InfoContext(ctx, "about a build")
	log.Info("about nothing")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var about, nothing map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &about); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal([]byte(lines[1]), &nothing)
	sc := span.SpanContext()
	for k, want := range map[string]any{"trace_id": sc.TraceID().String(), "span_id": sc.SpanID().String(), "build_id": 7.0, "step_id": 9.0, "component": "hub"} {
		if about[k] != want {
			t.Errorf("line about the build: %s = %v, want %v", k, about[k], want)
		}
	}
	if nothing["trace_id"] != nil || nothing["build_id"] != nil {
		t.Errorf("a line without a context got %v", nothing)
	}
	env := Inject(ctx)
	if want := Traceparent(sc); env["TRACEPARENT"] != want {
		t.Errorf("a step gets TRACEPARENT %q, want %q", env["TRACEPARENT"], want)
	}
}
