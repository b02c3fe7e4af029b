package main

import (
	"archive/tar"
	"bytes"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Meta is what the image says of itself.
type Meta struct {
	Version, Revision string
	Created           time.Time // the image's and its files' time
}

// UID is the image's user, and its group.
const UID = 65532

// Build makes the image of a switchyard binary: one layer, a non-root user,
// labels; the same inputs give the same digest.
func Build(binary []byte, m Meta) (v1.Image, error) {
	layerTar, err := files(binary, m.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerTar)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Created = v1.Time{Time: m.Created}
	cf.Config.User = "65532:65532"
	cf.Config.WorkingDir = "/home/switchyard"
	cf.Config.Entrypoint = []string{"/usr/local/bin/switchyard"}
	cf.Config.Cmd = []string{"hub"}
	cf.Config.Env = []string{"PATH=/usr/local/bin", "HOME=/home/switchyard"}
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":       "switchyard",
		"org.opencontainers.image.description": "Switchyard: a Concourse-compatible CI hub and its spoke agent (switchyard hub, switchyard spoke)",
		"org.opencontainers.image.version":     m.Version,
		"org.opencontainers.image.revision":    m.Revision,
		"org.opencontainers.image.created":     m.Created.Format(time.RFC3339),
	}
	cf.History = []v1.History{{Created: v1.Time{Time: m.Created}, CreatedBy: "hack/image: switchyard binary, user 65532"}}
	return mutate.ConfigFile(img, cf)
}

// files is the layer: the binary, the user, and writable home and /tmp.
func files(binary []byte, at time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64, uid int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, Uid: uid, Gid: uid, ModTime: at, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: at, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, step := range []func() error{
		func() error { return dir("etc/", 0o755, 0) },
		func() error {
			return file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/sbin/nologin\nswitchyard:x:65532:65532:switchyard:/home/switchyard:/sbin/nologin\n"))
		},
		func() error { return file("etc/group", 0o644, []byte("root:x:0:\nswitchyard:x:65532:\n")) },
		func() error { return dir("home/", 0o755, 0) },
		func() error { return dir("home/switchyard/", 0o700, UID) },
		func() error { return dir("tmp/", 0o1777, 0) },
		func() error { return dir("usr/", 0o755, 0) },
		func() error { return dir("usr/local/", 0o755, 0) },
		func() error { return dir("usr/local/bin/", 0o755, 0) },
		func() error { return file("usr/local/bin/switchyard", 0o755, binary) },
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
