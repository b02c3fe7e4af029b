package creds

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/vars"
	"github.com/switchyard-ci/switchyard/wire"
)

// Resolved is a step request with its vars filled in, and the secret values
// in it for the spoke to redact.
type Resolved struct {
	Request wire.StepRequest
	Secrets []string
}

// ResolveRequest fills in the vars of what a step runs: a resource's source
// and params, a custom type's image source, a task's config and params. The errors
// are worded as Concourse's.
func ResolveRequest(ctx context.Context, res *Resolver, req wire.StepRequest) (Resolved, error) {
	texts := []string{string(req.Source), string(req.Params), string(req.TypeImageSource)}
	if t := req.Task; t != nil {
		cfg, _ := json.Marshal(t.Config)
		texts = append(texts, string(cfg), string(t.ImageSource))
		for _, v := range t.Params {
			texts = append(texts, v)
		}
	}
	r := newPrefetch(ctx, res, texts...)
	var err error
	if req.Source, err = vars.InterpolateJSON(ctx, req.Source, r); err != nil {
		if req.Kind == wire.KindCheck {
			return Resolved{}, fmt.Errorf("resource config creds evaluation: %w", err)
		}
		return Resolved{}, err
	}
	if req.Params, err = vars.InterpolateJSON(ctx, req.Params, r); err != nil {
		return Resolved{}, err
	}
	if len(req.TypeImageSource) > 0 {
		if req.TypeImageSource, err = vars.InterpolateJSON(ctx, req.TypeImageSource, r); err != nil {
			return Resolved{}, err
		}
	}
	if t := req.Task; t != nil {
		task := *t
		if err := resolveTask(ctx, r, &task); err != nil {
			return Resolved{}, fmt.Errorf("failed to interpolate task config: %w", err)
		}
		req.Task = &task
	}
	return Resolved{Request: req, Secrets: res.Secrets()}, nil
}

func resolveTask(ctx context.Context, r vars.Lookup, t *wire.TaskRequest) error {
	if t.Config != nil {
		raw, err := json.Marshal(t.Config)
		if err != nil {
			return err
		}
		if raw, err = vars.InterpolateJSON(ctx, raw, r); err != nil {
			return err
		}
		var cfg pipeline.TaskConfig
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return err
		}
		t.Config = &cfg
	}
	if len(t.ImageSource) > 0 {
		var err error
		if t.ImageSource, err = vars.InterpolateJSON(ctx, t.ImageSource, r); err != nil {
			return err
		}
	}
	if len(t.Params) > 0 {
		params := make(map[string]string, len(t.Params))
		for k, v := range t.Params {
			var err error
			if params[k], err = text(ctx, v, r); err != nil {
				return err
			}
		}
		t.Params = params
	}
	return nil
}

// text interpolates a string that must stay a string; a whole var with a
// map or list value becomes its JSON, as a task param does in Concourse.
func text(ctx context.Context, s string, r vars.Lookup) (string, error) {
	v, err := vars.Interpolate(ctx, s, r)
	if err != nil {
		return "", err
	}
	if str, ok := v.(string); ok {
		return str, nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}
