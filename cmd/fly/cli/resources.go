package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchyard-ci/switchyard/api"
)

// checkResource starts a check build (from a version with -f k:v) and watches it
// unless --async.
func checkResource(ctx context.Context, e *env, args []string) error {
	return check(ctx, e, args, "check-resource", "resource", "resources")
}

// checkResourceType is checkResource for a custom resource type.
func checkResourceType(ctx context.Context, e *env, args []string) error {
	return check(ctx, e, args, "check-resource-type", "resource type", "resource-types")
}

func check(ctx context.Context, e *env, args []string, command, what, collection string) error {
	f := newFlags(command, e)
	res := f.str("r", strings.ReplaceAll(what, " ", "-"), "PIPELINE/"+strings.ToUpper(strings.ReplaceAll(what, " ", "_")))
	from := f.list("f", "from", "version to check from, as key:value (repeatable)")
	async := f.boolean("a", "async", "do not watch the check")
	shallow := f.boolean("", "shallow", "do not check the resource's custom types first")
	if err := f.parse(args, res); err != nil {
		return err
	}
	p, r, err := splitPair(*res, what)
	if err != nil {
		return err
	}
	var version map[string]string
	if len(*from) > 0 {
		if version, err = parseVersion(*from); err != nil {
			return err
		}
	}
	c, t, err := e.client(ctx)
	if err != nil {
		return err
	}
	var b api.Build
	path := api.PipelinePath(t.Team, p) + "/" + collection + "/" + url.PathEscape(r) + "/check"
	if _, err := c.Do(ctx, http.MethodPost, path, nil, api.CheckRequest{From: version, Shallow: *shallow}, &b); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "checking %s/%s in build %d\n", p, r, b.ID)
	if *async {
		return nil
	}
	return e.render(ctx, c, b.ID)
}
