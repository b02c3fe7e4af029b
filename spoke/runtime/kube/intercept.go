package kube

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/wire"
)

// Intercept runs fly's process in the step's container through the pod's
// exec (a failed step's kept pod: see interceptable), with a terminal when fly has one, in the build directory unless
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
	container, err := rt.interceptable(ctx, name)
	if err != nil {
		return 0, err
	}
	if err := rt.exec(ctx, name, container, []string{"sh", "-c", `command -v "$0" >/dev/null 2>&1`, path}, nil, nil); err != nil {
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
	err = rt.stream(ctx, name, container, cmd, opts)
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

// interceptable is the container of the step's pod to run in: the task's
// while it runs; after it failed, the outputs helper, which keeps the build
// directory (and has the helper image's tools, not the task's).
func (rt *Runtime) interceptable(ctx context.Context, name string) (string, error) {
	pod, err := rt.Client.CoreV1().Pods(rt.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", fmt.Errorf("the step's pod %s is gone", name)
	}
	if err != nil {
		return "", fmt.Errorf("intercept pod %s: %w", name, err)
	}
	if st := taskStatus(pod); st != nil && st.State.Terminated != nil {
		for _, c := range pod.Status.ContainerStatuses {
			if c.Name == outputsContainer && c.State.Running != nil {
				return outputsContainer, nil
			}
		}
		return "", fmt.Errorf("the step's command has ended and its pod %s keeps no build directory to intercept", name)
	}
	return "task", nil
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
