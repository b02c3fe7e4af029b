package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/switchyard-ci/switchyard/spoke/imageexec/imageexectest"
	"github.com/switchyard-ci/switchyard/spoke/resource/registrytest"
)

// TestRegistryImageInAPipeline gets an image from a real registry as a
// tarball, puts it under a version in another repository, and gets that
// one's rootfs in a downstream job.
func TestRegistryImageInAPipeline(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ref := pushTestImage(t, reg.Host+"/e2e/base:latest")

	f := newFleet(t)
	f.startSpoke("local-1", f.url)
	f.setPipeline("images", fmt.Sprintf(`
resources:
- name: base
  type: registry-image
  check_every: never
  source: {repository: %[1]s/e2e/base, tag: latest, insecure: true}
- name: app
  type: registry-image
  check_every: never
  source: {repository: %[1]s/e2e/app, insecure: true}
jobs:
- name: publish
  plan:
  - get: base
    params: {format: oci}
  - put: app
    params: {image: base/image.tar, version: 1.0.0, bump_aliases: true}
- name: use
  plan:
  - get: app
    passed: [publish]
  - task: read
    config:
      platform: linux
      inputs: [{name: app}]
      run: {path: sh, args: [-c, "cat app/rootfs/bin/app app/tag; echo; cat app/repository"]}
  - task: inside
    image: app
    config:
      platform: linux
      run: {path: probe, args: [id]}
  - task: env
    image: app
    config:
      platform: linux
      params: {FROM_TASK: task}
      run: {path: /bin/probe, args: [env, GREETING, FROM_TASK, HOME]}
  - task: from-image-resource
    config:
      platform: linux
      image_resource:
        type: registry-image
        source: {repository: %[1]s/e2e/app, tag: 1.0.0, insecure: true}
      params: {FROM: image_resource}
      run: {path: probe, args: [env, FROM]}
  - task: write-config
    config:
      platform: linux
      outputs: [{name: cfg}]
      run:
        path: sh
        args:
        - -c
        - |
          cat > cfg/task.yml <<EOF
          platform: linux
          image_resource:
            type: registry-image
            source: {repository: %[1]s/e2e/app, tag: 1.0.0, insecure: true}
          params: {FROM_FILE: "yes"}
          run: {path: probe, args: [env, FROM_FILE]}
          EOF
  - task: from-file
    file: cfg/task.yml
`, reg.Host))
	f.mustFly("check-resource", "-r", "images/base")
	if out := f.mustFly("trigger-job", "-j", "images/publish", "-w"); !strings.Contains(out, "succeeded") {
		t.Fatalf("publish:\n%s", out)
	}
	out := f.mustFly("trigger-job", "-j", "images/use", "-w")
	for _, want := range []string{"hello from the image", "1.0.0", reg.Host + "/e2e/app", "succeeded",
		"uid=1000 gid=1000 pid=1 dir=/tmp/build/", "GREETING=from the image config\nFROM_TASK=task\nHOME=/home/builder", "FROM=image_resource", "FROM_FILE=yes"} {
		if !strings.Contains(out, want) {
			t.Errorf("use: no %q in\n%s", want, out)
		}
	}

	// fly execute --image: the job's input as the task's image, from our
	// fly and from stock fly.
	task := filepath.Join(f.dir, "probe.yml")
	if err := os.WriteFile(task, []byte("platform: linux\nrun: {path: probe, args: [env, GREETING]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := f.mustFly("execute", "-c", task, "-j", "images/use", "--image", "app"); !strings.Contains(out, "GREETING=from the image config") {
		t.Errorf("fly execute --image:\n%s", out)
	}
	if out, code := f.fly("execute", "-c", task, "-j", "images/use", "--image", "nothing"); code == 0 || !strings.Contains(out, "--image nothing: job images/use has no input nothing") {
		t.Errorf("fly execute --image of no input: exit %d\n%s", code, out)
	}
	if stock := stockFlyPath(); stock != "" {
		_, must := stockFlyAt(t, stock, t.TempDir())
		must("s", "login", "-c", f.url, "-u", "admin", "-p", "secret")
		if out := must("s", "execute", "-c", task, "-j", "images/use", "--image", "app"); !strings.Contains(out, "GREETING=from the image config") {
			t.Errorf("stock fly execute --image:\n%s", out)
		}
	}

	tags, err := remote.List(ref.Context().Registry.Repo("e2e", "app"), remote.WithContext(t.Context()))
	if err != nil || strings.Join(tags, " ") != "1 1.0 1.0.0 latest" {
		t.Errorf("tags of e2e/app = %v, %v; want the version and its aliases", tags, err)
	}
}

// pushTestImage pushes a small image to ref: the static probe program at
// /bin/probe, a /bin/app file, accounts with a builder user (1000), and a
// config that sets GREETING and runs as builder.
func pushTestImage(t *testing.T, ref string, opts ...remote.Option) name.Reference {
	t.Helper()
	probe := probeProgram(t)
	return pushImage(t, ref, map[string]string{
		"bin/app": "hello from the image\n", "bin/probe": probe,
		"etc/passwd": imageexectest.Passwd, "etc/group": imageexectest.Group,
	}, func(cfg *v1.ConfigFile) {
		cfg.Config.Env = []string{"PATH=/bin", "GREETING=from the image config"}
		cfg.Config.User = "builder"
	}, opts...)
}

// probeProgram is the static probe program (imageexectest), built once per test.
func probeProgram(t *testing.T) string {
	t.Helper()
	probe := filepath.Join(t.TempDir(), "probe")
	imageexectest.Probe(t, probe)
	data, err := os.ReadFile(probe)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// pushImage pushes an image of one layer with files to ref.
func pushImage(t *testing.T, ref string, files map[string]string, config func(*v1.ConfigFile), opts ...remote.Option) name.Reference {
	t.Helper()
	img := registrytest.Image(t, files, config)
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img, append(opts, remote.WithContext(t.Context()))...); err != nil {
		t.Fatal(err)
	}
	return tag
}

// On a kube spoke, a task whose image is a registry-image get runs that
// image by digest, pulled with the source's credentials through a pull
// secret of its pod.
func TestRegistryImageTaskOnKube(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{Auth: true})
	pushTestImage(t, reg.Host+"/e2e/tool:1", remote.WithAuth(&authn.Basic{Username: reg.Username, Password: reg.Password}))
	f, c, ns := kubeFleet(t)
	// The pull secrets the spoke makes, seen as they come.
	w, err := c.CoreV1().Secrets(ns).Watch(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	pulls := make(chan string, 10)
	go func() {
		for ev := range w.ResultChan() {
			if s, ok := ev.Object.(*corev1.Secret); ok && ev.Type == watch.Added && s.Type == corev1.SecretTypeDockerConfigJson {
				pulls <- string(s.Data[corev1.DockerConfigJsonKey])
			}
		}
	}()
	f.setPipeline("kubeimages", fmt.Sprintf(`
resources:
- name: tool
  type: registry-image
  check_every: never
  source: {repository: %[1]s/e2e/tool, tag: "1", insecure: true, username: %[2]s, password: %[3]s}
jobs:
- name: use
  plan:
  - get: tool
  - task: inside
    image: tool
    config:
      platform: linux
      run: {path: sh, args: [-c, "echo ran in a pod"]}
  - task: from-image-resource
    config:
      platform: linux
      image_resource:
        type: registry-image
        source: {repository: %[1]s/e2e/tool, tag: "1", insecure: true, username: %[2]s, password: %[3]s}
      run: {path: sh, args: [-c, "echo ran from image_resource"]}
`, reg.Host, reg.Username, reg.Password))
	f.mustFly("check-resource", "-r", "kubeimages/tool")
	out := f.mustFly("trigger-job", "-j", "kubeimages/use", "-w")
	for _, want := range []string{"image " + reg.Host + "/e2e/tool@sha256:", ", from artifact tool", "ran in a pod", "ran from image_resource", "succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	// The image_resource's get fetched only the image's name: the pod pulls it.
	if n := strings.Count(out, "image "+reg.Host+"/e2e/tool@sha256:"); n != 2 {
		t.Errorf("%d tasks ran the image by digest, want 2:\n%s", n, out)
	}
	if n := strings.Count(out, "unpacking "); n != 1 {
		t.Errorf("%d gets unpacked the image, want the get step's only:\n%s", n, out)
	}
	for range 2 {
		select {
		case config := <-pulls:
			if !strings.Contains(config, `"`+reg.Host+`":{"auth":`) || !strings.Contains(config, reg.Password) {
				t.Errorf("pull secret %s", config)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the two tasks' pods had no pull secrets")
		}
	}
}
