package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/switchyard-ci/switchyard/spoke"
	"github.com/switchyard-ci/switchyard/spoke/runtime/kube"
	"github.com/switchyard-ci/switchyard/spoke/runtime/local"
	"github.com/switchyard-ci/switchyard/spoke/wire"
	"github.com/switchyard-ci/switchyard/volumes"
	"github.com/switchyard-ci/switchyard/volumes/extract"
)

// runSpoke runs a spoke agent until ctx ends.
func runSpoke(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("switchyard spoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	host, _ := os.Hostname()
	hubURL := fs.String("hub-url", env("hub-url", "http://127.0.0.1:8080"), "the hub's URL (env SWITCHYARD_HUB_URL)")
	token := fs.String("join-token", env("join-token", ""), "token the hub accepts from spokes of this team or pool (env SWITCHYARD_JOIN_TOKEN)")
	name := fs.String("name", env("name", host), "this spoke's name, unique in the fleet")
	runtime := fs.String("runtime", env("runtime", "local"), "local (host processes) or kube (tasks as pods; built-in resource types in the spoke)")
	kubeconfig := fs.String("kubeconfig", env("kubeconfig", ""), "kube runtime: kubeconfig of the cluster (default: in-cluster config)")
	namespace := fs.String("namespace", env("namespace", "default"), "kube runtime: namespace the steps' pods run in")
	privileged := fs.Bool("allow-privileged", false, "kube runtime: let privileged: true tasks run")
	denyEgress := fs.Bool("deny-egress", false, "kube runtime: steps' NetworkPolicies allow no egress (a spoke for untrusted builds)")
	helper := fs.String("helper-image", env("helper-image", "busybox"), "kube runtime: image that moves task inputs and outputs (needs sh and tar)")
	cacheClass := fs.String("cache-storage-class", env("cache-storage-class", ""), "kube runtime: storage class of task caches' volume claims (default: the cluster's default)")
	cacheSize := fs.String("cache-size", env("cache-size", "1Gi"), "kube runtime: size of each task cache's volume claim")
	labelFlags := listVar(fs, "label", "a label KEY=VALUE placement policies see")
	tags := listVar(fs, "tag", "a Concourse worker tag: steps with tags run only on spokes with all of them, and untagged steps avoid tagged spokes")
	workDir := fs.String("work-dir", env("work-dir", filepath.Join(os.TempDir(), "switchyard-spoke")), "directory for steps and artifacts")
	cacheDir := fs.String("artifact-cache", env("artifact-cache", ""), "directory of the local artifact cache (default WORK-DIR/artifact-cache)")
	cacheMax := fs.String("artifact-cache-size", env("artifact-cache-size", "10Gi"), "how much the local artifact cache holds before it evicts the least recently used")
	maxExtract := fs.String("artifact-max-size", env("artifact-max-size", ""), "the most one input artifact may expand to on this spoke's disk, such as 20Gi (empty: the disk's free space)")
	maxSteps := fs.Int("max-steps", 0, "how many steps the spoke runs at once; placement sends no more (0: no bound)")
	cpus := fs.Float64("cpus", 0, "CPUs the spoke offers its steps; placement counts open steps' container_limits against them (0: the host's, or the cluster's allocatable)")
	memory := fs.String("memory", env("memory", ""), "memory the spoke offers its steps, such as 16Gi (empty: the host's, or the cluster's allocatable)")
	health := fs.String("health-listen", env("health-listen", ""), "address to serve /healthz on (off when empty)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	labels := map[string]string{}
	for _, l := range *labelFlags {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			fmt.Fprintf(stderr, "error: --label %q: write KEY=VALUE\n", l)
			return 2
		}
		labels[k] = v
	}
	if *token == "" {
		fmt.Fprintln(stderr, "error: --join-token is required: the hub gives it with --spoke-join-token")
		return 2
	}
	maxBytes, err := resource.ParseQuantity(*cacheMax)
	if err != nil || maxBytes.Value() <= 0 {
		fmt.Fprintf(stderr, "error: --artifact-cache-size %q: write a size such as 10Gi or 500M\n", *cacheMax)
		return 2
	}
	var extract extract.Bounds
	if *maxExtract != "" {
		q, err := resource.ParseQuantity(*maxExtract)
		if err != nil || q.Value() <= 0 {
			fmt.Fprintf(stderr, "error: --artifact-max-size %q: write a size such as 20Gi or 500M\n", *maxExtract)
			return 2
		}
		extract.MaxBytes = q.Value()
	}
	var memBytes int64
	if *memory != "" {
		q, err := resource.ParseQuantity(*memory)
		if err != nil || q.Value() <= 0 {
			fmt.Fprintf(stderr, "error: --memory %q: write a size such as 16Gi or 500M\n", *memory)
			return 2
		}
		memBytes = q.Value()
	}
	if *cpus < 0 {
		fmt.Fprintf(stderr, "error: --cpus %g: write a number of CPUs, or 0 for the host's\n", *cpus)
		return 2
	}
	if *cacheDir == "" {
		*cacheDir = filepath.Join(*workDir, "artifact-cache")
	}
	cache, err := volumes.OpenCache(*cacheDir, maxBytes.Value())
	if err != nil {
		fmt.Fprintf(stderr, "error: --artifact-cache: %v\n", err)
		return 1
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil)).With(slog.String("component", "spoke"), slog.String("spoke", *name))
	localRT := &local.Runtime{Dir: *workDir}
	var rt spoke.Runtime = localRT
	capacity := localRT.Capacity()
	switch *runtime {
	case "local":
	case "kube":
		cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
		if err != nil {
			fmt.Fprintf(stderr, "error: --kubeconfig: %v\n", err)
			return 2
		}
		// client-go's default of 5 requests a second would queue steps behind
		// each other's requests.
		cfg.QPS, cfg.Burst = 200, 400
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			fmt.Fprintf(stderr, "error: --kubeconfig: %v\n", err)
			return 2
		}
		klog.SetSlogLogger(log.With(slog.String("part", "client-go")))
		kubeRT := &kube.Runtime{Client: client, Config: cfg, Local: localRT, HelperImage: *helper,
			Namespace: *namespace, Spoke: *name, AllowPrivileged: *privileged, DenyEgress: *denyEgress, CacheStorageClass: *cacheClass, CacheSize: *cacheSize}
		rt = kubeRT
		if capacity, err = kubeRT.Capacity(ctx); err != nil {
			log.Warn("spoke capacity unknown", slog.String("error", err.Error()))
		}
	default:
		fmt.Fprintf(stderr, "error: --runtime %s: use local or kube\n", *runtime)
		return 2
	}
	if *cpus > 0 {
		capacity.CPU = *cpus
	}
	if memBytes > 0 {
		capacity.Memory = memBytes
	}
	if *health != "" {
		ln, err := net.Listen("tcp", *health)
		if err != nil {
			fmt.Fprintf(stderr, "error: %v\n", err)
			return 1
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `{"status":"ok"}`) })
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
	}
	agent := spoke.New(spoke.Config{HubURL: *hubURL, Token: *token, Name: *name, Runtime: *runtime, CredentialFile: filepath.Join(*workDir, "credential-"+*name),
		Labels: labels, Tags: *tags, Capacity: wire.Capacity{CPU: capacity.CPU, Memory: capacity.Memory, Steps: *maxSteps}, Artifacts: &spoke.Artifacts{Cache: cache, Dir: localRT.Artifact, BuildsDir: filepath.Join(*workDir, "builds"), Extract: extract}}, rt, log)
	if err := agent.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("spoke stopped", slog.String("error", err.Error()))
		return 1
	}
	return 0
}
