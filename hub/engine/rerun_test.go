package engine

import (
	"reflect"
	"testing"

	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/wire"
)

// Which puts run again when their run is lost: a built-in type whose put is
// idempotent, or a step that says so in its params (taken out of what the
// resource sees); not a custom type that borrows a built-in type's name.
func TestPutsThatRerunWhenLost(t *testing.T) {
	for _, c := range []struct {
		name   string
		put    pipeline.PutPlan
		rerun  bool
		params map[string]any
	}{
		{"git", pipeline.PutPlan{Type: "git", Params: map[string]any{"repository": "repo"}}, false, map[string]any{"repository": "repo"}},
		{"registry-image", pipeline.PutPlan{Type: "registry-image"}, true, nil},
		{"mock", pipeline.PutPlan{Type: "mock"}, true, nil},
		{"a custom type named mock", pipeline.PutPlan{Type: "mock", Image: pipeline.TypeImage{CheckPlan: &pipeline.Plan{}}}, false, nil},
		{"the step says so", pipeline.PutPlan{Type: "s3", Params: map[string]any{"file": "f", wire.RerunParam: true}}, true, map[string]any{"file": "f"}},
		{"the step says no", pipeline.PutPlan{Type: "s3", Params: map[string]any{wire.RerunParam: false}}, false, map[string]any{}},
		{"only true says so", pipeline.PutPlan{Type: "s3", Params: map[string]any{wire.RerunParam: "yes"}}, false, map[string]any{}},
	} {
		params, rerun := putRerun(&c.put)
		if rerun != c.rerun || !reflect.DeepEqual(params, c.params) {
			t.Errorf("%s: rerun %v with params %v, want %v with %v", c.name, rerun, params, c.rerun, c.params)
		}
		if got := wire.RerunsWhenLost(wire.KindPut, wire.StepRequest{RerunWhenLost: rerun}); got != c.rerun {
			t.Errorf("%s: RerunsWhenLost %v", c.name, got)
		}
	}
	for _, k := range []wire.StepKind{wire.KindTask, wire.KindGet, wire.KindCheck} {
		if !wire.RerunsWhenLost(k, wire.StepRequest{}) {
			t.Errorf("a lost %s is not run again", k)
		}
	}
}
