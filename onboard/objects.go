package onboard

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Spoke is what the controller installs into a workload cluster: the
// objects charts/spoke renders for one spoke (its namespace, ServiceAccount,
// the Role in the steps' namespace and its binding, the join token's
// Secret and the agent's Deployment), with the chart's defaults and
// retireOnStop. TestObjectsMatchTheChart holds the two together.
type Spoke struct {
	Name           string // the spoke's name at the hub
	Namespace      string // the agent's namespace
	StepsNamespace string // where its steps run
	HubURL         string // what the agent dials
	Image          string // the agent's image (the switchyard binary)
	HelperImage    string // the steps' helper image
	CPUs           string // the capacity it offers: CPUs, memory (a quantity) and steps (0: no bound)
	Memory         string
	MaxSteps       int
	Token          string // the join token (only for the Secret)
}

// Names of what the controller installs: the chart's, installed as release
// "switchyard-spoke".
const (
	release    = "switchyard-spoke"
	objectName = release // the ServiceAccount, Role, RoleBinding and Deployment
	secretName = "switchyard-spoke-join"
	secretKey  = "token"
	fieldOwner = "switchyard-onboard"
)

// labels are the chart's selector labels with the controller as manager.
func (s Spoke) labels() map[string]string {
	return map[string]string{"app.kubernetes.io/name": "switchyard-spoke", "app.kubernetes.io/instance": release,
		"app.kubernetes.io/part-of": "switchyard", "app.kubernetes.io/managed-by": fieldOwner}
}

func (s Spoke) meta(name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: s.labels()}
}

// object is one object to apply, with its resource.
type object struct {
	gvr schema.GroupVersionResource
	obj runtime.Object
}

var (
	namespaces      = corev1.SchemeGroupVersion.WithResource("namespaces")
	serviceAccounts = corev1.SchemeGroupVersion.WithResource("serviceaccounts")
	secrets         = corev1.SchemeGroupVersion.WithResource("secrets")
	roles           = rbacv1.SchemeGroupVersion.WithResource("roles")
	roleBindings    = rbacv1.SchemeGroupVersion.WithResource("rolebindings")
	deployments     = appsv1.SchemeGroupVersion.WithResource("deployments")
)

// objects are the spoke's objects in the order they are applied (the
// Secret apart: it is applied only with a new token).
func (s Spoke) objects() []object {
	ns := func(name, enforce string) *corev1.Namespace {
		n := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: s.meta(name, "")}
		if enforce != "" {
			n.Labels["pod-security.kubernetes.io/enforce"] = enforce
		}
		return n
	}
	return []object{
		{namespaces, ns(s.Namespace, "")},
		// Steps run as the task says (some as root): baseline, as the chart.
		{namespaces, ns(s.StepsNamespace, "baseline")},
		// The agent talks to the API with a projected token; nothing else in the pod needs one.
		{serviceAccounts, &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: s.meta(objectName, s.Namespace),
			AutomountServiceAccountToken: ptr.To(false)}},
		{roles, &rbacv1.Role{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"}, ObjectMeta: s.meta(objectName, s.StepsNamespace), Rules: spokeRules()}},
		{roleBindings, &rbacv1.RoleBinding{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"}, ObjectMeta: s.meta(objectName, s.StepsNamespace),
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: objectName},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: objectName, Namespace: s.Namespace}}}},
		{deployments, s.deployment()},
	}
}

// Objects are the objects the controller installs for the spoke, the
// Secret last.
func (s Spoke) Objects() ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, o := range append(s.objects(), s.secret()) {
		u, err := toUnstructured(o.obj)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// toUnstructured is an object as it is applied.
func toUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "spec", "template", "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "status")
	return u, nil
}

// secret is the join token's Secret.
func (s Spoke) secret() object {
	return object{secrets, &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}, ObjectMeta: s.meta(secretName, s.Namespace),
		Type: corev1.SecretTypeOpaque, StringData: map[string]string{secretKey: s.Token}}}
}

// spokeRules are the chart's Role: what the agent does in the steps'
// namespace, and nothing else.
func spokeRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create", "get", "list", "watch", "patch", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"pods/exec"}, Verbs: []string{"create"}},
		{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create", "get", "update", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"persistentvolumeclaims"}, Verbs: []string{"create", "delete"}},
		{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}, Verbs: []string{"create", "get", "update", "delete"}},
	}
}

// args is the agent's command line, as the chart's defaults with
// retireOnStop and the capacity make it.
func (s Spoke) args() []string {
	args := []string{"spoke", "--runtime=kube", "--hub-url=" + s.HubURL, "--name=" + s.Name, "--namespace=" + s.StepsNamespace,
		"--helper-image=" + s.HelperImage, "--work-dir=/var/lib/switchyard", "--artifact-cache-size=10Gi", fmt.Sprintf("--health-listen=:%d", metricsPort),
		"--cache-size=1Gi", "--retire-on-sigterm", "--cpus=" + s.CPUs, "--memory=" + s.Memory}
	if s.MaxSteps > 0 {
		args = append(args, fmt.Sprintf("--max-steps=%d", s.MaxSteps))
	}
	return args
}

// metricsPort is the agent's health and metrics port, the chart's.
const metricsPort = 9100

// terminationGrace is how long a retiring agent drains before it is
// stopped (the chart's terminationGracePeriodSeconds, set to this).
const terminationGrace = 3600

func (s Spoke) deployment() *appsv1.Deployment {
	selector := map[string]string{"app.kubernetes.io/name": "switchyard-spoke", "app.kubernetes.io/instance": release}
	probe := func(period, failures int32) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("metrics")}},
			PeriodSeconds: period, FailureThreshold: failures}
	}
	return &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: s.meta(objectName, s.Namespace),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1), // one agent per name: the hub knows a spoke by its name
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: selector},
				Spec: corev1.PodSpec{
					ServiceAccountName:            objectName,
					AutomountServiceAccountToken:  ptr.To(true),
					TerminationGracePeriodSeconds: ptr.To[int64](terminationGrace),
					SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532), RunAsGroup: ptr.To[int64](65532),
						FSGroup: ptr.To[int64](65532), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
					Containers: []corev1.Container{{
						Name: "spoke", Image: s.Image, ImagePullPolicy: corev1.PullIfNotPresent,
						Command: []string{"/usr/local/bin/switchyard"},
						Args:    s.args(),
						Env: []corev1.EnvVar{{Name: "SWITCHYARD_JOIN_TOKEN", ValueFrom: &corev1.EnvVarSource{
							SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secretName}, Key: secretKey}}}},
						Ports:          []corev1.ContainerPort{{Name: "metrics", ContainerPort: metricsPort, Protocol: corev1.ProtocolTCP}},
						LivenessProbe:  probe(20, 3),
						ReadinessProbe: probe(10, 0),
						SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
							Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
							Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}},
						VolumeMounts: []corev1.VolumeMount{{Name: "work", MountPath: "/var/lib/switchyard"}, {Name: "tmp", MountPath: "/tmp"}},
					}},
					Volumes: []corev1.Volume{
						{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr.To(resource.MustParse("20Gi"))}}},
						{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
					},
				},
			},
		},
	}
}

// spokeName is the spoke's name for a Cluster: NAMESPACE-NAME, which a
// hostile Cluster cannot bend (Kubernetes names are DNS labels; the result
// is checked again by the caller).
func spokeName(namespace, name string) string {
	return strings.ToLower(fmt.Sprintf("%s-%s", namespace, name))
}
