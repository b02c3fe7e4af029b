package resource

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/switchyard-ci/switchyard/volumes/s3test"
)

// s3Source is the JSON source of the test's bucket on the tests' MinIO.
func s3SourceOf(t testing.TB, b s3test.Bucket, extra map[string]any) json.RawMessage {
	t.Helper()
	src := map[string]any{
		"bucket": b.Name, "endpoint": os.Getenv(s3test.EnvEndpoint),
		"access_key_id": os.Getenv(s3test.EnvAccessKey), "secret_access_key": os.Getenv(s3test.EnvSecretKey),
	}
	for k, v := range extra {
		src[k] = v
	}
	raw, _ := json.Marshal(src)
	return raw
}

func putObject(t *testing.T, b s3test.Bucket, key, content string) {
	t.Helper()
	if _, err := b.Client.PutObject(t.Context(), b.Name, key, strings.NewReader(content), int64(len(content)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

func paths(vs []map[string]string, key string) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v[key])
	}
	return out
}

// regexp mode: versions from file names, in version order (1.10 after 1.9),
// the newest first time, every one from the current on after; get writes
// the file, its version and URL; put uploads beside the regexp's directory.
func TestS3Regexp(t *testing.T) {
	b := s3test.New(t)
	for _, k := range []string{"releases/app-1.2.0.tgz", "releases/app-1.10.0.tgz", "releases/app-1.9.1.tgz", "releases/other.txt", "app-9.9.9.tgz"} {
		putObject(t, b, k, "content of "+k)
	}
	src := s3SourceOf(t, b, map[string]any{"regexp": `releases/app-(.*)\.tgz`})
	ctx := t.Context()
	got, err := S3{}.Check(ctx, src, nil, io.Discard)
	if err != nil || fmt.Sprint(paths(got, "path")) != "[releases/app-1.10.0.tgz]" {
		t.Fatalf("first check: %v %v", got, err)
	}
	got, err = S3{}.Check(ctx, src, map[string]string{"path": "releases/app-1.2.0.tgz"}, io.Discard)
	if err != nil || fmt.Sprint(paths(got, "path")) != "[releases/app-1.2.0.tgz releases/app-1.9.1.tgz releases/app-1.10.0.tgz]" {
		t.Fatalf("check from 1.2.0: %v %v", got, err)
	}

	dest := t.TempDir()
	resp, err := S3{}.In(ctx, src, nil, map[string]string{"path": "releases/app-1.9.1.tgz"}, dest, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{"app-1.9.1.tgz": "content of releases/app-1.9.1.tgz", "version": "1.9.1"} {
		if data, err := os.ReadFile(filepath.Join(dest, file)); err != nil || string(data) != want {
			t.Errorf("get wrote %s = %q %v, want %q", file, data, err, want)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(dest, "url")); !strings.HasSuffix(string(data), "/"+b.Name+"/releases/app-1.9.1.tgz") {
		t.Errorf("url: %s", data)
	}
	if len(resp.Metadata) == 0 || resp.Metadata[0].Value != "app-1.9.1.tgz" {
		t.Errorf("metadata: %v", resp.Metadata)
	}
	private := s3SourceOf(t, b, map[string]any{"regexp": `releases/app-(.*)\.tgz`, "private": true})
	if _, err := (S3{}).In(ctx, private, json.RawMessage(`{"skip_download": true}`), map[string]string{"path": "releases/app-1.2.0.tgz"}, dest, io.Discard); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(dest, "url")); !strings.Contains(string(data), "X-Amz-Signature=") {
		t.Errorf("a private bucket's url is not signed: %s", data)
	}

	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "built"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "built", "app-2.0.0.tgz"), []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, err = S3{}.Out(ctx, src, json.RawMessage(`{"file": "built/app-*.tgz"}`), dir, io.Discard)
	if err != nil || resp.Version["path"] != "releases/app-2.0.0.tgz" {
		t.Fatalf("put: %v %v", resp, err)
	}
	got, err = S3{}.Check(ctx, src, map[string]string{"path": "releases/app-1.10.0.tgz"}, io.Discard)
	if err != nil || fmt.Sprint(paths(got, "path")) != "[releases/app-1.10.0.tgz releases/app-2.0.0.tgz]" {
		t.Errorf("check after the put: %v %v", got, err)
	}
}

