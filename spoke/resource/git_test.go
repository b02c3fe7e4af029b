package resource

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// run runs a command in dir, failing the test on error.
func run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func commit(t *testing.T, work, file, content string) string {
	t.Helper()
	os.MkdirAll(filepath.Dir(filepath.Join(work, file)), 0o755)
	os.WriteFile(filepath.Join(work, file), []byte(content), 0o644)
	run(t, work, "git", "add", "-A")
	run(t, work, "git", "commit", "-q", "-m", "change "+file)
	run(t, work, "git", "push", "-q", "origin", "HEAD:refs/heads/main")
	return run(t, work, "git", "rev-parse", "HEAD")
}

// newOrigin makes a bare repository DIR/NAME.git with branch main, and a
// clone of it at DIR/NAME to commit and push from.
func newOrigin(t *testing.T, dir, name string) (origin, work string) {
	t.Helper()
	origin, work = filepath.Join(dir, name+".git"), filepath.Join(dir, name)
	run(t, dir, "git", "init", "-q", "--bare", "-b", "main", origin)
	run(t, dir, "git", "clone", "-q", origin, work)
	run(t, work, "git", "checkout", "-q", "-b", "main")
	return origin, work
}

// A real repository on disk, checked, fetched and pushed with the git CLI.
func TestGit(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	origin, work := newOrigin(t, dir, "origin")
	first := commit(t, work, "a.txt", "1")
	g := Git{CacheDir: filepath.Join(dir, "cache"), AllowLocal: true}
	src := json.RawMessage(`{"uri":"` + origin + `","branch":"main"}`)

	got, err := g.Check(ctx, src, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]map[string]string{{"ref": first}}, got); diff != "" {
		t.Fatalf("first check: %s", diff)
	}
	second := commit(t, work, "docs/readme.md", "docs")
	third := commit(t, work, "src/main.go", "code")
	got, err = g.Check(ctx, src, map[string]string{"ref": first}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]map[string]string{{"ref": first}, {"ref": second}, {"ref": third}}, got); diff != "" {
		t.Errorf("check from first: %s", diff)
	}
	ignoring := json.RawMessage(`{"uri":"` + origin + `","branch":"main","ignore_paths":["docs"]}`)
	got, err = g.Check(ctx, ignoring, map[string]string{"ref": first}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]map[string]string{{"ref": first}, {"ref": third}}, got); diff != "" {
		t.Errorf("check ignoring docs: %s", diff)
	}

	dest := filepath.Join(dir, "get")
	os.MkdirAll(dest, 0o755)
	resp, err := g.In(ctx, src, nil, map[string]string{"ref": second}, dest, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Version["ref"] != second || run(t, dest, "git", "rev-parse", "HEAD") != second {
		t.Errorf("get checked out %v", resp.Version)
	}
	if _, err := os.Stat(filepath.Join(dest, "src/main.go")); err == nil {
		t.Error("get at the second commit has a file of the third")
	}

	// put: commit in the fetched repository and push it.
	run(t, dest, "git", "checkout", "-q", "-B", "main", third)
	os.WriteFile(filepath.Join(dest, "b.txt"), []byte("from a put"), 0o644)
	run(t, dest, "git", "add", "-A")
	run(t, dest, "git", "commit", "-q", "-m", "put")
	putDir := filepath.Join(dir, "put")
	os.MkdirAll(putDir, 0o755)
	os.Symlink(dest, filepath.Join(putDir, "repo"))
	resp, err = g.Out(ctx, src, json.RawMessage(`{"repository":"repo"}`), putDir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if head := run(t, origin, "git", "rev-parse", "refs/heads/main"); head != resp.Version["ref"] {
		t.Errorf("origin main is %s, put reported %s", head, resp.Version["ref"])
	}
	if _, err := g.Check(ctx, json.RawMessage(`{"uri":"x","sparse_paths":["a"]}`), nil, io.Discard); err == nil || !strings.Contains(err.Error(), "sparse_paths") {
		t.Errorf("unsupported option: %v", err)
	}

	// The branch moves on under a put: refused, unless it rebases or merges.
	other := filepath.Join(dir, "other")
	run(t, dir, "git", "clone", "-q", "-b", "main", origin, other)
	stale := func(file string) {
		t.Helper()
		run(t, other, "git", "fetch", "-q", "origin")
		run(t, other, "git", "reset", "-q", "--hard", "origin/main")
		commit(t, other, "moved-"+file, "someone else")
		os.WriteFile(filepath.Join(dest, file), []byte("from a put"), 0o644)
		run(t, dest, "git", "add", "-A")
		run(t, dest, "git", "commit", "-q", "-m", "put "+file)
	}
	stale("c.txt")
	if _, err := g.Out(ctx, src, json.RawMessage(`{"repository":"repo"}`), putDir, io.Discard); err == nil || !strings.Contains(err.Error(), "rejected") {
		t.Fatalf("a put onto a branch that moved on: %v", err)
	}
	if err := os.WriteFile(filepath.Join(putDir, "tagname"), []byte("v1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, err = g.Out(ctx, src, json.RawMessage(`{"repository":"repo","rebase":true,"tag":"tagname"}`), putDir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	head := run(t, origin, "git", "rev-parse", "refs/heads/main")
	if head != resp.Version["ref"] || run(t, origin, "git", "log", "-1", "--format=%s", head) != "put c.txt" || run(t, origin, "git", "log", "-1", "--format=%s", head+"^") != "change moved-c.txt" {
		t.Errorf("rebased put: origin main %s, reported %v", head, resp.Version)
	}
	// The tag names the commit pushed, not the one from before the rebase.
	if tagged := run(t, origin, "git", "rev-parse", "refs/tags/v1.0^{commit}"); tagged != head {
		t.Errorf("the put's tag is on %s, want the rebased commit %s", tagged, head)
	}
	run(t, dest, "git", "fetch", "-q", origin, "main")
	run(t, dest, "git", "reset", "-q", "--hard", "FETCH_HEAD")
	stale("d.txt")
	if resp, err = g.Out(ctx, src, json.RawMessage(`{"repository":"repo","merge":true}`), putDir, io.Discard); err != nil {
		t.Fatal(err)
	}
	head = run(t, origin, "git", "rev-parse", "refs/heads/main")
	if parents := strings.Fields(run(t, origin, "git", "log", "-1", "--format=%P", head)); head != resp.Version["ref"] || len(parents) != 2 {
		t.Errorf("merged put: origin main %s with parents %v, reported %v", head, parents, resp.Version)
	}
}
