package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/switchyard-ci/switchyard/spoke/rootfs"
	"github.com/switchyard-ci/switchyard/volumes/extract"
)

type registryParams struct {
	Format         string `json:"format"`          // get: rootfs, oci or oci-layout
	SkipDownload   bool   `json:"skip_download"`   // get
	Image          string `json:"image"`           // put: a glob matching one image tarball
	Version        string `json:"version"`         // put
	BumpAliases    bool   `json:"bump_aliases"`    // put
	AdditionalTags string `json:"additional_tags"` // put: a file of tags
	TagPrefix      string `json:"tag_prefix"`      // put, with additional_tags
}

// openRegistryCall opens a get's or put's source and reads its params.
func openRegistryCall(ctx context.Context, raw, params json.RawMessage) (*registry, registryParams, error) {
	var p registryParams
	r, err := openRegistry(ctx, raw)
	if err != nil {
		return nil, p, err
	}
	return r, p, decodeParams(params, &p)
}

// maxIndexDepth bounds how deep image indexes may nest: an index that lists
// itself is refused, not followed forever.
const maxIndexDepth = 4

func (RegistryImage) In(ctx context.Context, raw, params json.RawMessage, version map[string]string, dest string, log io.Writer) (Response, error) {
	r, p, err := openRegistryCall(ctx, raw, params)
	if err != nil {
		return Response{}, err
	}
	digest, tag := version["digest"], r.tagOf(version)
	if digest == "" {
		return Response{}, fmt.Errorf("version %v has no digest", version)
	}
	ref, err := name.NewDigest(r.repo.Name()+"@"+digest, r.nameOpts()...)
	if err != nil {
		return Response{}, fmt.Errorf("version: digest %q: %v", digest, err)
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return Response{}, err
	}
	defer root.Close()
	for file, content := range map[string]string{"repository": r.repo.Name(), "tag": tag, "digest": digest} {
		if err := root.WriteFile(file, []byte(content), 0o644); err != nil {
			return Response{}, err
		}
	}
	meta := []Metadata{{"repository", r.repo.Name()}, {"tag", tag}}
	if p.SkipDownload {
		return Response{Version: version, Metadata: meta}, nil
	}
	desc, err := remote.Get(ref, r.opts...)
	if err != nil {
		return Response{}, fmt.Errorf("get %s: %v", ref, err)
	}
	switch p.Format {
	case "oci-layout":
		fmt.Fprintf(log, "writing %s as an OCI layout in oci/\n", ref)
		if err := writeLayout(filepath.Join(dest, "oci"), desc); err != nil {
			return Response{}, fmt.Errorf("write %s as an OCI layout: %v", ref, err)
		}
		return Response{Version: version, Metadata: meta}, nil
	case "", "rootfs", "oci":
	default:
		return Response{}, fmt.Errorf("params: format %q: give rootfs (the default), oci or oci-layout", p.Format)
	}
	img, err := r.imageOf(desc, 0)
	if err != nil {
		return Response{}, fmt.Errorf("get %s: %v", ref, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return Response{}, fmt.Errorf("get %s: its config: %v", ref, err)
	}
	if p.Format == "oci" {
		fmt.Fprintf(log, "writing %s to image.tar\n", ref)
		if err := tarball.WriteToFile(filepath.Join(dest, "image.tar"), r.repo.Tag(tag), img); err != nil {
			return Response{}, fmt.Errorf("write %s to image.tar: %v", ref, err)
		}
	} else {
		fmt.Fprintf(log, "unpacking %s into rootfs/\n", ref)
		st, err := rootfs.Unpack(ctx, img, filepath.Join(dest, "rootfs"), extract.Bounds{})
		if err != nil {
			return Response{}, fmt.Errorf("unpack %s: %v", ref, err)
		}
		fmt.Fprintf(log, "unpacked %d layers, %d entries, %d bytes\n", st.Layers, st.Entries, st.Bytes)
		if st.Skipped > 0 {
			fmt.Fprintf(log, "left out %d devices and pipes\n", st.Skipped)
		}
		m, _ := json.Marshal(map[string]any{"env": cfg.Config.Env, "user": cfg.Config.User, "cmd": cfg.Config.Cmd, "entrypoint": cfg.Config.Entrypoint})
		if err := root.WriteFile("metadata.json", m, 0o644); err != nil {
			return Response{}, err
		}
	}
	labels, _ := json.Marshal(cfg.Config.Labels)
	if err := root.WriteFile("labels.json", labels, 0o644); err != nil {
		return Response{}, err
	}
	for k, v := range cfg.Config.Labels {
		if r.labelRe != nil && r.labelRe.MatchString(k) {
			meta = append(meta, Metadata{k, v})
		}
	}
	return Response{Version: version, Metadata: meta}, nil
}

func (r *registry) nameOpts() []name.Option {
	if r.src.Insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

// imageOf is the image a descriptor names: itself, or its index's entry for
// the source's platform, through at most maxIndexDepth indexes.
func (r *registry) imageOf(desc *remote.Descriptor, depth int) (v1.Image, error) {
	if !desc.MediaType.IsIndex() {
		return desc.Image()
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, err
	}
	return imageFromIndex(idx, r.platform, depth)
}

func imageFromIndex(idx v1.ImageIndex, want v1.Platform, depth int) (v1.Image, error) {
	if depth >= maxIndexDepth {
		return nil, fmt.Errorf("image indexes nest deeper than %d (an index that lists itself?): refused", maxIndexDepth)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range m.Manifests {
		if d.Platform == nil || d.Platform.OS != want.OS || d.Platform.Architecture != want.Architecture {
			continue
		}
		if d.MediaType.IsIndex() {
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, err
			}
			return imageFromIndex(child, want, depth+1)
		}
		return idx.Image(d.Digest)
	}
	return nil, fmt.Errorf("the image has no manifest for %s/%s; set source.platform to one it has", want.OS, want.Architecture)
}

// writeLayout writes what desc names, image or index, as an OCI layout.
func writeLayout(dir string, desc *remote.Descriptor) error {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return err
		}
		return p.AppendIndex(idx)
	}
	img, err := desc.Image()
	if err != nil {
		return err
	}
	if err := p.AppendImage(img); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "single-image-digest"), []byte(desc.Digest.String()), 0o644)
}

