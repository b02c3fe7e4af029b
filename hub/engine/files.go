package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/switchyard-ci/switchyard/wire"
)

// implicitRead is the step kind of the hub's read of a file in a build
// artifact (a task's config file, a set_pipeline step's files): it shows no
// events of its own.
const implicitRead wire.StepKind = "implicit-read"

// readFile reads file (ARTIFACT/path, the artifact named as in inputs when
// it maps it) through the spoke that holds the artifact, bounded as
// load_var's (wire.MaxLoadVarFile).
func (r *run) readFile(ctx context.Context, planID, file string, inputs map[string]string, tags []string) ([]byte, error) {
	// Concourse's words for a path without an artifact and an unknown one.
	input, rest, found := strings.Cut(file, "/")
	if !found || rest == "" {
		return nil, fmt.Errorf("config path '%s' does not specify where the file lives", file)
	}
	artifact, ok := inputs[input]
	if !ok {
		artifact = input
	}
	r.mu.Lock()
	ref, ok := r.artifacts[artifact]
	r.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("unknown artifact source: '%s' in file path '%s'", input, file)
	}
	// An artifact's contents never change: a file read once in a build (by
	// each run of an across step, say) is not read again.
	key := ref.Digest + "/" + rest
	r.mu.Lock()
	data, read := r.files[key]
	r.mu.Unlock()
	if read && ref.Digest != "" {
		return data, nil
	}
	req := wire.StepRequest{Kind: wire.KindLoadVar, Name: input, LoadFile: artifact + "/" + rest, Env: r.env(), Tags: tags,
		Inputs: map[string]string{artifact: artifact}, Artifacts: map[string]wire.ArtifactRef{artifact: ref}}
	res, err := r.runStep(ctx, planID, 1, implicitRead, req)
	if err != nil {
		return nil, err
	}
	if res.Error != "" {
		return nil, fmt.Errorf("file %s: %s", file, res.Error)
	}
	r.mu.Lock()
	if r.files == nil {
		r.files = map[string][]byte{}
	}
	r.files[key] = res.File
	r.mu.Unlock()
	return res.File, nil
}
