package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/switchyard-ci/switchyard/api"
)

func jobs(ctx context.Context, e *env, args []string) error {
	f := newFlags("jobs", e)
	name := f.str("p", "pipeline", "pipeline")
	asJSON := f.boolean("", "json", "print JSON")
	if err := f.parse(args, name); err != nil {
		return err
	}
	c, t, err := e.client(ctx)
	if err != nil {
		return err
	}
	var js []api.JobSummary
	if err := c.Get(ctx, api.PipelinePath(t.Team, *name)+"/jobs", &js); err != nil {
		return err
	}
	if *asJSON {
		return e.printJSON(js)
	}
	rows := [][]string{}
	for _, j := range js {
		finished, next := "n/a", "n/a"
		if j.FinishedBuild != nil {
			finished = e.statusWord(j.FinishedBuild.Status)
		}
		if j.NextBuild != nil {
			next = e.statusWord(j.NextBuild.Status)
		}
		rows = append(rows, []string{j.Name, yesNo(j.Paused), finished, next})
	}
	e.table([]string{"name", "paused", "status", "next"}, rows)
	return nil
}

func jobPath(team, pipelineJob string) (string, string, string, error) {
	p, j, err := splitPair(pipelineJob, "job")
	if err != nil {
		return "", "", "", err
	}
	return api.PipelinePath(team, p) + "/jobs/" + url.PathEscape(j), p, j, nil
}

func triggerJob(ctx context.Context, e *env, args []string) error {
	f := newFlags("trigger-job", e)
	job := f.str("j", "job", "PIPELINE/JOB")
	watchIt := f.boolean("w", "watch", "watch the build")
	if err := f.parse(args, job); err != nil {
		return err
	}
	c, t, err := e.client(ctx)
	if err != nil {
		return err
	}
	path, p, j, err := jobPath(t.Team, *job)
	if err != nil {
		return err
	}
	return e.startBuild(ctx, c, path+"/builds", p, j, *watchIt)
}

// startBuild posts to a job's builds (a trigger or a rerun), says which build
// started and watches it when asked.
func (e *env) startBuild(ctx context.Context, c *api.Client, path, pipeline, job string, watch bool) error {
	var b api.Build
	if _, err := c.Do(ctx, http.MethodPost, path, nil, nil, &b); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "started %s/%s #%s\n", pipeline, job, b.Name)
	if !watch {
		return nil
	}
	fmt.Fprintln(e.stdout)
	return e.render(ctx, c, b.ID)
}

// buildID finds a build by -j and -b as fly does: -b alone is a build id, with
// -j it is a build name of that job; -j alone is the job's current build.
func (e *env) buildID(ctx context.Context, c *api.Client, team, job, build string) (int64, error) {
	if job == "" {
		id, err := strconv.ParseInt(build, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("build %q: give a build id, or -j PIPELINE/JOB with a build name", build)
		}
		return id, nil
	}
	path, _, _, err := jobPath(team, job)
	if err != nil {
		return 0, err
	}
	if build != "" {
		var b api.Build
		if err := c.Get(ctx, path+"/builds/"+url.PathEscape(build), &b); err != nil {
			if errors.Is(err, api.ErrNotFound) {
				return 0, errors.New("build not found")
			}
			return 0, err
		}
		return b.ID, nil
	}
	var j api.Job
	if err := c.Get(ctx, path, &j); err != nil {
		return 0, err
	}
	switch {
	case j.NextBuild != nil:
		return j.NextBuild.ID, nil
	case j.FinishedBuild != nil:
		return j.FinishedBuild.ID, nil
	}
	return 0, errors.New("job has no builds")
}

// buildRef is the -j and -b flags that name a build, as fly's watch has them.
type buildRef struct{ job, build *string }

func addBuildFlags(f flags) buildRef {
	return buildRef{job: f.str("j", "job", "PIPELINE/JOB"), build: f.str("b", "build", "build id, or a build name with -j")}
}

// find connects and finds the build the flags name.
func (b buildRef) find(ctx context.Context, e *env, missing string) (*api.Client, int64, error) {
	if *b.job == "" && *b.build == "" {
		return nil, 0, errors.New(missing)
	}
	c, t, err := e.client(ctx)
	if err != nil {
		return nil, 0, err
	}
	id, err := e.buildID(ctx, c, t.Team, *b.job, *b.build)
	return c, id, err
}

func watch(ctx context.Context, e *env, args []string) error {
	f := newFlags("watch", e)
	ref := addBuildFlags(f)
	if err := f.Parse(args); err != nil {
		return err
	}
	c, id, err := ref.find(ctx, e, "give -j PIPELINE/JOB and/or -b BUILD (watching the latest one-off build is not built yet)")
	if err != nil {
		return err
	}
	return e.render(ctx, c, id)
}

