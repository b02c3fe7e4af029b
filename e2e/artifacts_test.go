package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/volumes/s3test"
	"github.com/switchyard-ci/switchyard/wire"
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
	for _, want := range []string{"selected worker: left", "selected worker: right", "placement: right, score ", "1 filtered out (fly placement -b 1 explains)", "fetching artifact blob (", "from object storage", "blob/data: OK", "intact", "succeeded"} {
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

// fly execute uploads a local input, runs the task on the fleet and
// downloads its output; an uploaded archive with an entry that climbs out of
// its root is refused by the spoke that extracts it, and nothing lands
// outside.
func TestExecuteOnMinIO(t *testing.T) {
	s3 := s3test.New(t)
	f := newFleetOn(t, s3.URL, s3.Env...)
	f.startSpoke("exec-1", f.url)
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(src, "sub", "words"), []byte("one\ntwo\n"), 0o644)
	task := filepath.Join(dir, "task.yml")
	_ = os.WriteFile(task, []byte(`platform: linux
inputs: [{name: src}]
outputs: [{name: out}]
params: {SUFFIX: default}
run: {path: sh, args: [-c, 'sort -r src/sub/words > out/sorted && echo "$SUFFIX $1" > out/note', sh]}
`), 0o644)
	out := filepath.Join(dir, "result")
	res, code := f.fly("execute", "-c", task, "-i", "src="+src, "-o", "out="+out, "--", "extra")
	if code != 0 {
		t.Fatalf("fly execute: exit %d\n%s", code, res)
	}
	for _, want := range []string{"uploading src: ", ", done", "executing build ", "downloading out: ", "succeeded"} {
		if !strings.Contains(res, want) {
			t.Errorf("no %q in fly execute's output:\n%s", want, res)
		}
	}
	sorted, _ := os.ReadFile(filepath.Join(out, "sorted"))
	note, _ := os.ReadFile(filepath.Join(out, "note"))
	if string(sorted) != "two\none\n" || string(note) != "default extra\n" {
		t.Errorf("downloaded output: sorted %q, note %q", sorted, note)
	}

	// A hostile upload: the archive's entry climbs out of its root.
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	_ = tw.WriteHeader(&tar.Header{Name: "../../escaped", Typeflag: tar.TypeReg, Mode: 0o644, Size: 5})
	_, _ = tw.Write([]byte("gotcha"[:5]))
	_ = tw.Close()
	_ = gz.Close()
	// The hub reads every upload through before it stores it, and refuses
	// what a spoke would refuse (the spokes' own refusal is tested in
	// volumes/extract), or what is not a tar stream at all.
	c := &api.Client{URL: f.url, Token: f.token()}
	for what, body := range map[string][]byte{
		`archive entry "../../escaped" refused: it points outside the artifact's root`: buf.Bytes(),
		"not an artifact Switchyard can extract":                                       append([]byte{0x28, 0xb5, 0x2f, 0xfd}, "garbage after the zstd magic"...),
	} {
		var a api.WorkerArtifact
		_, err := c.Do(context.Background(), http.MethodPost, "/api/v1/teams/main/artifacts", nil, body, &a)
		if err == nil || !strings.Contains(err.Error(), what) {
			t.Errorf("a hostile upload: got %v, want an error with %q", err, what)
		}
	}
	matches, _ := filepath.Glob(filepath.Join(f.dir, "*", "escaped"))
	more, _ := filepath.Glob(filepath.Join(f.dir, "*", "*", "escaped"))
	if len(matches)+len(more) > 0 {
		t.Errorf("the archive wrote outside its root: %v %v", matches, more)
	}
}