// initial_path gives a version before any file exists, whose get writes
// initial_content_text.
func TestS3InitialPath(t *testing.T) {
	b := s3test.New(t)
	src := s3SourceOf(t, b, map[string]any{"regexp": `v/app-(.*)\.txt`, "initial_path": "v/app-0.0.0.txt", "initial_content_text": "hello"})
	got, err := S3{}.Check(t.Context(), src, nil, io.Discard)
	if err != nil || fmt.Sprint(paths(got, "path")) != "[v/app-0.0.0.txt]" {
		t.Fatalf("check: %v %v", got, err)
	}
	dest := t.TempDir()
	if _, err := (S3{}).In(t.Context(), src, nil, got[0], dest, io.Discard); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dest, "app-0.0.0.txt")); err != nil || string(data) != "hello" {
		t.Errorf("initial content: %q %v", data, err)
	}
	putObject(t, b, "v/app-0.1.0.txt", "x")
	got, err = S3{}.Check(t.Context(), src, got[0], io.Discard)
	if err != nil || fmt.Sprint(paths(got, "path")) != "[v/app-0.0.0.txt v/app-0.1.0.txt]" {
		t.Errorf("check after a file: %v %v", got, err)
	}
}

// versioned_file: the bucket's object versions, oldest to newest from the
// current one.
func TestS3VersionedFile(t *testing.T) {
	b := s3test.New(t)
	if err := b.Client.EnableVersioning(t.Context(), b.Name); err != nil {
		t.Fatalf("versioning on the test MinIO: %v", err)
	}
	src := s3SourceOf(t, b, map[string]any{"versioned_file": "state/terraform.tfstate"})
	dir := t.TempDir()
	var ids []string
	for _, content := range []string{"one", "two", "three"} {
		if err := os.WriteFile(filepath.Join(dir, "tfstate"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		resp, err := S3{}.Out(t.Context(), src, json.RawMessage(`{"file": "tfstate"}`), dir, io.Discard)
		if err != nil || resp.Version["version_id"] == "" {
			t.Fatalf("put: %v %v", resp, err)
		}
		ids = append(ids, resp.Version["version_id"])
	}
	got, err := S3{}.Check(t.Context(), src, nil, io.Discard)
	if err != nil || fmt.Sprint(paths(got, "version_id")) != fmt.Sprint(ids[2:]) {
		t.Fatalf("first check: %v %v, want %v", got, err, ids[2:])
	}
	got, err = S3{}.Check(t.Context(), src, map[string]string{"version_id": ids[0]}, io.Discard)
	if err != nil || fmt.Sprint(paths(got, "version_id")) != fmt.Sprint(ids) {
		t.Fatalf("check from the first: %v %v, want %v", got, err, ids)
	}
	dest := t.TempDir()
	if _, err := (S3{}).In(t.Context(), src, nil, map[string]string{"version_id": ids[1]}, dest, io.Discard); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dest, "terraform.tfstate")); err != nil || string(data) != "two" {
		t.Errorf("get of the second version: %q %v", data, err)
	}
}

