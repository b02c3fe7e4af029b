package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	utilexec "k8s.io/utils/exec"
)

// hostProvider runs pods as host processes. Every container of a pod runs to
// completion once (restartPolicy is treated as Never): init containers one after
// the other, then the others together.
type hostProvider struct {
	root      string
	images    string // image overlays (images.go); "" for none
	cfg       nodeutil.ProviderConfig
	client    kubernetes.Interface // mints service account tokens
	apiServer string               // the apiserver's URL, for KUBERNETES_SERVICE_HOST and _PORT
	log       *slog.Logger

	mu     sync.Mutex
	pods   map[string]*podRun
	notify func(*corev1.Pod)
}

type podRun struct {
	pod     *corev1.Pod // status guarded by hostProvider.mu
	dir     string
	volumes map[string]string
	ctx     context.Context // cancelled when the pod is deleted
	cancel  context.CancelFunc
	done    chan struct{}            // closed when every container has ended
	ended   map[string]chan struct{} // per container, closed when it ends
}

func newHostProvider(root, images string, cfg nodeutil.ProviderConfig, log *slog.Logger) *hostProvider {
	return &hostProvider{root: root, images: images, cfg: cfg, log: log, pods: map[string]*podRun{}, notify: func(*corev1.Pod) {}}
}

func key(namespace, name string) string { return namespace + "/" + name }

// NotifyPods registers the pod controller's callback for status changes.
func (p *hostProvider) NotifyPods(_ context.Context, fn func(*corev1.Pod)) {
	p.mu.Lock()
	p.notify = fn
	p.mu.Unlock()
}

func (p *hostProvider) CreatePod(_ context.Context, pod *corev1.Pod) error {
	pod = pod.DeepCopy()
	dir := filepath.Join(p.root, "pods", string(pod.UID))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	run := &podRun{pod: pod, dir: dir, ctx: ctx, cancel: cancel, done: make(chan struct{}), ended: map[string]chan struct{}{}}
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		run.ended[c.Name] = make(chan struct{})
	}
	now := metav1.Now()
	pod.Status = corev1.PodStatus{Phase: corev1.PodPending, StartTime: &now, HostIP: "127.0.0.1", PodIP: "127.0.0.1",
		PodIPs: []corev1.PodIP{{IP: "127.0.0.1"}}}
	for _, c := range pod.Spec.InitContainers {
		pod.Status.InitContainerStatuses = append(pod.Status.InitContainerStatuses, waiting(c, "PodInitializing"))
	}
	for _, c := range pod.Spec.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, waiting(c, "ContainerCreating"))
	}
	p.mu.Lock()
	p.pods[key(pod.Namespace, pod.Name)] = run
	p.mu.Unlock()

	volumes, err := p.prepareVolumes(pod, dir)
	if err != nil {
		p.finish(run, corev1.PodFailed, "VolumeError", err.Error())
		return nil
	}
	run.volumes = volumes
	if i, image, ok := unpullable(pod); ok {
		// Images are ignored, except that tests can ask for a pull that fails.
		go p.update(run, func(st *corev1.PodStatus) {
			st.ContainerStatuses[i].State.Waiting = &corev1.ContainerStateWaiting{Reason: "ErrImagePull",
				Message: fmt.Sprintf("failed to pull image %q: pull access denied, repository does not exist", image)}
		})
		return nil
	}
	go p.runPod(run)
	return nil
}

// UnpullablePrefix marks images whose pull the test node reports as failed.
const UnpullablePrefix = "unpullable.invalid/"

func unpullable(pod *corev1.Pod) (int, string, bool) {
	for i, c := range pod.Spec.Containers {
		if strings.HasPrefix(c.Image, UnpullablePrefix) {
			return i, c.Image, true
		}
	}
	return 0, "", false
}

func waiting(c corev1.Container, reason string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: c.Image,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}

func (p *hostProvider) runPod(run *podRun) {
	pod := run.pod
	for i, c := range pod.Spec.InitContainers {
		if code := p.runContainer(run, c, true, i); code != 0 {
			p.finish(run, corev1.PodFailed, "InitContainerFailed", fmt.Sprintf("init container %s exited with %d", c.Name, code))
			return
		}
	}
	var wg sync.WaitGroup
	codes := make([]int, len(pod.Spec.Containers))
	for i, c := range pod.Spec.Containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = p.runContainer(run, c, false, i)
		}()
	}
	wg.Wait()
	phase := corev1.PodSucceeded
	for _, code := range codes {
		if code != 0 {
			phase = corev1.PodFailed
		}
	}
	p.finish(run, phase, "", "")
}

