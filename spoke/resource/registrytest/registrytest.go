// Package registrytest starts a real OCI registry for a test: the CNCF
// distribution registry that hack/with-registry.sh names, on a port of its
// own, with basic auth and TLS when asked.
package registrytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// EnvRegistry names the registry binary; hack/with-registry.sh sets it.
const EnvRegistry = "SWITCHYARD_TEST_REGISTRY"

// Options say how the registry is reached.
type Options struct {
	Auth bool // basic auth (htpasswd) with Username and Password
	TLS  bool // HTTPS with a certificate of its own (CACert)
}

// Registry is one running registry.
type Registry struct {
	Host     string // host:port, as a repository's prefix
	Username string
	Password string
	CACert   string // PEM, with TLS
}

// Start runs a registry until the test ends. A TLS registry listens on
// 127.0.0.2: go-containerregistry speaks plain HTTP to 127.0.0.1 and
// localhost whatever the source says, as upstream's resource does.
func Start(t testing.TB, o Options) Registry {
	t.Helper()
	bin := os.Getenv(EnvRegistry)
	if bin == "" {
		t.Fatalf("%s is not set: run the tests with `make test` or under hack/with-registry.sh", EnvRegistry)
	}
	dir := t.TempDir()
	ip := "127.0.0.1"
	if o.TLS {
		ip = "127.0.0.2"
	}
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	reg := Registry{Host: addr}
	cfg := fmt.Sprintf("version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\nstorage: {filesystem: {rootdirectory: %s}, delete: {enabled: true}}\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)
	if o.TLS {
		reg.CACert = writeCert(t, dir, ip)
		cfg += fmt.Sprintf("  tls: {certificate: %s, key: %s}\n", filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	}
	if o.Auth {
		reg.Username, reg.Password = "pusher", "s3cret-"+fmt.Sprint(time.Now().UnixNano())
		hash, err := bcrypt.GenerateFromPassword([]byte(reg.Password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(reg.Username+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg += fmt.Sprintf("auth: {htpasswd: {realm: test, path: %s}}\n", filepath.Join(dir, "htpasswd"))
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logf.Close() })
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // readiness only
	scheme := "http"
	if o.TLS {
		scheme = "https"
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := client.Get(scheme + "://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			return reg
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			t.Fatalf("the registry did not answer in 30s: %v\n%s", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeCert writes a self-signed certificate for ip and its key into dir and
// returns the certificate as PEM.
func writeCert(t testing.TB, dir, ip string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "registrytest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP(ip)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return string(certPEM)
}
