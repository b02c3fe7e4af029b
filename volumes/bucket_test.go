package volumes_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/switchyard-ci/switchyard/volumes"
	"github.com/switchyard-ci/switchyard/volumes/s3test"
)

// An artifact goes up through a signed PUT and comes back through a signed
// GET from MinIO, and a URL signed for one key does not open another.
func TestBucketSignedURLsOnMinIO(t *testing.T) {
	ctx := t.Context()
	s3 := s3test.New(t)
	s3.SetEnv(t)
	b, err := volumes.OpenBucket(ctx, s3.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), bytes.Repeat([]byte("artifact "), 100000), 0o644); err != nil {
		t.Fatal(err)
	}
	up, err := volumes.OpenCache(t.TempDir(), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	h, err := up.Pack(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	key := volumes.Key(1, h.Digest)
	put, err := b.SignedURL(ctx, key, http.MethodPut, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := volumes.Upload(ctx, http.DefaultClient, put, h); err != nil {
		t.Fatal(err)
	}
	info, err := s3.Client.StatObject(ctx, s3.Name, key, minio.StatObjectOptions{})
	if err != nil || info.Size != h.Size {
		t.Fatalf("stat %s: %v, size %d of %d", key, err, info.Size, h.Size)
	}

	get, err := b.SignedURL(ctx, key, http.MethodGet, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	down, err := volumes.OpenCache(t.TempDir(), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	// The first connection breaks off after 1000 bytes; the download resumes
	// with a Range request on the same signed URL.
	src1 := volumes.HTTPSource(http.DefaultClient, get)
	first := true
	flaky := func(ctx context.Context, offset int64) (rc readCloser, err error) {
		rc, err = src1(ctx, offset)
		if err == nil && first {
			first = false
			return &cutAfter{rc: rc, n: 1000}, nil
		}
		return rc, err
	}
	got, err := down.Fetch(ctx, "f", h.Digest, h.Size, wrap(flaky))
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	a, _ := os.ReadFile(h.Path)
	bb, _ := os.ReadFile(got.Path)
	if !bytes.Equal(a, bb) {
		t.Fatal("the artifact came back different")
	}

	// The GET URL names one key: changing the key breaks the signature.
	other := strings.Replace(get, h.Digest.Hex(), strings.Repeat("0", 64), 1)
	resp, err := http.Get(other)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a URL signed for another key answered %s", resp.Status)
	}
	var de *volumes.DigestError
	if _, err := down.Fetch(ctx, "f", volumes.Digest("sha256:"+strings.Repeat("1", 64)), h.Size, volumes.HTTPSource(http.DefaultClient, get)); !errors.As(err, &de) {
		t.Errorf("fetching under the wrong digest: %v", err)
	}
}
