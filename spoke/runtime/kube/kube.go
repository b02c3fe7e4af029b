package kube

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	corev1 "k8s.io/api/core/v1"
	netv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/spoke/runtime/local"
	"github.com/switchyard-ci/switchyard/telemetry"
	"github.com/switchyard-ci/switchyard/wire"
)

// Labels every object of a step carries.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelSpoke     = "switchyard.dev/spoke"
	LabelBuild     = "switchyard.dev/build-id"
	LabelStep      = "switchyard.dev/step"
	LabelStepID    = "switchyard.dev/step-id"
	ManagedBy      = "switchyard-spoke"
)

// Runtime runs steps as pods.
type Runtime struct {
	Client          kubernetes.Interface
	Config          *rest.Config   // for exec into pods
	Local           *local.Runtime // runs the built-in resource types and keeps artifacts
	HelperImage     string         // moves inputs and outputs; needs sh and tar (default busybox)
	Namespace       string
	Spoke           string // the spoke's name, in labels
	AllowPrivileged bool   // privileged: true tasks may run here
	DenyEgress      bool   // steps may not open connections (untrusted builds)
	DefaultImage    string // for tasks without an image

	// Task caches are PersistentVolumeClaims of this class (empty: the
	// cluster's default) and size (default 1Gi), one per job, step and path.
	CacheStorageClass string
	CacheSize         string
}

// Run runs one step to its end: a task, or a check, get or put of a custom
// resource type, in a pod; a core resource type in the spoke's process.
func (rt *Runtime) Run(ctx context.Context, a wire.Assignment, logs local.Logs) wire.Result {
	var res wire.Result
	var err error
	switch {
	case a.Request.Kind == wire.KindTask:
		res, err = rt.task(ctx, a, logs)
	case a.Request.TypeImage != "":
		res, err = rt.resource(ctx, a, logs)
	case rt.Local == nil:
		err = fmt.Errorf("the kube runtime cannot run %s steps of core types without a local runtime", a.Request.Kind)
	default:
		a.Request = namesOnly(a.Request)
		return rt.Local.Run(ctx, a, logs)
	}
	if err != nil {
		if ctx.Err() != nil {
			return wire.Result{Error: "aborted"}
		}
		return wire.Result{Error: err.Error(), Lost: errors.Is(err, errLost)}
	}
	return res
}

// PodName is the step's pod: <pipeline>-<job>-b<build>-<step>-<hash>, a DNS
// label of at most 63 characters, the same every time for one run of a step
// attempt. Runs after the first (after a lost one) get other hashes.
func PodName(a wire.Assignment) string {
	key := fmt.Sprintf("%d/%s/%d", a.BuildID, a.PlanID, a.Attempt)
	if a.Run > 1 {
		key += fmt.Sprintf("/run%d", a.Run-1)
	}
	sum := sha256.Sum256([]byte(key))
	return dnsName([]string{dnsPart(a.Request.Env["BUILD_PIPELINE_NAME"]), dnsPart(a.Request.Env["BUILD_JOB_NAME"]),
		"b" + strconv.FormatInt(a.BuildID, 10), dnsPart(a.Request.Name)}, hex.EncodeToString(sum[:])[:8])
}

// dnsName joins the non-empty parts and the hash with dashes into a DNS label
// of at most 63 characters, cutting the parts, never the hash.
func dnsName(parts []string, hash string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	name := strings.Join(kept, "-")
	if max := 63 - len(hash) - 1; len(name) > max {
		name = strings.TrimRight(name[:max], "-")
	}
	return name + "-" + hash
}

var notDNS = regexp.MustCompile(`[^a-z0-9]+`)

