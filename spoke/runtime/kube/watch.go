package kube

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/switchyard-ci/switchyard/spoke/runtime/local"
)

// podWatch follows one pod through the API's watch (no polling), and reports
// how the pod is getting on (scheduled, unschedulable, waiting for its image,
// killed) to the step's log on stderr, once per change. Those lines reach the
// hub as the step's log events, which stock fly shows.
type podWatch struct {
	rt    *Runtime
	name  string
	rv    string
	w     watch.Interface
	logs  local.Logs
	said  map[string]bool
	first *corev1.Pod // the pod as the watch started, returned by the first next
	// start is the span of the pod's scheduling and start, which ends as
	// its task container runs (nil: ended, or not traced).
	start trace.Span
}

func (rt *Runtime) watchPod(pod *corev1.Pod, logs local.Logs, start trace.Span) *podWatch {
	pw := &podWatch{rt: rt, name: pod.Name, rv: pod.ResourceVersion, logs: logs, said: map[string]bool{}, first: pod, start: start}
	pw.report(pod)
	return pw
}

// started ends the span of the pod's scheduling and start, if it is open.
func (pw *podWatch) started() {
	if pw.start != nil {
		pw.start.End()
		pw.start = nil
	}
}

// next returns the pod's next state: the state the watch started from first,
// then each change. A deleted pod is errLost.
func (pw *podWatch) next(ctx context.Context) (*corev1.Pod, error) {
	if pod := pw.first; pod != nil {
		pw.first = nil
		return pod, nil
	}
	pods := pw.rt.Client.CoreV1().Pods(pw.rt.Namespace)
	for {
		if pw.w == nil {
			w, err := pods.Watch(ctx, metav1.ListOptions{
				FieldSelector:   fields.OneTermEqualSelector("metadata.name", pw.name).String(),
				ResourceVersion: pw.rv, AllowWatchBookmarks: true,
			})
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, fmt.Errorf("watch pod %s: %w", pw.name, err)
			}
			pw.w = w
		}
		var ev watch.Event
		var ok bool
		select {
		case <-ctx.Done():
			pw.stop()
			return nil, ctx.Err()
		case ev, ok = <-pw.w.ResultChan():
		}
		if !ok { // the API server ended the watch (its timeout): go on from where it was
			pw.w = nil
			continue
		}
		switch ev.Type {
		case watch.Deleted:
			pw.stop()
			return nil, fmt.Errorf("%w: pod %s went away (evicted, or its node lost)", errLost, pw.name)
		case watch.Error: // mostly 410 Gone: the resource version is too old; read the pod afresh
			pw.stop()
			pod, err := pods.Get(ctx, pw.name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("%w: pod %s went away (evicted, or its node lost)", errLost, pw.name)
			}
			if err != nil {
				return nil, fmt.Errorf("pod %s: %w", pw.name, err)
			}
			pw.rv = pod.ResourceVersion
			pw.report(pod)
			return pod, nil
		case watch.Added, watch.Modified, watch.Bookmark:
			pod, isPod := ev.Object.(*corev1.Pod)
			if !isPod {
				continue
			}
			pw.rv = pod.ResourceVersion
			if ev.Type == watch.Bookmark {
				continue
			}
			pw.report(pod)
			return pod, nil
		}
	}
}

func (pw *podWatch) stop() {
	if pw.w != nil {
		pw.w.Stop()
		pw.w = nil
	}
}

// report writes each new thing worth telling about the pod, once.
func (pw *podWatch) report(pod *corev1.Pod) {
	for _, line := range podNews(pod) {
		if !pw.said[line] {
			pw.said[line] = true
			pw.logs.Line("stderr", "pod "+pod.Name+": "+strings.TrimSpace(line)+"\n")
			if pw.start != nil {
				pw.start.AddEvent(strings.TrimSpace(line))
			}
		}
	}
	if pw.start != nil && pod.Spec.NodeName != "" {
		pw.start.SetAttributes(attribute.String("k8s.node.name", pod.Spec.NodeName))
	}
	if st := taskStatus(pod); st != nil && (st.State.Running != nil || st.State.Terminated != nil) {
		pw.started()
	}
}

// podNews is what a user waiting for a step wants to know of its pod: where
// it was scheduled or why it cannot be, and why a container waits or was
// killed. Normal progress (creating, running, completed) says nothing.
func podNews(pod *corev1.Pod) []string {
	var out []string
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason != "" {
			out = append(out, strings.ToLower(c.Reason)+": "+c.Message)
		}
	}
	if pod.Spec.NodeName != "" {
		out = append(out, "scheduled on node "+pod.Spec.NodeName)
	}
	statuses := append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
	for _, st := range statuses {
		if w := st.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" && w.Reason != "PodInitializing" {
			out = append(out, fmt.Sprintf("container %s waiting: %s %s", st.Name, w.Reason, w.Message))
		}
		if t := st.State.Terminated; t != nil && t.Reason != "" && t.Reason != "Completed" && t.Reason != "Error" {
			out = append(out, fmt.Sprintf("container %s %s (exit %d) %s", st.Name, t.Reason, t.ExitCode, t.Message))
		}
	}
	if pod.Status.Reason != "" {
		out = append(out, pod.Status.Reason+": "+pod.Status.Message)
	}
	return out
}
