package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/volumes"
	"github.com/switchyard-ci/switchyard/volumes/extract"
)

// execute runs a one-off task on the fleet: local inputs are uploaded, the
// task runs wherever placement puts it, and outputs are downloaded.
func execute(ctx context.Context, e *env, args []string) error {
	var extra []string
	for i, a := range args {
		if a == "--" {
			args, extra = args[:i], args[i+1:]
			break
		}
	}
	f := newFlags("execute", e)
	file := f.str("c", "config", "the task's config file")
	inputs := f.list("i", "input", "NAME=PATH: a local directory as the task's input NAME")
	outputs := f.list("o", "output", "NAME=PATH: download the task's output NAME into PATH")
	privileged := f.boolean("p", "privileged", "run the task privileged")
	tags := f.list("", "tag", "a tag of the spokes the task may run on")
	background := f.boolean("b", "background", "start the build and exit")
	from := f.str("j", "inputs-from", "PIPELINE/JOB whose next build's inputs fill the task's other inputs")
	mappings := f.list("m", "input-mapping", "TASK_INPUT=JOB_INPUT: with -j, the job's input that fills a task input of another name")
	image := f.str("", "image", "with -j, the job's input to use as the task's image")
	includeIgnored := f.boolean("", "include-ignored", "upload every file of an input in a git work tree, not only those git ls-files lists")
	if err := f.parse(args, file); err != nil {
		return err
	}
	if *image != "" && *from == "" {
		return errors.New("--image names a job's input: give the job with -j PIPELINE/JOB")
	}
	if len(*mappings) > 0 && *from == "" {
		return errors.New("-m maps task inputs to a job's inputs: give the job with -j PIPELINE/JOB")
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	cfg, err := pipeline.LoadTaskConfig(*file, data)
	if err != nil {
		return err
	}
	if cfg.Run != nil {
		cfg.Run.Args = append(cfg.Run.Args, extra...)
	}
	for k := range cfg.Params { // as Concourse's fly: the local environment fills params
		if v, ok := os.LookupEnv(k); ok {
			cfg.Params[k] = v
		}
	}
	dirs, err := inputDirs(cfg, *inputs, *from != "")
	if err != nil {
		return err
	}
	outDirs := map[string]string{}
	for _, o := range *outputs {
		name, path, err := splitAssign(o, "-o")
		if err != nil {
			return err
		}
		outDirs[name] = path
	}
	c, t, err := e.client(ctx)
	if err != nil {
		return err
	}
	ids := planIDs{n: time.Now().Unix()}
	var gets []pipeline.Plan
	buildsPath := "/api/v1/teams/" + t.Team + "/builds"
	if *from != "" {
		jobGets, pipelinePath, err := e.jobGets(ctx, c, t.Team, *from, *mappings, *image, cfg, dirs, &ids)
		if err != nil {
			return err
		}
		gets, buildsPath = jobGets, pipelinePath+"/builds"
	}
	for _, in := range cfg.Inputs {
		dir, ok := dirs[in.Name]
		if !ok {
			continue
		}
		a, err := e.uploadInput(ctx, c, t.Team, in.Name, dir, *includeIgnored)
		if err != nil {
			return err
		}
		gets = append(gets, pipeline.Plan{ID: ids.next(), ArtifactInput: &pipeline.ArtifactInputPlan{ArtifactID: a.ID, Name: in.Name}})
	}
	task := pipeline.Plan{ID: ids.next(), Task: &pipeline.TaskPlan{Name: "one-off", Config: cfg, Privileged: *privileged, Tags: *tags}}
	steps := []pipeline.Plan{task}
	if len(gets) > 0 {
		steps = []pipeline.Plan{{ID: ids.next(), InParallel: &pipeline.InParallelPlan{Steps: gets}}, task}
	}
	plan := pipeline.Plan{ID: ids.next(), Do: &steps}
	if len(outDirs) > 0 {
		var keep []pipeline.Plan
		for name := range outDirs {
			keep = append(keep, pipeline.Plan{ID: ids.next(), ArtifactOutput: &pipeline.ArtifactOutputPlan{Name: name}})
		}
		plan = pipeline.Plan{ID: ids.next(), Ensure: &pipeline.EnsurePlan{Step: plan,
			Next: pipeline.Plan{ID: ids.next(), InParallel: &pipeline.InParallelPlan{Steps: keep}}}}
	}
	var b api.Build
	if _, err := c.Do(ctx, http.MethodPost, buildsPath, nil, plan, &b); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "executing build %d at %s/builds/%d\n", b.ID, strings.TrimSuffix(c.URL, "/"), b.ID)
	if *background {
		return nil
	}
	renderErr := e.render(ctx, c, b.ID)
	var ee exitError
	if renderErr != nil && !errors.As(renderErr, &ee) {
		return renderErr
	}
	if len(outDirs) > 0 {
		var arts []api.WorkerArtifact
		if err := c.Get(ctx, fmt.Sprintf("/api/v1/builds/%d/artifacts", b.ID), &arts); err != nil {
			return err
		}
		for _, a := range arts {
			if path, ok := outDirs[a.Name]; ok {
				if err := e.downloadOutput(ctx, c, t.Team, a, path); err != nil {
					return err
				}
			}
		}
	}
	return renderErr
}

