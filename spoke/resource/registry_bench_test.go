package resource

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/switchyard-ci/switchyard/spoke/resource/registrytest"
)

// BenchmarkRegistryImageIn gets a 100 MB image (4 layers of random bytes)
// from the local registry as a tarball and as a rootfs, beside crane's pull
// of the same image to a tarball: the figure to compare is MB/s.
func BenchmarkRegistryImageIn(b *testing.B) {
	reg := registrytest.Start(b, registrytest.Options{})
	img, err := random.Image(25<<20, 4)
	if err != nil {
		b.Fatal(err)
	}
	repo := mustRepo(b, reg.Host+"/bench/image")
	if err := remote.Write(repo.Tag("latest"), img, remote.WithContext(b.Context())); err != nil {
		b.Fatal(err)
	}
	d, _ := img.Digest()
	src := json.RawMessage(`{"repository":"` + repo.Name() + `","insecure":true}`)
	version := map[string]string{"tag": "latest", "digest": d.String()}
	const size = 100 << 20
	cranePull := func(b *testing.B) {
		dest := b.TempDir()
		pulled, err := crane.Pull(repo.Name()+"@"+d.String(), crane.Insecure, crane.WithContext(b.Context()))
		if err != nil {
			b.Fatal(err)
		}
		if err := crane.Save(pulled, repo.Tag("latest").String(), filepath.Join(dest, "image.tar")); err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(dest)
	}
	cranePull(b) // the registry's and the disk's caches warm for all three
	for _, format := range []string{"oci", "rootfs"} {
		b.Run("in-"+format, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				dest := b.TempDir()
				if _, err := (RegistryImage{}).In(b.Context(), src, json.RawMessage(`{"format":"`+format+`"}`), version, dest, io.Discard); err != nil {
					b.Fatal(err)
				}
				os.RemoveAll(dest)
			}
		})
	}
	b.Run("crane-pull", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			cranePull(b)
		}
	})
}
