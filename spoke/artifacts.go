package spoke

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-ci/switchyard/metrics"
	"github.com/switchyard-ci/switchyard/spoke/runtime/local"
	"github.com/switchyard-ci/switchyard/telemetry"
	"github.com/switchyard-ci/switchyard/volumes"
	"github.com/switchyard-ci/switchyard/volumes/extract"
	"github.com/switchyard-ci/switchyard/wire"
)

// Artifacts is where a spoke keeps build artifacts: packed in a cache by
// digest, and extracted in a directory per build and name, where runtimes
// read inputs and leave outputs.
type Artifacts struct {
	Cache *volumes.Cache
	Dir   func(buildID int64, name string) string
	// BuildsDir holds a working directory per build, named by its id, which
	// the agent deletes once no step of the build has run there for a while.
	BuildsDir string
	// Extract bounds what one artifact may expand to on the spoke's disk
	// (zero: the disk's free space).
	Extract extract.Bounds
}

// buildIdle is how long a build's working directory outlives its last step
// on the spoke; its artifacts stay in the cache.
const buildIdle = 10 * time.Minute

// useBuild marks a build's working directory in use until the returned
// function is called.
func (a *Agent) useBuild(id int64) func() {
	a.buildsMu.Lock()
	defer a.buildsMu.Unlock()
	a.buildRefs[id]++
	return func() {
		a.buildsMu.Lock()
		defer a.buildsMu.Unlock()
		a.buildRefs[id]--
		a.buildUsed[id] = time.Now()
	}
}

