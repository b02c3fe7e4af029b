package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
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
