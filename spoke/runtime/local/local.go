package local

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/spoke/resource"
	"github.com/switchyard-ci/switchyard/spoke/wire"
)

// Logs receives a step's output, a line at a time.
type Logs interface {
	Line(source, text string)
}

// Runtime runs steps under Dir.
type Runtime struct {
	Dir string
}

func (rt *Runtime) buildDir(buildID int64) string {
	return filepath.Join(rt.Dir, "builds", strconv.FormatInt(buildID, 10))
}

// Artifact is where a build artifact lives on the spoke's disk.
func (rt *Runtime) Artifact(buildID int64, name string) string {
	return filepath.Join(rt.buildDir(buildID), "artifacts", name)
}

// Run runs one step to its end. Problems that stop the step from running are
// errors in the result (the step errored); a command's non-zero exit is a
// failure.
func (rt *Runtime) Run(ctx context.Context, a wire.Assignment, logs Logs) wire.Result {
	stepDir := filepath.Join(rt.buildDir(a.BuildID), "steps", strings.NewReplacer("/", "_").Replace(a.PlanID)+"-"+strconv.Itoa(a.Attempt))
	if err := os.RemoveAll(stepDir); err != nil {
		return wire.Result{Error: err.Error()}
	}
	if err := os.MkdirAll(stepDir, 0o755); err != nil {
		return wire.Result{Error: err.Error()}
	}
	var res wire.Result
	var err error
	switch a.Request.Kind {
	case "task":
		res, err = rt.task(ctx, a, stepDir, logs)
	case "get", "put", "check":
		res, err = rt.resource(ctx, a, stepDir, logs)
	default:
		err = fmt.Errorf("unknown step kind %q", a.Request.Kind)
	}
	if err != nil {
		if ctx.Err() != nil {
			return wire.Result{Error: "aborted"}
		}
		logs.Line("stderr", err.Error()+"\n")
		return wire.Result{Error: err.Error()}
	}
	return res
}

func (rt *Runtime) resource(ctx context.Context, a wire.Assignment, stepDir string, logs Logs) (wire.Result, error) {
	req := a.Request
	if req.TypeImage != "" {
		return wire.Result{}, fmt.Errorf("resource type %s runs from image %s, which needs a spoke with the kube runtime; the local runtime has mock, time and git", req.Type, req.TypeImage)
	}
	typ, err := resource.Native(req.Type, filepath.Join(rt.Dir, "resource-cache", req.Type))
	if err != nil {
		return wire.Result{}, err
	}
	log := &lineWriter{logs: logs, source: "stderr"}
	defer log.Flush()
	switch req.Kind {
	case "check":
		versions, err := typ.Check(ctx, req.Source, req.Version, log)
		if err != nil {
			return wire.Result{}, err
		}
		return wire.Result{Versions: versions}, nil
	case "get":
		resp, err := typ.In(ctx, req.Source, req.Params, req.Version, stepDir, log)
		if err != nil {
			return wire.Result{}, err
		}
		var outputs []string
		for _, artifact := range req.Outputs {
			if err := rt.Publish(a.BuildID, stepDir, artifact); err != nil {
				return wire.Result{}, err
			}
			outputs = append(outputs, artifact)
		}
		return wire.Result{Version: resp.Version, Metadata: metadata(resp.Metadata), Outputs: outputs}, nil
	}
	// put: the step directory holds a link to every artifact it may read.
	for name, artifact := range req.Inputs {
		if err := os.Symlink(rt.Artifact(a.BuildID, artifact), filepath.Join(stepDir, name)); err != nil {
			return wire.Result{}, err
		}
	}
	resp, err := typ.Out(ctx, req.Source, req.Params, stepDir, log)
	if err != nil {
		return wire.Result{}, err
	}
	return wire.Result{Version: resp.Version, Metadata: metadata(resp.Metadata)}, nil
}

func metadata(in []resource.Metadata) []wire.MetadataField {
	out := make([]wire.MetadataField, len(in))
	for i, m := range in {
		out[i] = wire.MetadataField(m)
	}
	return out
}

// Publish makes dir the build's artifact name, replacing an older one.
func (rt *Runtime) Publish(buildID int64, dir, name string) error {
	dest := rt.Artifact(buildID, name)
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	if err := os.RemoveAll(dest); err != nil {
		return err
	}
	return os.Rename(dir, dest)
}

