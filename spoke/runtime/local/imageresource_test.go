package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard-ci/switchyard/spoke/imageexec"
	"github.com/switchyard-ci/switchyard/spoke/imageexec/imageexectest"
	"github.com/switchyard-ci/switchyard/wire"
)

// A custom type's check, in and out run in the type's image by the resource
// protocol; a get whose artifact is itself an image of a type runs the next
// type (a custom type of a custom type).
func TestCustomTypeInImage(t *testing.T) {
	if err := imageexec.Available(); err != nil {
		t.Skip(err)
	}
	rt := &Runtime{Dir: t.TempDir()}
	imageexectest.ResourceType(t, rt.Artifact(1, ".type"))
	step := func(plan string, req wire.StepRequest) (wire.Result, string) {
		t.Helper()
		req.Name, req.Type = "thing", "probe"
		req.Env = map[string]string{"BUILD_JOB_NAME": "j", "BUILD_PIPELINE_NAME": "p", "BUILD_TEAM_NAME": "main"}
		var log lines
		res := rt.Run(t.Context(), wire.Assignment{BuildID: 1, PlanID: plan, Attempt: 1, Request: req}, &log)
		return res, strings.Join(log, "")
	}

	res, log := step("check", wire.StepRequest{Kind: wire.KindCheck, TypeImage: ".type", Source: []byte(`{"versions":["a","b","c"]}`)})
	if res.Error != "" || len(res.Versions) != 3 || res.Versions[2]["ref"] != "c" || !strings.Contains(log, "checking") {
		t.Fatalf("check: %+v %q", res, log)
	}
	res, log = step("get", wire.StepRequest{Kind: wire.KindGet, TypeImage: ".type", Source: []byte(`{"image":true}`),
		Version: map[string]string{"ref": "b"}, Outputs: map[string]string{".inner": ".inner"}})
	if res.Error != "" || res.Version["ref"] != "b" || len(res.Metadata) != 1 || !strings.Contains(log, "fetching b into /tmp/build/") || !strings.Contains(log, "as j") {
		t.Fatalf("get: %+v %q", res, log)
	}
	if data, err := os.ReadFile(filepath.Join(rt.Artifact(1, ".inner"), "ref")); err != nil || string(data) != "b\n" {
		t.Fatalf("the get's artifact: %q %v", data, err)
	}
	// The type the get fetched runs the next steps.
	res, log = step("check-inner", wire.StepRequest{Kind: wire.KindCheck, TypeImage: ".inner"})
	if res.Error != "" || len(res.Versions) != 2 || !strings.Contains(log, "checking") {
		t.Fatalf("check in the fetched type: %+v %q", res, log)
	}
	if err := os.MkdirAll(rt.Artifact(1, "built"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rt.Artifact(1, "built"), "version"), []byte("v9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, log = step("put", wire.StepRequest{Kind: wire.KindPut, TypeImage: ".inner", Params: []byte(`{"file":"built/version"}`), Inputs: map[string]string{"built": "built"}})
	if res.Error != "" || res.Version["ref"] != "v9" || !strings.Contains(log, "putting built/version") {
		t.Fatalf("put: %+v %q", res, log)
	}

	// A failing script fails the step; an image artifact that is not one, or
	// that is not there, errors with why.
	res, log = step("put-missing", wire.StepRequest{Kind: wire.KindPut, TypeImage: ".type", Params: []byte(`{"file":"nothing"}`)})
	if res.ExitStatus == 0 || !strings.Contains(log, "resource script /opt/resource/out failed") {
		t.Errorf("a failing out: %+v %q", res, log)
	}
	if err := os.MkdirAll(rt.Artifact(1, "plain"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"plain": "has no rootfs/ directory", "absent": "the build has no such artifact", "../escape": "artifact"} {
		res, _ = step("bad-"+name, wire.StepRequest{Kind: wire.KindCheck, TypeImage: name})
		if !strings.Contains(res.Error, want) {
			t.Errorf("type image %q: %+v, want %q", name, res, want)
		}
	}
}
