package placer

import (
	"context"
	"errors"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-ci/switchyard/metrics"
	"github.com/switchyard-ci/switchyard/policy"
	"github.com/switchyard-ci/switchyard/telemetry"
)

// observe wraps a policy so that each evaluation is a span and is counted
// and timed by policy and outcome (ok, error, timeout), keeping the ways of
// evaluating it that it has (placement picks one by type).
func observe(name string, p policy.Policy) policy.Policy {
	o := observed{Policy: p, name: name}
	if ve, ok := p.(policy.ValueEvaluator); ok {
		return observedValue{o, ve}
	}
	if se, ok := p.(policy.SplitEvaluator); ok {
		return observedSplit{o, se}
	}
	return o
}

type observed struct {
	policy.Policy
	name string
}

// around runs one evaluation in its span, and counts it.
func (o observed) around(ctx context.Context, eval func(context.Context) error) {
	ctx, span := telemetry.Tracer().Start(ctx, "policy "+o.name, trace.WithAttributes(
		attribute.String("switchyard.policy", o.name), attribute.String("switchyard.policy.engine", o.Engine())))
	start := time.Now()
	err := eval(ctx)
	outcome := "ok"
	switch {
	case errors.Is(err, policy.ErrTimeout):
		outcome = "timeout"
	case err != nil:
		outcome = "error"
	}
	metrics.PolicyEvaluations.WithLabelValues(o.name, outcome).Inc()
	metrics.PolicySeconds.WithLabelValues(o.name).Observe(time.Since(start).Seconds())
	span.SetAttributes(attribute.String("switchyard.policy.outcome", outcome))
	telemetry.Fail(span, err)
	span.End()
}

func (o observed) Eval(ctx context.Context, input []byte) (out []byte, err error) {
	o.around(ctx, func(ctx context.Context) error { out, err = o.Policy.Eval(ctx, input); return err })
	return out, err
}

type observedValue struct {
	observed
	ve policy.ValueEvaluator
}

func (o observedValue) EvalValue(ctx context.Context, input ast.Value) (out any, err error) {
	o.around(ctx, func(ctx context.Context) error { out, err = o.ve.EvalValue(ctx, input); return err })
	return out, err
}

type observedSplit struct {
	observed
	se policy.SplitEvaluator
}

func (o observedSplit) EvalSplit(ctx context.Context, doc []byte, field string, items [][]byte) (out []byte, err error) {
	o.around(ctx, func(ctx context.Context) error { out, err = o.se.EvalSplit(ctx, doc, field, items); return err })
	return out, err
}
