package volumes

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// brokenSource serves data but breaks each connection after chunk bytes.
func brokenSource(data []byte, chunk int, opened *[]int64) Source {
	return func(_ context.Context, offset int64) (io.ReadCloser, error) {
		*opened = append(*opened, offset)
		rest := data[offset:]
		if len(rest) > chunk {
			return io.NopCloser(io.MultiReader(bytes.NewReader(rest[:chunk]), errReader{})), nil
		}
		return io.NopCloser(bytes.NewReader(rest)), nil
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset by peer") }

func packed(t *testing.T, files map[string]string) ([]byte, Digest) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	d, _, err := Pack(context.Background(), dir, &buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), d
}

func TestCacheFetchResumesAndVerifies(t *testing.T) {
	ctx := t.Context()
	data, d := packed(t, map[string]string{"a": string(bytes.Repeat([]byte("abcdefgh"), 4096))})
	c, err := OpenCache(t.TempDir(), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	var opened []int64
	h, err := c.Fetch(ctx, "repo", d, int64(len(data)), brokenSource(data, len(data)/3+1, &opened))
	if err != nil {
		t.Fatal(err)
	}
	if len(opened) != 3 || opened[0] != 0 || opened[1] == 0 {
		t.Errorf("opened the source at %v, want three opens that resume", opened)
	}
	got, _ := os.ReadFile(h.Path)
	if !bytes.Equal(got, data) {
		t.Fatal("the cached artifact differs from the source")
	}
	h.Release()

	// Held already: no download.
	opened = nil
	h, err = c.Fetch(ctx, "repo", d, int64(len(data)), brokenSource(data, len(data), &opened))
	if err != nil || len(opened) != 0 {
		t.Fatalf("second fetch: %v, opened %v", err, opened)
	}
	h.Release()

	// Tampered bytes: a digest error naming the artifact, and nothing cached.
	tampered := append([]byte{}, data...)
	tampered[len(tampered)/2] ^= 1
	other := Digest("sha256:" + d.Hex()[1:] + "0")
	_, err = c.Fetch(ctx, "repo", other, int64(len(tampered)), brokenSource(tampered, len(tampered), &opened))
	var de *DigestError
	if !errors.As(err, &de) || de.Artifact != "repo" || de.Want != other {
		t.Fatalf("fetch of tampered bytes: %v", err)
	}
	if _, ok := c.Get(other); ok {
		t.Fatal("a corrupt artifact was cached")
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	var sizes int64
	var digests []Digest
	var blobs [][]byte
	for _, content := range []string{"one", "two", "three"} {
		data, d := packed(t, map[string]string{"f": content})
		digests, blobs = append(digests, d), append(blobs, data)
		sizes += int64(len(data))
	}
	c, err := OpenCache(dir, sizes-1) // room for two
	if err != nil {
		t.Fatal(err)
	}
	var opened []int64
	fetch := func(i int) *Handle {
		h, err := c.Fetch(ctx, "a", digests[i], int64(len(blobs[i])), brokenSource(blobs[i], 1<<20, &opened))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	fetch(0).Release()
	held := fetch(1) // held: may not be evicted
	fetch(2).Release()
	if _, ok := c.Get(digests[0]); ok {
		t.Error("the least recently used artifact was kept")
	}
	if h, ok := c.Get(digests[1]); !ok {
		t.Error("a held artifact was evicted")
	} else {
		h.Release()
	}
	held.Release()
	if ev := c.TakeEvicted(); len(ev) != 1 || ev[0] != digests[0] {
		t.Errorf("evicted %v, want [%s]", ev, digests[0])
	}
	// A new process finds what the cache holds.
	c2, err := OpenCache(dir, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(c2.Digests()); got != 2 {
		t.Errorf("reopened cache holds %d artifacts, want 2", got)
	}
}
