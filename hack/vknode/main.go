// Command vknode is a Kubernetes test node for Switchyard's integration tests: a
// virtual-kubelet whose provider runs each container's command as a host process.
// Images are ignored but for overlays (images.go); commands, args, env, working directories and volume mounts
// are honoured (each container gets a private mount namespace with its volumes
// bound at their mount paths); logs, exit codes and exec are real. It is also
// the cluster's volume provisioner (provisioner.go): claims get host
// directories.
//
// It is test infrastructure, built and cached by hack/vknode.sh. It runs as root
// and trusts its apiserver: never point it at a real cluster.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == mountExecCommand {
		os.Exit(mountExec(os.Args[2:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "vknode:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("vknode", flag.ContinueOnError)
	name := fs.String("name", "vknode", "node name")
	kubeconfig := fs.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the apiserver")
	root := fs.String("root", "", "directory for pod state, volumes and logs (required)")
	images := fs.String("images", "", "directory of image overlays: IMAGES/<image>/<a>/<b> appears at /<a>/<b> in the image's containers")
	listen := fs.String("listen", "127.0.0.1:10250", "kubelet API address (logs, exec)")
	cpu := fs.String("cpu", "16", "CPU capacity")
	memory := fs.String("memory", "64Gi", "memory capacity")
	pods := fs.String("pods", "110", "pod capacity")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *root == "" {
		return fmt.Errorf("--root is required")
	}
	host, portText, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	port, _ := strconv.Atoi(portText)
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With(slog.String("node", *name))
	restCfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return fmt.Errorf("client from %s: %w", *kubeconfig, err)
	}
	// client-go's default of 5 requests a second makes 50 pods wait ~10 s for
	// their status updates.
	restCfg.QPS, restCfg.Burst = 200, 400
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("client from %s: %w", *kubeconfig, err)
	}
	cert, err := selfSigned(host)
	if err != nil {
		return err
	}
	capacity := corev1.ResourceList{}
	for res, q := range map[corev1.ResourceName]string{corev1.ResourceCPU: *cpu, corev1.ResourceMemory: *memory, corev1.ResourcePods: *pods} {
		if capacity[res], err = resource.ParseQuantity(q); err != nil {
			return fmt.Errorf("capacity %s: %w", res, err)
		}
	}

	go provision(ctx, client, *root, log)
	return runNode(ctx, client, nodeOptions{name: *name, root: *root, images: *images, listen: *listen, cert: cert, apiServer: restCfg.Host,
		spec: nodeSpec(*name, host, port, capacity)}, log)
}

// selfSigned makes the kubelet API's serving certificate; the apiserver does not
// verify kubelet certificates unless told to.
func selfSigned(host string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "vknode"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP(host)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