func dnsPart(s string) string {
	return strings.Trim(notDNS.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

func (rt *Runtime) labels(a wire.Assignment, name string) map[string]string {
	return map[string]string{LabelManagedBy: ManagedBy, LabelSpoke: dnsPart(rt.Spoke), LabelBuild: strconv.FormatInt(a.BuildID, 10),
		LabelStep: name, LabelStepID: strconv.FormatInt(a.StepID, 10)}
}

// Reattaches says a restarted spoke takes up the runs its previous process
// started: the step's pod is found by its name.
func (rt *Runtime) Reattaches() bool { return true }

// Sweep deletes this spoke's pods whose steps the hub no longer has open:
// those a crashed spoke left behind, and failed steps' pods kept past their
// time. The agent calls it with the open steps.
// NetworkPolicies go with their pods.
func (rt *Runtime) Sweep(ctx context.Context, open map[int64]bool) error {
	pods := rt.Client.CoreV1().Pods(rt.Namespace)
	list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: LabelManagedBy + "=" + ManagedBy + "," + LabelSpoke + "=" + dnsPart(rt.Spoke)})
	if err != nil {
		return fmt.Errorf("list this spoke's pods: %w", err)
	}
	for _, p := range list.Items {
		id, err := strconv.ParseInt(p.Labels[LabelStepID], 10, 64)
		if err == nil && open[id] {
			continue
		}
		if until, err := time.Parse(time.RFC3339, p.Annotations[AnnotationKeepUntil]); err == nil && time.Now().Before(until) {
			continue
		}
		rt.cleanUp(p.Name)
	}
	return nil
}

// task runs a task in a pod. A pod evicted or lost with its node ends the
// step with a Lost result: the hub runs it again as a new run, in a new pod.
func (rt *Runtime) task(ctx context.Context, a wire.Assignment, logs local.Logs) (wire.Result, error) {
	t := a.Request.Task
	if t == nil {
		return wire.Result{}, errors.New("task step without a task")
	}
	cfg, err := rt.taskConfig(a)
	if err != nil {
		return wire.Result{}, err
	}
	inputs, err := rt.inputs(a, cfg)
	if err != nil {
		return wire.Result{}, err
	}
	w := podWork{cfg: cfg, params: t.Params, privileged: t.Privileged, inputs: inputs, outputs: map[string]string{}, image: rt.image(cfg)}
	if t.Image != "" {
		if w.image, err = rt.artifactImage(a.BuildID, t.Image); err != nil {
			return wire.Result{}, err
		}
		logs.Line("stderr", "image "+w.image+", from artifact "+t.Image+"\n")
		if w.pull, err = pullSecret(PodName(a), w.image, t.ImageSource); err != nil {
			return wire.Result{}, err
		}
	}
	artifactOf := map[string]string{} // output path -> build artifact
	for _, o := range cfg.Outputs {
		dir, err := rt.outputDir(a.BuildID)
		if err != nil {
			return wire.Result{}, err
		}
		defer os.RemoveAll(dir)
		p := pathOr(o.Path, o.Name)
		w.outputs[p] = dir
		artifactOf[p] = o.Name
		if mapped, ok := t.OutputMapping[o.Name]; ok {
			artifactOf[p] = mapped
		}
	}
	res, err := rt.runPod(ctx, a, w, logs)
	if err != nil || res.ExitStatus != 0 {
		return res, err
	}
	for _, o := range cfg.Outputs {
		p := pathOr(o.Path, o.Name)
		if err := rt.Local.Publish(a.BuildID, w.outputs[p], artifactOf[p]); err != nil {
			return res, err
		}
		res.Outputs = append(res.Outputs, artifactOf[p])
	}
	return res, nil
}

// podWork is what one pod runs: a task config, with the step's params over
// the config's, and its inputs and outputs as directories on the spoke's disk
// by their paths in the build directory.
type podWork struct {
	cfg        *pipeline.TaskConfig
	params     map[string]string
	privileged bool
	image      string            // the task container's image
	pull       *corev1.Secret    // the credentials to pull it with, if any
	inputs     map[string]string // sent in before the command starts
	outputs    map[string]string // filled when the command succeeds
}

// outputDir is a fresh directory for an output, on the same disk as the
// build's artifacts so that publishing it is a rename.
func (rt *Runtime) outputDir(buildID int64) (string, error) {
	if rt.Local == nil {
		return "", errors.New("the kube runtime keeps no artifacts without a local runtime: it cannot take the step's outputs")
	}
	parent := rt.Local.Artifact(buildID, "")
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	return os.MkdirTemp(parent, ".output-")
}

// errLost is a pod that went away before its task ended.
var errLost = errors.New("pod lost")

