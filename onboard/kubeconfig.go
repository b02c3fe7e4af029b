package onboard

import (
	"errors"
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// maxKubeconfig bounds the kubeconfig a Cluster's Secret holds.
const maxKubeconfig = 256 << 10

// workloadConfig reads a workload cluster's kubeconfig (a Cluster's
// NAME-kubeconfig Secret, which whoever may write Secrets there controls).
// Only what the kubeconfig itself holds is used: a kubeconfig that would run
// a command (exec, an auth provider) or read a file of the controller's
// machine (a token, certificate, key or CA file) is refused, as is one
// that names a proxy.
func workloadConfig(raw []byte) (*rest.Config, error) {
	if len(raw) > maxKubeconfig {
		return nil, fmt.Errorf("the kubeconfig is %d bytes, more than %d", len(raw), maxKubeconfig)
	}
	cfg, err := clientcmd.Load(raw)
	if err != nil {
		return nil, fmt.Errorf("the kubeconfig does not parse: %w", err)
	}
	ctx, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok {
		return nil, fmt.Errorf("the kubeconfig's current context %q is not one of its contexts", cfg.CurrentContext)
	}
	cluster, ok := cfg.Clusters[ctx.Cluster]
	if !ok {
		return nil, fmt.Errorf("the kubeconfig's context %q names no cluster it has", cfg.CurrentContext)
	}
	user := cfg.AuthInfos[ctx.AuthInfo]
	switch {
	case cluster.CertificateAuthority != "":
		return nil, errors.New("the kubeconfig reads its CA from a file (certificate-authority): give certificate-authority-data")
	case cluster.ProxyURL != "":
		return nil, errors.New("the kubeconfig names a proxy (proxy-url): the controller dials the cluster itself")
	case user == nil:
		return nil, fmt.Errorf("the kubeconfig's context %q names no user it has", cfg.CurrentContext)
	case user.Exec != nil:
		return nil, errors.New("the kubeconfig runs a command for credentials (exec): give a token or client certificate data")
	case user.AuthProvider != nil:
		return nil, errors.New("the kubeconfig uses an auth provider plugin: give a token or client certificate data")
	case user.TokenFile != "" || user.ClientCertificate != "" || user.ClientKey != "":
		return nil, errors.New("the kubeconfig reads credentials from files (tokenFile, client-certificate, client-key): give them inline")
	case user.Username != "" || user.Password != "" || user.Impersonate != "" || len(user.ImpersonateGroups) > 0:
		return nil, errors.New("the kubeconfig uses basic auth or impersonation: give a token or client certificate data")
	}
	// Only this context, cluster and user: nothing else of the file is read.
	only := clientcmd.NewDefaultClientConfig(*cfg, &clientcmd.ConfigOverrides{})
	rc, err := only.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("the kubeconfig: %w", err)
	}
	return rc, nil
}
