// Command image builds Switchyard's OCI image without a container engine:
// one layer holding the static switchyard binary (hub and spoke are its
// subcommands), a non-root user and a writable home and /tmp, on an empty
// base; no network. The same binary and SOURCE_DATE_EPOCH give the same
// image digest. `make image` runs it; it writes an OCI image layout and a
// tarball that `docker load`, `crane push` and kind's `load image-archive`
// take.
//
//	go run ./hack/image --binary bin/image/switchyard --version v0.1.0 --layout bin/image/oci --tarball bin/image/switchyard.tar
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	binary := fs.String("binary", "", "the static switchyard binary to put in the image")
	version := fs.String("version", "dev", "the image's version label")
	revision := fs.String("revision", "", "the source revision label (a commit)")
	repo := fs.String("repository", "switchyard", "the tag's repository in the tarball")
	layoutDir := fs.String("layout", "", "write an OCI image layout here")
	tarPath := fs.String("tarball", "", "write an image tarball here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *binary == "" || (*layoutDir == "" && *tarPath == "") {
		return fmt.Errorf("--binary and at least one of --layout and --tarball are needed")
	}
	bin, err := os.ReadFile(*binary)
	if err != nil {
		return err
	}
	created := time.Unix(0, 0).UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH %q: write seconds since 1970", s)
		}
		created = time.Unix(sec, 0).UTC()
	}
	began := time.Now()
	img, err := Build(bin, Meta{Version: *version, Revision: *revision, Created: created})
	if err != nil {
		return err
	}
	if *layoutDir != "" {
		if err := os.RemoveAll(*layoutDir); err != nil {
			return err
		}
		p, err := layout.Write(*layoutDir, empty.Index)
		if err != nil {
			return err
		}
		if err := p.AppendImage(img); err != nil {
			return err
		}
		if err := validateLayout(*layoutDir); err != nil {
			return err
		}
	}
	if *tarPath != "" {
		tag, err := name.NewTag(*repo + ":" + *version)
		if err != nil {
			return err
		}
		if err := tarball.WriteToFile(*tarPath, tag, img); err != nil {
			return err
		}
		back, err := tarball.ImageFromPath(*tarPath, nil)
		if err != nil {
			return err
		}
		if err := validate.Image(back); err != nil {
			return fmt.Errorf("%s does not validate: %w", *tarPath, err)
		}
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	size, err := imageSize(img)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "image %s: %.1f MiB compressed, validated, built in %s\n", d, float64(size)/(1<<20), time.Since(began).Round(time.Millisecond))
	fmt.Println(d)
	return nil
}

// imageSize is what a registry stores of the image: its layers, compressed,
// its config and its manifest.
func imageSize(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return 0, err
	}
	size := m.Config.Size + int64(len(raw))
	for _, l := range m.Layers {
		size += l.Size
	}
	return size, nil
}

// validateLayout reads the layout's images back and checks them as crane
// validate does: every blob's digest and size, the config and the manifest
// against their descriptors, and that the layers' contents can be read.
func validateLayout(dir string) error {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return err
	}
	if err := validate.Index(idx); err != nil {
		return fmt.Errorf("%s does not validate: %w", dir, err)
	}
	return nil
}
