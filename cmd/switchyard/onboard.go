package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/switchyard-ci/switchyard/onboard"
	"github.com/switchyard-ci/switchyard/telemetry"
)

// onboardConfig is the onboarding controller's configuration.
type onboardConfig struct {
	Kubeconfig string // the management cluster ("": in-cluster)
	onboard.Config
}

func parseOnboardConfig(args []string, stderr io.Writer) (onboardConfig, error) {
	f := newFlags("switchyard onboard", stderr)
	var cfg onboardConfig
	sp := &cfg.Spoke
	f.str(&cfg.Kubeconfig, "kubeconfig", "", "kubeconfig of the management cluster, where the Cluster API Clusters are (default: in-cluster config)")
	f.str(&cfg.Namespace, "namespace", "", "the Clusters' namespace (default: every namespace)")
	f.str(&cfg.Selector, "selector", "switchyard.dev/onboard=true", "label selector of the Clusters to onboard")
	teams := f.list("team", "a team the Clusters may name in their "+onboard.AnnotationTeam+" annotation (repeat; default: any, and none for the shared pool)")
	f.str(&sp.HubURL, "hub-url", "", "the hub's URL as the spokes reach it")
	f.str(&cfg.HubAPI, "hub-api-url", "", "the hub's URL as this controller reaches it (default: --hub-url)")
	f.str(&cfg.HubUser, "hub-username", "", "a local user of the hub who owns the teams onboarded for (an admin for the shared pool)")
	f.str(&cfg.HubPassword, "hub-password", "", "that user's password")
	f.str(&sp.Namespace, "spoke-namespace", "switchyard", "namespace of the spoke agent in each workload cluster")
	f.str(&sp.StepsNamespace, "steps-namespace", "switchyard-steps", "namespace of the steps in each workload cluster")
	f.str(&sp.Image, "image", "", "the spoke agent's image (Switchyard's, as make image builds it)")
	f.str(&sp.HelperImage, "helper-image", "busybox:1.37", "the steps' helper image")
	f.str(&sp.CPUs, "spoke-cpus", "4", "CPUs each spoke offers to placement")
	f.str(&sp.Memory, "spoke-memory", "8Gi", "memory each spoke offers to placement")
	f.integer(&sp.MaxSteps, "spoke-max-steps", 0, "steps each spoke runs at once (0: no bound)")
	f.duration(&cfg.Resync, "resync", time.Minute, "how often every Cluster is looked at again")
	if err := f.parse(args); err != nil {
		return cfg, err
	}
	cfg.Teams = *teams
	if cfg.HubAPI == "" {
		cfg.HubAPI = sp.HubURL
	}
	if _, err := labels.Parse(cfg.Selector); err != nil || cfg.Selector == "" {
		return cfg, fmt.Errorf("--selector %q: write a label selector such as switchyard.dev/onboard=true", cfg.Selector)
	}
	cpus, err := strconv.ParseFloat(sp.CPUs, 64)
	if err != nil || cpus <= 0 {
		return cfg, fmt.Errorf("--spoke-cpus %q: write a number of CPUs such as 4", sp.CPUs)
	}
	if m, err := resource.ParseQuantity(sp.Memory); err != nil || m.Sign() <= 0 {
		return cfg, fmt.Errorf("--spoke-memory %q: write a quantity such as 8Gi", sp.Memory)
	}
	switch {
	case sp.HubURL == "":
		return cfg, errors.New("--hub-url: give the hub's URL as the spokes reach it")
	case cfg.HubUser == "" || cfg.HubPassword == "":
		return cfg, errors.New("--hub-username and --hub-password: give a local user of the hub who owns the teams onboarded for")
	case sp.Image == "":
		return cfg, errors.New("--image: give the spoke agent's image")
	case sp.MaxSteps < 0:
		return cfg, fmt.Errorf("--spoke-max-steps %d: write a number of steps, or 0 for no bound", sp.MaxSteps)
	case cfg.Resync <= 0:
		return cfg, fmt.Errorf("--resync %s: write a positive duration such as 1m", cfg.Resync)
	}
	return cfg, nil
}

// runOnboard is switchyard onboard: the Cluster API onboarding controller.
func runOnboard(ctx context.Context, args []string, stderr io.Writer) int {
	cfg, err := parseOnboardConfig(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "error: %v\n", err)
		}
		return 2
	}
	cfg.Log = slog.New(telemetry.Logs(slog.NewJSONHandler(stderr, nil))).With(slog.String("component", "onboard"))
	if cfg.Management, err = clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig); err != nil {
		fmt.Fprintf(stderr, "error: --kubeconfig: %v\n", err)
		return 2
	}
	c, err := onboard.New(cfg.Config)
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 2
	}
	if err := c.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		cfg.Log.Error("onboarding stopped", slog.String("error", err.Error()))
		return 1
	}
	return 0
}
