package imageexec

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strings"
	"syscall"
	"time"
)

// childArg is the first argument of the spoke's binary re-executed as the
// child that enters the image.
const childArg = "__switchyard-image-exec"

// Spec is what the child needs.
type Spec struct {
	Rootfs  string `json:"rootfs"`  // the image's root file system (read only)
	Scratch string `json:"scratch"` // where the overlay keeps its writes and is mounted
	Binds   []Bind `json:"binds"`   // host paths bound into the image, in order
	Dir     string `json:"dir"`     // working directory, absolute inside the image
	User    User   `json:"user"`
	// Privileged keeps every capability; otherwise the command gets
	// Docker's default set less mknod (no device cgroup guards it here).
	Privileged bool     `json:"privileged"`
	Path       string   `json:"path"` // the command: a name looked up in the env's PATH, or a path
	Args       []string `json:"args"`
}

// Bind puts the host's Src at Path, an absolute path inside the image.
type Bind struct {
	Src  string `json:"src"`
	Path string `json:"path"`
}

// Available says why this process cannot run commands in images, or nil.
func Available() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("running a task in its image needs the local spoke to run as root (it mounts the image's root file system in a mount namespace); run the spoke as root or place the task on a kube spoke")
	}
	return nil
}

// Command builds the child process that runs spec with env as its
// environment. The caller sets its output and starts it; it runs in its own
// process group and PID namespace, killed as a whole when ctx ends.
func Command(ctx context.Context, spec Spec, env []string) (*exec.Cmd, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if err := spec.check(); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, childArg, string(data))
	cmd.Env = env
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS,
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL, // with the spoke, and so the whole PID namespace
	}
	return cmd, nil
}

func (s Spec) check() error {
	// Overlay options are split on these.
	for _, p := range []string{s.Rootfs, s.Scratch} {
		if !path.IsAbs(p) || strings.ContainsAny(p, ",:\\") {
			return fmt.Errorf("image path %q must be absolute and hold no ',', ':' or '\\'", p)
		}
	}
	if !path.IsAbs(s.Dir) {
		return fmt.Errorf("working directory %q is not absolute", s.Dir)
	}
	for _, b := range s.Binds {
		if !path.IsAbs(b.Path) {
			return fmt.Errorf("bind target %q is not absolute", b.Path)
		}
	}
	if s.Path == "" {
		return fmt.Errorf("no command to run")
	}
	return nil
}
