package kube

import (
	"context"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/switchyard-ci/switchyard/redact"
	"github.com/switchyard-ci/switchyard/wire"
)

// A step that holds secrets keeps them out of its pod spec: its env comes
// from a Secret of the same name as the pod, created before it, owned by it
// and deleted with it; a command word that holds a secret becomes a
// $(SWITCHYARD_ARG_n) reference that Kubernetes expands from that env.

// stepSecret moves the container's env, and the words of its command that
// hold one of the step's secrets, into a Secret; nil when the step has none.
func stepSecret(a wire.Assignment, name string, c *corev1.Container) (*corev1.Secret, error) {
	if len(a.Redact) == 0 {
		return nil, nil
	}
	secrets := redact.New(a.Redact)
	data := map[string][]byte{}
	for i, e := range c.Env {
		if errs := validation.IsConfigMapKey(e.Name); len(errs) > 0 {
			return nil, fmt.Errorf("param %q cannot be passed through a Kubernetes Secret: %v", e.Name, errs)
		}
		data[e.Name] = []byte(e.Value)
		c.Env[i] = corev1.EnvVar{Name: e.Name, ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: e.Name}}}
	}
	n := 0
	hide := func(word string) string {
		if secrets.Redact(word) == word {
			return word
		}
		n++
		key := "SWITCHYARD_ARG_" + strconv.Itoa(n)
		data[key] = []byte(word)
		c.Env = append(c.Env, corev1.EnvVar{Name: key, ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}}})
		return "$(" + key + ")"
	}
	for i := range c.Command {
		c.Command[i] = hide(c.Command[i])
	}
	for i := range c.Args {
		c.Args[i] = hide(c.Args[i])
	}
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{LabelManagedBy: ManagedBy}}, Data: data}, nil
}

// createSecret stores the step's Secret (again, for a pod that is re-made).
func (rt *Runtime) createSecret(ctx context.Context, s *corev1.Secret) error {
	_, err := rt.Client.CoreV1().Secrets(rt.Namespace).Create(ctx, s, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = rt.Client.CoreV1().Secrets(rt.Namespace).Update(ctx, s, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("secret %s: %w", s.Name, err)
	}
	return nil
}

// ownSecret makes the pod the owner of its Secret (of its name, or the one
// named), so that the cluster's garbage collector deletes it with the pod
// whoever deletes that.
func (rt *Runtime) ownSecret(ctx context.Context, pod *corev1.Pod, named ...string) error {
	name := pod.Name
	if len(named) > 0 {
		name = named[0]
	}
	secrets := rt.Client.CoreV1().Secrets(rt.Namespace)
	s, err := secrets.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("secret %s: %w", name, err)
	}
	s.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID}}
	if _, err := secrets.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("secret %s: %w", name, err)
	}
	return nil
}
