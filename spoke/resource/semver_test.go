package resource

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/switchyard-ci/switchyard/volumes/s3test"
)

// Bumps as upstream's semver resource makes them.
func TestSemverBumps(t *testing.T) {
	for _, tc := range []struct {
		from string
		p    semverParams
		want string
	}{
		{"1.2.3", semverParams{Bump: "major"}, "2.0.0"},
		{"1.2.3", semverParams{Bump: "minor"}, "1.3.0"},
		{"1.2.3", semverParams{Bump: "patch"}, "1.2.4"},
		{"1.2.3-rc.2", semverParams{Bump: "patch"}, "1.2.4"},
		{"1.2.3-rc.2", semverParams{Bump: "final"}, "1.2.3"},
		{"1.2.3", semverParams{Pre: "rc"}, "1.2.3-rc.1"},
		{"1.2.3-rc.1", semverParams{Pre: "rc"}, "1.2.3-rc.2"},
		{"1.2.3-alpha.4", semverParams{Pre: "beta"}, "1.2.3-beta.1"},
		{"1.2.3", semverParams{Bump: "minor", Pre: "rc"}, "1.3.0-rc.1"},
		{"1.2.3", semverParams{Pre: "rc", PreWithoutVersion: true}, "1.2.3-rc"},
		{"1.2.3", semverParams{Build: "build"}, "1.2.3+build.1"},
		{"1.2.3+build.7", semverParams{Build: "build"}, "1.2.3+build.8"},
		{"1.2.3", semverParams{}, "1.2.3"},
	} {
		got, err := tc.p.apply(tc.from)
		if err != nil || got != tc.want {
			t.Errorf("%s with %+v = %q, %v; want %s", tc.from, tc.p, got, err, tc.want)
		}
	}
	for _, bad := range []struct {
		from string
		p    semverParams
	}{{"1.2", semverParams{Bump: "patch"}}, {"1.2.3", semverParams{Bump: "huge"}}, {"1.2.3", semverParams{Pre: "r c"}}} {
		if got, err := bad.p.apply(bad.from); err == nil {
			t.Errorf("%s with %+v = %q, want an error", bad.from, bad.p, got)
		}
	}
}

// The s3 driver on MinIO: initial_version while empty, bumps stored, a
// file's version stored, concurrent bumps each counted once.
func TestSemverS3(t *testing.T) {
	b := s3test.New(t)
	src := s3SourceOf(t, b, map[string]any{"key": "version", "initial_version": "1.0.0"})
	semverDriver(t, src, func() string {
		obj, err := b.Client.GetObject(t.Context(), b.Name, "version", minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Close()
		data, _ := io.ReadAll(obj)
		return string(data)
	})
}

// The git driver on a repository on disk: the same, as commits on a branch.
func TestSemverGit(t *testing.T) {
	dir := t.TempDir()
	origin := filepath.Join(dir, "origin.git")
	run(t, dir, "git", "init", "-q", "--bare", "-b", "main", origin)
	src, _ := json.Marshal(map[string]any{"driver": "git", "uri": origin, "branch": "version", "file": "ci/version", "initial_version": "1.0.0",
		"git_user": "Bumper <bump@example.com>", "commit_message": "set %file% to %version%"})
	semverDriverOf(t, Semver{AllowLocal: true}, src, func() string {
		return run(t, dir, "git", "--git-dir", origin, "show", "version:ci/version")
	})
	if msg := run(t, dir, "git", "--git-dir", origin, "log", "-1", "--format=%an <%ae> %s", "version"); !strings.HasPrefix(msg, "Bumper <bump@example.com> set ci/version to ") {
		t.Errorf("commit: %s", msg)
	}
}

func semverDriver(t *testing.T, src json.RawMessage, stored func() string) {
	semverDriverOf(t, Semver{}, src, stored)
}

func semverDriverOf(t *testing.T, r Semver, src json.RawMessage, stored func() string) {
	t.Helper()
	ctx := t.Context()
	check := func() string {
		t.Helper()
		vs, err := r.Check(ctx, src, nil, io.Discard)
		if err != nil || len(vs) != 1 {
			t.Fatalf("check: %v %v", vs, err)
		}
		return vs[0]["number"]
	}
	if got := check(); got != "1.0.0" {
		t.Fatalf("an empty store checks as %s, want the initial version", got)
	}
	dest := t.TempDir()
	resp, err := r.In(ctx, src, json.RawMessage(`{"bump":"minor","pre":"rc"}`), map[string]string{"number": "1.0.0"}, dest, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"number", "version"} {
		if data, _ := os.ReadFile(filepath.Join(dest, f)); string(data) != "1.1.0-rc.1" {
			t.Errorf("get wrote %s = %q", f, data)
		}
	}
	if resp.Version["number"] != "1.0.0" || check() != "1.0.0" {
		t.Errorf("a get's bump was stored: %v", resp.Version)
	}
	out := func(params string) string {
		t.Helper()
		resp, err := r.Out(ctx, src, json.RawMessage(params), dest, io.Discard)
		if err != nil {
			t.Fatalf("put %s: %v", params, err)
		}
		return resp.Version["number"]
	}
	if got := out(`{"bump":"patch"}`); got != "1.0.1" || check() != "1.0.1" || stored() != "1.0.1" {
		t.Fatalf("put bump patch: %s, stored %q", got, stored())
	}
	os.WriteFile(filepath.Join(dest, "release"), []byte("2.5.0\n"), 0o644)
	if got := out(`{"file":"release"}`); got != "2.5.0" || check() != "2.5.0" {
		t.Fatalf("put file: %s", got)
	}
	if got := out(`{"get_latest":true}`); got != "2.5.0" {
		t.Fatalf("put get_latest: %s", got)
	}
	// Bumps at once are each stored once.
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.Out(ctx, src, json.RawMessage(`{"bump":"patch"}`), dest, io.Discard); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := check(); got != "2.5.3" {
		t.Errorf("three bumps at once left %s, want 2.5.3", got)
	}
	for params, want := range map[string]string{
		`{}`:                                "give file (a version to store), or bump, pre or build",
		`{"file":"release","bump":"major"}`: "not both",
		`{"file":"../../etc/passwd"}`:       "params.file",
		`{"bump":"huge"}`:                   `params.bump "huge"`,
	} {
		if _, err := r.Out(ctx, src, json.RawMessage(params), dest, io.Discard); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("put %s: %v, want %q", params, err, want)
		}
	}
}
