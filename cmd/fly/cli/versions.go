package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/switchyard-ci/switchyard/api"
)

// parseVersion turns -v k:v flags into a version.
func parseVersion(pairs []string) (map[string]string, error) {
	v := map[string]string{}
	for _, kv := range pairs {
		k, val, ok := strings.Cut(kv, ":")
		if !ok || k == "" {
			return nil, fmt.Errorf("version %q: give it as key:value", kv)
		}
		v[k] = val
	}
	return v, nil
}

// resourceFlags are -r PIPELINE/RESOURCE and -v key:value.
type resourceFlags struct {
	pipeline, resource string
	version            map[string]string
	path               string // the resource's API path
}

// resourceCommand parses -r (and -v with needVersion) and the command's own
// flags, then connects to the target: a flag error needs no login.
func resourceCommand(ctx context.Context, e *env, f flags, args []string, needVersion bool) (*api.Client, resourceFlags, error) {
	var out resourceFlags
	res := f.str("r", "resource", "PIPELINE/RESOURCE")
	var pairs *[]string
	if needVersion {
		pairs = f.list("v", "version", "version as key:value (repeatable)")
	}
	if err := f.parse(args, res); err != nil {
		return nil, out, err
	}
	var err error
	if out.pipeline, out.resource, err = splitPair(*res, "resource"); err != nil {
		return nil, out, err
	}
	if needVersion {
		if len(*pairs) == 0 {
			return nil, out, fmt.Errorf("the required flag `-v, --version' was not specified")
		}
		if out.version, err = parseVersion(*pairs); err != nil {
			return nil, out, err
		}
	}
	c, t, err := e.client(ctx)
	if err != nil {
		return nil, out, err
	}
	out.path = api.PipelinePath(t.Team, out.pipeline) + "/resources/" + url.PathEscape(out.resource)
	return c, out, nil
}

// findVersion returns the newest version of the resource that contains v, as
// fly does with ?filter=.
func findVersion(ctx context.Context, c *api.Client, path string, v map[string]string) (api.ResourceVersion, error) {
	q := url.Values{}
	for k, val := range v {
		q.Add("filter", k+":"+val)
	}
	var vs []api.ResourceVersion
	if err := c.Get(ctx, path+"/versions?"+q.Encode(), &vs); err != nil {
		return api.ResourceVersion{}, err
	}
	if len(vs) == 0 {
		b, _ := json.Marshal(v)
		return api.ResourceVersion{}, fmt.Errorf("could not find version matching %s", b)
	}
	return vs[0], nil
}

func pinResource(ctx context.Context, e *env, args []string) error {
	f := newFlags("pin-resource", e)
	comment := f.str("c", "comment", "why the resource is pinned")
	c, r, err := resourceCommand(ctx, e, f, args, true)
	if err != nil {
		return err
	}
	v, err := findVersion(ctx, c, r.path, r.version)
	if err != nil {
		return err
	}
	if _, err := c.Do(ctx, http.MethodPut, r.path+"/versions/"+strconv.FormatInt(v.ID, 10)+"/pin", nil, nil, nil); err != nil {
		return err
	}
	b, _ := json.Marshal(v.Version)
	fmt.Fprintf(e.stdout, "pinned '%s' with version %s\n", r.resource, b)
	if *comment != "" {
		if _, err := c.Do(ctx, http.MethodPut, r.path+"/pin_comment", nil, api.PinComment{PinComment: *comment}, nil); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "pin comment '%s' is saved\n", *comment)
	}
	return nil
}

func unpinResource(ctx context.Context, e *env, args []string) error {
	f := newFlags("unpin-resource", e)
	c, r, err := resourceCommand(ctx, e, f, args, false)
	if err != nil {
		return err
	}
	if _, err := c.Do(ctx, http.MethodPut, r.path+"/unpin", nil, nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "unpinned '%s'\n", r.resource)
	return nil
}

// enableVersion is enable-resource-version and disable-resource-version; a
// version already in the asked state is left alone.
func enableVersion(enable bool) func(context.Context, *env, []string) error {
	name, verb, action := "disable-resource-version", "disabled", "/disable"
	if enable {
		name, verb, action = "enable-resource-version", "enabled", "/enable"
	}
	return func(ctx context.Context, e *env, args []string) error {
		f := newFlags(name, e)
		c, r, err := resourceCommand(ctx, e, f, args, true)
		if err != nil {
			return err
		}
		v, err := findVersion(ctx, c, r.path, r.version)
		if err != nil {
			return err
		}
		if v.Enabled != enable {
			if _, err := c.Do(ctx, http.MethodPut, r.path+"/versions/"+strconv.FormatInt(v.ID, 10)+action, nil, nil, nil); err != nil {
				return err
			}
		}
		b, _ := json.Marshal(v.Version)
		fmt.Fprintf(e.stdout, "%s '%s' with version %s\n", verb, r.resource, b)
		return nil
	}
}

func resourceVersions(ctx context.Context, e *env, args []string) error {
	f := newFlags("resource-versions", e)
	count := f.str("c", "count", "number of versions to show (default 50)")
	asJSON := f.boolean("", "json", "print JSON")
	c, r, err := resourceCommand(ctx, e, f, args, false)
	if err != nil {
		return err
	}
	limit := 50
	if *count != "" {
		if limit, err = strconv.Atoi(*count); err != nil || limit <= 0 {
			return fmt.Errorf("--count %q: give a positive number", *count)
		}
	}
	var vs []api.ResourceVersion
	if err := c.Get(ctx, r.path+"/versions?limit="+strconv.Itoa(limit), &vs); err != nil {
		return err
	}
	if *asJSON {
		return e.printJSON(vs)
	}
	rows := [][]string{}
	for _, v := range vs {
		b, _ := json.Marshal(v.Version)
		rows = append(rows, []string{strconv.FormatInt(v.ID, 10), string(b), yesNo(v.Enabled)})
	}
	e.table([]string{"id", "version", "enabled"}, rows)
	return nil
}
