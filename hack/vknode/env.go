package main

import (
	"context"
	"fmt"
	"net/url"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// containerEnv is a container's environment as a kubelet makes it: the API's
// service variables (pointing at the apiserver this node talks to), envFrom,
// then env with valueFrom resolved and $(NAME) expanded from what came before.
func (p *hostProvider) containerEnv(pod *corev1.Pod, c corev1.Container) ([]corev1.EnvVar, error) {
	// The kubernetes Service's address (which the pod controller puts in
	// env too) routes nowhere here: the apiserver's own is given instead.
	var api []corev1.EnvVar
	if u, err := url.Parse(p.apiServer); err == nil && u.Host != "" {
		api = []corev1.EnvVar{{Name: "KUBERNETES_SERVICE_HOST", Value: u.Hostname()}, {Name: "KUBERNETES_SERVICE_PORT", Value: u.Port()}}
	}
	env := append([]corev1.EnvVar{}, api...)
	for _, from := range c.EnvFrom {
		data, err := p.envSource(pod.Namespace, from)
		if err != nil {
			return nil, err
		}
		for k, v := range data {
			env = append(env, corev1.EnvVar{Name: from.Prefix + k, Value: v})
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			e.Value = expandCommand([]string{e.Value}, env)[0]
			env = append(env, corev1.EnvVar{Name: e.Name, Value: e.Value})
			continue
		}
		v, ok, err := p.envValue(pod, e.ValueFrom)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if ok {
			env = append(env, corev1.EnvVar{Name: e.Name, Value: v})
		}
	}
	return append(env, api...), nil
}

func (p *hostProvider) envSource(namespace string, from corev1.EnvFromSource) (map[string]string, error) {
	data := map[string]string{}
	switch {
	case from.ConfigMapRef != nil:
		cm, err := p.cfg.ConfigMaps.ConfigMaps(namespace).Get(from.ConfigMapRef.Name)
		if err != nil {
			if optional(from.ConfigMapRef.Optional) {
				return data, nil
			}
			return nil, fmt.Errorf("envFrom config map %s: %w", from.ConfigMapRef.Name, err)
		}
		for k, v := range cm.Data {
			data[k] = v
		}
	case from.SecretRef != nil:
		s, err := p.cfg.Secrets.Secrets(namespace).Get(from.SecretRef.Name)
		if err != nil {
			if optional(from.SecretRef.Optional) {
				return data, nil
			}
			return nil, fmt.Errorf("envFrom secret %s: %w", from.SecretRef.Name, err)
		}
		for k, v := range s.Data {
			data[k] = string(v)
		}
	}
	return data, nil
}

// envValue resolves a valueFrom; false when an optional source is missing.
func (p *hostProvider) envValue(pod *corev1.Pod, from *corev1.EnvVarSource) (string, bool, error) {
	switch {
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		s, err := p.cfg.Secrets.Secrets(pod.Namespace).Get(ref.Name)
		if err == nil {
			if v, ok := s.Data[ref.Key]; ok {
				return string(v), true, nil
			}
			err = fmt.Errorf("secret %s has no key %s", ref.Name, ref.Key)
		}
		if optional(ref.Optional) {
			return "", false, nil
		}
		return "", false, err
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		cm, err := p.cfg.ConfigMaps.ConfigMaps(pod.Namespace).Get(ref.Name)
		if err == nil {
			if v, ok := cm.Data[ref.Key]; ok {
				return v, true, nil
			}
			err = fmt.Errorf("config map %s has no key %s", ref.Name, ref.Key)
		}
		if optional(ref.Optional) {
			return "", false, nil
		}
		return "", false, err
	case from.FieldRef != nil:
		switch from.FieldRef.FieldPath {
		case "metadata.name":
			return pod.Name, true, nil
		case "metadata.namespace":
			return pod.Namespace, true, nil
		case "spec.nodeName":
			return pod.Spec.NodeName, true, nil
		case "spec.serviceAccountName":
			return pod.Spec.ServiceAccountName, true, nil
		case "status.podIP", "status.hostIP":
			return "127.0.0.1", true, nil
		}
		return "", false, fmt.Errorf("vknode does not resolve fieldRef %s", from.FieldRef.FieldPath)
	}
	return "", false, fmt.Errorf("vknode resolves secretKeyRef, configMapKeyRef and fieldRef only")
}

func optional(b *bool) bool { return b != nil && *b }

// serviceAccountToken mints the token a projected volume asks for, bound to
// the pod, as the kubelet does.
func (p *hostProvider) serviceAccountToken(pod *corev1.Pod, src *corev1.ServiceAccountTokenProjection) ([]byte, error) {
	if p.client == nil || pod.Spec.ServiceAccountName == "" {
		return nil, nil
	}
	seconds := int64(3600)
	if src.ExpirationSeconds != nil {
		seconds = *src.ExpirationSeconds
	}
	req := &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &seconds,
		BoundObjectRef: &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}}}
	if src.Audience != "" {
		req.Spec.Audiences = []string{src.Audience}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := p.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, pod.Spec.ServiceAccountName, req, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("token of service account %s: %w", pod.Spec.ServiceAccountName, err)
	}
	return []byte(tok.Status.Token), nil
}

// downward writes a downward API volume's files (the pod's fields).
func (p *hostProvider) downward(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, write func(map[string][]byte) error) error {
	files := map[string][]byte{}
	for _, it := range items {
		if it.FieldRef == nil {
			continue
		}
		v, _, err := p.envValue(pod, &corev1.EnvVarSource{FieldRef: it.FieldRef})
		if err != nil {
			return err
		}
		files[it.Path] = []byte(v)
	}
	return write(files)
}
