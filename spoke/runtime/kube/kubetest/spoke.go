package kubetest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// EnvSpokeRole names a JSON file of RBAC rules (the Role charts/spoke
// renders). When it is set, the spokes of kube tests run as a ServiceAccount
// bound to those rules alone in their namespace, instead of as the admin.
const EnvSpokeRole = "SWITCHYARD_TEST_SPOKE_ROLE"

// spokeAccount is the ServiceAccount (and Role) spokes run as under EnvSpokeRole.
const spokeAccount = "switchyard-spoke"

// Spoke is the client and config a spoke under test uses in namespace ns:
// the admin's, or under EnvSpokeRole a token of a ServiceAccount that holds
// that Role in ns and nothing else.
func Spoke(t testing.TB, ns string) (kubernetes.Interface, *rest.Config) {
	t.Helper()
	admin, err := clientcmd.BuildConfigFromFlags("", Kubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := admin
	if path := os.Getenv(EnvSpokeRole); path != "" {
		cfg = &rest.Config{Host: admin.Host, BearerToken: roleToken(t, admin, ns, path),
			TLSClientConfig: rest.TLSClientConfig{Insecure: admin.Insecure, CAData: admin.CAData, CAFile: admin.CAFile}}
	}
	cfg.QPS, cfg.Burst = 200, 400 // as the spoke sets them
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, cfg
}

// SpokeKubeconfig writes Spoke's config as a kubeconfig, for a spoke process.
func SpokeKubeconfig(t testing.TB, ns string) string {
	t.Helper()
	if os.Getenv(EnvSpokeRole) == "" {
		return Kubeconfig(t)
	}
	_, cfg := Spoke(t, ns)
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, InsecureSkipTLSVerify: cfg.Insecure, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["spoke"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "spoke"}
	kc.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "spoke-kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// roleToken binds the rules in path to the spokes' ServiceAccount in ns and
// returns a token for it.
func roleToken(t testing.TB, admin *rest.Config, ns, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rules []rbacv1.PolicyRule
	if err := json.Unmarshal(data, &rules); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	c, err := kubernetes.NewForConfig(admin)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	meta := metav1.ObjectMeta{Name: spokeAccount, Namespace: ns}
	if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: meta}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if _, err := c.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: meta, Rules: rules}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{ObjectMeta: meta, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: spokeAccount},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: spokeAccount, Namespace: ns}}}
	if _, err := c.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	hour := int64(3600)
	tok, err := c.CoreV1().ServiceAccounts(ns).CreateToken(ctx, spokeAccount,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &hour}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Status.Token
}
