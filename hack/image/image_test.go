package main

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// The image is non-root, labelled, holds the binary and a home its user
// owns, and is the same image each time it is built from the same inputs.
func TestImage(t *testing.T) {
	bin := []byte("#!not-really-a-binary\n")
	m := Meta{Version: "v1.2.3", Revision: "abc", Created: time.Unix(1700000000, 0).UTC()}
	a, err := Build(bin, m)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Build(bin, m)
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("two builds of the same binary differ: %s, %s", da, db)
	}
	other, _ := Build(append(bin, 'x'), m)
	if do, _ := other.Digest(); do == da {
		t.Error("another binary gives the same image")
	}
	cf, err := a.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" || cf.Config.Entrypoint[0] != "/usr/local/bin/switchyard" || cf.OS != "linux" {
		t.Errorf("config: user %q, entrypoint %q, os %q", cf.Config.User, cf.Config.Entrypoint, cf.OS)
	}
	if cf.Config.Labels["org.opencontainers.image.version"] != "v1.2.3" || cf.Config.Labels["org.opencontainers.image.revision"] != "abc" {
		t.Errorf("labels %v", cf.Config.Labels)
	}
	got := map[string]*tar.Header{}
	var content []byte
	tr := tar.NewReader(mutate.Extract(a))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[strings.TrimSuffix(h.Name, "/")] = h
		if h.Name == "usr/local/bin/switchyard" {
			content, _ = io.ReadAll(tr)
		}
	}
	if h := got["usr/local/bin/switchyard"]; h == nil || h.Mode != 0o755 || string(content) != string(bin) {
		t.Errorf("the binary in the image: %+v", h)
	}
	if h := got["home/switchyard"]; h == nil || h.Uid != UID || h.Mode&0o777 != 0o700 {
		t.Errorf("the home directory: %+v", h)
	}

	// The command writes a layout and a tarball.
	dir := t.TempDir()
	binPath := filepath.Join(dir, "switchyard")
	if err := os.WriteFile(binPath, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	if err := run([]string{"--binary", binPath, "--version", "v1.2.3", "--revision", "abc", "--layout", filepath.Join(dir, "oci"), "--tarball", filepath.Join(dir, "image.tar")}); err != nil {
		t.Fatal(err)
	}
	idx, err := layout.ImageIndexFromPath(filepath.Join(dir, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 || im.Manifests[0].Digest != da {
		t.Errorf("the layout holds %+v (%v), want the image %s", im, err, da)
	}
	if err := validate.Index(idx); err != nil {
		t.Errorf("the layout does not validate: %v", err)
	}
	back, err := tarball.ImageFromPath(filepath.Join(dir, "image.tar"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(back); err != nil {
		t.Errorf("the tarball does not validate: %v", err)
	}

}
