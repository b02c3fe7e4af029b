package volumes_test

import (
	"archive/tar"
	"crypto/rand"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/switchyard-ci/switchyard/volumes"
	"github.com/switchyard-ci/switchyard/volumes/extract"
	"github.com/switchyard-ci/switchyard/volumes/s3test"
)

// BenchmarkArtifactThroughput moves 1 GB of incompressible data, and 1 GB of
// source code (copies of Go's standard library), through MinIO on loopback
// the way spokes do (pack into the cache with its digest, PUT to a signed
// URL; GET from a signed URL into the cache, verify, extract), side by side
// with a plain minio-go PutObject and GetObject of the same bytes as an
// uncompressed tar, in the same run. It reports MB/s of the tree's bytes for
// both and their ratio; MB/s-fetch is the download without the extraction
// (the plain GET extracts nothing).
func BenchmarkArtifactThroughput(b *testing.B) {
	for _, kind := range strings.Fields(envOr("SWITCHYARD_BENCH_KINDS", "incompressible source")) {
		b.Run(kind, func(b *testing.B) {
			dir := filepath.Join(b.TempDir(), "tree")
			size := makeTree(b, kind, dir, 1<<30)
			b.ResetTimer()
			for range b.N {
				benchOnce(b, dir, size)
			}
		})
	}
}

func benchOnce(b *testing.B, dir string, size int64) {
	ctx := b.Context()
	b.StopTimer()
	s3 := s3test.New(b)
	for _, kv := range s3.Env {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	bucket, err := volumes.OpenBucket(ctx, s3.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer bucket.Close()
	work := b.TempDir()
	plainTar := filepath.Join(work, "plain.tar")
	if err := writeTar(dir, plainTar); err != nil {
		b.Fatal(err)
	}
	syscall.Sync() // what set-up wrote is on disk, not in the way of what is timed
	runtime.GC()
	b.StartTimer()

	// Ours, up: pack (tar, zstd, SHA-256) into the cache, then PUT.
	t0 := time.Now()
	up, err := volumes.OpenCache(filepath.Join(work, "up"), 1<<40)
	if err != nil {
		b.Fatal(err)
	}
	h, err := up.Pack(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	packed := time.Since(t0)
	key := volumes.Key(1, h.Digest)
	put, err := bucket.SignedURL(ctx, key, http.MethodPut, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	if err := volumes.Upload(ctx, http.DefaultClient, put, h); err != nil {
		b.Fatal(err)
	}
	oursUp := time.Since(t0)
	h.Release()

	// Plain, up: PutObject of the uncompressed tar.
	t0 = time.Now()
	f, err := os.Open(plainTar)
	if err != nil {
		b.Fatal(err)
	}
	st, _ := f.Stat()
	if _, err := s3.Client.PutObject(ctx, s3.Name, "plain.tar", f, st.Size(), minio.PutObjectOptions{}); err != nil {
		b.Fatal(err)
	}
	f.Close()
	plainUp := time.Since(t0)

	// Ours, down: GET into a fresh cache, verify, extract.
	t0 = time.Now()
	down, err := volumes.OpenCache(filepath.Join(work, "down"), 1<<40)
	if err != nil {
		b.Fatal(err)
	}
	get, err := bucket.SignedURL(ctx, key, http.MethodGet, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	got, err := down.Fetch(ctx, "tree", h.Digest, h.Size, volumes.HTTPSource(http.DefaultClient, get))
	if err != nil {
		b.Fatal(err)
	}
	fetched := time.Since(t0)
	rd, err := os.Open(got.Path)
	if err != nil {
		b.Fatal(err)
	}
	if err := extract.Unpack(ctx, rd, filepath.Join(work, "extracted"), extract.Bounds{}); err != nil {
		b.Fatal(err)
	}
	rd.Close()
	got.Release()
	oursDown := time.Since(t0)

	// Plain, down: GetObject of the tar into a file.
	t0 = time.Now()
	obj, err := s3.Client.GetObject(ctx, s3.Name, "plain.tar", minio.GetObjectOptions{})
	if err != nil {
		b.Fatal(err)
	}
	out, err := os.Create(filepath.Join(work, "plain-down.tar"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, obj); err != nil {
		b.Fatal(err)
	}
	out.Close()
	obj.Close()
	plainDown := time.Since(t0)

	mbps := func(d time.Duration) float64 { return float64(size) / 1e6 / d.Seconds() }
	b.ReportMetric(mbps(packed), "MB/s-pack")
	b.ReportMetric(mbps(oursUp), "MB/s-up")
	b.ReportMetric(mbps(plainUp), "MB/s-up-plain")
	b.ReportMetric(plainUp.Seconds()/oursUp.Seconds(), "x-up-vs-plain")
	b.ReportMetric(mbps(fetched), "MB/s-fetch")
	b.ReportMetric(mbps(oursDown), "MB/s-down")
	b.ReportMetric(mbps(plainDown), "MB/s-down-plain")
	b.ReportMetric(plainDown.Seconds()/oursDown.Seconds(), "x-down-vs-plain")
	b.ReportMetric(float64(size)/float64(h.Size), "compression")
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// makeTree fills dir with about want bytes: random files, or copies of Go's
// standard library sources. It returns the bytes written.
func makeTree(b *testing.B, kind, dir string, want int64) int64 {
	var total int64
	if kind == "incompressible" {
		buf := make([]byte, 64<<20)
		for i := 0; total < want; i++ {
			rand.Read(buf)
			p := filepath.Join(dir, fmt.Sprintf("part-%02d/blob", i/4), fmt.Sprintf("%d.bin", i))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(p, buf, 0o644); err != nil {
				b.Fatal(err)
			}
			total += int64(len(buf))
		}
		return total
	}
	src := filepath.Join(runtime.GOROOT(), "src")
	for copyN := 0; total < want; copyN++ {
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || total >= want || !d.Type().IsRegular() {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			dst := filepath.Join(dir, fmt.Sprintf("copy-%d", copyN), rel)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			total += int64(len(data))
			return os.WriteFile(dst, data, 0o644)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return total
}

// writeTar writes dir as an uncompressed tar: what a plain upload sends.
func writeTar(dir, file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		return err
	}
	return tw.Close()
}
