package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/hub/store/storetest"
)

var bin string // directory with switchyard and fly, built once by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "switchyard-e2e-bin")
	if err != nil {
		panic(err)
	}
	build := exec.Command("go", "build", "-o", dir+"/", "github.com/switchyard-ci/switchyard/cmd/switchyard", "github.com/switchyard-ci/switchyard/cmd/fly")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build binaries:", err)
		os.Exit(1)
	}
	bin = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fleet is a hub and spokes started for one test.
type fleet struct {
	t       testing.TB
	bin     string // directory with the switchyard and fly this fleet runs
	dir     string
	db      string
	listen  string
	url     string
	hub     *exec.Cmd
	flyHome string
	store   string   // the artifact store's URL; empty: a directory of the fleet
	hubEnv  []string // added to hubs' environment (spokes get no store credentials)
	hubArgs []string // added to hubs' flags, after the fleet's own
	// spokeEnv is added to spokes' environment (tracing's OTEL_*).
	spokeEnv []string
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func newFleet(t testing.TB) *fleet { t.Helper(); return newFleetOn(t, "") }

// newFleetOn starts a fleet whose hub keeps artifacts at store (a bucket
// URL; empty: a directory of the fleet), with hubEnv added to its hubs'
// environment.
func newFleetOn(t testing.TB, store string, hubEnv ...string) *fleet {
	t.Helper()
	return newFleetOf(t, bin, store, nil, hubEnv...)
}

// newFleetOf starts a fleet of the binaries in dir, its hubs with hubArgs
// added to their flags.
func newFleetOf(t testing.TB, dir, store string, hubArgs []string, hubEnv ...string) *fleet {
	t.Helper()
	f := &fleet{t: t, bin: dir, dir: t.TempDir(), db: storetest.URL(t), listen: freeAddr(t), store: store, hubEnv: hubEnv, hubArgs: hubArgs}
	f.url = "http://" + f.listen
	f.flyHome = filepath.Join(f.dir, "fly")
	if err := os.MkdirAll(f.flyHome, 0o755); err != nil {
		t.Fatal(err)
	}
	f.startHub()
	return f
}

// start runs a process of the fleet, logging to DIR/NAME.log, stopped at the end
// of the test.
func (f *fleet) start(name string, args ...string) *exec.Cmd {
	f.t.Helper()
	logFile, err := os.OpenFile(filepath.Join(f.dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		f.t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(f.bin, "switchyard"), args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if len(f.hubEnv) > 0 && args[0] == "hub" {
		cmd.Env = append(os.Environ(), f.hubEnv...)
	}
	if len(f.spokeEnv) > 0 && args[0] == "spoke" {
		cmd.Env = append(os.Environ(), f.spokeEnv...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_, _ = cmd.Process.Wait()
		logFile.Close()
		if f.t.Failed() {
			data, _ := os.ReadFile(logFile.Name())
			f.t.Logf("%s log:\n%s", name, tail(string(data), 40))
		}
	})
	return cmd
}

// startServer starts cmd, a server a test needs, in a process group of
// its own logging to DIR/NAME.log; it is killed at the end of the test,
// and the tail of its log shown when the test failed.
func startServer(t testing.TB, name, dir string, cmd *exec.Cmd) {
	t.Helper()
	logFile, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_, _ = cmd.Process.Wait()
		logFile.Close()
		if t.Failed() {
			data, _ := os.ReadFile(logFile.Name())
			t.Logf("%s log:\n%s", name, tail(string(data), 30))
		}
	})
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (f *fleet) startHub() {
	f.t.Helper()
	args := []string{"hub", "--listen", f.listen, "--database-url", f.db,
		"--add-local-user", "admin:secret", "--main-team-local-user", "admin",
		"--spoke-join-token", "pool-token", "--spoke-join-token", "main=main-token", "--spoke-join-token", "blue=blue-token",
		"--build-lease", "2s", "--artifact-store", f.artifactStore()}
	f.hub = f.start("hub", append(args, f.hubArgs...)...)
	f.waitHealthy()
}

// artifactStore is the fleet's object storage: a directory of its own, or
// the MinIO bucket a test set with f.store.
func (f *fleet) artifactStore() string {
	if f.store != "" {
		return f.store
	}
	return "file://" + filepath.Join(f.dir, "artifacts")
}

func (f *fleet) waitHealthy() {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if resp, err := http.Get(f.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	f.t.Fatal("hub did not become healthy")
}

// killHub kills the hub process outright, as a crash would.
func (f *fleet) killHub() {
	_ = syscall.Kill(-f.hub.Process.Pid, syscall.SIGKILL)
	_, _ = f.hub.Process.Wait()
}

func (f *fleet) startSpoke(name, hubURL string, flags ...string) *exec.Cmd {
	return f.start("spoke-"+name, append([]string{"spoke", "--hub-url", hubURL, "--join-token", "pool-token", "--name", name,
		"--work-dir", filepath.Join(f.dir, "spoke-"+name)}, flags...)...)
}

// token logs admin in through the password grant and returns the bearer token.
func (f *fleet) token() string {
	f.t.Helper()
	return passwordToken(f.t, f.url, "admin", "secret")
}

// fly runs Switchyard's fly against the fleet and returns its output and exit code.
func (f *fleet) fly(args ...string) (string, int) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return f.flyContext(ctx, args...)
}

// flyContext runs fly until it exits or ctx ends (then it is killed: exit -1).
func (f *fleet) flyContext(ctx context.Context, args ...string) (string, int) {
	f.t.Helper()
	return f.flyWithStdin(ctx, "", args...)
}

// flyWithStdin runs fly with stdin as its input.
func (f *fleet) flyWithStdin(ctx context.Context, stdin string, args ...string) (string, int) {
	f.t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(f.bin, "fly"), append([]string{"-t", "e2e"}, args...)...)
	cmd.Env = append(os.Environ(), "FLY_HOME="+f.flyHome)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		f.t.Fatalf("fly %v: %v", args, err)
	}
	return out.String(), code
}

// mustFly runs fly and fails the test unless it exits 0.
func (f *fleet) mustFly(args ...string) string {
	f.t.Helper()
	out, code := f.fly(args...)
	if code != 0 {
		f.t.Fatalf("fly %v exited %d:\n%s", args, code, out)
	}
	return out
}

// setPipeline logs in, sets a pipeline from YAML text and unpauses it.
func (f *fleet) setPipeline(name, yaml string) { f.t.Helper(); f.setPipelineAs("main", name, yaml) }

// setPipelineAs logs in to team, sets a pipeline from YAML text and unpauses it.
func (f *fleet) setPipelineAs(team, name, yaml string) {
	f.t.Helper()
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret", "-n", team)
	file := filepath.Join(f.dir, name+".yml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		f.t.Fatal(err)
	}
	f.mustFly("set-pipeline", "-n", "-p", name, "-c", file)
	f.mustFly("unpause-pipeline", "-p", name)
}
