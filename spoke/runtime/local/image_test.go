package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/spoke/imageexec"
	"github.com/switchyard-ci/switchyard/spoke/imageexec/imageexectest"
	"github.com/switchyard-ci/switchyard/wire"
)

// A task with image: runs inside the artifact's rootfs, with the image's env
// and user, its inputs bound in, its outputs and caches published as on the
// host.
func TestTaskInImage(t *testing.T) {
	if err := imageexec.Available(); err != nil {
		t.Skip(err)
	}
	rt := &Runtime{Dir: t.TempDir()}
	image := rt.Artifact(1, "img")
	imageexectest.Rootfs(t, image)
	write := func(path, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(image, "metadata.json"), `{"env":["PATH=/bin","FROM_IMAGE=yes","OVERRIDDEN=image"],"user":"builder"}`)
	write(filepath.Join(rt.Artifact(1, "src"), "msg"), "hello from src\n")

	task := func(cfg *pipeline.TaskConfig, params map[string]string) (wire.Result, string) {
		t.Helper()
		var log lines
		res := rt.Run(t.Context(), wire.Assignment{BuildID: 1, PlanID: "p" + cfg.Run.Args[0], Attempt: 1, Request: wire.StepRequest{
			Kind: wire.KindTask, Name: "t", Inputs: map[string]string{"src": "src"},
			Env:  map[string]string{"BUILD_JOB_NAME": "j", "BUILD_PIPELINE_NAME": "p", "BUILD_TEAM_NAME": "main"},
			Task: &wire.TaskRequest{Config: cfg, Params: params, Image: "img"},
		}}, &log)
		return res, strings.Join(log, "")
	}
	run := func(args ...string) *pipeline.RunConfig { return &pipeline.RunConfig{Path: "probe", Args: args} }

	res, log := task(&pipeline.TaskConfig{Run: run("id")}, nil)
	if res.Error != "" || res.ExitStatus != 0 || !strings.HasPrefix(log, "uid=1000 gid=1000 pid=1 dir=/tmp/build/") {
		t.Fatalf("id: %+v %q", res, log)
	}
	res, log = task(&pipeline.TaskConfig{Run: run("env", "FROM_IMAGE", "OVERRIDDEN", "HOME"), Params: pipeline.Env{"OVERRIDDEN": "config"}}, map[string]string{"OVERRIDDEN": "step"})
	if want := "FROM_IMAGE=yes\nOVERRIDDEN=step\nHOME=/home/builder\n"; res.ExitStatus != 0 || log != want {
		t.Fatalf("env: %+v %q, want %q", res, log, want)
	}
	root := run("cat", "src/msg", "/etc/passwd")
	root.User = "root"
	res, log = task(&pipeline.TaskConfig{Run: root, Inputs: []pipeline.TaskInput{{Name: "src"}}}, nil)
	if res.ExitStatus != 0 || log != "hello from src\n"+imageexectest.Passwd {
		t.Fatalf("cat as root: %+v %q", res, log)
	}
	// An input at path: . has its entries in the working directory.
	res, log = task(&pipeline.TaskConfig{Run: run("cat", "msg"), Inputs: []pipeline.TaskInput{{Name: "src", Path: "."}}}, nil)
	if res.ExitStatus != 0 || log != "hello from src\n" {
		t.Fatalf("input at path .: %+v %q", res, log)
	}
	res, log = task(&pipeline.TaskConfig{Run: run("write", "out/file", "made in the image"), Outputs: []pipeline.TaskOutput{{Name: "out"}}, Caches: []pipeline.TaskCache{{Path: "cache"}}}, nil)
	if res.Error != "" || res.ExitStatus != 0 {
		t.Fatalf("write an output: %+v %q", res, log)
	}
	if data, err := os.ReadFile(filepath.Join(rt.Artifact(1, "out"), "file")); err != nil || string(data) != "made in the image" {
		t.Fatalf("output: %q %v", data, err)
	}
	res, _ = task(&pipeline.TaskConfig{Run: run("exit", "4")}, nil)
	if res.ExitStatus != 4 {
		t.Fatalf("exit 4: %+v", res)
	}

	// An artifact that is not an image, one that is not there, and images
	// without their metadata or with bad metadata.
	noMeta, badMeta := rt.Artifact(1, "nometa"), rt.Artifact(1, "badmeta")
	for _, dir := range []string{noMeta, badMeta} {
		if err := os.MkdirAll(filepath.Join(dir, "rootfs"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(badMeta, "metadata.json"), `{"env": "PATH=/bin"}`)
	for name, want := range map[string]string{
		"src": "image src has no rootfs/ directory", "none": "image none: the build has no such artifact",
		"nometa":  "image nometa: stream image metadata file: openat metadata.json: no such file or directory. Is the image in rootfs format?",
		"badmeta": "image badmeta: malformed image metadata: json: cannot unmarshal string",
	} {
		var log lines
		res := rt.Run(t.Context(), wire.Assignment{BuildID: 1, PlanID: "x", Attempt: 1, Request: wire.StepRequest{
			Kind: wire.KindTask, Task: &wire.TaskRequest{Config: &pipeline.TaskConfig{Run: run("id")}, Image: name},
		}}, &log)
		if !strings.Contains(res.Error, want) {
			t.Errorf("image %s: %q, want %q", name, res.Error, want)
		}
	}
}