// Bad sources, hostile names and servers that are down or answer garbage
// end in errors that say which, in bounded time.
func TestS3Refusals(t *testing.T) {
	b := s3test.New(t)
	ctx := t.Context()
	for raw, want := range map[string]string{
		`{"regexp": "a-(.*)"}`: "bucket is required",
		`{"bucket": "x"}`:      "give regexp",
		`{"bucket": "x", "regexp": "a-(.*)", "versioned_file": "f"}`: "give regexp",
		`{"bucket": "x", "regexp": "a-.*"}`:                          "has no group",
		`{"bucket": "x", "regexp": "a-(.*"}`:                         "invalid regexp",
		`{"bucket": 3}`:                                              "invalid payload",
	} {
		if _, err := (S3{}).Check(ctx, json.RawMessage(raw), nil, io.Discard); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("source %s: %v, want %q", raw, err, want)
		}
	}

	src := s3SourceOf(t, b, map[string]any{"regexp": `(.*)`})
	// Keys a get would save outside its directory (MinIO refuses to store
	// some of them; other servers may not).
	for _, key := range []string{"v/..", "..", ".", "", "a\\..\\b", "v/x\x00"} {
		if _, err := (S3{}).In(ctx, src, nil, map[string]string{"path": key}, t.TempDir(), io.Discard); err == nil || !strings.Contains(err.Error(), "no file name") {
			t.Errorf("an object named %q: %v", key, err)
		}
	}
	dir := t.TempDir()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	// An artifact (the spoke links it into the put's directory) holding a
	// link out of it, as a task can make.
	artifact := t.TempDir()
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(artifact, "inner")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(artifact, filepath.Join(dir, "art")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"../x", "/etc/passwd", "link", "nothing-*", "art/inner", "art/../link"} {
		if _, err := (S3{}).Out(ctx, src, json.RawMessage(fmt.Sprintf(`{"file": %q}`, f)), dir, io.Discard); err == nil {
			t.Errorf("put of file %q was not refused", f)
		}
	}
	if objs := b.Client.ListObjects(ctx, b.Name, minio.ListObjectsOptions{Prefix: "link"}); len(collectKeys(objs)) != 0 {
		t.Error("a link out of the directory was uploaded")
	}

	down := json.RawMessage(`{"bucket": "bucket", "regexp": "(.*)", "endpoint": "http://127.0.0.1:1"}`)
	start := time.Now()
	if _, err := (S3{}).Check(ctx, down, nil, io.Discard); err == nil || !strings.Contains(err.Error(), "bucket bucket at http://127.0.0.1:1") || !strings.Contains(err.Error(), "refused") {
		t.Errorf("an endpoint that is down: %v", err)
	}
	metadata := json.RawMessage(`{"bucket": "bucket", "regexp": "(.*)", "endpoint": "http://169.254.169.254"}`)
	if _, err := (S3{}).Check(ctx, metadata, nil, io.Discard); err == nil || !strings.Contains(err.Error(), "link-local") {
		t.Errorf("an endpoint at the cloud's metadata address: %v", err)
	}
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(w, bytes.NewReader([]byte("<not xml at all")))
	}))
	defer garbage.Close()
	junk := json.RawMessage(fmt.Sprintf(`{"bucket": "bucket", "regexp": "(.*)", "endpoint": %q}`, garbage.URL))
	if _, err := (S3{}).Check(ctx, junk, nil, io.Discard); err == nil || !strings.Contains(err.Error(), "bucket bucket at "+garbage.URL) {
		t.Errorf("an endpoint that answers garbage: %v", err)
	}
	if took := time.Since(start); took > 2*time.Minute {
		t.Errorf("the failing checks took %s", took)
	}
}

func collectKeys(objs <-chan minio.ObjectInfo) []string {
	var keys []string
	for o := range objs {
		if o.Err == nil {
			keys = append(keys, o.Key)
		}
	}
	return keys
}

// compareVersions orders numbers by value and words after numbers.
func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.9.1", "1.10.0", -1}, {"1.10.0", "1.9.1", 1}, {"2.0", "2.0", 0}, {"1.0", "1.0.1", -1},
		{"1.0-rc.1", "1.0-rc.2", -1}, {"1.0.0", "1.0.rc1", -1}, {"abc", "abd", -1},
	} {
		if got := compareVersions(c.a, c.b); got != c.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