// A spoke of team blue cannot read team main's artifacts: the hub signs
// artifact URLs only for the steps it gave a spoke, and the store answers no
// one without a signature.
func TestArtifactsStayWithTheirTeam(t *testing.T) {
	s3 := s3test.New(t)
	f := newFleetOn(t, s3.URL, s3.Env...)
	f.startSpoke("main-1", f.url, "--join-token", "main-token")
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret")
	f.asAdmin("PUT", "/api/v1/teams/blue", api.Team{Auth: api.TeamAuth{"owner": {Users: []string{"local:admin"}}}})
	gate := filepath.Join(t.TempDir(), "gate")
	f.setPipeline("private", fmt.Sprintf(`
jobs:
- name: hold
  plan:
  - task: make
    config:
      platform: linux
      outputs: [{name: secret}]
      run: {path: sh, args: [-c, "echo classified > secret/file"]}
  - task: wait
    config:
      platform: linux
      inputs: [{name: secret}]
      run: {path: sh, args: [-c, "until [ -e %s ]; do sleep 0.1; done"]}
`, gate))
	f.mustFly("trigger-job", "-j", "private/hold")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var key string
	for key == "" && ctx.Err() == nil {
		for k := range listObjects(t, s3) {
			key = k
		}
		time.Sleep(100 * time.Millisecond)
	}
	if key == "" {
		t.Fatal("no artifact was stored")
	}
	time.Sleep(time.Second) // the wait step is running now

	// An intruder joins as a spoke of team blue and asks for the artifact
	// of every step there is.
	var joined wire.JoinResponse
	spokeCall(t, f.url, http.MethodPost, wire.PathJoin, "", wire.JoinRequest{Token: "blue-token", Name: "intruder", Runtime: "local"}, &joined, http.StatusOK)
	for id := 1; id <= 10; id++ {
		path := strings.Replace(wire.PathArtifacts, "{id}", fmt.Sprint(id), 1)
		for fence := int64(0); fence <= 3; fence++ {
			status := spokeCall(t, f.url, http.MethodPost, path, joined.Credential, wire.ArtifactsRequest{Fence: fence, Get: []string{"secret"}}, nil, 0)
			if status == http.StatusOK {
				t.Fatalf("team blue's spoke got URLs for step %d (fence %d)", id, fence)
			}
		}
	}
	// The store itself answers no one without a signature.
	endpoint := os.Getenv(s3test.EnvEndpoint)
	resp, err := http.Get(endpoint + "/" + s3.Name + "/" + key)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("an unsigned GET of %s answered %s", key, resp.Status)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := f.fly("watch", "-j", "private/hold", "-b", "1"); code != 0 {
		t.Errorf("the team's own build failed:\n%s", out)
	}
}