// jobGets are the gets of the task inputs not given locally, from the
// inputs the job's next build would get (-j), with -m's renamings, as
// Concourse's fly builds them; and the job's pipeline's API path.
// With image, that input of the job becomes the task's image_resource, at
// the version the job's next build would get, as Concourse's fly does.
func (e *env) jobGets(ctx context.Context, c *api.Client, team, from string, mappings []string, image string, cfg *pipeline.TaskConfig, dirs map[string]string, ids *planIDs) ([]pipeline.Plan, string, error) {
	path, p, j, err := jobPath(team, from)
	if err != nil {
		return nil, "", err
	}
	jobInput := map[string]string{}
	for _, m := range mappings {
		task, job, ok := strings.Cut(m, "=")
		if !ok || task == "" || job == "" {
			return nil, "", fmt.Errorf("-m %q: write TASK_INPUT=JOB_INPUT", m)
		}
		jobInput[task] = job
	}
	var inputs []api.BuildInput
	err = c.Get(ctx, path+"/inputs", &inputs)
	if errors.Is(err, api.ErrNotFound) {
		return nil, "", fmt.Errorf("job %s/%s has no next inputs yet, or no such job: they are resolved soon after its resources have versions (fly check-resource)", p, j)
	}
	if err != nil {
		return nil, "", fmt.Errorf("inputs of job %s/%s: %w", p, j, err)
	}
	var apiTypes []api.ResourceType
	if err := c.Get(ctx, api.PipelinePath(team, p)+"/resource-types", &apiTypes); err != nil {
		return nil, "", fmt.Errorf("resource types of pipeline %s: %w", p, err)
	}
	types := make([]pipeline.ResourceType, len(apiTypes))
	for i, rt := range apiTypes {
		types[i] = pipeline.ResourceType{Name: rt.Name, Type: rt.Type, Source: rt.Source, Defaults: rt.Defaults, Privileged: rt.Privileged,
			Params: rt.Params, CheckEvery: rt.CheckEvery, Tags: rt.Tags}
	}
	if image != "" {
		i := slices.IndexFunc(inputs, func(bi api.BuildInput) bool { return bi.Name == image })
		if i < 0 {
			return nil, "", fmt.Errorf("--image %s: job %s/%s has no input %s", image, p, j, image)
		}
		bi := inputs[i]
		cfg.ImageResource = &pipeline.ImageResource{Type: bi.Type, Source: bi.Source, Version: bi.Version, Tags: bi.Tags}
	}
	var gets []pipeline.Plan
	for _, in := range cfg.Inputs {
		if _, ok := dirs[in.Name]; ok {
			continue
		}
		name := in.Name
		if mapped, ok := jobInput[name]; ok {
			name = mapped
		}
		i := slices.IndexFunc(inputs, func(bi api.BuildInput) bool { return bi.Name == name })
		if i < 0 {
			if in.Optional {
				continue
			}
			return nil, "", fmt.Errorf("missing required input `%s`: job %s/%s has no input %s; give it with -i %s=PATH, or -m %s=JOB_INPUT", in.Name, p, j, name, in.Name, in.Name)
		}
		bi, id := inputs[i], ids.next()
		gets = append(gets, pipeline.Plan{ID: id, Get: &pipeline.GetPlan{Name: in.Name, Type: bi.Type, Resource: bi.Resource, Source: bi.Source,
			Params: bi.Params, Version: bi.Version, Tags: bi.Tags, Image: pipeline.TypeImageOf(id, bi.Type, types)}})
	}
	return gets, api.PipelinePath(team, p), nil
}

// inputDirs maps the task's inputs to local directories: the -i flags, and
// the working directory for an input named like it, as Concourse's fly does.
// A required input without either is an error, unless a job fills the rest
// (fromJob).
func inputDirs(cfg *pipeline.TaskConfig, flags []string, fromJob bool) (map[string]string, error) {
	dirs := map[string]string{}
	for _, i := range flags {
		name, path, err := splitAssign(i, "-i")
		if err != nil {
			return nil, err
		}
		dirs[name] = path
	}
	cwd, _ := os.Getwd()
	for _, in := range cfg.Inputs {
		if _, ok := dirs[in.Name]; ok {
			continue
		}
		if filepath.Base(cwd) == in.Name {
			dirs[in.Name] = cwd
		} else if !in.Optional && !fromJob {
			return nil, fmt.Errorf("missing required input `%s`: give it with -i %s=PATH", in.Name, in.Name)
		}
	}
	for name := range dirs {
		known := false
		for _, in := range cfg.Inputs {
			known = known || in.Name == name
		}
		if !known {
			return nil, fmt.Errorf("unknown input `%s`: the task's inputs are %s", name, inputNames(cfg))
		}
	}
	return dirs, nil
}

