package main

import (
	"bytes"
	"errors"
	"flag"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Every flag of the hub and the spoke names its SWITCHYARD_* fallback, and
// the fallback is read.
func TestEveryFlagHasAnEnvironmentFallback(t *testing.T) {
	for name, parse := range map[string]func([]string, *bytes.Buffer) error{
		"hub":   func(args []string, out *bytes.Buffer) error { _, err := parseHubConfig(args, out); return err },
		"spoke": func(args []string, out *bytes.Buffer) error { _, err := parseSpokeConfig(args, out); return err },
	} {
		var help bytes.Buffer
		if err := parse([]string{"-h"}, &help); !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("%s -h: %v", name, err)
		}
		entries := regexp.MustCompile(`(?m)^  -`).Split(help.String(), -1)[1:]
		if len(entries) < 10 {
			t.Fatalf("%s -h lists %d flags:\n%s", name, len(entries), help.String())
		}
		for _, e := range entries {
			flagName := strings.Fields(e)[0]
			if want := envName(flagName); !strings.Contains(e, "env "+want) {
				t.Errorf("%s --%s does not name %s:\n%s", name, flagName, want, e)
			}
		}
	}
}

func TestSpokeConfigFromTheEnvironment(t *testing.T) {
	for k, v := range map[string]string{
		"SWITCHYARD_JOIN_TOKEN": "t", "SWITCHYARD_MAX_STEPS": "3", "SWITCHYARD_ALLOW_PRIVILEGED": "true", "SWITCHYARD_CPUS": "1.5",
		"SWITCHYARD_LABEL": "zone=a,disk=ssd", "SWITCHYARD_ARTIFACT_MAX_SIZE": "1Gi", "SWITCHYARD_WORK_DIR": "/w",
	} {
		t.Setenv(k, v)
	}
	cfg, err := parseSpokeConfig([]string{"--cpus", "2"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Token != "t" || cfg.MaxSteps != 3 || !cfg.Kube.AllowPrivileged || cfg.CPUs != 2 || cfg.Labels["disk"] != "ssd" ||
		cfg.ArtifactMaxSize != 1<<30 || cfg.ArtifactCache != "/w/artifact-cache" {
		t.Errorf("config from the environment (a flag overriding --cpus): %+v", cfg)
	}
	t.Setenv("SWITCHYARD_MAX_STEPS", "lots")
	if _, err := parseSpokeConfig(nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), `SWITCHYARD_MAX_STEPS="lots"`) {
		t.Errorf("an environment value that is not a number: %v", err)
	}
	t.Setenv("SWITCHYARD_MAX_STEPS", "-1")
	if _, err := parseSpokeConfig(nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--max-steps -1") {
		t.Errorf("a negative step bound: %v", err)
	}
}

func TestHubConfigFromTheEnvironment(t *testing.T) {
	t.Setenv("SWITCHYARD_POLICY_TIMEOUT", "2s")
	t.Setenv("SWITCHYARD_MAX_UPLOAD_SIZE", "1Mi")
	cfg, err := parseHubConfig(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PolicyTimeout != 2*time.Second || cfg.MaxUpload != 1<<20 {
		t.Errorf("config from the environment: %+v", cfg)
	}
	t.Setenv("SWITCHYARD_BUILD_LEASE", "soon")
	if _, err := parseHubConfig(nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "SWITCHYARD_BUILD_LEASE") {
		t.Errorf("a lease that is not a duration: %v", err)
	}
}
