package local

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
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
	"github.com/switchyard-ci/switchyard/wire"
)

// Logs receives a step's output, a line at a time.
type Logs interface {
	Line(source, text string)
}

// Runtime runs steps under Dir.
type Runtime struct {
	Dir string

	groupsOnce sync.Once
	groupsLog  *groups
}

// groups is the record of the steps' process groups (groups.go).
func (rt *Runtime) groups() *groups {
	rt.groupsOnce.Do(func() { rt.groupsLog = &groups{path: filepath.Join(rt.Dir, groupsFile)} })
	return rt.groupsLog
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
	st, err := rt.openStep(a)
	if err != nil {
		return wire.Result{Error: err.Error()}
	}
	defer st.close()
	var res wire.Result
	switch a.Request.Kind {
	case wire.KindTask:
		res, err = rt.task(ctx, a, st, logs)
	case wire.KindGet, wire.KindPut, wire.KindCheck:
		res, err = rt.resource(ctx, a, st, logs)
	case wire.KindLoadVar:
		res, err = rt.loadVar(a)
	default:
		err = fmt.Errorf("unknown step kind %q", a.Request.Kind)
	}
	if err != nil {
		if ctx.Err() != nil {
			return wire.Result{Error: "aborted"}
		}
		return wire.Result{Error: err.Error()}
	}
	return res
}

// step is a step's working directory, as a path (for the processes it
// runs) and as roots that every name from the build is resolved in: build
// (the build's directory, which holds the step's and the artifacts) and dir
// (the step's own). No name reaches outside them, whatever it holds.
type step struct {
	dir   string
	rel   string // dir, relative to build
	build *os.Root
	root  *os.Root
}

func (st *step) close() {
	st.root.Close()
	st.build.Close()
}

// stepRel is a step's directory, relative to its build's.
func stepRel(a wire.Assignment) string {
	return filepath.Join("steps", strings.NewReplacer("/", "_", "..", "_").Replace(a.PlanID)+"-"+strconv.Itoa(a.Attempt))
}

// groupKey names a step's run in the record of process groups.
func groupKey(a wire.Assignment) string {
	return strconv.FormatInt(a.BuildID, 10) + "/" + stepRel(a)
}