// splitAssign splits NAME=PATH.
func splitAssign(v, flag string) (string, string, error) {
	name, path, ok := strings.Cut(v, "=")
	if !ok || name == "" || path == "" {
		return "", "", fmt.Errorf("%s %q: write NAME=PATH", flag, v)
	}
	if err := pipeline.CheckName(name); err != nil {
		return "", "", fmt.Errorf("%s %q: %v", flag, v, err)
	}
	return name, path, nil
}

func inputNames(cfg *pipeline.TaskConfig) string {
	var names []string
	for _, in := range cfg.Inputs {
		names = append(names, in.Name)
	}
	return strings.Join(names, ", ")
}

// planIDs numbers plan nodes as fly does: hex of a counter seeded with the time.
type planIDs struct{ n int64 }

func (p *planIDs) next() string { p.n++; return strconv.FormatInt(p.n, 16) }

// uploadInput packs dir (tar, zstd) and streams it to the hub as an artifact,
// showing progress. In a git work tree it packs what git ls-files lists,
// as Concourse's fly does, unless includeIgnored.
func (e *env) uploadInput(ctx context.Context, c *api.Client, team, name, dir string, includeIgnored bool) (api.WorkerArtifact, error) {
	var keep volumes.Keep
	if !includeIgnored {
		keep, _ = gitKeep(ctx, dir)
	}
	pr, pw := io.Pipe()
	go func() {
		_, _, err := volumes.PackSome(ctx, dir, keep, pw)
		pw.CloseWithError(err)
	}()
	prog := e.progress("uploading "+name, -1)
	body := &countingReader{r: pr, on: prog.add}
	var a api.WorkerArtifact
	resp, err := c.Stream(ctx, http.MethodPost, "/api/v1/teams/"+team+"/artifacts", http.Header{"Content-Type": {"application/octet-stream"}}, body)
	if err == nil {
		defer resp.Body.Close()
		err = decodeResponse(resp, &a)
	}
	pr.CloseWithError(errors.New("upload ended"))
	prog.done(err)
	if err != nil {
		return a, fmt.Errorf("upload input %s: %w", name, err)
	}
	return a, nil
}

// downloadOutput streams an output from the hub into path, checks it
// against its digest and extracts it, showing progress.
func (e *env) downloadOutput(ctx context.Context, c *api.Client, team string, a api.WorkerArtifact, path string) error {
	resp, err := c.Stream(ctx, http.MethodGet, fmt.Sprintf("/api/v1/teams/%s/artifacts/%d", team, a.ID), http.Header{"Accept": {"application/zstd"}}, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("download output %s: %s: %s", a.Name, resp.Status, strings.TrimSpace(string(msg)))
	}
	prog := e.progress("downloading "+a.Name, resp.ContentLength)
	h := volumes.NewDigester()
	err = extract.Unpack(ctx, io.TeeReader(&countingReader{r: resp.Body, on: prog.add}, h), path, extract.Bounds{})
	if err == nil {
		_, _ = io.Copy(h, resp.Body) // the stream's tail after the tar's end
		if want := resp.Header.Get("X-Switchyard-Digest"); want != "" && want != string(h.Digest()) {
			err = fmt.Errorf("output %s arrived corrupt: expected digest %s", a.Name, want)
		}
	}
	prog.done(err)
	return err
}

// stream sends a request whose body streams, with the target's token.
func decodeResponse(resp *http.Response, out any) error {
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return api.ErrUnauthorized
	case resp.StatusCode >= 300:
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(raw)))
	}
	return json.Unmarshal(raw, out)
}

type countingReader struct {
	r  io.Reader
	on func(int)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.on(n)
	return n, err
}

// progress shows how a transfer goes on stderr: a line redrawn twice a
// second on a terminal, and the total when it ends.
type progress struct {
	e     *env
	what  string
	total int64
	mu    sync.Mutex
	n     int64
	last  time.Time
	tty   bool
}

func (e *env) progress(what string, total int64) *progress {
	return &progress{e: e, what: what, total: total, tty: isTerminal(e.stderr), last: time.Now()}
}

func (p *progress) add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n += int64(n)
	if p.tty && time.Since(p.last) > 500*time.Millisecond {
		p.last = time.Now()
		fmt.Fprintf(p.e.stderr, "\r%s: %s", p.what, p.amount())
	}
}

func (p *progress) amount() string {
	if p.total > 0 {
		return fmt.Sprintf("%s of %s", volumes.HumanBytes(p.n), volumes.HumanBytes(p.total))
	}
	return volumes.HumanBytes(p.n)
}

func (p *progress) done(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	prefix := ""
	if p.tty {
		prefix = "\r"
	}
	if err != nil {
		fmt.Fprintf(p.e.stderr, "%s%s: %s, failed\n", prefix, p.what, volumes.HumanBytes(p.n))
		return
	}
	fmt.Fprintf(p.e.stderr, "%s%s: %s, done\n", prefix, p.what, volumes.HumanBytes(p.n))
}
