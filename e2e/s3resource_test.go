package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/switchyard-ci/switchyard/volumes/s3test"
)

// The built-in s3 type in a pipeline on a local spoke: a job builds a file
// and puts it to a MinIO bucket; the next job gets the version the put made
// (passed) and reads it; a new release in the bucket is checked in.
func TestS3ResourceInAPipeline(t *testing.T) {
	b := s3test.New(t)
	f := newFleet(t)
	f.startSpoke("local-1", f.url)
	f.setPipeline("s3", fmt.Sprintf(`
resources:
- name: release
  type: s3
  check_every: never
  source:
    bucket: %s
    endpoint: %s
    access_key_id: %s
    secret_access_key: %s
    regexp: releases/app-(.*)\.txt
jobs:
- name: build
  plan:
  - task: make
    config:
      platform: linux
      outputs: [{name: out}]
      run: {path: sh, args: [-c, "echo built-1.2.3 > out/app-1.2.3.txt"]}
  - put: release
    params: {file: out/app-*.txt}
- name: use
  plan:
  - get: release
    passed: [build]
  - task: read
    config:
      platform: linux
      inputs: [{name: release}]
      run: {path: sh, args: [-c, "cat release/app-*.txt release/version"]}
`, b.Name, os.Getenv(s3test.EnvEndpoint), os.Getenv(s3test.EnvAccessKey), os.Getenv(s3test.EnvSecretKey)))
	if out := f.mustFly("trigger-job", "-j", "s3/build", "-w"); !strings.Contains(out, "succeeded") {
		t.Fatalf("build:\n%s", out)
	}
	out := f.mustFly("trigger-job", "-j", "s3/use", "-w")
	if !strings.Contains(out, "built-1.2.3") || !strings.Contains(out, "1.2.3") || !strings.Contains(out, "succeeded") {
		t.Errorf("use:\n%s", out)
	}
	putObject := func(key, content string) {
		t.Helper()
		if _, err := b.Client.PutObject(t.Context(), b.Name, key, strings.NewReader(content), int64(len(content)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	putObject("releases/app-1.10.0.txt", "newer")
	f.mustFly("check-resource", "-r", "s3/release")
	if out := f.mustFly("resource-versions", "-r", "s3/release"); !strings.Contains(out, "releases/app-1.10.0.txt") || !strings.Contains(out, "releases/app-1.2.3.txt") {
		t.Errorf("versions:\n%s", out)
	}
}
