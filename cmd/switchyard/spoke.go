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
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/switchyard-ci/switchyard/metrics"
	"github.com/switchyard-ci/switchyard/spoke"
	"github.com/switchyard-ci/switchyard/spoke/runtime/kube"
	"github.com/switchyard-ci/switchyard/spoke/runtime/local"
	"github.com/switchyard-ci/switchyard/telemetry"
	"github.com/switchyard-ci/switchyard/volumes"
	"github.com/switchyard-ci/switchyard/volumes/extract"
	"github.com/switchyard-ci/switchyard/wire"
)

// spokeConfig is a spoke's configuration, from flags with SWITCHYARD_*
// environment fallbacks, parsed and checked once.
type spokeConfig struct {
	HubURL, Token, Name string
	Runtime             string // local or kube
	WorkDir             string
	Labels              map[string]string
	Tags                []string
	Health              string // address of /healthz, off when empty
	RetireOnSigterm     bool   // a first SIGTERM retires the spoke (drain, then leave) instead of stopping it
	// Artifacts: the local cache and its size, the most one input may
	// expand to (0: the disk's free space).
	ArtifactCache     string
	ArtifactCacheSize int64
	ArtifactMaxSize   int64
	// Capacity offered to placement; 0: the host's or the cluster's, no bound on steps.
	MaxSteps int
	CPUs     float64
	Memory   int64
	Kube     kubeConfig
}

// kubeConfig is the kube runtime's part of a spoke's configuration.
type kubeConfig struct {
	Kubeconfig, Namespace, HelperImage string
	AllowPrivileged, DenyEgress        bool
	CacheStorageClass, CacheSize       string
}

func parseSpokeConfig(args []string, stderr io.Writer) (spokeConfig, error) {
	f := newFlags("switchyard spoke", stderr)
	host, _ := os.Hostname()
	var cfg spokeConfig
	k := &cfg.Kube
	f.str(&cfg.HubURL, "hub-url", "http://127.0.0.1:8080", "the hub's URL")
	f.str(&cfg.Token, "join-token", "", "token the hub accepts from spokes of this team or pool")
	f.str(&cfg.Name, "name", host, "this spoke's name, unique in the fleet")
	f.str(&cfg.Runtime, "runtime", "local", "local (host processes) or kube (tasks as pods; built-in resource types in the spoke)")
	f.str(&k.Kubeconfig, "kubeconfig", "", "kube runtime: kubeconfig of the cluster (default: in-cluster config)")
	f.str(&k.Namespace, "namespace", "default", "kube runtime: namespace the steps' pods run in")
	f.boolean(&k.AllowPrivileged, "allow-privileged", false, "kube runtime: let privileged: true tasks run")
	f.boolean(&k.DenyEgress, "deny-egress", false, "kube runtime: steps' NetworkPolicies allow no egress (a spoke for untrusted builds)")
	f.str(&k.HelperImage, "helper-image", "busybox", "kube runtime: image that moves task inputs and outputs (needs sh and tar)")
	f.str(&k.CacheStorageClass, "cache-storage-class", "", "kube runtime: storage class of task caches' volume claims (default: the cluster's default)")
	f.str(&k.CacheSize, "cache-size", "1Gi", "kube runtime: size of each task cache's volume claim")
	labels := f.list("label", "a label KEY=VALUE placement policies see")
	tags := f.list("tag", "a Concourse worker tag: steps with tags run only on spokes with all of them, and untagged steps avoid tagged spokes")
	f.str(&cfg.WorkDir, "work-dir", filepath.Join(os.TempDir(), "switchyard-spoke"), "directory for steps and artifacts")
	f.str(&cfg.ArtifactCache, "artifact-cache", "", "directory of the local artifact cache (default WORK-DIR/artifact-cache)")
	var cacheMax, maxExtract, memory string
	f.str(&cacheMax, "artifact-cache-size", "10Gi", "how much the local artifact cache holds before it evicts the least recently used")
	f.str(&maxExtract, "artifact-max-size", "", "the most one input artifact may expand to on this spoke's disk, such as 20Gi (empty: the disk's free space)")
	f.integer(&cfg.MaxSteps, "max-steps", 0, "how many steps the spoke runs at once; placement sends no more (0: no bound)")
	f.float(&cfg.CPUs, "cpus", 0, "CPUs the spoke offers its steps; placement counts open steps' container_limits against them (0: the host's, or the cluster's allocatable)")
	f.str(&memory, "memory", "", "memory the spoke offers its steps, such as 16Gi (empty: the host's, or the cluster's allocatable)")
	f.str(&cfg.Health, "health-listen", "", "address to serve /healthz and the spoke's Prometheus /metrics on (off when empty)")
	f.boolean(&cfg.RetireOnSigterm, "retire-on-sigterm", false, "on SIGTERM, retire: take no new steps, finish the running ones, leave the fleet and exit (a second signal stops at once)")
	if err := f.parse(args); err != nil {
		return cfg, err
	}
	cfg.Tags = *tags
	cfg.Labels = map[string]string{}
	for _, l := range *labels {
		key, v, ok := strings.Cut(l, "=")
		if !ok || key == "" {
			return cfg, fmt.Errorf("--label %q: write KEY=VALUE", l)
		}
		cfg.Labels[key] = v
	}
	if cfg.Token == "" {
		return cfg, errors.New("--join-token is required: the hub gives it with --spoke-join-token")
	}
	if cfg.Runtime != "local" && cfg.Runtime != "kube" {
		return cfg, fmt.Errorf("--runtime %s: use local or kube", cfg.Runtime)
	}
	var err error
	if cfg.ArtifactCacheSize, err = size("artifact-cache-size", cacheMax, false); err != nil {
		return cfg, err
	}
	if cfg.ArtifactMaxSize, err = size("artifact-max-size", maxExtract, true); err != nil {
		return cfg, err
	}
	if cfg.Memory, err = size("memory", memory, true); err != nil {
		return cfg, err
	}
	if cfg.CPUs < 0 {
		return cfg, fmt.Errorf("--cpus %g: write a number of CPUs, or 0 for the host's", cfg.CPUs)
	}
	if cfg.MaxSteps < 0 {
		return cfg, fmt.Errorf("--max-steps %d: write a number of steps, or 0 for no bound", cfg.MaxSteps)
	}
	if cfg.ArtifactCache == "" {
		cfg.ArtifactCache = filepath.Join(cfg.WorkDir, "artifact-cache")
	}
	return cfg, nil
}