// runPod runs the task in the pod of the step's run: it re-attaches to
// the pod if it exists (a restarted spoke), else creates it with its
// NetworkPolicy.
func (rt *Runtime) runPod(ctx context.Context, a wire.Assignment, w podWork, logs local.Logs) (wire.Result, error) {
	if w.privileged && !rt.AllowPrivileged {
		return wire.Result{}, fmt.Errorf("privileged steps are not allowed on spoke %s", rt.Spoke)
	}
	cfg := w.cfg
	name := PodName(a)
	_, start := telemetry.Tracer().Start(ctx, "pod scheduling and start", trace.WithAttributes(
		attribute.String("k8s.pod.name", name), attribute.String("k8s.namespace.name", rt.Namespace)))
	defer start.End() // once the task runs it has ended already; a second End does nothing
	pods := rt.Client.CoreV1().Pods(rt.Namespace)
	pod, err := pods.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if pod, err = rt.createPod(ctx, a, w, name); err != nil {
			// Nothing owns the step's NetworkPolicy and Secrets unless its pod
			// was made and took them.
			rt.cleanUp(name)
		}
	}
	if err != nil {
		telemetry.Fail(start, err)
		return wire.Result{}, fmt.Errorf("pod %s: %w", name, err)
	}
	kept := false
	defer func() {
		if !kept {
			rt.cleanUp(name)
		}
	}()
	pw := rt.watchPod(pod, logs, start)
	defer pw.stop()
	defer pw.started()
	dir := buildDir(name)
	if artifacts(cfg) {
		if err := rt.deliver(ctx, pw, dir, w.inputs); err != nil {
			return wire.Result{}, err
		}
	}
	res, err := rt.follow(ctx, pw, logs)
	if err != nil || !artifacts(cfg) {
		return res, err
	}
	if res.ExitStatus != 0 {
		// The outputs helper keeps the build directory for fly intercept.
		kept = rt.keep(name)
		return res, nil
	}
	return res, rt.collectOutputs(ctx, name, dir, w.outputs)
}

// AnnotationKeepUntil marks the pod of a failed step kept for fly intercept
// until the time it holds (RFC 3339).
const AnnotationKeepUntil = "switchyard.dev/keep-until"

// keep leaves a failed step's pod, with its outputs helper and build
// directory, for wire.KeepFailed, then deletes it. Sweeps leave it until then
// too, so a restarted spoke deletes it in time.
func (rt *Runtime) keep(name string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	until := time.Now().Add(wire.KeepFailed).UTC().Format(time.RFC3339)
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, AnnotationKeepUntil, until)
	if _, err := rt.Client.CoreV1().Pods(rt.Namespace).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return false
	}
	time.AfterFunc(wire.KeepFailed, func() { rt.cleanUp(name) })
	return true
}

// createPod makes the step's NetworkPolicy, cache claims, Secrets and pod,
// then gives the pod the NetworkPolicy and Secrets, so that they go with it.
func (rt *Runtime) createPod(ctx context.Context, a wire.Assignment, w podWork, name string) (*corev1.Pod, error) {
	if err := rt.ensurePolicy(ctx, a, name); err != nil {
		return nil, err
	}
	caches, err := rt.caches(ctx, a, w.cfg)
	if err != nil {
		return nil, err
	}
	spec, err := rt.podFor(a, w, name, caches)
	if err != nil {
		return nil, err
	}
	secret, err := stepSecret(a, name, &spec.Spec.Containers[0])
	if err == nil && secret != nil {
		err = rt.createSecret(ctx, secret)
	}
	if err == nil && w.pull != nil {
		spec.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: w.pull.Name}}
		err = rt.createSecret(ctx, w.pull)
	}
	if err != nil {
		return nil, err
	}
	pods := rt.Client.CoreV1().Pods(rt.Namespace)
	pod, err := pods.Create(ctx, spec, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return pods.Get(ctx, name, metav1.GetOptions{})
	}
	if err != nil {
		return nil, err
	}
	err = rt.ownPolicy(ctx, pod)
	if err == nil && secret != nil {
		err = rt.ownSecret(ctx, pod)
	}
	if err == nil && w.pull != nil {
		err = rt.ownSecret(ctx, pod, w.pull.Name)
	}
	return pod, err
}

