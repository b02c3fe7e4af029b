package onboard

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func kubeconfig(cluster, user string) string {
	return `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:6443
` + cluster + `
users:
- name: u
  user:
` + user + `
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
`
}

// A Cluster's kubeconfig is whatever those who may write Secrets in the
// management cluster put there: one that would run a command or read a
// file of the controller's machine is refused, and the command is not run.
func TestWorkloadKubeconfigIsConfined(t *testing.T) {
	ran := filepath.Join(t.TempDir(), "ran")
	good := kubeconfig("    insecure-skip-tls-verify: true", "    token: abc")
	if rc, err := workloadConfig([]byte(good)); err != nil || rc.BearerToken != "abc" || rc.Host != "https://127.0.0.1:6443" {
		t.Fatalf("a kubeconfig with an inline token: %+v, %v", rc, err)
	}
	for _, c := range []struct{ name, config, want string }{
		{"exec", kubeconfig("", "    exec: {apiVersion: client.authentication.k8s.io/v1, command: sh, args: [-c, 'touch "+ran+"']}"), "exec"},
		{"auth provider", kubeconfig("", "    auth-provider: {name: gcp}"), "auth provider"},
		{"token file", kubeconfig("", "    tokenFile: /etc/shadow"), "files"},
		{"client certificate file", kubeconfig("", "    client-certificate: /etc/ssl/private/key.pem\n    client-key: /etc/ssl/private/key.pem"), "files"},
		{"CA file", kubeconfig("    certificate-authority: /etc/passwd", "    token: abc"), "certificate-authority"},
		{"proxy", kubeconfig("    proxy-url: http://attacker.example:3128", "    token: abc"), "proxy"},
		{"basic auth", kubeconfig("", "    username: admin\n    password: admin"), "basic auth"},
		{"impersonation", kubeconfig("", "    token: abc\n    as: system:admin"), "impersonation"},
		{"no such context", strings.Replace(good, "current-context: x", "current-context: elsewhere", 1), "current context"},
		{"not YAML", "{{{", "does not parse"},
		{"huge", good + strings.Repeat("#", maxKubeconfig), "bytes"},
	} {
		if _, err := workloadConfig([]byte(c.config)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("the exec kubeconfig's command ran")
	}
}