func (rt *Runtime) task(ctx context.Context, a wire.Assignment, stepDir string, logs Logs) (wire.Result, error) {
	t := a.Request.Task
	if t == nil {
		return wire.Result{}, fmt.Errorf("task step without a task")
	}
	cfg := t.Config
	if t.ConfigPath != "" {
		artifact, rest, _ := strings.Cut(t.ConfigPath, "/")
		data, err := os.ReadFile(filepath.Join(rt.Artifact(a.BuildID, a.Request.Inputs[artifact]), rest))
		if err != nil {
			return wire.Result{}, fmt.Errorf("read task config %s: %w", t.ConfigPath, err)
		}
		if cfg, err = pipeline.LoadTaskConfig(t.ConfigPath, data); err != nil {
			return wire.Result{}, err
		}
	}
	if cfg == nil || cfg.Run == nil {
		return wire.Result{}, fmt.Errorf("task has no config to run")
	}
	for _, in := range cfg.Inputs {
		artifact, ok := a.Request.Inputs[in.Name]
		if !ok {
			artifact = in.Name
		}
		src := rt.Artifact(a.BuildID, artifact)
		if _, err := os.Stat(src); err != nil {
			if in.Optional {
				continue
			}
			return wire.Result{}, fmt.Errorf("missing inputs: %s", in.Name)
		}
		if err := link(src, filepath.Join(stepDir, pathOr(in.Path, in.Name))); err != nil {
			return wire.Result{}, err
		}
	}
	for _, o := range cfg.Outputs {
		if err := os.MkdirAll(filepath.Join(stepDir, pathOr(o.Path, o.Name)), 0o755); err != nil {
			return wire.Result{}, err
		}
	}
	for _, c := range cfg.Caches {
		if err := rt.cache(a, stepDir, c.Path); err != nil {
			return wire.Result{}, fmt.Errorf("cache %s: %w", c.Path, err)
		}
	}
	code, err := rt.command(ctx, cfg, t.Params, stepDir, logs)
	if err != nil {
		return wire.Result{}, err
	}
	res := wire.Result{ExitStatus: code}
	if code != 0 {
		return res, nil
	}
	for _, o := range cfg.Outputs {
		artifact := o.Name
		if mapped, ok := t.OutputMapping[o.Name]; ok {
			artifact = mapped
		}
		if err := rt.Publish(a.BuildID, filepath.Join(stepDir, pathOr(o.Path, o.Name)), artifact); err != nil {
			return wire.Result{}, err
		}
		res.Outputs = append(res.Outputs, artifact)
	}
	return res, nil
}

// cache gives a task its cache at path: a directory of the spoke kept per
// team, pipeline, job, step and path, so that the job's next build on this
// spoke finds what the last one left. One-off builds (no job) get an empty
// one in the step's directory.
func (rt *Runtime) cache(a wire.Assignment, stepDir, path string) error {
	dst := filepath.Join(stepDir, path)
	env := a.Request.Env
	if env["BUILD_JOB_NAME"] == "" {
		return os.MkdirAll(dst, 0o755)
	}
	sum := sha256.Sum256([]byte(strings.Join([]string{env["BUILD_TEAM_NAME"], env["BUILD_PIPELINE_NAME"], env["BUILD_JOB_NAME"], a.Request.Name, filepath.Clean(path)}, "\x00")))
	dir := filepath.Join(rt.Dir, "caches", hex.EncodeToString(sum[:16]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.Symlink(dir, dst)
}

func pathOr(path, name string) string {
	if path != "" {
		return path
	}
	return name
}

// link puts an artifact at dst. An input at an existing directory (path: .)
// gets the artifact's entries linked into it instead.
func link(src, dst string) error {
	if st, err := os.Lstat(dst); err == nil && st.IsDir() {
		entries, err := os.ReadDir(src)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := os.Symlink(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
				return err
			}
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.Symlink(src, dst)
}

// command runs the task's run.path with its args in run.dir, with params (and
// the host's PATH and HOME) as the environment, and returns its exit status.
func (rt *Runtime) command(ctx context.Context, cfg *pipeline.TaskConfig, params map[string]string, stepDir string, logs Logs) (int, error) {
	dir := filepath.Join(stepDir, cfg.Run.Dir)
	path := cfg.Run.Path
	if strings.Contains(path, "/") && !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	cmd := exec.CommandContext(ctx, path, cfg.Run.Args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range cfg.Params {
		if _, set := params[k]; !set {
			env = append(env, k+"="+v)
		}
	}
	for k, v := range params {
		env = append(env, k+"="+v)
	}
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("run %s: %w", cfg.Run.Path, err)
	}
	var wg sync.WaitGroup
	for source, r := range map[string]io.Reader{"stdout": stdout, "stderr": stderr} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pump(r, source, logs)
		}()
	}
	wg.Wait()
	err = cmd.Wait()
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode(), nil
	}
	return 0, err
}

// pump reads output and passes it on a line at a time (long lines in pieces).
func pump(r io.Reader, source string, logs Logs) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			logs.Line(source, line)
		}
		if err != nil {
			return
		}
	}
}

// lineWriter turns a resource's log writes into lines.
type lineWriter struct {
	logs   Logs
	source string
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			return len(p), nil
		}
		w.logs.Line(w.source, string(w.buf[:i+1]))
		w.buf = w.buf[i+1:]
	}
}

func (w *lineWriter) Flush() {
	if len(w.buf) > 0 {
		w.logs.Line(w.source, string(w.buf))
		w.buf = nil
	}
}