// taskConfig is the task's config, from the plan or from a file in an artifact.
func (rt *Runtime) taskConfig(a wire.Assignment) (*pipeline.TaskConfig, error) {
	t := a.Request.Task
	if t.ConfigPath == "" {
		if t.Config == nil || t.Config.Run == nil {
			return nil, errors.New("task has no config to run")
		}
		return t.Config, nil
	}
	if rt.Local == nil {
		return nil, fmt.Errorf("task config %s: the kube runtime keeps no artifacts without a local runtime", t.ConfigPath)
	}
	artifact, rest, _ := strings.Cut(t.ConfigPath, "/")
	data, err := rt.Local.ReadArtifactFile(a.BuildID, a.Request.Inputs[artifact], rest)
	if err != nil {
		return nil, fmt.Errorf("read task config %s: %w", t.ConfigPath, err)
	}
	return pipeline.LoadTaskConfig(t.ConfigPath, data)
}

// artifacts tells whether the task's pod needs a build directory, filled and
// emptied by the helpers.
func artifacts(cfg *pipeline.TaskConfig) bool {
	return len(cfg.Inputs) > 0 || len(cfg.Outputs) > 0 || len(cfg.Caches) > 0
}

// buildDir is the task's working directory in its pod: /tmp/build/<8 hex>,
// as in Concourse.
func buildDir(podName string) string { return "/tmp/build/" + podName[len(podName)-8:] }

// inputs maps each input's path in the build directory to its artifact on
// disk; a missing optional input is left out.
func (rt *Runtime) inputs(a wire.Assignment, cfg *pipeline.TaskConfig) (map[string]string, error) {
	out := map[string]string{}
	for _, in := range cfg.Inputs {
		if rt.Local == nil {
			return nil, errors.New("the kube runtime keeps no artifacts without a local runtime: it cannot give the task inputs")
		}
		artifact, ok := a.Request.Inputs[in.Name]
		if !ok {
			artifact = in.Name
		}
		src := rt.Local.Artifact(a.BuildID, artifact)
		if _, err := os.Stat(src); err != nil {
			if in.Optional {
				continue
			}
			return nil, fmt.Errorf("missing inputs: %s", in.Name)
		}
		out[pathOr(in.Path, in.Name)] = src
	}
	return out, nil
}

func pathOr(path, name string) string {
	if path != "" {
		return strings.TrimSuffix(path, "/")
	}
	return name
}

// deliver waits for the inputs helper and streams the inputs in, unless it
// is done already (a re-attached step).
func (rt *Runtime) deliver(ctx context.Context, pw *podWatch, dir string, inputs map[string]string) error {
	for {
		pod, err := pw.next(ctx)
		if err != nil {
			return err
		}
		for _, st := range pod.Status.InitContainerStatuses {
			if st.Name != inputsContainer {
				continue
			}
			if st.State.Terminated != nil {
				return nil
			}
			if st.State.Running != nil {
				return rt.sendInputs(ctx, pod.Name, dir, inputs)
			}
		}
	}
}

// cleanUp deletes the step's pod, NetworkPolicy and Secret, also when the
// step was aborted.
func (rt *Runtime) cleanUp(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	zero := int64(0)
	_ = rt.Client.CoreV1().Pods(rt.Namespace).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	_ = rt.Client.NetworkingV1().NetworkPolicies(rt.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
	_ = rt.Client.CoreV1().Secrets(rt.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
	_ = rt.Client.CoreV1().Secrets(rt.Namespace).Delete(ctx, pullSecretName(name), metav1.DeleteOptions{})
}

// ensurePolicy gives the step's pod a NetworkPolicy: no ingress; egress
// anywhere, or nowhere with DenyEgress.
func (rt *Runtime) ensurePolicy(ctx context.Context, a wire.Assignment, name string) error {
	np := &netv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: rt.labels(a, name)},
		Spec: netv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{LabelStep: name}},
			PolicyTypes: []netv1.PolicyType{netv1.PolicyTypeIngress, netv1.PolicyTypeEgress},
		},
	}
	if !rt.DenyEgress {
		np.Spec.Egress = []netv1.NetworkPolicyEgressRule{{}} // one empty rule: everywhere
	}
	_, err := rt.Client.NetworkingV1().NetworkPolicies(rt.Namespace).Create(ctx, np, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("network policy %s: %w", name, err)
	}
	return nil
}

