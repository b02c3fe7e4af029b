package docs

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/internal/stockfly"
)

// docAddr is the address the documents give the hub (make run's default);
// the doc test's hub listens elsewhere and the blocks are read with its.
const docAddr = "127.0.0.1:8080"

// checkout is a fresh copy of the repository, as a newcomer clones it, with
// the environment its commands run in.
type checkout struct {
	dir  string
	addr string
	env  []string
}

// newCheckout copies the repository's files (tracked, and untracked ones git
// does not ignore: what a commit of this work tree would hold; no bin/, no
// .switchyard/) into a directory of its own, and prepares an environment:
// its own HOME (so fly's targets are its own), the Go and Switchyard caches of
// this machine, and a free address for make run's hub.
func newCheckout(t *testing.T) *checkout {
	t.Helper()
	ls, err := exec.Command("git", "-C", "..", "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Skipf("the doc test copies the repository as a clone would have it, and needs git and a git work tree: %v", err)
	}
	base := t.TempDir()
	dir, home := filepath.Join(base, "switchyard"), filepath.Join(base, "home")
	// PostgreSQL, which make run starts, runs as the postgres user, who must reach its data.
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copied := copyFiles(t, strings.Split(strings.TrimSuffix(string(ls), "\x00"), "\x00"), dir)
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	goenv, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	vals := strings.Split(strings.TrimSpace(string(goenv)), "\n")
	if len(vals) != 3 {
		t.Fatalf("go env: %q", goenv)
	}
	cache := os.Getenv("SWITCHYARD_CACHE")
	if cache == "" {
		userHome, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		cache = filepath.Join(userHome, ".cache", "switchyard")
	}
	c := &checkout{dir: dir, addr: freeAddr(t)}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case name == "HOME", name == "FLY_HOME", strings.HasPrefix(name, "SWITCHYARD_"), name == "GOCACHE", name == "GOMODCACHE", name == "GOPATH":
		default:
			c.env = append(c.env, kv)
		}
	}
	c.env = append(c.env, "HOME="+home, "GOCACHE="+vals[0], "GOMODCACHE="+vals[1], "GOPATH="+vals[2],
		"SWITCHYARD_CACHE="+cache, "SWITCHYARD_LISTEN="+c.addr, "GOFLAGS=-buildvcs=false")
	// A reader who followed the README has bin/ on PATH; each document's
	// shell starts with it, as theirs would.
	for i, kv := range c.env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			c.env[i] = "PATH=" + filepath.Join(dir, "bin") + ":" + p
		}
	}
	t.Logf("copied %d files of the repository to %s; its hub will listen on %s", copied, dir, c.addr)
	t.Cleanup(func() {
		stop := exec.Command("make", "stop")
		stop.Dir, stop.Env = dir, c.env
		if out, err := stop.CombinedOutput(); err != nil {
			t.Logf("make stop: %v\n%s", err, out)
		}
	})
	return c
}

// copyFiles copies the repository's files named (relative to its root) into
// dir, links as links, and returns how many regular files it copied; a file
// deleted in the work tree is left out.
func copyFiles(t *testing.T, names []string, dir string) int {
	t.Helper()
	copied := 0
	for _, name := range names {
		src := filepath.Join("..", name)
		st, err := os.Lstat(src)
		if os.IsNotExist(err) {
			continue // deleted in the work tree
		}
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if st.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, dst); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, st.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
		copied++
	}
	return copied
}

// blockMark ends each block of a document's script: the block ran to its end.
var blockMark = regexp.MustCompile(`(?m)^::doc-test ok (\d+)::$`)

// run runs a document's sh blocks in order, in one shell (so a block may
// use what an earlier one exported, as a reader's terminal does), each
// stopping at its first failing command. It returns how many ran and how
// many were skipped; a failure names the block's file and line.
func (c *checkout) run(t *testing.T, file string) (ran, skipped int) {
	t.Helper()
	blocks, err := fences(c.dir, file)
	if err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	script.WriteString("set -eo pipefail\n")
	var run []fence
	for _, b := range blocks {
		if b.lang != "sh" {
			continue
		}
		if b.skip != "" {
			t.Logf("%s:%d: not run: %s", b.file, b.line, b.skip)
			skipped++
			continue
		}
		run = append(run, b)
		fmt.Fprintf(&script, "echo '::doc-test block %d (%s:%d)::'\n%s\necho '::doc-test ok %d::'\n",
			len(run), b.file, b.line, strings.ReplaceAll(b.text, docAddr, c.addr), len(run))
	}
	if len(run) == 0 {
		return 0, skipped
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	// From a file, as a reader types it: the commands are not in any
	// process's arguments (a block's pkill -f would find them there).
	path := filepath.Join(t.TempDir(), "doc.sh")
	if err := os.WriteFile(path, []byte(script.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", path)
	cmd.Dir, cmd.Env = c.dir, c.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group: what a block leaves running in the background
	// (a second spoke) is stopped with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Start()
	if err == nil {
		defer syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		err = cmd.Wait()
	}
	done := 0
	for _, m := range blockMark.FindAllStringSubmatch(out.String(), -1) {
		done, _ = strconv.Atoi(m[1])
	}
	if err != nil || done != len(run) {
		failed := run[min(done, len(run)-1)]
		t.Fatalf("%s:%d: this block failed (%v); %d of the file's %d blocks ran before it:\n%s\noutput:\n%s",
			failed.file, failed.line, err, done, len(run), indent(failed.text), tail(out.String(), 80))
	}
	return len(run), skipped
}

// A newcomer's path, and every command of the documents: a fresh copy of
// the repository, the README's commands in order (make run, fly, a second
// spoke, a placement policy and fly placement explaining a decision, make
// stop), then every sh block of docs/ and SECURITY, each against the hub
// make run starts. A block marked <!-- doc-test: skip: REASON --> is not run
// (one that needs a real cluster, or make test itself).
func TestNewcomerFollowsTheDocs(t *testing.T) {
	if testing.Short() {
		t.Skip("the doc test runs make run and every command of the documents")
	}
	c := newCheckout(t)
	files, err := markdownFiles(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	ran, skipped := 0, 0
	for _, file := range files {
		r, s := c.run(t, file)
		t.Logf("%s: %d command blocks ran and passed, %d not run", file, r, s)
		ran, skipped = ran+r, skipped+s
	}
	t.Logf("the documents: %d command blocks ran and passed, %d marked not to run", ran, skipped)
	if ran == 0 {
		t.Fatal("no command block ran")
	}
	stock := stockfly.Path()
	if stock == "" {
		t.Skip("stock fly is not at ../../shared/tools/fly: the compatibility page's fly commands are not checked")
	}
	generated(t, "docs/compatibility.md", "fly-commands", flyCommandsTable(t, c, stock))
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
