package resource

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// putDir makes a put's directory as the spoke does: a link to an artifact
// (a directory of the build's), named name. It returns the artifact.
func putDir(t *testing.T, name string) (dir, artifact string) {
	t.Helper()
	dir, artifact = t.TempDir(), t.TempDir()
	if err := os.Symlink(artifact, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
	return dir, artifact
}

// Built-in types run in the spoke's process: a put reads inside its
// artifact only, and shows nothing of the spoke's environment.
func TestMockPutStaysInItsArtifact(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "credential")
	if err := os.WriteFile(secret, []byte("the spoke's credential"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir, artifact := putDir(t, "out")
	if err := os.WriteFile(filepath.Join(artifact, "version"), []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(artifact, "leak")); err != nil {
		t.Fatal(err)
	}
	resp, err := Mock{}.Out(t.Context(), nil, json.RawMessage(`{"file": "out/version"}`), dir, io.Discard)
	if err != nil || resp.Version["version"] != "v1" {
		t.Fatalf("a version from a file in the artifact: %v %v", resp, err)
	}
	for _, file := range []string{"out/leak", "out/../../" + filepath.Base(filepath.Dir(secret)) + "/credential", "/etc/hostname"} {
		resp, err := Mock{}.Out(t.Context(), nil, json.RawMessage(`{"file": "`+file+`"}`), dir, io.Discard)
		if err == nil || strings.Contains(resp.Version["version"], "credential") {
			t.Errorf("put read %s: %v %v", file, resp, err)
		}
	}
	if err := os.WriteFile(filepath.Join(artifact, "huge"), bytes.Repeat([]byte("x"), maxVersionFile+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (Mock{}).Out(t.Context(), nil, json.RawMessage(`{"file": "out/huge"}`), dir, io.Discard); err == nil || !strings.Contains(err.Error(), "over") {
		t.Errorf("a huge version file: %v", err)
	}

	t.Setenv("SWITCHYARD_JOIN_TOKEN", "canary-join-token")
	var log bytes.Buffer
	if _, err := (Mock{}).Out(t.Context(), nil, json.RawMessage(`{"version": "v2", "print_env": true}`), dir, &log); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "canary-join-token") || !strings.Contains(log.String(), "not shown") {
		t.Errorf("print_env showed the spoke's environment:\n%s", log.String())
	}
}

// A git put pushes the artifact's repository and runs none of what the
// build wrote into it (hooks, config), and reads no other repository
// through a gitdir file, a link or alternates.
func TestGitPutIsolated(t *testing.T) {
	ctx := t.Context()
	base := t.TempDir()
	origin := filepath.Join(base, "origin.git")
	run(t, base, "git", "init", "-q", "--bare", origin)
	src := json.RawMessage(`{"uri": "` + origin + `", "branch": "main"}`)

	dir, artifact := putDir(t, "repo")
	run(t, artifact, "git", "init", "-q")
	commit0 := func(file string) string {
		if err := os.WriteFile(filepath.Join(artifact, file), []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, artifact, "git", "add", "-A")
		run(t, artifact, "git", "commit", "-q", "-m", file)
		return run(t, artifact, "git", "rev-parse", "HEAD")
	}
	sha := commit0("a.txt")
	marker := filepath.Join(base, "ran")
	hook := "#!/bin/sh\ntouch " + marker + "\n"
	if err := os.WriteFile(filepath.Join(artifact, ".git", "hooks", "pre-push"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, artifact, "git", "config", "core.fsmonitor", "touch "+marker)
	run(t, artifact, "git", "config", "core.hooksPath", filepath.Join(artifact, ".git", "hooks"))
	resp, err := Git{AllowLocal: true}.Out(ctx, src, json.RawMessage(`{"repository": "repo"}`), dir, io.Discard)
	if err != nil || resp.Version["ref"] != sha {
		t.Fatalf("put: %v %v", resp, err)
	}
	if head := run(t, base, "git", "--git-dir", origin, "rev-parse", "refs/heads/main"); head != sha {
		t.Errorf("origin main is %s, want %s", head, sha)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the put ran a hook or command the build wrote into the repository")
	}

	// Another repository on the spoke (another team's, say), which a build
	// must not push from.
	other := filepath.Join(base, "other")
	run(t, base, "git", "init", "-q", other)
	if err := os.WriteFile(filepath.Join(other, "private.txt"), []byte("private"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, other, "git", "add", "-A")
	run(t, other, "git", "commit", "-q", "-m", "private")

	gitdirFile, a1 := putDir(t, "repo")
	if err := os.WriteFile(filepath.Join(a1, ".git"), []byte("gitdir: "+filepath.Join(other, ".git")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitdirLink, a2 := putDir(t, "repo")
	if err := os.Symlink(filepath.Join(other, ".git"), filepath.Join(a2, ".git")); err != nil {
		t.Fatal(err)
	}
	linkInside, a3 := putDir(t, "repo")
	run(t, a3, "git", "init", "-q")
	if err := os.RemoveAll(filepath.Join(a3, ".git", "refs")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(other, ".git", "refs"), filepath.Join(a3, ".git", "refs")); err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string]string{"gitdir file": gitdirFile, ".git link": gitdirLink, "link inside .git": linkInside} {
		if _, err := (Git{AllowLocal: true}).Out(ctx, json.RawMessage(`{"uri": "`+origin+`", "branch": "stolen"}`), json.RawMessage(`{"repository": "repo"}`), d, io.Discard); err == nil {
			t.Errorf("%s: the put pushed", name)
		}
	}
	// Alternates are dropped: objects only another repository has are not
	// pushed.
	alt, a4 := putDir(t, "repo")
	run(t, a4, "git", "init", "-q")
	otherHead := run(t, other, "git", "rev-parse", "HEAD")
	if err := os.WriteFile(filepath.Join(a4, ".git", "objects", "info", "alternates"), []byte(filepath.Join(other, ".git", "objects")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a4, ".git", "refs", "heads", "master"), []byte(otherHead+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, a4, "git", "symbolic-ref", "HEAD", "refs/heads/master")
	if _, err := (Git{AllowLocal: true}).Out(ctx, json.RawMessage(`{"uri": "`+origin+`", "branch": "stolen"}`), json.RawMessage(`{"repository": "repo"}`), alt, io.Discard); err == nil {
		t.Error("alternates: the put pushed another repository's objects")
	}
	if out := run(t, base, "git", "--git-dir", origin, "branch", "--list", "stolen"); out != "" {
		t.Errorf("origin has a branch stolen: %s", out)
	}
}

// A git source may not name the spoke's own disk or a command.
func TestGitURIs(t *testing.T) {
	for uri, ok := range map[string]bool{
		"https://github.com/concourse/concourse.git": true, "ssh://git@host/r.git": true, "git@github.com:org/r.git": true, "git://host/r": true,
		"/var/lib/switchyard/builds/1/artifacts/repo": false, "file:///etc": false, "ext::sh -c touch% /tmp/x": false,
		"--upload-pack=touch /tmp/x": false, "../other": false, "FILE:///x": false,
	} {
		_, err := Git{}.source(json.RawMessage(`{"uri": ` + strconvQuote(uri) + `}`))
		if (err == nil) != ok {
			t.Errorf("uri %q: %v, want allowed %v", uri, err, ok)
		}
	}
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }
