package server

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/klauspost/compress/zstd"
	"gocloud.dev/gcerrors"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/volumes"
	"github.com/switchyard-ci/switchyard/volumes/extract"
)

// What fly execute needs: one-off builds of a plan, artifacts uploaded as
// their inputs, and their artifacts downloaded.

// maxPlan bounds a one-off build's plan.
const maxPlan = 4 << 20

// createOneOffBuild runs a plan as a build of the team (POST
// /teams/T/builds), or bound to a pipeline (POST …/pipelines/P/builds, fly
// execute -j).
func (s *Server) createOneOffBuild(w http.ResponseWriter, r *http.Request, c *caller) error {
	t, err := s.teamFromPath(r)
	if err != nil {
		return err
	}
	var pipelineID int64
	if r.PathValue("pipeline") != "" {
		p, err := s.pipelineFromPath(r)
		if err != nil {
			return err
		}
		pipelineID = p.ID
	}
	var plan pipeline.Plan
	if err := readJSON(r, maxPlan, &plan); err != nil {
		return err
	}
	if plan.ID == "" {
		return errorf(http.StatusBadRequest, "the plan has no id")
	}
	if err := plan.CheckPaths(); err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	raw, _ := json.Marshal(plan)
	b, err := s.store.CreateOneOffBuild(r.Context(), t.ID, pipelineID, c.claims.User, raw, traceparent(r))
	if err != nil {
		return err
	}
	s.waker.Wake(b.ID)
	return writeJSON(w, http.StatusCreated, toBuild(b))
}

// Magic numbers of the compressions an uploaded tar may come in.
var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// uploadArtifact stores a tar that fly execute uploads as a task input: the
// gzip stock fly sends is recompressed with zstd as it streams in; a zstd
// stream (our fly) is stored as it is. It is written under a key of its own,
// then copied under its digest once that is known. The tar is not checked
// here: the spoke that extracts it refuses entries that leave its root.
func (s *Server) uploadArtifact(w http.ResponseWriter, r *http.Request, c *caller) error {
	if s.cfg.Artifacts == nil {
		return errorf(http.StatusServiceUnavailable, "the hub has no artifact store: start it with --artifact-store")
	}
	ctx := r.Context()
	t, err := s.teamFromPath(r)
	if err != nil {
		return err
	}
	body := bufio.NewReaderSize(http.MaxBytesReader(w, r.Body, s.cfg.MaxUpload), 64<<10)
	head, _ := body.Peek(4)
	var src io.Reader = body
	recompress := false
	bounds := extract.Bounds{MaxBytes: s.cfg.MaxUpload}
	check := func(r io.Reader) error { return extract.CheckPacked(r, bounds) }
	switch {
	case len(head) >= 2 && head[0] == gzipMagic[0] && head[1] == gzipMagic[1]:
		gz, err := gzip.NewReader(body)
		if err != nil {
			return errorf(http.StatusBadRequest, "the upload is not a gzip tar: %v", err)
		}
		src, recompress = gz, true
		check = func(r io.Reader) error { return extract.CheckTar(r, bounds) }
	case len(head) == 4 && string(head) == string(zstdMagic):
	default:
		return errorf(http.StatusBadRequest, "the upload is neither a gzip nor a zstd tar stream")
	}
	staging := volumes.UploadsPrefix + randomHex()
	cr := checked(src, check)
	defer cr.Close()
	d, size, err := s.writeStaging(ctx, staging, cr, recompress)
	if err != nil {
		return err
	}
	defer s.cfg.Artifacts.Delete(context.WithoutCancel(ctx), staging) //nolint:errcheck // the GC deletes what is left
	key := volumes.Key(t.ID, d)
	if ok, _ := s.cfg.Artifacts.Exists(ctx, key); !ok {
		if err := s.cfg.Artifacts.Copy(ctx, key, staging, nil); err != nil {
			return fmt.Errorf("store upload: %w", err)
		}
	}
	a, err := s.store.AddArtifact(ctx, store.Artifact{TeamID: t.ID, Digest: string(d), Size: size})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, toWorkerArtifact(a))
}

// checked passes src on while check reads the same bytes beside it; a read
// fails with check's error as soon as check refuses the stream, and the last
// read waits for check's verdict, so a stream that reads to its end passed.
func checked(src io.Reader, check func(io.Reader) error) *checkedReader {
	pr, pw := io.Pipe()
	verdict := make(chan error, 1)
	go func() {
		err := check(pr)
		if err == nil {
			_, _ = io.Copy(io.Discard, pr)
		}
		verdict <- err // before the pipe closes, so a write that fails finds why
		pr.CloseWithError(err)
	}()
	return &checkedReader{src: io.TeeReader(src, pw), pw: pw, verdict: verdict}
}

