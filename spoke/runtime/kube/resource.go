package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/spoke/resource"
	"github.com/switchyard-ci/switchyard/spoke/runtime/local"
	"github.com/switchyard-ci/switchyard/wire"
)

// Where a resource pod finds its request and leaves its response, in its
// build directory; and where a get's version lands.
const (
	requestPath  = ".switchyard/request"
	responsePath = ".switchyard/response"
	getPath      = "get"
)

// resource runs a check, get or put of a custom resource type in a pod of
// the type's image (the registry image its image artifact names, by
// digest), by Concourse's resource protocol (package resource's script.go). The request reaches the pod through exec, with the inputs,
// so a type's source (and its secrets) never appears in the pod's spec.
func (rt *Runtime) resource(ctx context.Context, a wire.Assignment, logs local.Logs) (wire.Result, error) {
	req := a.Request
	image, err := rt.artifactImage(a.BuildID, req.TypeImage)
	if err != nil {
		return wire.Result{}, fmt.Errorf("resource type %s: %w", req.Type, err)
	}
	pull, err := pullSecret(PodName(a), image, req.TypeImageSource)
	if err != nil {
		return wire.Result{}, err
	}
	// The resource cache keeps a get by the image that ran it.
	req.TypeImage = image
	a.Request = req
	script, body, err := resource.ScriptRequest(string(req.Kind), req.Source, req.Params, req.Version)
	if err != nil {
		return wire.Result{}, err
	}
	cfg := &pipeline.TaskConfig{Platform: "linux", RootfsURI: "docker:///" + image,
		Inputs:  []pipeline.TaskInput{{Name: "request", Path: requestPath}},
		Outputs: []pipeline.TaskOutput{{Name: "response", Path: responsePath}}}
	dir := buildDir(PodName(a))
	switch req.Kind {
	case wire.KindGet:
		script += " " + path.Join(dir, getPath)
		cfg.Outputs = append(cfg.Outputs, pipeline.TaskOutput{Name: req.Name, Path: getPath})
	case wire.KindPut:
		script += " " + dir
	}
	cfg.Run = &pipeline.RunConfig{Path: "sh", Args: []string{"-c", fmt.Sprintf("exec %s < %s/in.json > %s/out.json",
		script, path.Join(dir, requestPath), path.Join(dir, responsePath))}}

	if req.Kind == wire.KindGet {
		if res, ok, err := rt.cachedGet(a, logs); ok || err != nil {
			return res, err
		}
	}
	w := podWork{cfg: cfg, privileged: req.TypePrivileged, inputs: map[string]string{}, outputs: map[string]string{}, image: image, pull: pull}
	for _, p := range []string{responsePath, getPath} {
		if p == getPath && req.Kind != "get" {
			continue
		}
		out, err := rt.outputDir(a.BuildID)
		if err != nil {
			return wire.Result{}, err
		}
		defer os.RemoveAll(out)
		w.outputs[p] = out
	}
	in, err := rt.outputDir(a.BuildID)
	if err != nil {
		return wire.Result{}, err
	}
	defer os.RemoveAll(in)
	if err := os.WriteFile(filepath.Join(in, "in.json"), body, 0o600); err != nil {
		return wire.Result{}, err
	}
	w.inputs[requestPath] = in
	if req.Kind == wire.KindPut {
		for name, artifact := range req.Inputs {
			src := rt.Local.Artifact(a.BuildID, artifact)
			if _, err := os.Stat(src); err == nil {
				cfg.Inputs = append(cfg.Inputs, pipeline.TaskInput{Name: name})
				w.inputs[name] = src
			}
		}
	}

	res, err := rt.runPod(ctx, a, w, logs)
	if err != nil || res.ExitStatus != 0 {
		if err == nil { // the step fails, as in Concourse
			logs.Line("stderr", fmt.Sprintf("resource script %s failed: exit status %d\n", script, res.ExitStatus))
		}
		return res, err
	}
	out := filepath.Join(w.outputs[responsePath], "out.json")
	if fi, err := os.Stat(out); err == nil && fi.Size() > resource.MaxScriptResponse {
		return wire.Result{}, fmt.Errorf("resource script %s printed %d bytes, over the bound of %d", script, fi.Size(), resource.MaxScriptResponse)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		return wire.Result{}, fmt.Errorf("resource script %s left no response: %w", script, err)
	}
	if req.Kind == wire.KindCheck {
		res.Versions, err = resource.CheckResponse(script, raw)
		return res, err
	}
	resp, err := resource.ScriptResponse(script, raw)
	if err != nil {
		return wire.Result{}, err
	}
	res.Version = resp.Version
	for _, m := range resp.Metadata {
		res.Metadata = append(res.Metadata, wire.MetadataField(m))
	}
	if req.Kind == wire.KindGet {
		if err := rt.resourceCache(req).keep(w.outputs[getPath], raw); err != nil {
			logs.Line("stderr", "the get is not kept in the spoke's resource cache: "+err.Error()+"\n")
		}
		for _, artifact := range req.Outputs {
			if err := rt.Local.Publish(a.BuildID, w.outputs[getPath], artifact); err != nil {
				return wire.Result{}, err
			}
			res.Outputs = append(res.Outputs, artifact)
		}
	}
	return res, nil
}

// cachedGet answers a get from the spoke's resource cache when it has the
// version (ok), publishing the kept directory as the step's artifact.
func (rt *Runtime) cachedGet(a wire.Assignment, logs local.Logs) (wire.Result, bool, error) {
	dir, err := rt.outputDir(a.BuildID)
	if err != nil {
		return wire.Result{}, false, err
	}
	defer os.RemoveAll(dir)
	raw, ok := rt.resourceCache(a.Request).use(dir)
	if !ok {
		return wire.Result{}, false, nil
	}
	var res wire.Result
	if err := json.Unmarshal(raw, &res); err != nil || res.Version == nil {
		return wire.Result{}, false, nil
	}
	logs.Line("stderr", "using version from the spoke's resource cache\n")
	for _, artifact := range a.Request.Outputs {
		if err := rt.Local.Publish(a.BuildID, dir, artifact); err != nil {
			return wire.Result{}, false, err
		}
		res.Outputs = append(res.Outputs, artifact)
	}
	return res, true, nil
}
