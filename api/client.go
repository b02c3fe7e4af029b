package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrUnauthorized is a 401: the token is missing, invalid or expired.
var ErrUnauthorized = errors.New("not authorized")

// ErrNotFound is a 404.
var ErrNotFound = errors.New("not found")

// Client calls a hub's (or Concourse's) API.
type Client struct {
	URL   string
	Token string // "" for anonymous calls
	HTTP  *http.Client
}

// Stream sends a request with the client's token and returns the answer as
// it is, for calls whose body (nil for none) or answer is streamed; the
// caller closes the answer's body.
func (c *Client) Stream(ctx context.Context, method, path string, header http.Header, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.URL, "/")+moveInstanceVars(path), body)
	if err != nil {
		return nil, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	return hc.Do(req)
}

// Response is a raw answer, for calls that need its headers.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends a request. body may be nil, []byte (sent as is with contentType) or
// a value sent as JSON. A 2xx answer is decoded into out when out is not nil.
func (c *Client) Do(ctx context.Context, method, path string, header http.Header, body any, out any) (*Response, error) {
	var r io.Reader
	contentType := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(raw)
	}
	if body != nil && header.Get("Content-Type") == "" { // the caller's wins
		header = header.Clone()
		if header == nil {
			header = http.Header{}
		}
		header.Set("Content-Type", contentType)
	}
	resp, err := c.Stream(ctx, method, path, header, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	res := &Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return res, ErrUnauthorized
	case resp.StatusCode == http.StatusNotFound:
		return res, ErrNotFound
	case resp.StatusCode == http.StatusForbidden:
		return res, fmt.Errorf("forbidden: %s", strings.TrimSpace(string(raw)))
	case resp.StatusCode == http.StatusBadRequest:
		var e SaveConfigResponse
		if json.Unmarshal(raw, &e) == nil && len(e.Errors) > 0 {
			return res, &BadRequestError{Errors: e.Errors}
		}
		fallthrough
	case resp.StatusCode >= 300:
		return res, fmt.Errorf("Unexpected Response\nStatus: %s\nBody:\n%s", resp.Status, strings.TrimSpace(string(raw)))
	}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.Unmarshal(raw, out); err != nil {
			return res, fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return res, nil
}

// BadRequestError carries the server's list of problems.
type BadRequestError struct{ Errors []string }

func (e *BadRequestError) Error() string { return strings.Join(e.Errors, "\n") }

// Get is Do for a GET decoding into out.
func (c *Client) Get(ctx context.Context, path string, out any) error {
	_, err := c.Do(ctx, http.MethodGet, path, nil, nil, out)
	return err
}

// PipelinePath is the API path of a team's pipeline, given as fly names it:
// NAME, or NAME/k:v,k2:v2 for an instance. An instance's vars ride in the
// path as a matrix parameter (;vars=JSON), which Do moves into the query as
// vars=JSON, so callers may append to the path; a name cannot hold a ';'
// (PathEscape escapes it).
func PipelinePath(team, pipeline string) string {
	name, instance, _ := strings.Cut(pipeline, "/")
	if instance == "" {
		return InstancePath(team, name, nil)
	}
	vars, err := ParseInstanceVars(instance)
	if err != nil {
		return "/api/v1/teams/" + url.PathEscape(team) + "/pipelines/" + url.PathEscape(pipeline) // the hub answers 404
	}
	return InstancePath(team, name, vars)
}

// InstancePath is the API path of the instance of a team's pipeline with
// vars (the plain pipeline when vars is empty).
func InstancePath(team, name string, vars map[string]any) string {
	path := "/api/v1/teams/" + url.PathEscape(team) + "/pipelines/" + url.PathEscape(name)
	if len(vars) == 0 {
		return path
	}
	raw, _ := json.Marshal(vars) // maps marshal with sorted keys: canonical
	return path + instanceMarker + url.PathEscape(string(raw))
}

// instanceMarker starts the matrix parameter PipelinePath puts instance
// vars in.
const instanceMarker = ";vars="

// moveInstanceVars turns PipelinePath's matrix parameter into the query.
func moveInstanceVars(path string) string {
	i := strings.Index(path, instanceMarker)
	if i < 0 {
		return path
	}
	rest := path[i+len(instanceMarker):]
	vars, after := rest, ""
	if j := strings.IndexAny(rest, "/?"); j >= 0 {
		vars, after = rest[:j], rest[j:]
	}
	raw, err := url.PathUnescape(vars)
	if err != nil {
		return path
	}
	q := "vars=" + url.QueryEscape(raw)
	base, query, hasQuery := strings.Cut(path[:i]+after, "?")
	if hasQuery {
		return base + "?" + query + "&" + q
	}
	return base + "?" + q
}

// Events streams a build's events, calling fn for each until fn returns false,
// the stream ends or ctx ends. A stream closed before its end event (the
// hub restarted, or could not read its store for a moment) is opened again
// from the last event's id, so a build is never taken as over before it is.
func (c *Client) Events(ctx context.Context, buildID int64, fn func(Envelope) bool) error {
	last := ""
	for tries := 0; ; tries++ {
		done, progressed, err := c.eventStream(ctx, buildID, &last, fn)
		if done || err != nil {
			return err
		}
		if progressed {
			tries = 0
		}
		if tries >= maxEventReconnects {
			return fmt.Errorf("the event stream of build %d closed %d times before the build ended", buildID, tries+1)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(tries+1) * 500 * time.Millisecond):
		}
	}
}

// maxEventReconnects bounds the reconnections of an event stream in a row
// that bring no event.
const maxEventReconnects = 5

// eventStream reads one connection of a build's events after *last (an SSE
// id) and keeps *last current. done is true when the stream ended or fn
// asked to stop; progressed when an event came.
func (c *Client) eventStream(ctx context.Context, buildID int64, last *string, fn func(Envelope) bool) (done, progressed bool, err error) {
	header := http.Header{"Accept": {"text/event-stream"}}
	if *last != "" {
		header.Set("Last-Event-ID", *last)
	}
	resp, err := c.Stream(ctx, http.MethodGet, fmt.Sprintf("/api/v1/builds/%d/events", buildID), header, nil)
	if err != nil {
		if ctx.Err() != nil || *last == "" {
			return true, false, err
		}
		return false, false, nil // the hub is away for a moment: try again
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return true, false, ErrUnauthorized
	default:
		return true, false, fmt.Errorf("bad response from event source: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var name, id string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id:"):
			id = strings.TrimSpace(strings.TrimPrefix(line, "id:"))
		case strings.HasPrefix(line, "event:"):
			name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			if name == "end" {
				return true, progressed, nil
			}
			var env Envelope
			if err := json.Unmarshal([]byte(strings.TrimSpace(strings.TrimPrefix(line, "data:"))), &env); err != nil {
				return true, progressed, fmt.Errorf("failed to parse next event: %w", err)
			}
			*last, progressed = id, true
			if !fn(env) {
				return true, progressed, nil
			}
		case line == "data" && name == "end":
			return true, progressed, nil
		}
	}
	if ctx.Err() != nil {
		return true, progressed, ctx.Err()
	}
	return false, progressed, nil
}