// Reap stops the process group a previous process of the spoke started for
// the step's run, if it still runs: the local runtime cannot take a run up
// again (its output went to the process that died), so the run is lost.
// (A spoke of an earlier version kept the group in a file beside the
// step's directory: that is read too.)
func (rt *Runtime) Reap(a wire.Assignment) {
	key := groupKey(a)
	if pgid, ok := rt.groups().group(key); ok && pgid > 1 {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	rt.groups().ended(key)
	legacy := filepath.Join(rt.buildDir(a.BuildID), stepRel(a)+".pgid")
	if b, err := os.ReadFile(legacy); err == nil {
		if pgid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pgid > 1 {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		_ = os.Remove(legacy)
	}
}

// openStep makes a fresh working directory for a step.
func (rt *Runtime) openStep(a wire.Assignment) (*step, error) {
	buildDir := rt.buildDir(a.BuildID)
	if err := os.MkdirAll(buildDir, 0o755); err != nil {
		return nil, err
	}
	build, err := os.OpenRoot(buildDir)
	if err != nil {
		return nil, err
	}
	rel := stepRel(a)
	if err := build.RemoveAll(rel + ".image"); err != nil { // an image's scratch, left by a spoke that died
		build.Close()
		return nil, err
	}
	if err := build.RemoveAll(rel); err != nil {
		build.Close()
		return nil, err
	}
	if err := build.MkdirAll(rel, 0o755); err != nil {
		build.Close()
		return nil, err
	}
	root, err := build.OpenRoot(rel)
	if err != nil {
		build.Close()
		return nil, err
	}
	return &step{dir: filepath.Join(buildDir, rel), rel: rel, build: build, root: root}, nil
}

func (rt *Runtime) resource(ctx context.Context, a wire.Assignment, st *step, logs Logs) (wire.Result, error) {
	req := a.Request
	if req.TypeImage != "" {
		return rt.imageResource(ctx, a, st, logs)
	}
	typ, err := resource.Native(req.Type, filepath.Join(rt.Dir, "resource-cache", req.Type))
	if err != nil {
		return wire.Result{}, err
	}
	log := &lineWriter{logs: logs, source: "stderr"}
	defer log.Flush()
	switch req.Kind {
	case wire.KindCheck:
		versions, err := typ.Check(ctx, req.Source, req.Version, log)
		if err != nil {
			return wire.Result{}, err
		}
		return wire.Result{Versions: versions}, nil
	case wire.KindGet:
		resp, err := typ.In(ctx, req.Source, req.Params, req.Version, st.dir, log)
		if err != nil {
			return wire.Result{}, err
		}
		var outputs []string
		for _, artifact := range req.Outputs {
			if err := publish(st.build, st.rel, artifact); err != nil {
				return wire.Result{}, err
			}
			outputs = append(outputs, artifact)
		}
		return wire.Result{Version: resp.Version, Metadata: metadata(resp.Metadata), Outputs: outputs}, nil
	}
	// put: the step directory holds a link to every artifact it may read.
	for name, artifact := range req.Inputs {
		if err := pipeline.CheckName(name); err != nil {
			return wire.Result{}, err
		}
		if err := st.root.Symlink(rt.Artifact(a.BuildID, artifact), name); err != nil {
			return wire.Result{}, err
		}
	}
	resp, err := typ.Out(ctx, req.Source, req.Params, st.dir, log)
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
	build, err := os.OpenRoot(rt.buildDir(buildID))
	if err != nil {
		return err
	}
	defer build.Close()
	if rel, err := filepath.Rel(build.Name(), dir); err == nil && filepath.IsLocal(rel) {
		return publish(build, rel, name)
	}
	if err := prepareArtifact(build, name); err != nil {
		return err
	}
	return os.Rename(dir, filepath.Join(build.Name(), "artifacts", name))
}

// publish moves rel, a directory of the build, to the build's artifact
// name, inside the build's root.
func publish(build *os.Root, rel, name string) error {
	if err := prepareArtifact(build, name); err != nil {
		return err
	}
	return build.Rename(rel, filepath.Join("artifacts", name))
}

// prepareArtifact makes room for the build's artifact name.
func prepareArtifact(build *os.Root, name string) error {
	if err := pipeline.CheckName(name); err != nil {
		return fmt.Errorf("artifact %w", err)
	}
	if err := build.MkdirAll("artifacts", 0o755); err != nil {
		return err
	}
	return build.RemoveAll(filepath.Join("artifacts", name))
}

// loadVar reads the file of a load_var step, bounded.
func (rt *Runtime) loadVar(a wire.Assignment) (wire.Result, error) {
	artifact, rest, _ := strings.Cut(a.Request.LoadFile, "/")
	if err := pipeline.CheckName(artifact); err != nil {
		return wire.Result{}, fmt.Errorf("artifact %w", err)
	}
	rel, err := pipeline.RelPath(rest)
	if err != nil {
		return wire.Result{}, err
	}
	root, err := os.OpenRoot(rt.Artifact(a.BuildID, artifact))
	if err != nil {
		return wire.Result{}, fmt.Errorf("load_var: file %s: %w", a.Request.LoadFile, err)
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		return wire.Result{}, fmt.Errorf("load_var: file %s: %w", a.Request.LoadFile, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, wire.MaxLoadVarFile+1))
	if err != nil {
		return wire.Result{}, err
	}
	if len(data) > wire.MaxLoadVarFile {
		return wire.Result{}, fmt.Errorf("load_var: file %s is over %d bytes", a.Request.LoadFile, wire.MaxLoadVarFile)
	}
	return wire.Result{File: data}, nil
}

// ReadArtifactFile reads path inside a build artifact (a task's config_path):
// it resolves inside the artifact, links included.
func (rt *Runtime) ReadArtifactFile(buildID int64, artifact, path string) ([]byte, error) {
	if err := pipeline.CheckName(artifact); err != nil {
		return nil, fmt.Errorf("artifact %w", err)
	}
	rel, err := pipeline.RelPath(path)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(rt.Artifact(buildID, artifact))
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.ReadFile(rel)
}

func (rt *Runtime) task(ctx context.Context, a wire.Assignment, st *step, logs Logs) (wire.Result, error) {
	t := a.Request.Task
	if t == nil {
		return wire.Result{}, fmt.Errorf("task step without a task")
	}
	cfg := t.Config
	if t.ConfigPath != "" {
		artifact, rest, _ := strings.Cut(t.ConfigPath, "/")
		data, err := rt.ReadArtifactFile(a.BuildID, a.Request.Inputs[artifact], rest)
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
	if err := pipeline.CheckTaskPaths(cfg); err != nil {
		return wire.Result{}, err
	}
	if ir := cfg.ImageResource; ir != nil && ir.Type != "mock" && t.Image == "" {
		// Not run on the host instead: that would be a wrong build.
		return wire.Result{}, fmt.Errorf("the task's image_resource (%s) was not fetched by the hub", ir.Type)
	}
	var img *taskImage
	place := func(src, dst string) error { return link(st.root, src, dst) }
	if t.Image != "" {
		var err error
		if img, err = rt.openImage(a, cfg, st); err != nil {
			return wire.Result{}, err
		}
		defer os.RemoveAll(img.spec.Scratch)
		place = func(src, dst string) error { return img.bind(st, src, dst) }
	}
	var writable []string
	for _, in := range cfg.Inputs {
		artifact, ok := a.Request.Inputs[in.Name]
		if !ok {
			artifact = in.Name
		}
		if err := pipeline.CheckName(artifact); err != nil {
			return wire.Result{}, fmt.Errorf("input %s: artifact %w", in.Name, err)
		}
		src := rt.Artifact(a.BuildID, artifact)
		if _, err := os.Stat(src); err != nil {
			if in.Optional {
				continue
			}
			return wire.Result{}, fmt.Errorf("missing inputs: %s", in.Name)
		}
		if err := place(src, relPath(in.Path, in.Name)); err != nil {
			return wire.Result{}, err
		}
	}
	for _, o := range cfg.Outputs {
		rel := relPath(o.Path, o.Name)
		if err := st.root.MkdirAll(rel, 0o755); err != nil {
			return wire.Result{}, err
		}
		writable = append(writable, filepath.Join(st.dir, rel))
	}
	for _, c := range cfg.Caches {
		rel := relPath(c.Path, ".")
		dir, err := rt.cacheDir(a, st, rel)
		if err == nil && dir != "" {
			err = place(dir, rel)
			writable = append(writable, dir)
		}
		if err != nil {
			return wire.Result{}, fmt.Errorf("cache %s: %w", c.Path, err)
		}
	}
	var cmd *exec.Cmd
	var err error
	params := withTrace(t.Params, a.Request.Env)
	if img != nil {
		if err := img.own(st, writable); err != nil {
			return wire.Result{}, err
		}
		cmd, err = img.command(ctx, cfg, params)
	} else {
		cmd, err = hostCommand(ctx, cfg, params, st.dir)
	}
	if err != nil {
		return wire.Result{}, err
	}
	code, err := rt.command(ctx, cmd, cfg.Run.Path, groupKey(a), logs)
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
		if err := publish(st.build, filepath.Join(st.rel, relPath(o.Path, o.Name)), artifact); err != nil {
			return wire.Result{}, err
		}
		res.Outputs = append(res.Outputs, artifact)
	}
	return res, nil
}

// cacheDir gives a task its cache at rel: a directory of the spoke kept per
// team, pipeline, job, step and path, so that the job's next build on this
// spoke finds what the last one left, which the caller links or binds at
// rel. Its epoch (fly clear-task-cache moves it on) names a directory of its
// own; older ones are deleted. One-off builds (no job) get an empty one in
// the step's directory, and "" to say it is in place.
func (rt *Runtime) cacheDir(a wire.Assignment, st *step, rel string) (string, error) {
	env := a.Request.Env
	if env["BUILD_JOB_NAME"] == "" {
		return "", st.root.MkdirAll(rel, 0o755)
	}
	sum := sha256.Sum256([]byte(strings.Join([]string{env["BUILD_TEAM_NAME"], env["BUILD_PIPELINE_NAME"], env["BUILD_JOB_NAME"], a.Request.Name, filepath.Clean(rel)}, "\x00")))
	key := filepath.Join(rt.Dir, "task-caches", hex.EncodeToString(sum[:16]))
	epoch := "e" + strconv.FormatInt(a.Request.CacheEpoch(rel), 10)
	if entries, err := os.ReadDir(key); err == nil {
		for _, e := range entries {
			if e.Name() != epoch {
				if err := os.RemoveAll(filepath.Join(key, e.Name())); err != nil {
					return "", fmt.Errorf("delete a cleared cache: %w", err)
				}
			}
		}
	}
	dir := filepath.Join(key, epoch)
	return dir, os.MkdirAll(dir, 0o755)
}

// relPath is an input's, output's or cache's path in the step's directory
// (its name when it has none); paths were checked with pipeline.RelPath
// before, so an error cannot happen here, and the root refuses what would.
func relPath(path, name string) string {
	if path == "" {
		path = name
	}
	rel, err := pipeline.RelPath(path)
	if err != nil {
		return name
	}
	return rel
}

// link puts an artifact at dst in the step's directory, as links.
func link(root *os.Root, src, dst string) error {
	pairs, err := placements(root, src, dst)
	if err != nil {
		return err
	}
	for _, p := range pairs {
		if err := root.MkdirAll(filepath.Dir(p[1]), 0o755); err != nil {
			return err
		}
		if err := root.Symlink(p[0], p[1]); err != nil {
			return err
		}
	}
	return nil
}

// placements are where an artifact at src goes for dst in the step's
// directory: dst itself, or, when dst is a directory already (an input at
// path: .), each of the artifact's entries inside it.
func placements(root *os.Root, src, dst string) ([][2]string, error) {
	if st, err := root.Lstat(dst); err != nil || !st.IsDir() {
		return [][2]string{{src, dst}}, nil
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return nil, err
	}
	pairs := make([][2]string, 0, len(entries))
	for _, e := range entries {
		pairs = append(pairs, [2]string{filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())})
	}
	return pairs, nil
}

// hostCommand runs the task's run.path with its args in run.dir, on the
// spoke's own file system, with params (and the host's PATH and HOME) as the
// environment.
func hostCommand(ctx context.Context, cfg *pipeline.TaskConfig, params map[string]string, stepDir string) (*exec.Cmd, error) {
	dir := filepath.Join(stepDir, relPath(cfg.Run.Dir, "."))
	path := cfg.Run.Path
	if strings.Contains(path, "/") && !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	cmd := exec.CommandContext(ctx, path, cfg.Run.Args...)
	cmd.Dir = dir
	// Killed with the spoke: a spoke that dies is stalled, and its steps run
	// again elsewhere, so this run must not go on to finish.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = taskEnv([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, cfg, params)
	return cmd, nil
}

// withTrace is a task's params with the trace context the spoke gave the
// step (TRACEPARENT, TRACESTATE), which replaces any param of that name, as
// Concourse puts it in every container's environment.
func withTrace(params, env map[string]string) map[string]string {
	if env["TRACEPARENT"] == "" {
		return params
	}
	out := maps.Clone(params)
	if out == nil {
		out = map[string]string{}
	}
	for _, k := range []string{"TRACEPARENT", "TRACESTATE"} {
		if v, ok := env[k]; ok {
			out[k] = v
		}
	}
	return out
}

// taskEnv is a task's environment: base (KEY=value), then the config's
// params, then the step's, each winning over what comes before.
func taskEnv(base []string, cfg *pipeline.TaskConfig, params map[string]string) []string {
	vals := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	for _, kv := range base {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			set(k, v)
		}
	}
	for k, v := range cfg.Params {
		if _, later := params[k]; !later {
			set(k, v)
		}
	}
	for k, v := range params {
		set(k, v)
	}
	env := make([]string, 0, len(order))
	for _, k := range order {
		env = append(env, k+"="+vals[k])
	}
	return env
}

