package volumes

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// An upload whose connection breaks is sent again from the start, and the
// store ends with the whole artifact. (The store here is a bare HTTP server
// that drops the first connection half-way: only the transfer is tested;
// the MinIO test in bucket_test.go covers the real store.)
func TestUploadRetriesABrokenConnection(t *testing.T) {
	var mu sync.Mutex
	var attempts int
	var stored []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		attempts++
		first := attempts == 1
		mu.Unlock()
		if first {
			_, _ = io.CopyN(io.Discard, r.Body, 1000)
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil || int64(len(body)) != r.ContentLength {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		stored = body
		mu.Unlock()
	}))
	defer srv.Close()

	src := t.TempDir()
	data := make([]byte, 200_000)
	_, _ = rand.Read(data)
	if err := os.WriteFile(filepath.Join(src, "f"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := OpenCache(t.TempDir(), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.Pack(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	if h.Size < 100_000 {
		t.Fatalf("the artifact is %d bytes: too small to break half-way", h.Size)
	}
	if err := Upload(context.Background(), srv.Client(), srv.URL+"/x?sig=secret", h); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(h.Path)
	if attempts != 2 || !bytes.Equal(stored, want) {
		t.Errorf("%d attempts, stored %d of %d bytes", attempts, len(stored), len(want))
	}
}