// runSpoke runs a spoke agent until ctx ends.
func runSpoke(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseSpokeConfig(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "error: %v\n", err)
		}
		return 2
	}
	cache, err := volumes.OpenCache(cfg.ArtifactCache, cfg.ArtifactCacheSize)
	if err != nil {
		fmt.Fprintf(stderr, "error: --artifact-cache: %v\n", err)
		return 1
	}
	log := slog.New(telemetry.Logs(slog.NewJSONHandler(stderr, nil))).With(slog.String("component", "spoke"), slog.String("spoke", cfg.Name))
	stopTracing, err := telemetry.Setup(ctx, "switchyard-spoke")
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 2
	}
	defer flushTraces(stopTracing, log)
	localRT := &local.Runtime{Dir: cfg.WorkDir}
	var rt spoke.Runtime = localRT
	capacity := localRT.Capacity()
	switch cfg.Runtime {
	case "local":
	case "kube":
		restCfg, err := clientcmd.BuildConfigFromFlags("", cfg.Kube.Kubeconfig)
		if err != nil {
			fmt.Fprintf(stderr, "error: --kubeconfig: %v\n", err)
			return 2
		}
		// client-go's default of 5 requests a second would queue steps behind
		// each other's requests.
		restCfg.QPS, restCfg.Burst = 200, 400
		client, err := kubernetes.NewForConfig(restCfg)
		if err != nil {
			fmt.Fprintf(stderr, "error: --kubeconfig: %v\n", err)
			return 2
		}
		klog.SetSlogLogger(log.With(slog.String("part", "client-go")))
		k := cfg.Kube
		kubeRT := &kube.Runtime{Client: client, Config: restCfg, Local: localRT, HelperImage: k.HelperImage,
			Namespace: k.Namespace, Spoke: cfg.Name, AllowPrivileged: k.AllowPrivileged, DenyEgress: k.DenyEgress, CacheStorageClass: k.CacheStorageClass, CacheSize: k.CacheSize}
		rt = kubeRT
		// With both given, the nodes are not read: a spoke whose Role has no
		// access to them (charts/spoke's default) needs none.
		if cfg.CPUs == 0 || cfg.Memory == 0 {
			if capacity, err = kubeRT.Capacity(ctx); err != nil {
				log.Warn("spoke capacity unknown", slog.String("error", err.Error()))
			}
		}
	}
	if cfg.CPUs > 0 {
		capacity.CPU = cfg.CPUs
	}
	if cfg.Memory > 0 {
		capacity.Memory = cfg.Memory
	}
	if cfg.Health != "" {
		ln, err := net.Listen("tcp", cfg.Health)
		if err != nil {
			fmt.Fprintf(stderr, "error: %v\n", err)
			return 1
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `{"status":"ok"}`) })
		mux.Handle("GET /metrics", promhttp.HandlerFor(metrics.Spoke(), promhttp.HandlerOpts{}))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
	}
	agent := spoke.New(spoke.Config{HubURL: cfg.HubURL, Token: cfg.Token, Name: cfg.Name, Runtime: cfg.Runtime, CredentialFile: filepath.Join(cfg.WorkDir, "credential-"+cfg.Name),
		Labels: cfg.Labels, Tags: cfg.Tags, Capacity: wire.Capacity{CPU: capacity.CPU, Memory: capacity.Memory, Steps: cfg.MaxSteps},
		Artifacts: &spoke.Artifacts{Cache: cache, Dir: localRT.Artifact, BuildsDir: filepath.Join(cfg.WorkDir, "builds"), Extract: extract.Bounds{MaxBytes: cfg.ArtifactMaxSize}}}, rt, log)
	if cfg.RetireOnSigterm {
		var stop context.CancelFunc
		ctx, stop = retireOnSignal(ctx, agent, log)
		defer stop()
	}
	if err := agent.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("spoke stopped", slog.String("error", err.Error()))
		return 1
	}
	return 0
}

// retireOnSignal is the spoke's context under --retire-on-sigterm: the first
// signal (which ends parent) retires the spoke, which then leaves once its
// running steps are done; a second signal, or a failed retire, stops it at
// once.
func retireOnSignal(parent context.Context, agent *spoke.Agent, log *slog.Logger) (context.Context, context.CancelFunc) {
	ctx, stop := context.WithCancel(context.WithoutCancel(parent))
	go func() {
		select {
		case <-parent.Done():
		case <-ctx.Done():
			return
		}
		again := make(chan os.Signal, 1) // from now on: the first signal went to parent
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(again)
		retireCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := agent.Retire(retireCtx)
		cancel()
		if err != nil {
			log.Error("could not retire: stopping", slog.String("error", err.Error()))
			stop()
			return
		}
		select {
		case <-again:
			log.Warn("second signal: stopping before the running steps are done")
			stop()
		case <-ctx.Done():
		}
	}()
	return ctx, stop
}
