package main

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/switchyard-ci/switchyard/hub/creds"
)

// credsConfig is the hub's credential manager (one at most) and how lookups
// are retried and cached.
type credsConfig struct {
	KubeConfigPath  string
	KubeInCluster   bool
	NamespacePrefix string
	Dummy           creds.Dummy // --dummy-creds-var values

	RetryAttempts   int
	RetryInterval   time.Duration
	LookupTimeout   time.Duration
	CacheEnabled    bool
	CacheTTL        time.Duration
	CacheNotFoundTT time.Duration

	// idtoken var sources: the tokens' issuer and how keys rotate.
	OIDCIssuerURL string
	KeyCheck      time.Duration
	KeyRotation   time.Duration
	KeyGrace      time.Duration
}

func (c *credsConfig) flags(f *flags) *listFlag {
	f.str(&c.KubeConfigPath, "kubernetes-config-path", "", "kubeconfig of the cluster whose Secrets are the credential manager (namespace PREFIX+TEAM, secret PIPELINE.VAR then VAR)")
	f.boolean(&c.KubeInCluster, "kubernetes-in-cluster", false, "use the Secrets of the cluster the hub runs in as the credential manager")
	f.str(&c.NamespacePrefix, "kubernetes-namespace-prefix", "concourse-", "a team's secrets live in the namespace PREFIX+TEAM")
	f.integer(&c.RetryAttempts, "secret-retry-attempts", 5, "how many times a credential lookup that met a network error is tried in all")
	f.duration(&c.RetryInterval, "secret-retry-interval", time.Second, "the wait between tries of a credential lookup")
	f.duration(&c.LookupTimeout, "secret-lookup-timeout", 10*time.Second, "how long one try of a credential lookup may take")
	f.boolean(&c.CacheEnabled, "secret-cache-enabled", false, "keep credential lookups for a while")
	f.duration(&c.CacheTTL, "secret-cache-duration", time.Minute, "how long a found credential is kept, with --secret-cache-enabled")
	f.duration(&c.CacheNotFoundTT, "secret-cache-duration-notfound", 10*time.Second, "how long a credential nothing defines is remembered so, with --secret-cache-enabled")
	f.str(&c.OIDCIssuerURL, "oidc-issuer-url", "", "the iss of idtoken var sources' tokens, where /.well-known/openid-configuration is served (default --external-url)")
	f.duration(&c.KeyCheck, "signing-key-check-interval", 10*time.Minute, "how often the id token signing keys are looked after")
	f.duration(&c.KeyRotation, "signing-key-rotation-period", 7*24*time.Hour, "an id token signing key older than this is replaced (0: never)")
	f.duration(&c.KeyGrace, "signing-key-grace-period", 24*time.Hour, "older signing keys stay published until the newest is this old; keep it at least the longest token lifetime (24h)")
	return f.list("dummy-creds-var", "[TEAM/[PIPELINE/]]VAR=YAML: a value of the dummy credential manager (for trying things out; not for real secrets)")
}

// validate reads the dummy vars and refuses two managers at once.
func (c *credsConfig) validate(dummy []string) error {
	for _, kv := range dummy {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("--dummy-creds-var %q: write [TEAM/[PIPELINE/]]VAR=YAML", kv)
		}
		var val any
		if err := yaml.Unmarshal([]byte(v), &val); err != nil {
			return fmt.Errorf("--dummy-creds-var %s: the value is not YAML: %w", k, err)
		}
		if c.Dummy == nil {
			c.Dummy = creds.Dummy{}
		}
		c.Dummy[k] = val
	}
	kube := c.KubeConfigPath != "" || c.KubeInCluster
	if kube && c.Dummy != nil {
		return fmt.Errorf("--dummy-creds-var and a kubernetes credential manager are both set: configure one credential manager")
	}
	if c.KubeConfigPath != "" && c.KubeInCluster {
		return fmt.Errorf("--kubernetes-config-path and --kubernetes-in-cluster are both set: choose one")
	}
	if c.RetryAttempts < 1 || c.RetryInterval < 0 || c.LookupTimeout <= 0 {
		return fmt.Errorf("--secret-retry-attempts must be at least 1, --secret-retry-interval not negative and --secret-lookup-timeout positive")
	}
	return nil
}

// registry builds what resolves the builds' vars.
func (c *credsConfig) registry() (*creds.Registry, error) {
	reg := &creds.Registry{Prefix: c.NamespacePrefix,
		Retry: creds.Retrying{Attempts: c.RetryAttempts, Interval: c.RetryInterval, Timeout: c.LookupTimeout}}
	var cluster creds.Source
	switch {
	case c.Dummy != nil:
		cluster = c.Dummy
	case c.KubeConfigPath != "" || c.KubeInCluster:
		var restCfg *rest.Config
		var err error
		if c.KubeInCluster {
			restCfg, err = rest.InClusterConfig()
		} else {
			restCfg, err = clientcmd.BuildConfigFromFlags("", c.KubeConfigPath)
		}
		if err != nil {
			return nil, fmt.Errorf("kubernetes credential manager: %w", err)
		}
		restCfg.QPS, restCfg.Burst = creds.ClientQPS, creds.ClientBurst
		client, err := kubernetes.NewForConfig(restCfg)
		if err != nil {
			return nil, fmt.Errorf("kubernetes credential manager: %w", err)
		}
		reg.Kube = client
		cluster = &creds.Kubernetes{Client: client, Prefix: c.NamespacePrefix}
	}
	if cluster == nil {
		return reg, nil
	}
	retry := reg.Retry
	retry.Source = cluster
	cluster = &retry
	if c.CacheEnabled {
		cluster = &creds.Cached{Source: cluster, TTL: c.CacheTTL, NotFoundTTL: c.CacheNotFoundTT}
	}
	reg.Cluster = cluster
	return reg, nil
}
