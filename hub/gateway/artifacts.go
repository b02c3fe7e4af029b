package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard-ci/switchyard/hub/httpapi"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/volumes"
	"github.com/switchyard-ci/switchyard/wire"
	"gocloud.dev/gcerrors"
)

// How long signed artifact URLs live. A spoke asks for them when a step needs
// them, so they need only outlive one transfer.
const artifactURLTTL = 30 * time.Minute

// DedupFresh is how young a stored artifact must be for a new upload of the
// same digest to be skipped. An older one is written again, which renews it,
// so the GC (which only deletes unreferenced objects older than GCGrace)
// never deletes an object a step was just told is there.
const DedupFresh = 30 * time.Minute

// spokeArtifacts signs URLs for a step's artifacts: reads of the artifacts of
// the step's own build, and writes of what it produced, under its team. Only
// the spoke that runs the step, with its current fence, may ask.
func (g *Gateway) spokeArtifacts(w http.ResponseWriter, r *http.Request, sp *store.Spoke) error {
	if g.cfg.Artifacts == nil {
		return httpapi.Errorf(http.StatusServiceUnavailable, "the hub has no artifact store: start it with --artifact-store")
	}
	var req wire.ArtifactsRequest
	st, err := g.reportOn(r, 1<<20, &req, true)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if st.SpokeID != sp.ID || st.Fence != req.Fence || !st.State.Open() {
		return reportError(store.ErrStale)
	}
	b, err := g.store.Build(ctx, st.BuildID)
	if err != nil {
		return err
	}
	out := wire.ArtifactURLs{Get: map[string]string{}, Put: map[string]string{}}
	if len(req.Get) > 0 {
		arts, err := g.store.BuildArtifacts(ctx, b.ID)
		if err != nil {
			return err
		}
		byName := map[string]store.Artifact{}
		for _, a := range arts {
			byName[a.Name] = a
		}
		for _, name := range req.Get {
			a, ok := byName[name]
			if !ok {
				return httpapi.Errorf(http.StatusNotFound, "build %d has no artifact %q", b.ID, name)
			}
			if out.Get[a.Digest], err = g.signArtifactURL(ctx, volumes.Key(a.TeamID, volumes.Digest(a.Digest)), http.MethodGet); err != nil {
				return err
			}
		}
	}
	for _, p := range req.Put {
		d, err := volumes.ParseDigest(p.Digest)
		if err != nil {
			return httpapi.Errorf(http.StatusBadRequest, "%v", err)
		}
		key := volumes.Key(b.TeamID, d)
		attrs, err := g.cfg.Artifacts.Attributes(ctx, key)
		if err == nil && attrs.Size == p.Size && time.Since(attrs.ModTime) < DedupFresh {
			continue // stored, and young enough that the GC leaves it alone
		}
		if err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return fmt.Errorf("look up artifact %s: %w", d, err)
		}
		if out.Put[p.Digest], err = g.signArtifactURL(ctx, key, http.MethodPut); err != nil {
			return err
		}
	}
	return httpapi.WriteJSON(w, http.StatusOK, out)
}

// checkStoredArtifacts makes sure the artifacts a step reports are in the
// store with the sizes it says.
func (g *Gateway) checkStoredArtifacts(ctx context.Context, teamID int64, arts []wire.Artifact) error {
	for _, a := range arts {
		d, err := volumes.ParseDigest(a.Digest)
		if err != nil {
			return fmt.Errorf("artifact %s: %w", a.Name, err)
		}
		if g.cfg.Artifacts == nil {
			return fmt.Errorf("artifact %s: the hub has no artifact store", a.Name)
		}
		attrs, err := g.cfg.Artifacts.Attributes(ctx, volumes.Key(teamID, d))
		if err != nil {
			return fmt.Errorf("artifact %s (%s) is not in the artifact store: %w", a.Name, d, err)
		}
		if attrs.Size != a.Size {
			return fmt.Errorf("artifact %s (%s) has %d bytes in the artifact store, not the %d reported", a.Name, d, attrs.Size, a.Size)
		}
	}
	return nil
}

