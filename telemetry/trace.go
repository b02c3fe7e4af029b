package telemetry

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// TracerName is the instrumentation scope of Switchyard's spans.
const TracerName = "switchyard"

var enabled atomic.Bool

// Enabled tells whether this process exports traces (Setup found them
// configured). Off, nothing is stored for tracing's sake, and no step gets
// a TRACEPARENT.
func Enabled() bool { return enabled.Load() }

// tracer is the tracer of the provider Setup made, kept so that a span's
// start does not look it up (nil: look it up in the global provider, which
// is a no-op one when tracing is off).
var tracer atomic.Pointer[trace.Tracer]

// Tracer is Switchyard's tracer (a no-op one when tracing is off).
func Tracer() trace.Tracer {
	if t := tracer.Load(); t != nil {
		return *t
	}
	return otel.Tracer(TracerName)
}

// Configured tells whether the environment asks for traces: an OTLP
// endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or OTEL_TRACES_EXPORTER is otlp, and
// OTEL_SDK_DISABLED is not true.
func Configured(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	switch exp := strings.ToLower(getenv("OTEL_TRACES_EXPORTER")); exp {
	case "none":
		return false
	case "otlp":
		return true
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup starts exporting traces when the environment asks for them (see
// Configured), as service (OTEL_SERVICE_NAME overrides it; OTEL_RESOURCE_ATTRIBUTES
// adds to it). The exporter is OTLP over HTTP (protobuf), configured by the
// standard OTEL_EXPORTER_OTLP_* variables; sampling by OTEL_TRACES_SAMPLER,
// batching by OTEL_BSP_*. shutdown flushes what is left; it is a no-op when
// tracing is off.
func Setup(ctx context.Context, service string) (shutdown func(context.Context) error, err error) {
	noop := func(context.Context) error { return nil }
	if !Configured(os.Getenv) {
		return noop, nil
	}
	for _, v := range []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
		if p := os.Getenv(v); p != "" && p != "http/protobuf" {
			return noop, fmt.Errorf("%s=%s: Switchyard exports traces over OTLP/HTTP only; set it to http/protobuf (a collector's port 4318), or unset it", v, p)
		}
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return noop, fmt.Errorf("set up the OTLP trace exporter: %w", err)
	}
	res, err := resource.New(ctx, resource.WithAttributes(semconv.ServiceName(service)), resource.WithFromEnv(), resource.WithHost())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return noop, fmt.Errorf("describe this process for traces: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res), sdktrace.WithIDGenerator(ids{}))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t := tp.Tracer(TracerName)
	tracer.Store(&t)
	enabled.Store(true)
	return func(ctx context.Context) error {
		enabled.Store(false)
		tracer.Store(nil)
		return tp.Shutdown(ctx)
	}, nil
}

// ids makes random IDs, except for the span a context forces (WithSpanID):
// a span that one process stored and another ends keeps its ID.
type ids struct{}

type forcedKey struct{}

// withSpanID makes the next span started with ctx take id.
func withSpanID(ctx context.Context, id trace.SpanID) context.Context {
	return context.WithValue(ctx, forcedKey{}, id)
}

func (ids) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	var t trace.TraceID
	_, _ = rand.Read(t[:])
	return t, ids{}.NewSpanID(ctx, t)
}

func (ids) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	if id, ok := ctx.Value(forcedKey{}).(trace.SpanID); ok && id.IsValid() {
		return id
	}
	var s trace.SpanID
	for !s.IsValid() {
		binary.BigEndian.PutUint64(s[:], randUint64())
	}
	return s
}

func randUint64() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:])
}

// Stored is a span that outlives the process that began it: its trace and
// span IDs, and its parent's span ID (zero for a trace's root), kept with
// what it measures (a build, a step) as W3C traceparent strings.
type Stored struct {
	Span   trace.SpanContext
	Parent trace.SpanID
}

// NewStored makes the IDs of a span to be ended later: a child of parent
// when parent is valid, else the root of a new trace.
func NewStored(parent trace.SpanContext) Stored {
	tid := parent.TraceID()
	if !parent.IsValid() {
		_, _ = rand.Read(tid[:])
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: ids{}.NewSpanID(context.Background(), tid), TraceFlags: trace.FlagsSampled})
	return Stored{Span: sc, Parent: parent.SpanID()}
}

// Context is ctx with the stored span as its (remote) parent span: spans
// started with it are the stored span's children.
func (s Stored) Context(ctx context.Context) context.Context {
	if !s.Span.IsValid() {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, s.Span)
}

// End exports the stored span, begun at start and ending now, with its
// stored IDs. A zero Stored exports nothing.
func (s Stored) End(ctx context.Context, name string, start time.Time, kind trace.SpanKind, err error, attrs ...attribute.KeyValue) {
	if !Enabled() || !s.Span.IsValid() {
		return
	}
	// The parent: the stored one, or (for a root) one of the trace without
	// a span, which gives the root its stored trace ID.
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: s.Span.TraceID(), SpanID: s.Parent, TraceFlags: trace.FlagsSampled, Remote: true})
	ctx = trace.ContextWithSpanContext(context.WithoutCancel(ctx), parent)
	_, span := Tracer().Start(withSpanID(ctx, s.Span.SpanID()), name, trace.WithTimestamp(start), trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
	Fail(span, err)
	span.End()
}

// Fail marks span as failed by err (nothing when err is nil).
func Fail(span trace.Span, err error) {
	if err == nil {
		return
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}

// Traceparent is sc as a W3C traceparent header ("" when sc is not valid).
func Traceparent(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	return fmt.Sprintf("00-%s-%s-%s", sc.TraceID(), sc.SpanID(), sc.TraceFlags())
}

// ParseTraceparent reads a W3C traceparent header; a malformed one (from
// whoever sent it) gives an invalid span context, which starts a new trace.
func ParseTraceparent(h string) trace.SpanContext {
	if h == "" || len(h) > 256 {
		return trace.SpanContext{}
	}
	carrier := propagation.MapCarrier{"traceparent": h}
	return trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), carrier))
}

// FormatStored writes s as the two strings kept with what it measures.
func FormatStored(s Stored) (span, parent string) {
	if !s.Span.IsValid() {
		return "", ""
	}
	if s.Parent.IsValid() {
		parent = s.Parent.String()
	}
	return Traceparent(s.Span), parent
}

// ParseStored reads what FormatStored wrote; anything else is a zero Stored.
func ParseStored(span, parent string) Stored {
	s := Stored{Span: ParseTraceparent(span)}
	if p, err := trace.SpanIDFromHex(parent); err == nil {
		s.Parent = p
	}
	return s
}

// Inject is the TRACEPARENT (and TRACESTATE) a process started under ctx's
// span gets in its environment, as Concourse gives its containers; nil
// when tracing is off or ctx has no span.
func Inject(ctx context.Context) map[string]string {
	if !Enabled() {
		return nil
	}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	out := map[string]string{}
	for k, v := range carrier {
		out[strings.ToUpper(k)] = v
	}
	if out["TRACEPARENT"] == "" {
		return nil
	}
	return out
}
