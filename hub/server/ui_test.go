package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/switchyard-ci/switchyard/api"
)

// The UI's queries take only what they name: a time for ?since=, an event
// id for ?after= and ?before=, a bounded search; anything else is a 400
// that says what to give, never a read of the whole history.
func TestUIQueriesRefuseHostileValues(t *testing.T) {
	ctx := t.Context()
	hs, client := newHub(t)
	admin := client("admin")
	b := pipelineWithBuild(t, admin)
	get := func(path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, hs.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+admin.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return resp.StatusCode, string(body)
	}
	huge := strings.Repeat("9", 1<<16)
	for _, tt := range []struct {
		path, want string
		status     int
	}{
		{"/api/v1/ui/changes?since=", "since: give a time as RFC 3339", 400},
		{"/api/v1/ui/changes?since=yesterday", "since: give a time as RFC 3339", 400},
		{"/api/v1/ui/changes?since=" + huge, "since: give a time as RFC 3339", 400},
		{"/api/v1/ui/changes?since=2026-13-45T99:99:99Z", "since: give a time as RFC 3339", 400},
		// A time long ago reads only the last minutes.
		{"/api/v1/ui/changes?since=0001-01-01T00:00:00Z", `"pipelines":`, 200},
		{"/api/v1/ui/changes?since=" + url.QueryEscape("2026-01-01T00:00:00+01:00"), `"pipelines":`, 200},
		{fmt.Sprintf("/api/v1/builds/%d/log?before=0", b.ID), "before must be an event's sequence number", 400},
		{fmt.Sprintf("/api/v1/builds/%d/log?before=-3", b.ID), "before must be an event's sequence number", 400},
		{fmt.Sprintf("/api/v1/builds/%d/log?before=x", b.ID), "before must be an event's sequence number", 400},
		{fmt.Sprintf("/api/v1/builds/%d/log?before=%s", b.ID, huge), "before must be an event's sequence number", 400},
		{fmt.Sprintf("/api/v1/builds/%d/log?before=9223372036854775807", b.ID), `"chunks":[]`, 200},
		{fmt.Sprintf("/api/v1/builds/%d/log", b.ID), `"before":1`, 200},
		{fmt.Sprintf("/api/v1/builds/%d/events?after=-2", b.ID), "Last-Event-ID and after must be an event id", 400},
		{fmt.Sprintf("/api/v1/builds/%d/events?after=1e3", b.ID), "Last-Event-ID and after must be an event id", 400},
		{"/?search=" + strings.Repeat("a", 501), "search: at most 500 characters", 400},
		{"/?search=" + url.QueryEscape(`team:"main" group:"p" status:`), "No pipelines match", 200},
	} {
		status, body := get(tt.path)
		if status != tt.status || !strings.Contains(body, tt.want) {
			if len(body) > 300 {
				body = body[:300] + "..."
			}
			t.Errorf("GET %.80s: %d %q, want %d with %q", tt.path, status, body, tt.status, tt.want)
		}
	}
}

// A build's comment takes {"comment": "..."} of at most 10 KiB, and the
// builds of a version take a version id: anything else is a 400 that says
// what to give, and a comment refused leaves the one stored.
func TestCommentAndVersionBuildsRefuseHostileValues(t *testing.T) {
	ctx := t.Context()
	hs, client := newHub(t)
	admin := client("admin")
	b := pipelineWithBuild(t, admin)
	comment := fmt.Sprintf("/api/v1/builds/%d/comment", b.ID)
	if _, err := admin.Do(ctx, "PUT", comment, nil, map[string]string{"comment": "kept"}, nil); err != nil {
		t.Fatal(err)
	}
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, hs.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return resp.StatusCode, string(out)
	}
	versions := "/api/v1/teams/main/pipelines/p/resources/r/versions/"
	for _, tt := range []struct {
		method, path, body, want string
		status                   int
	}{
		{"PUT", comment, `{}`, "give the comment as", 400},
		{"PUT", comment, `{"comment": null}`, "give the comment as", 400},
		{"PUT", comment, `{"comment": 7}`, "", 400},
		{"PUT", comment, `not json`, "", 400},
		{"PUT", comment, `{"comment": "` + strings.Repeat("x", 10<<10+1) + `"}`, "comment: at most 10240 bytes", 400},
		{"PUT", comment, `{"comment": "` + strings.Repeat("x", 1<<20) + `"}`, "", 400},
		{"PUT", "/api/v1/builds/999999/comment", `{"comment": "x"}`, "", 404},
		{"GET", versions + "x/input_to", "", "version id must be a number", 400},
		{"GET", versions + "1e9/output_of", "", "version id must be a number", 400},
		{"GET", versions + "999999999/input_to", "", "[]", 200},
		{"GET", "/api/v1/teams/main/pipelines/p/resources/nope/versions/1/output_of", "", "", 404},
	} {
		status, body := do(tt.method, tt.path, tt.body)
		if status != tt.status || !strings.Contains(body, tt.want) {
			t.Errorf("%s %.80s: %d %.200q, want %d with %q", tt.method, tt.path, status, body, tt.status, tt.want)
		}
	}
	var got api.Build
	if _, err := admin.Do(ctx, "GET", fmt.Sprintf("/api/v1/builds/%d", b.ID), nil, nil, &got); err != nil || got.Comment != "kept" {
		t.Errorf("the stored comment after the refusals: %q (%v), want kept", got.Comment, err)
	}
}
