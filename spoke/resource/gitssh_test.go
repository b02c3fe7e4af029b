package resource

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sshServer is an OpenSSH sshd on loopback that lets one key in, for the
// current user.
type sshServer struct {
	addr    string
	user    string
	key     string // the client's private key (OpenSSH PEM)
	keyPass string // the same key, encrypted with the passphrase "secret"
}

func startSSHD(t *testing.T) sshServer {
	t.Helper()
	sshd := os.Getenv("SWITCHYARD_TEST_SSHD")
	if sshd == "" {
		t.Fatal("SWITCHYARD_TEST_SSHD is not set: run the tests with `make test` or under hack/with-sshd.sh")
	}
	dir := t.TempDir()
	keygen := func(file, pass string) {
		t.Helper()
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", pass, "-f", file).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	keygen(filepath.Join(dir, "host"), "")
	keygen(filepath.Join(dir, "client"), "")
	keygen(filepath.Join(dir, "client-pass"), "secret")
	pub1, _ := os.ReadFile(filepath.Join(dir, "client.pub"))
	pub2, _ := os.ReadFile(filepath.Join(dir, "client-pass.pub"))
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), append(pub1, pub2...), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	config := fmt.Sprintf("Port %s\nListenAddress 127.0.0.1\nHostKey %s\nAuthorizedKeysFile %s\nPidFile %s\n"+
		"PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\n",
		port, filepath.Join(dir, "host"), filepath.Join(dir, "authorized_keys"), filepath.Join(dir, "sshd.pid"))
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		_ = os.MkdirAll("/run/sshd", 0o755) // sshd's privilege separation directory
	}
	cmd := exec.Command(sshd, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	logFile, _ := os.Create(filepath.Join(dir, "sshd.log"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(20 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			t.Fatalf("sshd did not listen on %s:\n%s", addr, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(filepath.Join(dir, "client"))
	keyPass, _ := os.ReadFile(filepath.Join(dir, "client-pass"))
	return sshServer{addr: addr, user: u.Username, key: string(key), keyPass: string(keyPass)}
}

// Over SSH with a private key (plain and with a passphrase): checks skip
// [ci skip] commits and follow commit_filter; tag_filter and tag_regex make
// tags the versions; get writes .git's files and reaches past depth; put
// pushes a commit and its tag.
func TestGitOverSSH(t *testing.T) {
	srv := startSSHD(t)
	ctx := t.Context()
	dir := t.TempDir()
	origin, work := newOrigin(t, dir, "origin")
	first := commit(t, work, "a.txt", "1")
	uri := "ssh://" + srv.user + "@" + srv.addr + origin
	g := Git{CacheDir: filepath.Join(dir, "cache")}
	source := func(extra map[string]any) json.RawMessage {
		src := map[string]any{"uri": uri, "branch": "main", "private_key": srv.key}
		for k, v := range extra {
			src[k] = v
		}
		raw, _ := json.Marshal(src)
		return raw
	}
	check := func(src json.RawMessage, from map[string]string) []map[string]string {
		t.Helper()
		got, err := g.Check(ctx, src, from, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if diff := cmp.Diff([]map[string]string{{"ref": first}}, check(source(nil), nil)); diff != "" {
		t.Fatalf("first check: %s", diff)
	}
	withPass := source(map[string]any{"private_key": srv.keyPass, "private_key_passphrase": "secret"})
	if diff := cmp.Diff([]map[string]string{{"ref": first}}, check(withPass, nil)); diff != "" {
		t.Fatalf("check with an encrypted key: %s", diff)
	}

	os.WriteFile(filepath.Join(work, "b.txt"), []byte("2"), 0o644)
	run(t, work, "git", "add", "-A")
	run(t, work, "git", "commit", "-q", "-m", "docs only [ci skip]")
	run(t, work, "git", "push", "-q", "origin", "HEAD:refs/heads/main")
	skipped := run(t, work, "git", "rev-parse", "HEAD")
	wip := commitMessage(t, work, "c.txt", "WIP: not yet")
	done := commitMessage(t, work, "d.txt", "feature done")
	if diff := cmp.Diff([]map[string]string{{"ref": first}, {"ref": wip}, {"ref": done}}, check(source(nil), map[string]string{"ref": first})); diff != "" {
		t.Errorf("[ci skip] is skipped: %s", diff)
	}
	if diff := cmp.Diff([]map[string]string{{"ref": first}, {"ref": skipped}, {"ref": wip}, {"ref": done}}, check(source(map[string]any{"disable_ci_skip": true}), map[string]string{"ref": first})); diff != "" {
		t.Errorf("disable_ci_skip: %s", diff)
	}
	if diff := cmp.Diff([]map[string]string{{"ref": first}, {"ref": done}}, check(source(map[string]any{"commit_filter": map[string]any{"exclude": []string{"^WIP"}}}), map[string]string{"ref": first})); diff != "" {
		t.Errorf("commit_filter exclude: %s", diff)
	}

	// Tags as versions.
	run(t, work, "git", "tag", "v1.0.0", wip)
	run(t, work, "git", "-c", "user.name=t", "-c", "user.email=t@example.com", "tag", "-a", "-m", "release", "v1.1.0", done)
	run(t, work, "git", "tag", "other", first)
	run(t, work, "git", "push", "-q", "origin", "--tags")
	tagged := source(map[string]any{"tag_filter": "v*"})
	if diff := cmp.Diff([]map[string]string{{"ref": "v1.1.0", "commit": done}}, check(tagged, nil)); diff != "" {
		t.Errorf("tag_filter: %s", diff)
	}
	if diff := cmp.Diff([]map[string]string{{"ref": "v1.0.0", "commit": wip}, {"ref": "v1.1.0", "commit": done}}, check(tagged, map[string]string{"ref": "v1.0.0"})); diff != "" {
		t.Errorf("tag_filter from v1.0.0: %s", diff)
	}
	if diff := cmp.Diff([]map[string]string{{"ref": "other", "commit": first}}, check(source(map[string]any{"tag_regex": "oth.*"}), nil)); diff != "" {
		t.Errorf("tag_regex: %s", diff)
	}

	dest := t.TempDir()
	resp, err := g.In(ctx, tagged, nil, map[string]string{"ref": "v1.0.0", "commit": wip}, dest, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{".git/ref": "v1.0.0", ".git/commit": wip, ".git/short_ref": wip[:7], "c.txt": "WIP: not yet", ".git/commit_message": "WIP: not yet", ".git/tags": "v1.0.0"} {
		if data, err := os.ReadFile(filepath.Join(dest, file)); err != nil || strings.TrimSpace(string(data)) != want {
			t.Errorf("get wrote %s = %q %v, want %q", file, data, err, want)
		}
	}
	if resp.Version["ref"] != "v1.0.0" || resp.Version["commit"] != wip {
		t.Errorf("get's version %v", resp.Version)
	}
	deep := t.TempDir()
	if _, err := g.In(ctx, source(nil), json.RawMessage(`{"depth": 1}`), map[string]string{"ref": first}, deep, io.Discard); err != nil {
		t.Fatalf("get past depth: %v", err)
	}
	if got := run(t, deep, "git", "rev-parse", "HEAD"); got != first {
		t.Errorf("get past depth checked out %s, want %s", got, first)
	}

	// Submodules, fetched over SSH with the source's key (all by default),
	// or not (none).
	lib, libWork := newOrigin(t, dir, "lib")
	commit(t, libWork, "lib.txt", "from the submodule")
	run(t, work, "git", "-c", "protocol.file.allow=always", "submodule", "add", "-q", lib, "lib")
	run(t, work, "git", "config", "-f", ".gitmodules", "submodule.lib.url", "ssh://"+srv.user+"@"+srv.addr+lib)
	withLib := commitMessage(t, work, ".gitmodules", "")
	for params, want := range map[string]string{`{}`: "from the submodule", `{"submodules":"none"}`: "", `{"submodules":["lib"]}`: "from the submodule"} {
		sub := t.TempDir()
		if _, err := g.In(ctx, source(nil), json.RawMessage(params), map[string]string{"ref": withLib}, sub, io.Discard); err != nil {
			t.Fatalf("get %s: %v", params, err)
		}
		if data, _ := os.ReadFile(filepath.Join(sub, "lib", "lib.txt")); string(data) != want {
			t.Errorf("get %s: lib/lib.txt = %q, want %q", params, data, want)
		}
	}

	// Put: a commit and its tag.
	put := t.TempDir()
	run(t, put, "git", "clone", "-q", origin, "repo")
	os.WriteFile(filepath.Join(put, "repo", "e.txt"), []byte("5"), 0o644)
	run(t, filepath.Join(put, "repo"), "git", "add", "-A")
	run(t, filepath.Join(put, "repo"), "git", "commit", "-q", "-m", "release 2")
	os.WriteFile(filepath.Join(put, "version"), []byte("2.0.0\n"), 0o644)
	resp, err = g.Out(ctx, source(nil), json.RawMessage(`{"repository":"repo","tag":"version","tag_prefix":"v"}`), put, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := run(t, dir, "git", "--git-dir", origin, "rev-parse", "v2.0.0^{commit}"); got != resp.Version["ref"] {
		t.Errorf("pushed tag v2.0.0 at %s, want %s", got, resp.Version["ref"])
	}
}

func commitMessage(t *testing.T, work, file, message string) string {
	t.Helper()
	if message != "" {
		os.WriteFile(filepath.Join(work, file), []byte(message), 0o644)
	} else {
		message = "change " + file
	}
	run(t, work, "git", "add", "-A")
	run(t, work, "git", "commit", "-q", "-m", message)
	run(t, work, "git", "push", "-q", "origin", "HEAD:refs/heads/main")
	return run(t, work, "git", "rev-parse", "HEAD")
}

// Refused over SSH: no key, a wrong passphrase, an encrypted key without
// one, a key that is not one, git_config that would run a command, a
// private_key_user that is not a name; the key never shows in an error.
func TestGitOverSSHRefusals(t *testing.T) {
	srv := startSSHD(t)
	dir := t.TempDir()
	origin := filepath.Join(dir, "origin.git")
	run(t, dir, "git", "init", "-q", "--bare", "-b", "main", origin)
	uri := "ssh://" + srv.user + "@" + srv.addr + origin
	g := Git{CacheDir: filepath.Join(dir, "cache")}
	for name, tc := range map[string]struct {
		src  map[string]any
		want string
	}{
		"no key":            {map[string]any{}, "Permission denied"},
		"wrong passphrase":  {map[string]any{"private_key": srv.keyPass, "private_key_passphrase": "wrong"}, "source.private_key:"},
		"no passphrase":     {map[string]any{"private_key": srv.keyPass}, "source.private_key is encrypted: give source.private_key_passphrase"},
		"not a key":         {map[string]any{"private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----\n"}, "source.private_key:"},
		"ssh command":       {map[string]any{"private_key": srv.key, "git_config": []map[string]string{{"name": "core.sshCommand", "value": "touch /tmp/pwned"}}}, `"core.sshCommand" is not allowed`},
		"fsmonitor":         {map[string]any{"private_key": srv.key, "git_config": []map[string]string{{"name": "core.fsmonitor", "value": "touch /tmp/pwned"}}}, `"core.fsmonitor" is not allowed`},
		"user with options": {map[string]any{"private_key": srv.key, "private_key_user": "root -oProxyCommand=touch"}, "source.private_key_user"},
		"unknown key":       {map[string]any{"private_key": srv.key, "submodule_credentials": []any{}}, "unknown field"},
	} {
		t.Run(name, func(t *testing.T) {
			src := map[string]any{"uri": uri, "branch": "main"}
			for k, v := range tc.src {
				src[k] = v
			}
			raw, _ := json.Marshal(src)
			_, err := g.Check(t.Context(), raw, nil, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), strings.Split(srv.key, "\n")[1]) {
				t.Errorf("the key is in the error: %v", err)
			}
		})
	}
	if _, err := os.Stat("/tmp/pwned"); err == nil {
		t.Error("git_config ran a command")
	}
}