// sweepBuilds deletes the working directories of builds that no step has
// used for buildIdle (by their directory's time for builds of an earlier
// process).
func (a *Agent) sweepBuilds() error {
	if a.cfg.Artifacts == nil || a.cfg.Artifacts.BuildsDir == "" {
		return nil
	}
	list, err := os.ReadDir(a.cfg.Artifacts.BuildsDir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	a.buildsMu.Lock()
	defer a.buildsMu.Unlock()
	for _, e := range list {
		id, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil || a.buildRefs[id] > 0 {
			continue
		}
		last, ok := a.buildUsed[id]
		if !ok {
			info, err := e.Info()
			if err != nil {
				continue
			}
			last = info.ModTime()
		}
		if time.Since(last) < buildIdle {
			continue
		}
		if err := os.RemoveAll(filepath.Join(a.cfg.Artifacts.BuildsDir, e.Name())); err != nil {
			return err
		}
		delete(a.buildUsed, id)
		delete(a.buildRefs, id)
	}
	return nil
}

// marker records which digest an artifact's directory holds, beside it.
func marker(dir string) string { return dir + ".digest" }

func holds(dir string, d string) bool {
	b, err := os.ReadFile(marker(dir))
	return err == nil && string(b) == d
}

// fetchInputs makes every input artifact of the step present in its
// directory: one the spoke made or extracted already is used as it is, one
// in the cache is extracted, and any other is downloaded through a URL the
// hub signs, verified, then extracted. It returns the digests it downloaded.
func (a *Agent) fetchInputs(ctx context.Context, as wire.Assignment, logs local.Logs) ([]string, error) {
	refs := as.Request.Artifacts
	names := make([]string, 0, len(refs))
	var missing []string
	for name, ref := range refs {
		if holds(a.cfg.Artifacts.Dir(as.BuildID, name), ref.Digest) {
			continue
		}
		names = append(names, name)
		if h, ok := a.cfg.Artifacts.Cache.Get(volumes.Digest(ref.Digest)); ok {
			h.Release()
		} else {
			missing = append(missing, name)
		}
	}
	sort.Strings(names)
	sort.Strings(missing)
	var urls wire.ArtifactURLs
	if len(missing) > 0 {
		if err := a.artifactURLs(ctx, as, wire.ArtifactsRequest{Fence: as.Fence, Get: missing}, &urls); err != nil {
			return nil, err
		}
	}
	var fetched []string
	for _, name := range names {
		if err := a.fetchInput(ctx, as, name, urls, logs, &fetched); err != nil {
			return fetched, err
		}
	}
	return fetched, nil
}

// fetchInput makes one input artifact present in its directory; steps of
// the build that need it at once take turns.
func (a *Agent) fetchInput(ctx context.Context, as wire.Assignment, name string, urls wire.ArtifactURLs, logs local.Logs, fetched *[]string) error {
	ref := as.Request.Artifacts[name]
	dir := a.cfg.Artifacts.Dir(as.BuildID, name)
	mu, _ := a.dirLocks.LoadOrStore(dir, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if holds(dir, ref.Digest) {
		return nil // another step got it meanwhile
	}
	d := volumes.Digest(ref.Digest)
	h, ok := a.cfg.Artifacts.Cache.Get(d)
	if !ok {
		u, ok := urls.Get[ref.Digest]
		if !ok { // evicted since fetchInputs looked
			var more wire.ArtifactURLs
			if err := a.artifactURLs(ctx, as, wire.ArtifactsRequest{Fence: as.Fence, Get: []string{name}}, &more); err != nil {
				return err
			}
			u = more.Get[ref.Digest]
		}
		logs.Line("stderr", fmt.Sprintf("fetching artifact %s (%s) from object storage\n", name, volumes.HumanBytes(ref.Size)))
		done := transfer(ctx, "download", name, ref.Size)
		var err error
		h, err = a.cfg.Artifacts.Cache.Fetch(ctx, name, d, ref.Size, volumes.HTTPSource(a.transfer, a.absolute(u)))
		done(err)
		if err != nil {
			return err
		}
		*fetched = append(*fetched, ref.Digest)
	} else {
		metrics.ArtifactCacheHits.Inc()
	}
	err := extractInput(ctx, h, dir, a.cfg.Artifacts.Extract)
	h.Release()
	if err != nil {
		return fmt.Errorf("artifact %s: %w", name, err)
	}
	return nil
}

func extractInput(ctx context.Context, h *volumes.Handle, dir string, b extract.Bounds) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	_ = os.Remove(marker(dir))
	f, err := os.Open(h.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := extract.Unpack(ctx, f, dir, b); err != nil {
		os.RemoveAll(dir)
		return err
	}
	return os.WriteFile(marker(dir), []byte(h.Digest), 0o644)
}

// storeOutputs packs the artifacts a step produced into the cache, uploads
// those the store lacks, and lists them in the result.
func (a *Agent) storeOutputs(ctx context.Context, as wire.Assignment, res *wire.Result) error {
	var handles []*volumes.Handle
	defer func() {
		for _, h := range handles {
			h.Release()
		}
	}()
	req := wire.ArtifactsRequest{Fence: as.Fence}
	for _, name := range res.Outputs {
		dir := a.cfg.Artifacts.Dir(as.BuildID, name)
		if err := os.Remove(marker(dir)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		h, err := a.cfg.Artifacts.Cache.Pack(ctx, dir)
		if err != nil {
			return fmt.Errorf("output %s: %w", name, err)
		}
		handles = append(handles, h)
		if err := os.WriteFile(marker(dir), []byte(h.Digest), 0o644); err != nil {
			return err
		}
		req.Put = append(req.Put, wire.ArtifactRef{Digest: string(h.Digest), Size: h.Size})
		res.Artifacts = append(res.Artifacts, wire.Artifact{Name: name, ArtifactRef: wire.ArtifactRef{Digest: string(h.Digest), Size: h.Size}})
	}
	if len(handles) == 0 {
		return nil
	}
	var urls wire.ArtifactURLs
	if err := a.artifactURLs(ctx, as, req, &urls); err != nil {
		return err
	}
	for _, h := range handles {
		if u, ok := urls.Put[string(h.Digest)]; ok {
			done := transfer(ctx, "upload", string(h.Digest), h.Size)
			err := volumes.Upload(ctx, a.transfer, a.absolute(u), h)
			done(err)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *Agent) artifactURLs(ctx context.Context, as wire.Assignment, req wire.ArtifactsRequest, out *wire.ArtifactURLs) error {
	path := strings.Replace(wire.PathArtifacts, "{id}", strconv.FormatInt(as.StepID, 10), 1)
	if err := a.call(ctx, http.MethodPost, path, req, out, true); err != nil {
		return fmt.Errorf("ask the hub for artifact URLs: %w", err)
	}
	return nil
}

// absolute resolves a URL the hub serves itself (a path) against its address.
func (a *Agent) absolute(u string) string {
	if strings.HasPrefix(u, "/") {
		return strings.TrimSuffix(a.cfg.HubURL, "/") + u
	}
	return u
}

// transfer is the span and the metrics of one artifact moved to or from
// object storage (direction upload or download); done ends it.
func transfer(ctx context.Context, direction, name string, size int64) (done func(error)) {
	_, span := telemetry.Tracer().Start(ctx, direction+" artifact", trace.WithAttributes(
		attribute.String("switchyard.artifact", name), attribute.Int64("switchyard.artifact.bytes", size)))
	start := time.Now()
	return func(err error) {
		if err == nil {
			metrics.ArtifactBytes.WithLabelValues(direction).Add(float64(size))
			metrics.ArtifactSeconds.WithLabelValues(direction).Observe(time.Since(start).Seconds())
		}
		telemetry.Fail(span, err)
		span.End()
	}
}