// ownPolicy makes the step's pod the owner of its NetworkPolicy, so that the
// cluster's garbage collector deletes the policy with the pod whoever deletes
// it. (The policy is created first, so that the pod never runs without it.)
func (rt *Runtime) ownPolicy(ctx context.Context, pod *corev1.Pod) error {
	policies := rt.Client.NetworkingV1().NetworkPolicies(rt.Namespace)
	np, err := policies.Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("network policy %s: %w", pod.Name, err)
	}
	np.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID}}
	if _, err := policies.Update(ctx, np, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("network policy %s: %w", pod.Name, err)
	}
	return nil
}

// podFor is the pod of a task: its image, command, params as env, limits, and
// a restricted security context unless the task is privileged.
func (rt *Runtime) podFor(a wire.Assignment, w podWork, name string, caches []cache) (*corev1.Pod, error) {
	cfg := w.cfg
	if cfg.Run == nil || cfg.Run.Path == "" {
		return nil, errors.New("the task has no run.path")
	}
	env := map[string]string{}
	for k, v := range cfg.Params {
		env[k] = v
	}
	for k, v := range w.params {
		env[k] = v
	}
	for k, v := range a.Request.Env {
		env[k] = v
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var envVars []corev1.EnvVar
	for _, k := range keys {
		envVars = append(envVars, corev1.EnvVar{Name: k, Value: env[k]})
	}
	c := corev1.Container{
		Name: "task", Image: w.image, Command: []string{cfg.Run.Path}, Args: cfg.Run.Args, Env: envVars,
		WorkingDir: cfg.Run.Dir,
	}
	if l := cfg.ContainerLimits; l != nil {
		c.Resources.Limits, c.Resources.Requests = corev1.ResourceList{}, corev1.ResourceList{}
		if l.Memory > 0 {
			q := resource.NewQuantity(int64(l.Memory), resource.BinarySI)
			c.Resources.Limits[corev1.ResourceMemory], c.Resources.Requests[corev1.ResourceMemory] = *q, *q
		}
		if l.CPU != nil && *l.CPU > 0 {
			// Concourse's cpu is shares (1024 = one core); Kubernetes wants cores.
			q := resource.NewMilliQuantity(int64(*l.CPU)*1000/1024, resource.DecimalSI)
			c.Resources.Limits[corev1.ResourceCPU], c.Resources.Requests[corev1.ResourceCPU] = *q, *q
		}
	}
	yes, no := true, false
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: rt.labels(a, name)},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: &no,
			Containers:                   []corev1.Container{c},
		},
	}
	if artifacts(cfg) {
		rt.addHelpers(pod, buildDir(name), cfg)
		mountCaches(pod, buildDir(name), caches)
	}
	if w.privileged {
		pod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: &yes}
		return pod, nil
	}
	uid := int64(1000)
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{
		RunAsNonRoot: &yes, RunAsUser: &uid, FSGroup: &uid, // caches' volumes are the task's to write
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	restricted := &corev1.SecurityContext{
		AllowPrivilegeEscalation: &no,
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
	for i := range pod.Spec.InitContainers {
		pod.Spec.InitContainers[i].SecurityContext = restricted
	}
	for i := range pod.Spec.Containers {
		pod.Spec.Containers[i].SecurityContext = restricted
	}
	return pod, nil
}

// addHelpers gives the pod its build directory, shared by the task, the
// inputs helper that runs first and the outputs helper that runs beside it.
func (rt *Runtime) addHelpers(pod *corev1.Pod, dir string, cfg *pipeline.TaskConfig) {
	image := rt.HelperImage
	if image == "" {
		image = "busybox"
	}
	mount := []corev1.VolumeMount{{Name: buildVolume, MountPath: dir}}
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: buildVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	pod.Spec.InitContainers = append(pod.Spec.InitContainers, corev1.Container{
		Name: inputsContainer, Image: image, Command: waitFor(dir, readyFile), VolumeMounts: mount,
	})
	pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{
		Name: outputsContainer, Image: image, Command: waitFor(dir, collectedFile), VolumeMounts: mount,
	})
	task := &pod.Spec.Containers[0]
	task.VolumeMounts = mount
	task.WorkingDir = dir
	if cfg.Run.Dir != "" {
		task.WorkingDir = path.Join(dir, cfg.Run.Dir)
	}
	// Outputs and caches exist before the task starts, as in Concourse.
	var dirs []string
	for _, o := range cfg.Outputs {
		dirs = append(dirs, path.Join(dir, pathOr(o.Path, o.Name)))
	}
	for _, c := range cfg.Caches {
		dirs = append(dirs, path.Join(dir, c.Path))
	}
	if len(dirs) > 0 {
		init := &pod.Spec.InitContainers[0]
		init.Command = []string{"sh", "-c", "mkdir -p " + strings.Join(dirs, " ") + " && " + init.Command[2]}
	}
}

