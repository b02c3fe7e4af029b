package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"

	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/spoke/imageexec"
	"github.com/switchyard-ci/switchyard/spoke/resource"
	"github.com/switchyard-ci/switchyard/wire"
)

// imageResource runs a check, get or put of a custom resource type in the
// type's image (the build artifact the hub fetched it into), by Concourse's
// resource protocol (package resource's script.go). The step's directory is
// the get's destination and, holding the put's inputs, the put's sources.
func (rt *Runtime) imageResource(ctx context.Context, a wire.Assignment, st *step, logs Logs) (wire.Result, error) {
	req := a.Request
	script, body, err := resource.ScriptRequest(string(req.Kind), req.Source, req.Params, req.Version)
	if err != nil {
		return wire.Result{}, err
	}
	img, err := rt.openImageArtifact(a.BuildID, req.TypeImage, "", "", req.TypePrivileged, st)
	if err != nil {
		return wire.Result{}, fmt.Errorf("resource type %s: %w", req.Type, err)
	}
	work := img.spec.Binds[0].Path
	spec := img.spec
	spec.Path = script
	if req.Kind != wire.KindCheck {
		spec.Args = []string{work}
	}
	if req.Kind == wire.KindPut {
		for name, artifact := range req.Inputs {
			if err := pipeline.CheckName(name); err != nil {
				return wire.Result{}, err
			}
			if err := img.bind(st, rt.Artifact(a.BuildID, artifact), name); err != nil {
				return wire.Result{}, err
			}
		}
		spec.Binds = img.spec.Binds
	}
	if err := img.own(st, nil); err != nil {
		return wire.Result{}, err
	}
	env := append([]string{"PATH=" + defaultPath, "HOME=" + spec.User.Home}, img.env...)
	if req.Kind != wire.KindCheck { // Concourse gives in and out the build's metadata
		for k, v := range req.Env {
			env = append(env, k+"="+v)
		}
	}
	cmd, err := imageexec.Command(ctx, spec, env)
	if err != nil {
		return wire.Result{}, err
	}
	stdout := &boundedBuffer{max: resource.MaxScriptResponse}
	log := &lineWriter{logs: logs, source: "stderr"}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(body), stdout, log
	err = cmd.Run()
	log.Flush()
	if ctx.Err() != nil {
		return wire.Result{}, ctx.Err()
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) { // the step fails, as in Concourse
		logs.Line("stderr", fmt.Sprintf("resource script %s failed: exit status %d\n", script, exit.ExitCode()))
		return wire.Result{ExitStatus: exit.ExitCode()}, nil
	}
	if err != nil {
		return wire.Result{}, err
	}
	if stdout.over {
		return wire.Result{}, fmt.Errorf("resource script %s printed over %d bytes", script, resource.MaxScriptResponse)
	}
	if req.Kind == wire.KindCheck {
		versions, err := resource.CheckResponse(script, stdout.Bytes())
		return wire.Result{Versions: versions}, err
	}
	resp, err := resource.ScriptResponse(script, stdout.Bytes())
	if err != nil {
		return wire.Result{}, err
	}
	res := wire.Result{Version: resp.Version, Metadata: metadata(resp.Metadata)}
	if req.Kind == wire.KindGet {
		for _, artifact := range req.Outputs {
			if err := publish(st.build, st.rel, artifact); err != nil {
				return wire.Result{}, err
			}
			res.Outputs = append(res.Outputs, artifact)
		}
	}
	return res, nil
}

// boundedBuffer keeps at most max bytes and says when more came.
type boundedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if b.Len()+n > b.max {
		b.over = true
		p = p[:max(0, b.max-b.Len())]
	}
	b.Buffer.Write(p)
	return n, nil // the rest is dropped, not refused: the script runs to its end
}
