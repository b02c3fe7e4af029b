package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/switchyard-ci/switchyard/volumes/s3test"
)

// A build whose steps are forced onto two spokes passes a 200 MB artifact
// between them through MinIO. The spokes hold no credentials of the store:
// they read and write through URLs the hub signs for their steps. An object
// changed in the store fails the step that reads it with the digest error.
func TestArtifactsAcrossSpokesOnMinIO(t *testing.T) {
	s3 := s3test.New(t)
	f := newFleetOn(t, s3.URL, s3.Env...)
	f.startSpoke("left", f.url, "--tag", "left")
	f.startSpoke("right", f.url, "--tag", "right")
	gate := filepath.Join(t.TempDir(), "gate")
	f.setPipeline("moves", fmt.Sprintf(`
jobs:
- name: big
  plan:
  - task: make
    tags: [left]
    config:
      platform: linux
      outputs: [{name: blob}]
      run: {path: sh, args: [-c, "head -c 200000000 /dev/urandom > blob/data && sha256sum blob/data > blob/data.sha256"]}
  - task: check
    tags: [right]
    config:
      platform: linux
      inputs: [{name: blob}]
      run: {path: sh, args: [-c, "sha256sum -c blob/data.sha256 && echo intact"]}
- name: tamper
  plan:
  - task: make
    tags: [left]
    config:
      platform: linux
      outputs: [{name: small}]
      run: {path: sh, args: [-c, "echo hello > small/greeting"]}
  - task: gate
    tags: [left]
    config:
      platform: linux
      run: {path: sh, args: [-c, "until [ -e %s ]; do sleep 0.1; done"]}
  - task: read
    tags: [right]
    config:
      platform: linux
      inputs: [{name: small}]
      run: {path: sh, args: [-c, "cat small/greeting"]}
`, gate))

	out := f.mustFly("trigger-job", "-j", "moves/big", "-w")
	for _, want := range []string{"selected worker: left", "selected worker: right", "fetching artifact blob (", "from object storage", "blob/data: OK", "intact", "succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the build:\n%s", want, tail(out, 30))
		}
	}
	objects := listObjects(t, s3)
	var big int
	for key, size := range objects {
		if !strings.HasPrefix(key, "artifacts/team-1/sha256/") {
			t.Errorf("object %s is outside the team's artifacts", key)
		}
		if size > 190_000_000 {
			big++
		}
	}
	if big != 1 {
		t.Errorf("want one ~200 MB artifact in the bucket, have %v", objects)
	}

	// Tamper with the small artifact while the build waits at its gate.
	f.mustFly("trigger-job", "-j", "moves/tamper")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var key string
	for key == "" && ctx.Err() == nil {
		for k := range listObjects(t, s3) {
			if _, old := objects[k]; !old {
				key = k
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if key == "" {
		t.Fatal("the tamper build uploaded no artifact")
	}
	garbage := bytes.Repeat([]byte{'x'}, int(listObjects(t, s3)[key])) // as long as the artifact, so only its digest tells
	if _, err := s3.Client.PutObject(ctx, s3.Name, key, bytes.NewReader(garbage), int64(len(garbage)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := f.fly("watch", "-j", "moves/tamper", "-b", "1")
	if code == 0 || !strings.Contains(out, "artifact small is corrupt: expected digest sha256:") || !strings.Contains(out, ", got sha256:") {
		t.Errorf("reading a tampered artifact: exit %d\n%s", code, tail(out, 20))
	}
}

// listObjects maps every key in the bucket to its size.
func listObjects(t *testing.T, s3 s3test.Bucket) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for obj := range s3.Client.ListObjects(context.Background(), s3.Name, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		out[obj.Key] = obj.Size
	}
	return out
}