// Close ends the check if the stream was not read to its end.
func (c *checkedReader) Close() { c.pw.CloseWithError(errors.New("upload abandoned")) }

type checkedReader struct {
	src     io.Reader
	pw      *io.PipeWriter
	verdict chan error
	err     error
}

func (c *checkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.src.Read(p)
	if err == io.EOF {
		c.pw.Close()
		if verr := <-c.verdict; verr != nil {
			c.err = fmt.Errorf("the upload is not an artifact Switchyard can extract: %w", verr)
			return n, c.err
		}
		c.err = io.EOF
		return n, io.EOF
	}
	if err != nil {
		c.pw.CloseWithError(err)
		select {
		case verr := <-c.verdict: // the check refused the stream, which failed the copy to it
			if verr != nil {
				err = fmt.Errorf("the upload is not an artifact Switchyard can extract: %w", verr)
			}
		default:
		}
		c.err = err
		return n, err
	}
	return n, nil
}

// writeStaging writes src, zstd-compressed first if asked, to key and
// returns the digest and size of what it wrote.
func (s *Server) writeStaging(ctx context.Context, key string, src io.Reader, compress bool) (volumes.Digest, int64, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bw, err := s.cfg.Artifacts.NewWriter(wctx, key, nil)
	if err != nil {
		return "", 0, err
	}
	h := volumes.NewDigester()
	counted := io.MultiWriter(bw, h)
	if compress {
		zw, err := zstd.NewWriter(counted, zstd.WithEncoderLevel(zstd.SpeedFastest))
		if err == nil {
			_, err = io.Copy(zw, src)
			if cerr := zw.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			cancel()
			_ = bw.Close()
			return "", 0, errorf(http.StatusBadRequest, "read the upload: %v", err)
		}
	} else if _, err := io.Copy(counted, src); err != nil {
		cancel()
		_ = bw.Close()
		return "", 0, errorf(http.StatusBadRequest, "read the upload: %v", err)
	}
	if err := bw.Close(); err != nil {
		return "", 0, err
	}
	return h.Digest(), h.Size(), nil
}

func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// downloadArtifact sends an artifact of the team as the gzip tar stock fly
// extracts, or as the stored zstd stream when the client accepts it (our
// fly sends Accept: application/zstd).
func (s *Server) downloadArtifact(w http.ResponseWriter, r *http.Request, c *caller) error {
	if s.cfg.Artifacts == nil {
		return errorf(http.StatusServiceUnavailable, "the hub has no artifact store")
	}
	ctx := r.Context()
	t, err := s.teamFromPath(r)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return errorf(http.StatusBadRequest, "artifact id must be a number")
	}
	a, err := s.store.ArtifactByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && a.TeamID != t.ID) {
		return notFound("artifact " + r.PathValue("id"))
	}
	if err != nil {
		return err
	}
	rd, err := s.cfg.Artifacts.NewReader(ctx, volumes.Key(a.TeamID, volumes.Digest(a.Digest)), nil)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return errorf(http.StatusGone, "artifact %d is no longer in the artifact store", id)
	}
	if err != nil {
		return err
	}
	defer rd.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	if r.Header.Get("Accept") == "application/zstd" {
		w.Header().Set("Content-Length", strconv.FormatInt(a.Size, 10))
		w.Header().Set("X-Switchyard-Digest", a.Digest)
		_, _ = io.Copy(w, rd)
		return nil
	}
	zr, err := zstd.NewReader(rd, zstd.WithDecoderMaxWindow(64<<20))
	if err != nil {
		return err
	}
	defer zr.Close()
	gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	_, _ = io.Copy(gz, zr) // a broken stream shows in fly's tar
	return gz.Close()
}

// buildArtifacts lists a build's artifacts (GET /builds/B/artifacts).
func (s *Server) buildArtifacts(w http.ResponseWriter, r *http.Request, c *caller) error {
	b, err := s.buildFromPath(r)
	if err != nil {
		return err
	}
	arts, err := s.store.BuildArtifacts(r.Context(), b.ID)
	if err != nil {
		return err
	}
	out := make([]api.WorkerArtifact, 0, len(arts))
	for _, a := range arts {
		out = append(out, toWorkerArtifact(a))
	}
	return writeJSON(w, http.StatusOK, out)
}

func toWorkerArtifact(a store.Artifact) api.WorkerArtifact {
	return api.WorkerArtifact{ID: a.ID, Name: a.Name, BuildID: a.BuildID, CreatedAt: a.CreatedAt.Unix()}
}