func builds(ctx context.Context, e *env, args []string) error {
	f := newFlags("builds", e)
	job := f.str("j", "job", "PIPELINE/JOB")
	pipelineName := f.str("p", "pipeline", "pipeline")
	count := f.Int("c", 50, "number of builds")
	f.IntVar(count, "count", 50, "number of builds")
	asJSON := f.boolean("", "json", "print JSON")
	since := f.str("", "since", "builds started at or after this local time, as 'YYYY-MM-DD HH:MM:SS'")
	until := f.str("", "until", "builds started at or before this local time, as 'YYYY-MM-DD HH:MM:SS'")
	if err := f.Parse(args); err != nil {
		return err
	}
	query := "?limit=" + strconv.Itoa(*count)
	if *since != "" || *until != "" { // Concourse's time mode: Unix seconds
		query += "&timestamps=true"
		for _, b := range []struct{ flag, value, param string }{{"since", *since, "from"}, {"until", *until, "to"}} {
			if b.value == "" {
				continue
			}
			at, err := time.ParseInLocation("2006-01-02 15:04:05", b.value, time.Local)
			if err != nil {
				return fmt.Errorf("--%s %q: give a local time as 'YYYY-MM-DD HH:MM:SS'", b.flag, b.value)
			}
			query += "&" + b.param + "=" + strconv.FormatInt(at.Unix(), 10)
		}
	}
	c, t, err := e.client(ctx)
	if err != nil {
		return err
	}
	path := "/api/v1/builds"
	switch {
	case *job != "":
		jp, _, _, err := jobPath(t.Team, *job)
		if err != nil {
			return err
		}
		path = jp + "/builds"
	case *pipelineName != "":
		path = api.PipelinePath(t.Team, *pipelineName) + "/builds"
	}
	var bs []api.Build
	if err := c.Get(ctx, path+query, &bs); err != nil {
		return err
	}
	if *asJSON {
		return e.printJSON(bs)
	}
	rows := [][]string{}
	for _, b := range bs {
		name := b.Name
		if b.JobName != "" {
			name = b.PipelineName + "/" + b.JobName + "/" + b.Name
		}
		start, end, duration := "n/a", "n/a", "n/a"
		if b.StartTime > 0 {
			start = time.Unix(b.StartTime, 0).Format("2006-01-02@15:04:05-0700")
		}
		if b.EndTime > 0 {
			end = time.Unix(b.EndTime, 0).Format("2006-01-02@15:04:05-0700")
			if b.StartTime > 0 {
				duration = (time.Duration(b.EndTime-b.StartTime) * time.Second).String()
			}
		}
		createdBy := b.CreatedBy
		if createdBy == "" {
			createdBy = "system"
		}
		rows = append(rows, []string{strconv.FormatInt(b.ID, 10), name, e.statusWord(b.Status), start, end, duration, b.TeamName, createdBy})
	}
	e.table([]string{"id", "name", "status", "start", "end", "duration", "team", "created by"}, rows)
	return nil
}

func abortBuild(ctx context.Context, e *env, args []string) error {
	f := newFlags("abort-build", e)
	job := f.str("j", "job", "PIPELINE/JOB")
	build := f.str("b", "build", "build id, or a build name with -j")
	if err := f.parse(args, build); err != nil {
		return err
	}
	c, t, err := e.client(ctx)
	if err != nil {
		return err
	}
	id, err := e.buildID(ctx, c, t.Team, *job, *build)
	if err != nil {
		return err
	}
	if _, err := c.Do(ctx, http.MethodPut, fmt.Sprintf("/api/v1/builds/%d/abort", id), nil, nil, nil); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "build successfully aborted")
	return nil
}

func workers(ctx context.Context, e *env, args []string) error {
	f := newFlags("workers", e)
	asJSON := f.boolean("", "json", "print JSON")
	if err := f.Parse(args); err != nil {
		return err
	}
	c, _, err := e.client(ctx)
	if err != nil {
		return err
	}
	var ws []api.Worker
	if err := c.Get(ctx, "/api/v1/workers", &ws); err != nil {
		return err
	}
	if *asJSON {
		return e.printJSON(ws)
	}
	rows := [][]string{}
	for _, w := range ws {
		team := w.Team
		if team == "" {
			team = "none"
		}
		tags := "none"
		if len(w.Tags) > 0 {
			tags = fmt.Sprint(w.Tags)
		}
		rows = append(rows, []string{w.Name, strconv.Itoa(w.ActiveContainers), w.Platform, tags, team, w.State, w.Version})
	}
	e.table([]string{"name", "containers", "platform", "tags", "team", "state", "version"}, rows)
	return nil
}

// jobAction is pause-job, unpause-job, schedule-job, trust-job and
// untrust-job: a PUT on the job.
func jobAction(name, action, done string) func(context.Context, *env, []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		f := newFlags(name, e)
		job := f.str("j", "job", "PIPELINE/JOB")
		if err := f.parse(args, job); err != nil {
			return err
		}
		c, t, err := e.client(ctx)
		if err != nil {
			return err
		}
		path, _, j, err := jobPath(t.Team, *job)
		if err != nil {
			return err
		}
		if _, err := c.Do(ctx, http.MethodPut, path+action, nil, nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s '%s'\n", done, j)
		return nil
	}
}

// rerunBuild reruns a build with its inputs and watches the rerun with -w.
func rerunBuild(ctx context.Context, e *env, args []string) error {
	f := newFlags("rerun-build", e)
	job := f.str("j", "job", "PIPELINE/JOB")
	build := f.str("b", "build", "name of the build to rerun")
	watchIt := f.boolean("w", "watch", "watch the rerun")
	if err := f.parse(args, job, build); err != nil {
		return err
	}
	c, t, err := e.client(ctx)
	if err != nil {
		return err
	}
	path, p, j, err := jobPath(t.Team, *job)
	if err != nil {
		return err
	}
	return e.startBuild(ctx, c, path+"/builds/"+url.PathEscape(*build), p, j, *watchIt)
}
