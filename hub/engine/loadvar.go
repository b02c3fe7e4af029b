package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/wire"
)

// load_var: the spoke that holds the artifact reads the file (bounded), the
// hub parses it and keeps the value as the build's local var ((.:name)),
// redacted from logs unless reveal.

func (r *run) loadVar(ctx context.Context, p *pipeline.Plan) (bool, error) {
	lv := p.LoadVar
	artifact, _, _ := strings.Cut(lv.File, "/")
	r.mu.Lock()
	ref, ok := r.artifacts[artifact]
	r.mu.Unlock()
	if !ok {
		return false, fmt.Errorf("load_var %s: file %s: the build has no artifact %s: get or produce it in an earlier step", lv.Name, lv.File, artifact)
	}
	req := wire.StepRequest{Kind: wire.KindLoadVar, Name: lv.Name, LoadFile: lv.File, Env: r.env(),
		Inputs: map[string]string{artifact: artifact}, Artifacts: map[string]wire.ArtifactRef{artifact: ref}}
	res, ok, err := r.runAndRead(ctx, p, wire.KindLoadVar, req)
	if err != nil || !ok {
		return ok, err
	}
	value, err := parseVar(lv.File, lv.Format, res.File)
	if err != nil {
		return false, fmt.Errorf("load_var %s: %w", lv.Name, err)
	}
	resolver, err := r.vars(ctx)
	if err != nil {
		return false, err
	}
	resolver.SetLocal(lv.Name, value, !lv.Reveal)
	return true, nil
}

// parseVar reads a load_var file as its format says, or as its extension
// says (json, yml or yaml), else trimmed, as Concourse does.
func parseVar(file, format string, data []byte) (any, error) {
	if format == "" {
		switch path.Ext(file) {
		case ".json":
			format = "json"
		case ".yml", ".yaml":
			format = "yaml"
		default:
			format = "trim"
		}
	}
	switch format {
	case "raw":
		return string(data), nil
	case "trim":
		return strings.TrimSpace(string(data)), nil
	case "json":
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("failed to parse %s in format json: %v", file, err)
		}
		return v, nil
	case "yaml", "yml":
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("failed to parse %s in format yaml: %v", file, err)
		}
		return jsonish(v), nil
	}
	return nil, fmt.Errorf("format %q: use json, yaml, trim or raw", format)
}

// jsonish turns YAML's maps into the string-keyed maps vars work with.
func jsonish(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			x[k] = jsonish(val)
		}
		return x
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[fmt.Sprint(k)] = jsonish(val)
		}
		return out
	case []any:
		for i, val := range x {
			x[i] = jsonish(val)
		}
	}
	return v
}
