package kube

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/spoke/wire"
)

// Intercept runs fly's process in the step's running container through the
// pod's exec, with a terminal when fly has one, in the build directory unless
// fly names another, and returns its exit status. The container's image needs
// sh and env to run it there.
func (rt *Runtime) Intercept(ctx context.Context, a wire.Assignment, spec api.HijackProcessSpec, pio wire.ProcessIO) (int, error) {
	name := PodName(a)
	path := spec.Path
	if path == "" {
		path = "bash"
	}
	dir := spec.Dir
	if dir == "" {
		dir = buildDir(name)
	}
	if err := rt.exec(ctx, name, "task", []string{"sh", "-c", `command -v "$0" >/dev/null 2>&1`, path}, nil, nil); err != nil {
		var exit utilexec.ExitError
		if errors.As(err, &exit) {
			return 0, fmt.Errorf("%w: %s is not in the step's container (pod %s)", wire.ErrExecutableNotFound, path, name)
		}
		return 0, fmt.Errorf("intercept pod %s: %w", name, err)
	}
	cmd := append([]string{"sh", "-c", `cd "$0" 2>/dev/null; exec env "$@"`, dir}, spec.Env...)
	cmd = append(append(cmd, path), spec.Args...)
	opts := remotecommand.StreamOptions{Stdin: pio.Stdin, Stdout: pio.Stdout, Stderr: pio.Stderr}
	if spec.TTY != nil {
		opts.Tty = true
		opts.TerminalSizeQueue = &sizes{first: spec.TTY.WindowSize, next: pio.Resize, ctx: ctx}
	}
	err := rt.stream(ctx, name, "task", cmd, opts)
	var exit utilexec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit):
		return exit.ExitStatus(), nil
	default:
		return 0, fmt.Errorf("intercept pod %s: %w", name, err)
	}
}

// sizes feeds fly's terminal size, then its resizes, to the exec.
type sizes struct {
	first api.HijackWindowSize
	sent  bool
	next  <-chan api.HijackWindowSize
	ctx   context.Context
}

func (s *sizes) Next() *remotecommand.TerminalSize {
	ws := s.first
	if s.sent {
		select {
		case ws = <-s.next:
		case <-s.ctx.Done():
			return nil
		}
	}
	s.sent = true
	return &remotecommand.TerminalSize{Width: uint16(ws.Columns), Height: uint16(ws.Rows)}
}