func (RegistryImage) Out(ctx context.Context, raw, params json.RawMessage, dir string, log io.Writer) (Response, error) {
	r, p, err := openRegistryCall(ctx, raw, params)
	if err != nil {
		return Response{}, err
	}
	if p.Image == "" {
		return Response{}, fmt.Errorf("params: image is required: a glob, in the put's directory, that matches the one image tarball to push")
	}
	rel, err := globOne(dir, p.Image, "image")
	if err != nil {
		return Response{}, err
	}
	// The tarball is read through the put's confinement, every time the
	// library opens it.
	opener := func() (io.ReadCloser, error) { return openInPutDir(dir, rel) }
	f, err := openInPutDir(dir, rel)
	if err != nil {
		return Response{}, fmt.Errorf("params: image %q: %v", p.Image, err)
	}
	info, err := f.Stat()
	f.Close()
	if err != nil || !info.Mode().IsRegular() {
		return Response{}, fmt.Errorf("params: image %q is not a regular file: give an image tarball (docker save, or get's format: oci)", p.Image)
	}
	img, err := tarball.Image(opener, nil)
	if err != nil {
		return Response{}, fmt.Errorf("params: image %q is not an image tarball: %v", p.Image, err)
	}
	tags, err := r.tagsToPush(dir, p)
	if err != nil {
		return Response{}, err
	}
	digest, err := img.Digest()
	if err != nil {
		return Response{}, fmt.Errorf("params: image %q: %v", p.Image, err)
	}
	for i, t := range tags {
		ref := r.repo.Tag(t)
		fmt.Fprintf(log, "pushing %s@%s\n", ref, digest)
		if i == 0 {
			err = remote.Write(ref, img, r.opts...)
		} else {
			err = remote.Tag(ref, img, r.opts...)
		}
		if err != nil {
			return Response{}, fmt.Errorf("push %s: %v", ref, err)
		}
	}
	return Response{
		Version:  map[string]string{"tag": tags[0], "digest": digest.String()},
		Metadata: []Metadata{{"repository", r.repo.Name()}, {"tags", strings.Join(tags, " ")}},
	}, nil
}

// tagsToPush is source.tag, then params.version (with the variant, and its
// aliases when it is the newest of them), then additional_tags.
func (r *registry) tagsToPush(dir string, p registryParams) ([]string, error) {
	var tags []string
	if r.src.Tag != "" {
		tags = append(tags, r.src.Tag)
	}
	if p.Version != "" {
		v, err := semver.NewVersion(p.Version)
		if err != nil {
			return nil, fmt.Errorf("params: version %q is not a semantic version: %v", p.Version, err)
		}
		tags = append(tags, r.withVariant(p.Version))
		if p.BumpAliases && v.Prerelease() == "" {
			aliases, err := r.aliases(v)
			if err != nil {
				return nil, err
			}
			tags = append(tags, aliases...)
		}
	}
	if p.AdditionalTags != "" {
		f, err := openInPutDir(dir, filepath.Clean(p.AdditionalTags))
		if err != nil {
			return nil, fmt.Errorf("params: additional_tags %q: %v", p.AdditionalTags, err)
		}
		b, err := io.ReadAll(io.LimitReader(f, 1<<20))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("params: additional_tags %q: %v", p.AdditionalTags, err)
		}
		for _, t := range strings.Fields(string(b)) {
			tags = append(tags, p.TagPrefix+t)
		}
	}
	if len(tags) == 0 {
		return nil, fmt.Errorf("no tag specified - need either 'version:' in params or 'tag:' in source")
	}
	for _, t := range tags {
		if _, err := name.NewTag(r.repo.Name()+":"+t, r.nameOpts()...); err != nil {
			return nil, fmt.Errorf("tag %q: %v", t, err)
		}
	}
	return tags, nil
}

func (r *registry) withVariant(tag string) string {
	if r.src.Variant != "" {
		return tag + "-" + r.src.Variant
	}
	return tag
}

// aliases are MAJOR.MINOR, MAJOR and latest (or the variant) for those of
// them that no newer pushed version already holds, as upstream bumps them.
func (r *registry) aliases(v *semver.Version) ([]string, error) {
	tags, err := r.listTags()
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		tags, err = nil, nil // the repository's first push
	}
	if err != nil {
		return nil, err
	}
	newerMinor, newerMajor, newerAny := false, false, false
	for _, t := range tags {
		o, ok := r.semverOf(t)
		if !ok || o.Prerelease() != "" || !o.GreaterThan(v) {
			continue
		}
		newerAny = true
		if o.Major() == v.Major() {
			newerMajor = true
			if o.Minor() == v.Minor() {
				newerMinor = true
			}
		}
	}
	var out []string
	if !newerMinor {
		out = append(out, r.withVariant(fmt.Sprintf("%d.%d", v.Major(), v.Minor())))
	}
	if !newerMajor {
		out = append(out, r.withVariant(fmt.Sprintf("%d", v.Major())))
	}
	if !newerAny {
		out = append(out, r.bareTag())
	}
	return out, nil
}

// decodeParams reads a get's or put's params; unknown keys pass, as upstream.
func decodeParams(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("invalid params: %w", err)
	}
	return nil
}
