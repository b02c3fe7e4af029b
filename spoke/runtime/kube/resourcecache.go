package kube

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/switchyard-ci/switchyard/volumes/extract"
	"github.com/switchyard-ci/switchyard/wire"
)

// Resource caches: a custom type's get of a version is kept on the spoke's
// disk, beside the build artifacts it is streamed from, keyed by the type's
// image, the source, the params and the version, as Concourse keys its
// resource caches. The next get of the same version, by any build of any job
// on this spoke, reuses it without a pod.

// cachedGet is a kept get: its directory and its response.
type cachedGet struct {
	dir      string
	response string
}

// resourceCache is the cache of a get, at its epoch (fly
// clear-resource-cache moves it on); those of its earlier epochs are deleted.
func (rt *Runtime) resourceCache(req wire.StepRequest) cachedGet {
	epoch := req.CacheEpoch("")
	for e := int64(0); e < epoch; e++ {
		_ = os.RemoveAll(rt.resourceCacheAt(req, e).root())
	}
	return rt.resourceCacheAt(req, epoch)
}

func (rt *Runtime) resourceCacheAt(req wire.StepRequest, epoch int64) cachedGet {
	parts := []any{req.TypeImage, req.Type, req.Source, req.Params, req.Version}
	if epoch > 0 {
		parts = append(parts, epoch)
	}
	key, _ := json.Marshal(parts)
	sum := sha256.Sum256(key)
	root := filepath.Join(rt.Local.Dir, "resource-caches", hex.EncodeToString(sum[:16]))
	return cachedGet{dir: filepath.Join(root, "dir"), response: filepath.Join(root, "response.json")}
}

func (c cachedGet) root() string { return filepath.Dir(c.dir) }

// use fills dir from the cache and returns the cached response, if the
// version was fetched before.
func (c cachedGet) use(dir string) ([]byte, bool) {
	raw, err := os.ReadFile(c.response)
	if err != nil {
		return nil, false
	}
	if err := copyDir(c.dir, dir); err != nil {
		return nil, false
	}
	return raw, true
}

// keep saves a get's directory and response, replacing nothing: the first
// complete copy wins (the response is written last, so a half-kept get is
// never used).
func (c cachedGet) keep(dir string, response []byte) error {
	root := filepath.Dir(c.dir)
	if _, err := os.Stat(c.response); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(root), ".keeping-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := copyDir(dir, filepath.Join(tmp, "dir")); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "response.json"), response, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, root); err != nil && !os.IsExist(err) {
		if _, statErr := os.Stat(c.response); statErr == nil {
			return nil // another step kept it first
		}
		return fmt.Errorf("keep resource cache: %w", err)
	}
	return nil
}

// copyDir copies a directory tree (modes, links) through the same tar code
// that moves artifacts in and out of pods.
func copyDir(src, dest string) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(context.Background(), pw, map[string]string{"": src})) }()
	err := extract.ExtractTar(context.Background(), pr, dest, extract.Bounds{})
	pr.CloseWithError(err)
	return err
}
