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
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
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
	}
	if *tarPath != "" {
		tag, err := name.NewTag(*repo + ":" + *version)
		if err != nil {
			return err
		}
		if err := tarball.WriteToFile(*tarPath, tag, img); err != nil {
			return err
		}
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Println(d)
	return nil
}
