package kube

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
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
	go func() { pw.CloseWithError(writeTar(pw, inputs)) }()
	if err := rt.exec(ctx, pod, inputsContainer, []string{"tar", "-x", "-C", dir}, pr, nil); err != nil {
		pr.CloseWithError(err)
		return fmt.Errorf("send inputs: %w", err)
	}
	return rt.exec(ctx, pod, inputsContainer, []string{"touch", dir + "/" + readyFile}, nil, nil)
}

// writeTar writes the directories of inputs (path in the tar -> directory on
// disk) as one tar.
func writeTar(w io.Writer, inputs map[string]string) error {
	tw := tar.NewWriter(w)
	for prefix, src := range inputs {
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(src, p)
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			link := ""
			if info.Mode()&fs.ModeSymlink != 0 {
				if link, err = os.Readlink(p); err != nil {
					return err
				}
			}
			hdr, err := tar.FileInfoHeader(info, link)
			if err != nil {
				return err
			}
			hdr.Name = path.Join(prefix, filepath.ToSlash(rel))
			if d.IsDir() {
				hdr.Name += "/"
			}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			if !info.Mode().IsRegular() {
				return nil
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		})
		if err != nil {
			return err
		}
	}
	return tw.Close()
}

// collectOutputs streams the task's outputs (path in the pod -> directory on
// disk) out of the pod and marks them collected.
func (rt *Runtime) collectOutputs(ctx context.Context, pod, dir string, outputs map[string]string) error {
	if len(outputs) > 0 {
		paths := make([]string, 0, len(outputs))
		for p := range outputs {
			paths = append(paths, p)
		}
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() { done <- readTar(pr, outputs) }()
		err := rt.exec(ctx, pod, outputsContainer, append([]string{"tar", "-c", "-C", dir}, paths...), nil, pw)
		pw.CloseWithError(err)
		if rerr := <-done; err == nil {
			err = rerr
		}
		if err != nil {
			return fmt.Errorf("collect outputs: %w", err)
		}
	}
	return rt.exec(ctx, pod, outputsContainer, []string{"touch", dir + "/" + collectedFile}, nil, nil)
}

// readTar extracts a tar whose entries lie under the given prefixes into
// their directories. Entries outside them, absolute or climbing out with ..,
// links pointing out of their root, and devices are refused.
func readTar(r io.Reader, outputs map[string]string) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			_, _ = io.Copy(io.Discard, r)
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("tar entry %q escapes the build directory", hdr.Name)
		}
		var root, rel string
		for prefix, dir := range outputs {
			p := path.Clean(prefix)
			if name == p || strings.HasPrefix(name, p+"/") {
				root, rel = dir, strings.TrimPrefix(strings.TrimPrefix(name, p), "/")
				break
			}
		}
		if root == "" {
			return fmt.Errorf("tar entry %q is not under an output", hdr.Name)
		}
		dest := filepath.Join(root, filepath.FromSlash(rel))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dest, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(dest, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fs.FileMode(hdr.Mode).Perm())
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			target := path.Clean(path.Join(path.Dir(rel), hdr.Linkname))
			if path.IsAbs(hdr.Linkname) || target == ".." || strings.HasPrefix(target, "../") {
				return fmt.Errorf("tar entry %q links outside its output (%s)", hdr.Name, hdr.Linkname)
			}
			if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(hdr.Linkname, dest); err != nil {
				return err
			}
		default:
			return fmt.Errorf("tar entry %q is of a kind outputs may not hold (%c)", hdr.Name, hdr.Typeflag)
		}
	}
}
