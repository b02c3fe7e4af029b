package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/util"
)

// regoPolicy is a Rego module prepared once; each evaluation runs the
// prepared query data.switchyard.
type regoPolicy struct {
	query rego.PreparedEvalQuery
	lim   Limits
}

func loadRego(ctx context.Context, name string, src []byte, lim Limits) (Policy, error) {
	mod, err := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, regoError(err)
	}
	if !strings.HasPrefix(mod.Package.Path.String(), "data.switchyard") {
		return nil, fmt.Errorf("%s:%d: package %s: policies are packages under switchyard (package switchyard.placement, package switchyard.admission)",
			name, mod.Package.Location.Row, strings.TrimPrefix(mod.Package.Path.String(), "data."))
	}
	c := ast.NewCompiler()
	if c.Compile(map[string]*ast.Module{name: mod}); c.Failed() {
		return nil, regoError(c.Errors)
	}
	q, err := rego.New(rego.Query("data.switchyard"), rego.ParsedModule(mod), rego.StrictBuiltinErrors(true)).PrepareForEval(ctx)
	if err != nil {
		return nil, regoError(err)
	}
	return &regoPolicy{query: q, lim: lim}, nil
}

// regoError lists OPA's errors one a line, each with its file:line.
func regoError(err error) error {
	if errs, ok := err.(ast.Errors); ok {
		lines := make([]string, 0, len(errs))
		for _, e := range errs {
			loc := ""
			if e.Location != nil {
				loc = fmt.Sprintf("%s:%d: ", e.Location.File, e.Location.Row)
			}
			lines = append(lines, loc+e.Message)
		}
		return fmt.Errorf("%s", strings.Join(lines, "\n"))
	}
	return err
}

func (p *regoPolicy) Engine() string { return "rego" }

func (p *regoPolicy) Eval(ctx context.Context, input []byte) ([]byte, error) {
	var in any
	if err := util.UnmarshalJSON(input, &in); err != nil {
		return nil, fmt.Errorf("policy input: %w", err)
	}
	v, err := ast.InterfaceToValue(in)
	if err != nil {
		return nil, fmt.Errorf("policy input: %w", err)
	}
	ans, err := p.EvalValue(ctx, v)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(ans)
	if err != nil {
		return nil, err
	}
	return checkAnswer(out, p.lim)
}

// EvalValue evaluates an input already made a Rego value (see
// ValueEvaluator). Its answer is held to the output cap by an estimate of
// its size as JSON.
func (p *regoPolicy) EvalValue(ctx context.Context, input ast.Value) (any, error) {
	ctx, cancel := deadline(ctx, p.lim)
	defer cancel()
	rs, err := p.query.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return nil, timeoutError(ctx, fmt.Errorf("policy: %w", err), p.lim)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return map[string]any{}, nil
	}
	v := rs[0].Expressions[0].Value
	if n := jsonSize(v, p.lim.MaxOutput); n > p.lim.MaxOutput {
		return nil, fmt.Errorf("policy answered more than the %d bytes allowed", p.lim.MaxOutput)
	}
	return v, nil
}

// jsonSize estimates the size of v as JSON, counting no further than limit.
func jsonSize(v any, limit int) int {
	switch x := v.(type) {
	case string:
		return len(x) + 2
	case map[string]any:
		n := 2
		for k, item := range x {
			if n += len(k) + 4 + jsonSize(item, limit-n); n > limit {
				return n
			}
		}
		return n
	case []any:
		n := 2
		for _, item := range x {
			if n += 1 + jsonSize(item, limit-n); n > limit {
				return n
			}
		}
		return n
	case json.Number:
		return len(x)
	}
	return 5 // true, false, null
}

func (p *regoPolicy) Close(context.Context) error { return nil }