// runContainer runs one container to its end and returns its exit code.
func (p *hostProvider) runContainer(run *podRun, c corev1.Container, init bool, idx int) int {
	defer close(run.ended[c.Name])
	status := func(fn func(*corev1.ContainerStatus)) {
		p.update(run, func(st *corev1.PodStatus) {
			if init {
				fn(&st.InitContainerStatuses[idx])
			} else {
				fn(&st.ContainerStatuses[idx])
			}
		})
	}
	logFile, err := os.OpenFile(filepath.Join(run.dir, c.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		status(terminated(127, "StartError", err.Error(), metav1.Now()))
		return 127
	}
	defer logFile.Close()
	command := append(append([]string{}, c.Command...), c.Args...)
	if len(command) == 0 {
		msg := "vknode ignores images, so every container needs a command"
		fmt.Fprintln(logFile, msg)
		status(terminated(127, "StartError", msg, metav1.Now()))
		return 127
	}
	cmd, err := p.command(run, c, command)
	if err != nil {
		fmt.Fprintln(logFile, err)
		status(terminated(127, "StartError", err.Error(), metav1.Now()))
		return 127
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		status(terminated(127, "StartError", err.Error(), metav1.Now()))
		return 127
	}
	started := metav1.Now()
	status(func(cs *corev1.ContainerStatus) {
		cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}
		cs.Ready, cs.Started = !init, ptr(true)
		cs.ContainerID = fmt.Sprintf("vknode://%d", cmd.Process.Pid)
	})
	if !init {
		p.update(run, func(st *corev1.PodStatus) { st.Phase = corev1.PodRunning })
	}
	stop := context.AfterFunc(run.ctx, func() { killGroup(cmd.Process.Pid) })
	var oom atomic.Bool
	watching := make(chan struct{})
	if limit := c.Resources.Limits.Memory().Value(); limit > 0 {
		go watchMemory(cmd.Process.Pid, limit, &oom, watching)
	}
	err = cmd.Wait()
	close(watching)
	stop()
	code, reason := exitCode(cmd, err)
	if oom.Load() {
		code, reason = 137, "OOMKilled"
	}
	status(terminated(code, reason, "", started))
	return code
}

// watchMemory kills a container's process group, as the kernel's OOM killer
// kills a cgroup, when the group's resident memory passes the container's
// limit. It stops when done is closed.
func watchMemory(pgid int, limit int64, oom *atomic.Bool, done chan struct{}) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		if groupRSS(pgid) > limit {
			oom.Store(true)
			killGroup(pgid)
			return
		}
	}
}

// groupRSS sums the resident memory of a process group's processes.
func groupRSS(pgid int) int64 {
	entries, _ := os.ReadDir("/proc")
	var total int64
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ... rss is the 24th field; comm may hold spaces.
		fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
		if len(fields) < 22 || fields[2] != strconv.Itoa(pgid) {
			continue
		}
		pages, _ := strconv.ParseInt(fields[21], 10, 64)
		total += pages * int64(os.Getpagesize())
	}
	return total
}

func terminated(code int, reason, msg string, started metav1.Time) func(*corev1.ContainerStatus) {
	return func(cs *corev1.ContainerStatus) {
		cs.Ready = false
		cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: int32(code), Reason: reason, Message: msg, StartedAt: started, FinishedAt: metav1.Now(),
		}}
	}
}

func exitCode(cmd *exec.Cmd, err error) (int, string) {
	if err == nil {
		return 0, "Completed"
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), "Error"
	}
	if code := cmd.ProcessState.ExitCode(); code > 0 {
		return code, "Error"
	}
	return 127, "Error"
}

// command prepares a process for a container (or an exec in it): vknode itself,
// in a new mount namespace and process group, binding the volumes and then
// executing the command with the container's env.
func (p *hostProvider) command(run *podRun, c corev1.Container, command []string) (*exec.Cmd, error) {
	binds, err := p.imageBinds(c.Image)
	if err != nil {
		return nil, err
	}
	for _, m := range c.VolumeMounts {
		dir, ok := run.volumes[m.Name]
		if !ok {
			return nil, fmt.Errorf("volume mount %s: no volume named so", m.Name)
		}
		binds = append(binds, [2]string{filepath.Join(dir, m.SubPath), m.MountPath})
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	// The informers may not have seen a Secret made just before the pod:
	// wait for it a while, as a kubelet retries a container's config.
	vars, err := p.containerEnv(run.pod, c)
	for deadline := time.Now().Add(15 * time.Second); err != nil && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		vars, err = p.containerEnv(run.pod, c)
	}
	if err != nil {
		return nil, err
	}
	command = expandCommand(command, vars)
	cmd := exec.Command(self, mountExecArgs(binds, c.WorkingDir, command)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Setpgid: true}
	env := []string{"HOSTNAME=" + run.pod.Name, "HOME=/root"}
	hasPath := false
	for _, e := range vars {
		env = append(env, e.Name+"="+e.Value)
		hasPath = hasPath || e.Name == "PATH"
	}
	if !hasPath {
		env = append(env, "PATH="+os.Getenv("PATH"))
	}
	cmd.Env = env
	return cmd, nil
}

func killGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	time.AfterFunc(2*time.Second, func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
}

// update changes a pod's status and tells the pod controller.
func (p *hostProvider) update(run *podRun, fn func(*corev1.PodStatus)) {
	p.mu.Lock()
	fn(&run.pod.Status)
	conditions(run.pod)
	cp := run.pod.DeepCopy()
	notify := p.notify
	p.mu.Unlock()
	notify(cp)
}

func conditions(pod *corev1.Pod) {
	ready := pod.Status.Phase == corev1.PodRunning
	for _, cs := range pod.Status.ContainerStatuses {
		ready = ready && cs.Ready
	}
	cond := func(ok bool) corev1.ConditionStatus {
		if ok {
			return corev1.ConditionTrue
		}
		return corev1.ConditionFalse
	}
	pod.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
		{Type: corev1.PodInitialized, Status: cond(pod.Status.Phase != corev1.PodPending)},
		{Type: corev1.ContainersReady, Status: cond(ready)},
		{Type: corev1.PodReady, Status: cond(ready)},
	}
}

func (p *hostProvider) finish(run *podRun, phase corev1.PodPhase, reason, msg string) {
	p.update(run, func(st *corev1.PodStatus) {
		st.Phase, st.Reason, st.Message = phase, reason, msg
	})
	select {
	case <-run.done:
	default:
		close(run.done)
	}
}

func (p *hostProvider) UpdatePod(context.Context, *corev1.Pod) error { return nil }

// DeletePod kills the pod's processes, waits for them and forgets the pod; PVC
// directories stay.
func (p *hostProvider) DeletePod(_ context.Context, pod *corev1.Pod) error {
	p.mu.Lock()
	run, ok := p.pods[key(pod.Namespace, pod.Name)]
	p.mu.Unlock()
	if !ok {
		return errdefs.NotFound("pod not found")
	}
	run.cancel()
	select {
	case <-run.done:
	case <-time.After(10 * time.Second):
		p.log.Warn("pod did not stop in time", slog.String("pod", key(pod.Namespace, pod.Name)))
	}
	p.mu.Lock()
	delete(p.pods, key(pod.Namespace, pod.Name))
	final := run.pod.DeepCopy()
	notify := p.notify
	p.mu.Unlock()
	_ = os.RemoveAll(filepath.Join(run.dir, "volumes"))
	notify(final)
	return nil
}

func (p *hostProvider) stopAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, run := range p.pods {
		run.cancel()
	}
}

func (p *hostProvider) run(namespace, name string) (*podRun, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	run, ok := p.pods[key(namespace, name)]
	if !ok {
		return nil, errdefs.NotFoundf("pod %s/%s not found", namespace, name)
	}
	return run, nil
}

func (p *hostProvider) GetPod(_ context.Context, namespace, name string) (*corev1.Pod, error) {
	run, err := p.run(namespace, name)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return run.pod.DeepCopy(), nil
}

