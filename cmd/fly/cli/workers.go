package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchyard-ci/switchyard/api"
)

// landWorker is fly land-worker: the spoke takes no new steps, finishes its
// running ones and leaves.
func landWorker(ctx context.Context, e *env, args []string) error {
	f := newFlags("land-worker", e)
	name := f.str("w", "worker", "the spoke to land")
	if err := f.parse(args, name); err != nil {
		return err
	}
	c, _, err := e.client(ctx)
	if err != nil {
		return err
	}
	if _, err := c.Do(ctx, http.MethodPut, "/api/v1/workers/"+url.PathEscape(*name)+"/land", nil, nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "landed '%s'\n", *name)
	return nil
}

// pruneWorker is fly prune-worker: removes a spoke that is not running (or
// every stalled one, with -a).
func pruneWorker(ctx context.Context, e *env, args []string) error {
	f := newFlags("prune-worker", e)
	name := f.str("w", "worker", "the spoke to prune")
	all := f.boolean("a", "all-stalled", "prune every stalled spoke")
	if err := f.Parse(args); err != nil {
		return err
	}
	if (*name == "") == !*all {
		return errors.New("give either -w WORKER or --all-stalled")
	}
	c, _, err := e.client(ctx)
	if err != nil {
		return err
	}
	names := []string{*name}
	if *all {
		var ws []api.Worker
		if err := c.Get(ctx, "/api/v1/workers", &ws); err != nil {
			return err
		}
		names = names[:0]
		for _, w := range ws {
			if w.State == "stalled" {
				names = append(names, w.Name)
			}
		}
		if len(names) == 0 {
			fmt.Fprintln(e.stderr, "WARNING: No stalled workers found.")
			return nil
		}
	}
	for _, n := range names {
		if _, err := c.Do(ctx, http.MethodPut, "/api/v1/workers/"+url.PathEscape(n)+"/prune", nil, nil, nil); err != nil {
			return pruneError(err)
		}
		fmt.Fprintf(e.stdout, "pruned '%s'\n", n)
	}
	return nil
}

// pruneError is the hub's refusal as Concourse's fly shows it: the stderr
// of the 400's body.
func pruneError(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "{"); i >= 0 {
		var body struct {
			Stderr string `json:"stderr"`
		}
		if json.Unmarshal([]byte(msg[i:]), &body) == nil && body.Stderr != "" {
			return errors.New(body.Stderr)
		}
	}
	return err
}
