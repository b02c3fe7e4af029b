package kubetest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
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
	dir := os.Getenv(EnvImages)
	if dir == "" {
		t.Fatalf("%s is not set: run the tests with `make test` or under hack/with-kube.sh", EnvImages)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "resource-" + hex.EncodeToString(b)
	root := filepath.Join(dir, "test.invalid_"+name+"_1", "opt", "resource")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(filepath.Join(dir, "test.invalid_"+name+"_1")) })
	for script, body := range scripts {
		if err := os.WriteFile(filepath.Join(root, script), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return "test.invalid/" + name + ":1"
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
