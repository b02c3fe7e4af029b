package kubetest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// EnvImages names the variable that holds the test node's image overlays
// (hack/vknode/images.go).
const EnvImages = "SWITCHYARD_TEST_IMAGES"

// ResourceImage makes an image for the test node whose /opt/resource holds
// the given scripts (check, in, out), and returns its reference. The test
// node runs containers on the host, so the scripts run with the host's tools.
func ResourceImage(t testing.TB, scripts map[string]string) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	ref := "test.invalid/resource-" + hex.EncodeToString(b) + ":1"
	ImageAt(t, ref, scripts)
	return ref
}

// ImageAt makes the image ref for the test node, with the given scripts in
// its /opt/resource: ref may name it by tag or by digest (as a registry-image
// get names an image).
func ImageAt(t testing.TB, ref string, scripts map[string]string) {
	t.Helper()
	root := filepath.Join(imageDir(t, ref), "opt", "resource")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for script, body := range scripts {
		if err := os.WriteFile(filepath.Join(root, script), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// CounterResource are the scripts of a small resource type for tests: check
// finds versions v1 and v2, in writes the version's ref (and the request it
// got) into its directory, out creates the version named by the file
// params.file points at. Each logs to stderr.
var CounterResource = map[string]string{
	"check": `req=$(cat); echo "checking" >&2; echo '[{"ref":"v1"},{"ref":"v2"}]'`,
	"in": `dest=$1; req=$(cat); echo "fetching into $dest" >&2
printf '%s' "$req" > "$dest/request.json"
ref=$(printf '%s' "$req" | sed -n 's/.*"ref":"\([^"]*\)".*/\1/p'); echo "$ref" > "$dest/ref"
echo "{\"version\":{\"ref\":\"$ref\"},\"metadata\":[{\"name\":\"fetched\",\"value\":\"$ref\"}]}"`,
	"out": `src=$1; req=$(cat); file=$(printf '%s' "$req" | sed -n 's/.*"file":"\([^"]*\)".*/\1/p')
echo "putting $file" >&2; ref=$(cat "$src/$file")
echo "{\"version\":{\"ref\":\"$ref\"}}"`,
}

// ImageBinary makes the test node run binary as image's entrypoint,
// /usr/local/bin/switchyard (the layout of make image's image), until the
// test ends.
func ImageBinary(t testing.TB, image, binary string) {
	t.Helper()
	top := imageDir(t, image)
	if err := os.MkdirAll(filepath.Join(top, "usr", "local", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(binary, filepath.Join(top, "usr", "local", "bin", "switchyard")); err != nil {
		t.Fatal(err)
	}
}

// imageDir is the test node's overlay directory of an image: what a pod of
// that image finds at its root. It is removed when the test ends.
func imageDir(t testing.TB, ref string) string {
	t.Helper()
	dir := os.Getenv(EnvImages)
	if dir == "" {
		t.Fatalf("%s is not set: run the tests with `make test` or under hack/with-kube.sh", EnvImages)
	}
	top := filepath.Join(dir, strings.NewReplacer("/", "_", ":", "_").Replace(ref))
	t.Cleanup(func() { _ = os.RemoveAll(top) })
	return top
}
