package store_test

import (
	"testing"

	"github.com/switchyard-ci/switchyard/hub/store/storetest"
	"github.com/switchyard-ci/switchyard/telemetry"
)

// Every build has its span's IDs from its creation: a child of the
// trigger's traceparent, or a trace of its own (a malformed traceparent
// counts as none), read back with the build.
func TestBuildTraces(t *testing.T) {
	s := storetest.New(t)
	ctx := t.Context()
	job := newJob(t, s)
	const caller = "00-4bf92f3577b34da6a3ce929d0e0736aa-00f067aa0ba902b7-01"
	child, err := s.CreateJobBuild(ctx, job, "test", true, nil, caller)
	if err != nil {
		t.Fatal(err)
	}
	alone, err := s.CreateJobBuild(ctx, job, "test", true, nil, "00-not-a-traceparent")
	if err != nil {
		t.Fatal(err)
	}
	if tr := child.Trace(); tr.Span.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0736aa" || tr.Parent.String() != "00f067aa0ba902b7" {
		t.Errorf("the triggered build's span is %s under %s, want a child of %s", telemetry.Traceparent(tr.Span), tr.Parent, caller)
	}
	if tr := alone.Trace(); !tr.Span.IsValid() || tr.Parent.IsValid() || tr.Span.TraceID() == child.Trace().Span.TraceID() {
		t.Errorf("the other build's span is %s under %s, want a trace of its own", telemetry.Traceparent(tr.Span), tr.Parent)
	}
	read, err := s.Build(ctx, child.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !read.Trace().Span.Equal(child.Trace().Span) || read.Trace().Parent != child.Trace().Parent {
		t.Errorf("the build's span read back is %s, want %s", telemetry.Traceparent(read.Trace().Span), telemetry.Traceparent(child.Trace().Span))
	}
}
