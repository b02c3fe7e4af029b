package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/switchyard-ci/switchyard/api"
)

// render prints a build's events as fly does and returns the exit code fly
// derives: the last task's exit status, else 1 failed, 2 errored, 3 aborted.
func (e *env) render(ctx context.Context, c *api.Client, buildID int64) error {
	exit := 0
	var final api.BuildStatus
	var parseErr error
	pending, started := context.WithCancel(ctx)
	defer started()
	go e.explainPending(pending, c, buildID)
	err := c.Events(ctx, buildID, func(env api.Envelope) bool {
		started()
		switch env.Event {
		case api.EventStatus:
			var s api.StatusEvent
			_ = json.Unmarshal(env.Data, &s)
			switch {
			case s.Status == api.BuildStarted:
				return true
			case s.Status.Finished():
				final = s.Status
				fmt.Fprintln(e.stdout, e.statusWord(s.Status))
				return false
			}
			parseErr = fmt.Errorf("unknown status: %s", s.Status)
			return false
		case api.EventLog:
			var l api.LogEvent
			_ = json.Unmarshal(env.Data, &l)
			fmt.Fprint(e.stdout, l.Payload)
		case api.EventInitializeTask:
			fmt.Fprintln(e.stdout, e.colour("1", "initializing"))
		case api.EventStartTask:
			var t api.TaskEvent
			_ = json.Unmarshal(env.Data, &t)
			fmt.Fprintln(e.stdout, e.colour("1", strings.TrimSpace("running "+t.Config.Run.Path+" "+strings.Join(t.Config.Run.Args, " "))))
		case api.EventFinishTask:
			var t api.FinishTaskEvent
			_ = json.Unmarshal(env.Data, &t)
			exit = t.ExitStatus
		case api.EventSelectedWorker:
			var w api.SelectedWorkerEvent
			_ = json.Unmarshal(env.Data, &w)
			fmt.Fprintln(e.stdout, "selected worker: "+w.SelectedWorker)
		case "waiting-for-worker":
			fmt.Fprintln(e.stdout, "no suitable workers found, waiting for worker...")
		case api.EventError:
			var er api.ErrorEvent
			_ = json.Unmarshal(env.Data, &er)
			fmt.Fprintln(e.stderr, e.colour("31", er.Message))
		}
		return true
	})
	if parseErr != nil {
		fmt.Fprintf(e.stderr, "failed to parse next event: %v\n", parseErr)
		return exitError{255}
	}
	if err != nil {
		return err
	}
	if exit == 0 {
		exit = map[api.BuildStatus]int{api.BuildFailed: 1, api.BuildErrored: 2, api.BuildAborted: 3}[final]
	}
	if exit != 0 {
		return exitError{exit}
	}
	return nil
}

// explainPending says on stderr, while a build has not started, what holds it
// back (Concourse's build preparation), each time that changes.
func (e *env) explainPending(ctx context.Context, c *api.Client, buildID int64) {
	last := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
		var p api.BuildPreparation
		if err := c.Get(ctx, fmt.Sprintf("/api/v1/builds/%d/preparation", buildID), &p); err != nil {
			continue
		}
		msg := describePreparation(p)
		if msg != last && msg != "" && ctx.Err() == nil {
			fmt.Fprintln(e.stderr, msg)
		}
		last = msg
	}
}

func describePreparation(p api.BuildPreparation) string {
	var why []string
	if p.PausedPipeline == api.PrepBlocking {
		why = append(why, "the pipeline is paused")
	}
	if p.PausedJob == api.PrepBlocking {
		why = append(why, "the job is paused")
	}
	if p.MaxRunningBuilds == api.PrepBlocking {
		why = append(why, "the job has as many builds running as it may (max_in_flight, serial or serial_groups)")
	}
	names := make([]string, 0, len(p.MissingInputReasons))
	for n := range p.MissingInputReasons {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w := "input " + n + ": " + p.MissingInputReasons[n]
		if d := p.MissingInputDetails[n]; d != "" {
			w += " (" + d + ")"
		}
		why = append(why, w)
	}
	if len(why) == 0 {
		return ""
	}
	return "waiting: " + strings.Join(why, "; ")
}
