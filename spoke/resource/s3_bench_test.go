package resource

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/switchyard-ci/switchyard/volumes/s3test"
)

// BenchmarkS3InOut puts and gets a 1 GB file through the s3 resource on the
// tests' MinIO, beside minio-go's plain FPutObject and FGetObject of the same
// file in the same run: the figure to compare is MB/s. BENCH_S3_MB sets
// another size.
func BenchmarkS3InOut(b *testing.B) {
	size := int64(1 << 30)
	if mb, err := strconv.Atoi(os.Getenv("BENCH_S3_MB")); err == nil && mb > 0 {
		size = int64(mb) << 20
	}
	bucket := s3test.New(b)
	dir := b.TempDir()
	file := filepath.Join(dir, "built", "blob-1.bin")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	src := s3SourceOf(b, bucket, map[string]any{"regexp": `blobs/blob-(.*)\.bin`})
	ctx := b.Context()
	const key = "blobs/blob-1.bin"

	b.Run("out", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if _, err := (S3{}).Out(ctx, src, json.RawMessage(`{"file":"built/blob-*.bin"}`), dir, io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("minio-put", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if _, err := bucket.Client.FPutObject(ctx, bucket.Name, key, file, minio.PutObjectOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("in", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			dest := b.TempDir()
			if _, err := (S3{}).In(ctx, src, nil, map[string]string{"path": key}, dest, io.Discard); err != nil {
				b.Fatal(err)
			}
			os.RemoveAll(dest)
		}
	})
	b.Run("minio-get", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			dest := b.TempDir()
			if err := bucket.Client.FGetObject(ctx, bucket.Name, key, filepath.Join(dest, "blob-1.bin"), minio.GetObjectOptions{}); err != nil {
				b.Fatal(err)
			}
			os.RemoveAll(dest)
		}
	})
}
