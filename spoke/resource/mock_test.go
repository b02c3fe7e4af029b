package resource

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMockCheck(t *testing.T) {
	ctx := t.Context()
	tests := []struct {
		name    string
		source  string
		from    map[string]string
		want    []map[string]string
		wantErr string
	}{
		{"default initial version", `{}`, nil, []map[string]string{{"version": "mock"}}, ""},
		{"initial_version", `{"initial_version":"v1"}`, nil, []map[string]string{{"version": "v1"}}, ""},
		{"given version is returned exactly", `{"initial_version":"v1"}`, map[string]string{"version": "foo"}, []map[string]string{{"version": "foo"}}, ""},
		{"force_version wins", `{"force_version":"f"}`, map[string]string{"version": "foo"}, []map[string]string{{"version": "f"}}, ""},
		{"no_initial_version", `{"no_initial_version":true}`, nil, []map[string]string{}, ""},
		{"check_failure", `{"check_failure":"nope","force_version":"f"}`, nil, nil, "intentionally failing to check: nope"},
		{"bad check_delay", `{"check_delay":"soon"}`, nil, nil, "invalid check_delay"},
		{"unknown field", `{"mirror":true}`, nil, nil, `invalid payload: json: unknown field "mirror"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Mock{}.Check(ctx, json.RawMessage(tt.source), tt.from, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want error %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Error(diff)
			}
		})
	}
}

func TestMockIn(t *testing.T) {
	dest := t.TempDir()
	src := `{"create_files":{"a.txt":"START_VARxEND_VAR","dir/b.json":{"k":1}},"mirror_self":true,"metadata":[{"name":"m","value":"1"}]}`
	params := `{"create_files_via_params":{"a.txt":"overridden"}}`
	resp, err := Mock{}.In(context.Background(), json.RawMessage(src), json.RawMessage(params), map[string]string{"version": "v2"}, dest, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Response{Version: map[string]string{"version": "v2"}, Metadata: []Metadata{{"m", "1"}}}, resp); diff != "" {
		t.Error(diff)
	}
	files := map[string]string{"a.txt": "overridden", "dir/b.json": `{"k":1}`, "version": "v2\n", "privileged": "false\n",
		"metadata.json": `{"env":["MIRRORED_VERSION=v2"],"user":"root"}`}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dest, name))
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
	if st, err := os.Stat(filepath.Join(dest, "rootfs")); err != nil || !st.IsDir() {
		t.Error("mirror_self made no rootfs")
	}
	// create_files cannot write outside the destination.
	_, err = Mock{}.In(context.Background(), json.RawMessage(`{"create_files":{"../escape":"x"}}`), nil, map[string]string{"version": "v"}, dest, io.Discard)
	if err == nil {
		t.Error("a file outside the destination was written")
	}
}

func TestMockOut(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "v"), []byte("from-file\n"), 0o644)
	for _, tt := range []struct{ params, want, err string }{
		{`{"version":"v9"}`, "v9", ""},
		{`{"file":"v"}`, "from-file\n", ""}, // the whole content, newline included
		{`{}`, "", "no version specified"},
		{`{"file":"../../etc/passwd"}`, "", "leaves its directory"},
	} {
		resp, err := Mock{}.Out(context.Background(), nil, json.RawMessage(tt.params), dir, io.Discard)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: got %v, want %q", tt.params, err, tt.err)
			}
			continue
		}
		if err != nil || resp.Version["version"] != tt.want {
			t.Errorf("%s: got %v %v, want %q", tt.params, resp, err, tt.want)
		}
	}
}

func TestNativeTypes(t *testing.T) {
	for _, typ := range []string{"mock", "time", "git", "s3", "registry-image", "semver"} {
		if _, err := Native(typ, t.TempDir()); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
	if _, err := Native("pool", ""); err == nil || !strings.Contains(err.Error(), "the built-in types are mock, time, git, s3, registry-image and semver") {
		t.Errorf("pool: %v", err)
	}
}