func (p *hostProvider) GetPodStatus(ctx context.Context, namespace, name string) (*corev1.PodStatus, error) {
	pod, err := p.GetPod(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

func (p *hostProvider) GetPods(context.Context) ([]*corev1.Pod, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pods := make([]*corev1.Pod, 0, len(p.pods))
	for _, run := range p.pods {
		pods = append(pods, run.pod.DeepCopy())
	}
	return pods, nil
}

func (p *hostProvider) container(run *podRun, name string) (corev1.Container, error) {
	for _, c := range append(append([]corev1.Container{}, run.pod.Spec.InitContainers...), run.pod.Spec.Containers...) {
		if c.Name == name {
			return c, nil
		}
	}
	return corev1.Container{}, errdefs.NotFoundf("container %s not found", name)
}

// GetContainerLogs reads a container's log; with Follow it keeps reading until
// the container ends.
func (p *hostProvider) GetContainerLogs(ctx context.Context, namespace, podName, containerName string, opts api.ContainerLogOpts) (io.ReadCloser, error) {
	run, err := p.run(namespace, podName)
	if err != nil {
		return nil, err
	}
	if _, err := p.container(run, containerName); err != nil {
		return nil, err
	}
	path := filepath.Join(run.dir, containerName+".log")
	if !opts.Follow {
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			data, err = nil, nil
		}
		if err != nil {
			return nil, err
		}
		if opts.Tail > 0 {
			lines := strings.SplitAfter(string(data), "\n")
			if lines[len(lines)-1] == "" {
				lines = lines[:len(lines)-1]
			}
			if len(lines) > opts.Tail {
				data = []byte(strings.Join(lines[len(lines)-opts.Tail:], ""))
			}
		}
		if opts.LimitBytes > 0 && len(data) > opts.LimitBytes {
			data = data[:opts.LimitBytes]
		}
		return io.NopCloser(strings.NewReader(string(data))), nil
	}
	return &followReader{ctx: ctx, path: path, ended: run.ended[containerName]}, nil
}

// followReader reads a growing log file until its container has ended and the
// file is drained.
type followReader struct {
	ctx   context.Context
	path  string
	ended <-chan struct{}
	f     *os.File
}

func (r *followReader) Read(b []byte) (int, error) {
	for {
		if r.f == nil {
			f, err := os.Open(r.path)
			if err == nil {
				r.f = f
			}
		}
		if r.f != nil {
			n, err := r.f.Read(b)
			if n > 0 || (err != nil && !errors.Is(err, io.EOF)) {
				return n, err
			}
		}
		select {
		case <-r.ended:
			if r.f != nil {
				if n, _ := r.f.Read(b); n > 0 {
					return n, nil
				}
			}
			return 0, io.EOF
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (r *followReader) Close() error {
	if r.f != nil {
		return r.f.Close()
	}
	return nil
}

// RunInContainer is exec: the command runs with the container's mounts, env and
// working directory. A non-zero exit reaches the client as its exit code.
func (p *hostProvider) RunInContainer(ctx context.Context, namespace, podName, containerName string, command []string, attach api.AttachIO) error {
	run, err := p.run(namespace, podName)
	if err != nil {
		return err
	}
	c, err := p.container(run, containerName)
	if err != nil {
		return err
	}
	cmd, err := p.command(run, c, command)
	if err != nil {
		return err
	}
	if attach.Stdin() != nil {
		cmd.Stdin = attach.Stdin()
	}
	if out := attach.Stdout(); out != nil {
		cmd.Stdout = out
	}
	if errOut := attach.Stderr(); errOut != nil {
		cmd.Stderr = errOut
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { killGroup(cmd.Process.Pid) })
	defer stop()
	if err := cmd.Wait(); err != nil {
		code, _ := exitCode(cmd, err)
		return utilexec.CodeExitError{Err: err, Code: code}
	}
	return nil
}

func (p *hostProvider) AttachToContainer(context.Context, string, string, string, api.AttachIO) error {
	return errdefs.InvalidInput("vknode does not support attach; use exec")
}

func (p *hostProvider) GetStatsSummary(context.Context) (*statsv1alpha1.Summary, error) {
	return &statsv1alpha1.Summary{}, nil
}

func (p *hostProvider) GetMetricsResource(context.Context) ([]*dto.MetricFamily, error) {
	return nil, nil
}

func (p *hostProvider) PortForward(context.Context, string, string, int32, io.ReadWriteCloser) error {
	return errdefs.InvalidInput("vknode does not support port-forward")
}

func ptr[T any](v T) *T { return &v }

// expandRef is a kubelet command reference: $$ or $(NAME).
var expandRef = regexp.MustCompile(`\$\$|\$\(([A-Za-z_][-._A-Za-z0-9]*)\)`)

// expandCommand expands $(NAME) in a container's command and args from its
// env, and $$ to $, as the kubelet does; an unknown name stays as written.
func expandCommand(command []string, env []corev1.EnvVar) []string {
	vals := map[string]string{}
	for _, e := range env {
		vals[e.Name] = e.Value
	}
	out := make([]string, len(command))
	for i, w := range command {
		out[i] = expandRef.ReplaceAllStringFunc(w, func(m string) string {
			if m == "$$" {
				return "$"
			}
			if v, ok := vals[m[2:len(m)-1]]; ok {
				return v
			}
			return m
		})
	}
	return out
}