// image is the task's image: its image_resource's repository and tag, its
// rootfs_uri, or the runtime's default.
func (rt *Runtime) image(cfg *pipeline.TaskConfig) string {
	if ir := cfg.ImageResource; ir != nil {
		if image := pipeline.RegistryImage(ir.Source); image != "" {
			return image
		}
	}
	if strings.HasPrefix(cfg.RootfsURI, "docker:///") {
		return strings.TrimPrefix(cfg.RootfsURI, "docker:///")
	}
	if rt.DefaultImage != "" {
		return rt.DefaultImage
	}
	return "busybox"
}

// follow waits for the pod's task container to end, streaming its logs, and
// turns how it ended into a result.
func (rt *Runtime) follow(ctx context.Context, pw *podWatch, logs local.Logs) (wire.Result, error) {
	streamed := make(chan error, 1)
	streaming := false
	for {
		pod, err := pw.next(ctx)
		if err != nil {
			return wire.Result{}, err
		}
		switch {
		case pod.DeletionTimestamp != nil:
			return wire.Result{}, fmt.Errorf("%w: pod %s is being deleted (evicted?)", errLost, pod.Name)
		case pod.Status.Phase == corev1.PodFailed && pod.Status.Reason == "Evicted":
			return wire.Result{}, fmt.Errorf("%w: pod %s was evicted: %s", errLost, pod.Name, pod.Status.Message)
		}
		st := taskStatus(pod)
		if st == nil {
			continue
		}
		if w := st.State.Waiting; w != nil && (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff" || w.Reason == "InvalidImageName") {
			return wire.Result{}, fmt.Errorf("cannot pull image %s: %s: %s", st.Image, w.Reason, w.Message)
		}
		if !streaming && (st.State.Running != nil || st.State.Terminated != nil) {
			streaming = true
			go func() { streamed <- rt.streamLogs(ctx, pod.Name, logs) }()
		}
		if term := st.State.Terminated; term != nil {
			if err := <-streamed; err != nil && ctx.Err() == nil {
				logs.Line("stderr", "logs ended early: "+err.Error()+"\n")
			}
			if term.Reason == "OOMKilled" {
				return wire.Result{}, fmt.Errorf("OOMKilled at limit %s", limitOf(pod))
			}
			return wire.Result{ExitStatus: int(term.ExitCode)}, nil
		}
	}
}

func taskStatus(pod *corev1.Pod) *corev1.ContainerStatus {
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == "task" {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}

func limitOf(pod *corev1.Pod) string {
	if q, ok := pod.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory]; ok {
		return q.String()
	}
	return "(none set)"
}

// streamLogs follows the task container's log a line at a time (long
// lines in pieces).
func (rt *Runtime) streamLogs(ctx context.Context, name string, logs local.Logs) error {
	req := rt.Client.CoreV1().Pods(rt.Namespace).GetLogs(name, &corev1.PodLogOptions{Container: "task", Follow: true})
	rc, err := req.Stream(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	return local.Pump(rc, "stdout", logs)
}
