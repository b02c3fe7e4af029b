package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/switchyard-ci/switchyard/api"
)

// clearTaskCache is fly clear-task-cache -j P/J -s STEP [-c PATH] [-n].
func clearTaskCache(ctx context.Context, e *env, args []string) error {
	f := newFlags("clear-task-cache", e)
	job := f.str("j", "job", "PIPELINE/JOB")
	step := f.str("s", "step", "the task step whose caches go")
	cachePath := f.str("c", "cache-path", "only the cache at this path")
	yes := f.boolean("n", "non-interactive", "clear without asking")
	if err := f.parse(args, job, step); err != nil {
		return err
	}
	c, t, err := e.client(ctx)
	if err != nil {
		return err
	}
	path, _, _, err := jobPath(t.Team, *job)
	if err != nil {
		return err
	}
	where := ""
	if *cachePath != "" {
		where = fmt.Sprintf(", at `%s`", *cachePath)
	}
	fmt.Fprintf(e.stdout, "!!! this will remove the task cache(s) for `%s`, task step `%s`%s\n\n", *job, *step, where)
	if !*yes && !e.confirm("are you sure?") {
		return errors.New("bailing out")
	}
	path += "/tasks/" + url.PathEscape(*step) + "/cache"
	if *cachePath != "" {
		path += "?" + url.Values{"cache_path": {*cachePath}}.Encode()
	}
	var out api.CachesRemoved
	if _, err := c.Do(ctx, http.MethodDelete, path, nil, nil, &out); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d caches removed\n", out.CachesRemoved)
	return nil
}

// clearResourceCache is fly clear-resource-cache -r P/R [-v k:v] [-n]: the
// versions it fetched (all, or the one given) are fetched again.
func clearResourceCache(ctx context.Context, e *env, args []string) error {
	f := newFlags("clear-resource-cache", e)
	pairs := f.list("v", "version", "only this version, as key:value (repeatable)")
	yes := f.boolean("n", "non-interactive", "clear without asking")
	c, r, err := resourceCommand(ctx, e, f, args, false)
	if err != nil {
		return err
	}
	body := map[string]any{}
	with := ""
	if len(*pairs) > 0 {
		v, err := parseVersion(*pairs)
		if err != nil {
			return err
		}
		body["version"] = v
		text, _ := json.Marshal(v)
		with = fmt.Sprintf(" with version: `%s`", text)
	}
	fmt.Fprintf(e.stdout, "!!! this will remove the resource cache(s) for `%s/%s`%s\n\n", r.pipeline, r.resource, with)
	if !*yes && !e.confirm("are you sure?") {
		return errors.New("bailing out")
	}
	var out api.CachesRemoved
	if _, err := c.Do(ctx, http.MethodDelete, r.path+"/cache", nil, body, &out); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d caches removed\n", out.CachesRemoved)
	return nil
}