// spokeCall sends a spoke protocol request and returns its status; with
// want != 0 any other status fails the test.
func spokeCall(t *testing.T, base, method, path, credential string, body, out any, want int) int {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, base+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if credential != "" {
		req.Header.Set("Authorization", "Bearer "+credential)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if want != 0 && resp.StatusCode != want {
		t.Fatalf("%s %s: %s", method, path, resp.Status)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// A task's caches persist per job and spoke on the local runtime: the job's
// next build finds what the last one left, another job does not.
func TestLocalTaskCaches(t *testing.T) {
	f := newFleet(t)
	f.startSpoke("cache-1", f.url)
	task := `
  plan:
  - task: count
    config:
      platform: linux
      caches: [{path: deps}]
      run: {path: sh, args: [-c, "echo run >> deps/runs; echo runs=$(wc -l < deps/runs)"]}
`
	f.setPipeline("cached", "jobs:\n- name: a"+task+"- name: b"+task)
	for _, want := range []string{"runs=1", "runs=2"} {
		if out := f.mustFly("trigger-job", "-j", "cached/a", "-w"); !strings.Contains(out, want) {
			t.Errorf("job a: no %s in\n%s", want, out)
		}
	}
	if out := f.mustFly("trigger-job", "-j", "cached/b", "-w"); !strings.Contains(out, "runs=1") {
		t.Errorf("job b saw job a's cache:\n%s", out)
	}
}

// fly execute -j takes the task's inputs that are not given locally from
// the inputs of the job's next build (-m renames them), as Concourse's fly
// does: a get of the resource at that version, in a one-off build of the
// job's pipeline.
func TestExecuteInputsFromJob(t *testing.T) {
	f := newFleet(t)
	f.startSpoke("exec-1", f.url)
	f.setPipeline("execj", `
resources:
- name: input
  type: mock
  source: {no_initial_version: true}
jobs:
- name: use
  plan:
  - get: input
  - task: show
    config:
      platform: linux
      inputs: [{name: input}]
      run: {path: cat, args: [input/version]}
`)
	f.mustFly("check-resource", "-r", "execj/input", "-f", "version:v7")
	dir := t.TempDir()
	local := filepath.Join(dir, "local")
	_ = os.MkdirAll(local, 0o755)
	_ = os.WriteFile(filepath.Join(local, "note"), []byte("from here\n"), 0o644)
	task := filepath.Join(dir, "task.yml")
	_ = os.WriteFile(task, []byte(`platform: linux
inputs: [{name: mine}, {name: local}]
run: {path: sh, args: [-c, 'cat mine/version local/note']}
`), 0o644)
	// The job's next inputs are resolved once the scheduler has seen the
	// new version.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out string
	var code int
	for ctx.Err() == nil {
		out, code = f.fly("execute", "-c", task, "-j", "execj/use", "-m", "mine=input", "-i", "local="+local)
		if code == 0 || !strings.Contains(out, "has no next inputs yet") {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if code != 0 || !strings.Contains(out, "v7") || !strings.Contains(out, "from here") || !strings.Contains(out, "succeeded") {
		t.Fatalf("fly execute -j: exit %d\n%s", code, out)
	}
	if out, code := f.fly("execute", "-c", task, "-j", "execj/use", "-m", "mine=nope", "-i", "local="+local); code == 0 ||
		!strings.Contains(out, "job execj/use has no input nope") {
		t.Errorf("a mapping to no input: exit %d\n%s", code, out)
	}
	if out, code := f.fly("execute", "-c", task, "-m", "mine=input"); code == 0 || !strings.Contains(out, "give the job with -j") {
		t.Errorf("-m without -j: exit %d\n%s", code, out)
	}
}

// From a git work tree, fly execute uploads what git ls-files lists, as
// Concourse's fly does: tracked and untracked files, not ignored or deleted
// ones, nor .git; --include-ignored uploads the whole directory.
func TestExecuteUploadsWhatGitLists(t *testing.T) {
	f := newFleet(t)
	f.startSpoke("exec-1", f.url)
	f.mustFly("login", "-c", f.url, "-u", "admin", "-p", "secret")
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	_ = os.MkdirAll(filepath.Join(repo, "ignored"), 0o755)
	for name, content := range map[string]string{".gitignore": "ignored/\n*.log\n", "tracked": "t", "gone": "g"} {
		_ = os.WriteFile(filepath.Join(repo, name), []byte(content), 0o644)
	}
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.email=e2e@example.com", "-c", "user.name=e2e"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "first")
	_ = os.Remove(filepath.Join(repo, "gone"))
	_ = os.WriteFile(filepath.Join(repo, "untracked"), []byte("u"), 0o644)
	_ = os.WriteFile(filepath.Join(repo, "ignored", "big"), []byte("b"), 0o644)
	_ = os.WriteFile(filepath.Join(repo, "x.log"), []byte("l"), 0o644)
	task := filepath.Join(dir, "task.yml")
	_ = os.WriteFile(task, []byte(`platform: linux
inputs: [{name: repo}]
run: {path: sh, args: [-c, 'cd repo && find . -type f -not -path "./.git/*" | sort | tr "\n" " "; if test -d .git; then echo has-git; else echo no-git; fi']}
`), 0o644)
	out := f.mustFly("execute", "-c", task, "-i", "repo="+repo)
	if !strings.Contains(out, "./.gitignore ./tracked ./untracked no-git") {
		t.Errorf("uploaded from the work tree:\n%s", out)
	}
	out = f.mustFly("execute", "-c", task, "-i", "repo="+repo, "--include-ignored")
	if !strings.Contains(out, "./.gitignore ./ignored/big ./tracked ./untracked ./x.log has-git") {
		t.Errorf("uploaded with --include-ignored:\n%s", out)
	}
}