// signArtifactURL returns a URL that lets its bearer read or write key for a
// while: the store's own signed URL (S3), or one the hub serves itself
// (file://), relative to the hub's URL.
func (g *Gateway) signArtifactURL(ctx context.Context, key, method string) (string, error) {
	u, err := g.cfg.Artifacts.SignedURL(ctx, key, method, artifactURLTTL)
	if !errors.Is(err, volumes.ErrNoSignedURLs) {
		return u, err
	}
	expires := strconv.FormatInt(time.Now().Add(artifactURLTTL).Unix(), 10)
	q := url.Values{"expires": {expires}, "sig": {g.blobSignature(method, key, expires)}}
	return wire.PathBlobs + key + "?" + q.Encode(), nil
}

func (g *Gateway) blobSignature(method, key, expires string) string {
	m := hmac.New(sha256.New, g.blobKey)
	fmt.Fprintf(m, "%s\n%s\n%s", method, key, expires)
	return hex.EncodeToString(m.Sum(nil))
}

// blob serves an object of the artifact store under a URL the hub signed:
// GET with a Range to resume, and PUT of an artifact, whose bytes must match
// the digest in its key or nothing is stored.
func (g *Gateway) blob(w http.ResponseWriter, r *http.Request, _ *store.Spoke) error {
	if g.cfg.Artifacts == nil {
		return httpapi.Errorf(http.StatusServiceUnavailable, "the hub has no artifact store")
	}
	key := r.PathValue("key")
	q := r.URL.Query()
	expires, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err != nil || time.Now().Unix() > expires {
		return httpapi.Errorf(http.StatusForbidden, "the artifact URL has expired: ask the hub for a new one")
	}
	if !hmac.Equal([]byte(q.Get("sig")), []byte(g.blobSignature(r.Method, key, q.Get("expires")))) {
		return httpapi.Errorf(http.StatusForbidden, "the artifact URL's signature does not match")
	}
	ctx := r.Context()
	if r.Method == http.MethodPut {
		return g.putBlob(ctx, w, r, key)
	}
	attrs, err := g.cfg.Artifacts.Attributes(ctx, key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return httpapi.Errorf(http.StatusNotFound, "no artifact at %s", key)
	}
	if err != nil {
		return err
	}
	var offset int64
	if rg := r.Header.Get("Range"); rg != "" {
		from, ok := strings.CutPrefix(rg, "bytes=")
		from, ok2 := strings.CutSuffix(from, "-")
		if offset, err = strconv.ParseInt(from, 10, 64); !ok || !ok2 || err != nil || offset < 0 || offset > attrs.Size {
			return httpapi.Errorf(http.StatusRequestedRangeNotSatisfiable, "only ranges bytes=N- within the object are served")
		}
	}
	rd, err := g.cfg.Artifacts.NewRangeReader(ctx, key, offset, -1, nil)
	if err != nil {
		return err
	}
	defer rd.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(attrs.Size-offset, 10))
	if offset > 0 {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", offset, attrs.Size-1, attrs.Size))
		w.WriteHeader(http.StatusPartialContent)
	}
	_, _ = io.Copy(w, rd) // a broken connection is the client's to resume
	return nil
}

func (g *Gateway) putBlob(ctx context.Context, w http.ResponseWriter, r *http.Request, key string) error {
	_, want, err := volumes.ParseKey(key)
	if err != nil {
		return httpapi.Errorf(http.StatusBadRequest, "%v", err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bw, err := g.cfg.Artifacts.NewWriter(wctx, key, nil)
	if err != nil {
		return err
	}
	h := volumes.NewDigester()
	if _, err := io.Copy(io.MultiWriter(bw, h), r.Body); err != nil {
		cancel() // a cancelled writer stores nothing
		_ = bw.Close()
		return httpapi.Errorf(http.StatusBadRequest, "upload of %s broke off: %v", key, err)
	}
	if got := h.Digest(); got != want {
		cancel()
		_ = bw.Close()
		return httpapi.Errorf(http.StatusBadRequest, "upload of %s has digest %s: the bytes do not match the key", key, got)
	}
	if err := bw.Close(); err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}