// command runs a task's command to its end, passing its output on, and
// returns its exit status.
func (rt *Runtime) command(ctx context.Context, cmd *exec.Cmd, runPath, step string, logs Logs) (int, error) {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("run %s: %w", runPath, err)
	}
	if err := rt.groups().started(step, cmd.Process.Pid); err == nil {
		defer rt.groups().ended(step)
	}
	var wg sync.WaitGroup
	for source, r := range map[string]io.Reader{"stdout": stdout, "stderr": stderr} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = Pump(r, source, logs) // a read error ends the output; the exit status says how the step went
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

// maxLine is the longest piece of output passed on as one line: a longer
// line comes in pieces of this size, so that a step that writes without
// newlines holds no more than this of each of its streams.
const maxLine = 64 << 10

// readers are the line readers of steps' output streams, reused: a reader
// a step took a buffer of its own, two per step, which a burst of steps
// churned by the megabyte.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, maxLine) }}

// Pump reads output and passes it on a line at a time (a line longer than
// maxLine in pieces) until r ends; it returns r's error, nil at its end.
func Pump(r io.Reader, source string, logs Logs) error {
	br := readers.Get().(*bufio.Reader)
	br.Reset(r)
	defer func() { br.Reset(nil); readers.Put(br) }()
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			logs.Line(source, string(line))
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return nil
		default:
			return err
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
	n := len(p)
	for len(p) > 0 { // a piece at a time: a huge write is not held whole
		k := min(len(p), maxLine)
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		for {
			i := bytes.IndexByte(w.buf, '\n')
			if i < 0 && len(w.buf) < maxLine {
				break
			}
			if i < 0 || i >= maxLine {
				i = maxLine - 1 // a line longer than maxLine: a piece of it
			}
			w.logs.Line(w.source, string(w.buf[:i+1]))
			w.buf = w.buf[i+1:]
		}
	}
	return n, nil
}

func (w *lineWriter) Flush() {
	if len(w.buf) > 0 {
		w.logs.Line(w.source, string(w.buf))
		w.buf = nil
	}
}
