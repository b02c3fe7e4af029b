package kube

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/switchyard-ci/switchyard/volumes"
	"github.com/switchyard-ci/switchyard/volumes/extract"
)

// How a task's inputs and outputs move (until artifacts move through object
// storage, issue 7): the spoke keeps a build's artifacts on its disk, as the
// local runtime does. The task's pod has an emptyDir at its build directory,
// shared by three containers: an init container "inputs" (the helper image)
// that waits until the spoke has streamed the inputs in as a tar through exec
// and marked them ready; the task; and a container "outputs" (the helper
// image) that waits, after the task ended, until the spoke has streamed the
// outputs out as a tar through exec and marked them collected. The helper
// image needs sh, tar, touch and sleep (busybox has them).
const (
	inputsContainer  = "inputs"
	outputsContainer = "outputs"
	buildVolume      = "build"
	readyFile        = ".switchyard-inputs-ready"
	collectedFile    = ".switchyard-outputs-collected"
)

func waitFor(dir, file string) []string {
	return []string{"sh", "-c", fmt.Sprintf("until [ -e %s/%s ]; do sleep 0.2; done", dir, file)}
}

// exec runs cmd in a container of the step's pod, streaming stdin in and
// stdout out.
func (rt *Runtime) exec(ctx context.Context, pod, container string, cmd []string, stdin io.Reader, stdout io.Writer) error {
	if stdout == nil {
		stdout = io.Discard
	}
	var stderr bytes.Buffer
	err := rt.stream(ctx, pod, container, cmd, remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: &stderr})
	if err != nil {
		return fmt.Errorf("exec %s in %s/%s: %w: %s", strings.Join(cmd, " "), pod, container, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// stream runs cmd in a container with the given streams (and a terminal when
// opts.Tty).
func (rt *Runtime) stream(ctx context.Context, pod, container string, cmd []string, opts remotecommand.StreamOptions) error {
	if rt.Config == nil {
		return errors.New("the kube runtime has no REST config to exec with")
	}
	req := rt.Client.CoreV1().RESTClient().Post().Resource("pods").Namespace(rt.Namespace).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: cmd, Stdin: opts.Stdin != nil, Stdout: opts.Stdout != nil,
			Stderr: opts.Stderr != nil && !opts.Tty, TTY: opts.Tty}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(rt.Config, "POST", req.URL())
	if err != nil {
		return err
	}
	return ex.StreamWithContext(ctx, opts)
}

// sendInputs streams the task's input artifacts into the pod's build
// directory, each at its path, and marks them ready.
func (rt *Runtime) sendInputs(ctx context.Context, pod, dir string, inputs map[string]string) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(ctx, pw, inputs)) }()
	if err := rt.exec(ctx, pod, inputsContainer, []string{"tar", "-x", "-C", dir}, pr, nil); err != nil {
		pr.CloseWithError(err)
		return fmt.Errorf("send inputs: %w", err)
	}
	return rt.exec(ctx, pod, inputsContainer, []string{"touch", dir + "/" + readyFile}, nil, nil)
}

// writeTar writes the directories of inputs (path in the tar -> directory on
// disk) as one tar.
func writeTar(ctx context.Context, w io.Writer, inputs map[string]string) error {
	tw := tar.NewWriter(w)
	prefixes := make([]string, 0, len(inputs))
	for p := range inputs {
		prefixes = append(prefixes, p)
	}
	sort.Strings(prefixes)
	for _, p := range prefixes {
		if err := volumes.WriteTree(ctx, tw, inputs[p], p); err != nil {
			return err
		}
	}
	return tw.Close()
}

// collectOutputs streams each of the task's outputs (path in the pod ->
// directory on disk) out of the pod, extracting it confined to its
// directory, and marks them collected.
func (rt *Runtime) collectOutputs(ctx context.Context, pod, dir string, outputs map[string]string) error {
	for p, dest := range outputs {
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() { done <- extract.ExtractTar(ctx, pr, dest, extract.Bounds{}) }()
		err := rt.exec(ctx, pod, outputsContainer, []string{"tar", "-c", "-C", path.Join(dir, p), "."}, nil, pw)
		pw.CloseWithError(err)
		if rerr := <-done; err == nil {
			err = rerr
		}
		if err != nil {
			return fmt.Errorf("collect output %s: %w", p, err)
		}
	}
	return rt.exec(ctx, pod, outputsContainer, []string{"touch", dir + "/" + collectedFile}, nil, nil)
}
