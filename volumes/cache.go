package volumes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Cache keeps artifacts on a spoke's disk by digest, up to a number of bytes:
// past it, the least recently used artifacts that no step holds are evicted.
// Steps on the same spoke reuse what it holds without a round trip to object
// storage.
type Cache struct {
	dir string
	max int64

	mu      sync.Mutex
	entries map[Digest]*cacheEntry
	total   int64
	evicted []Digest // since the last TakeEvicted
}

type cacheEntry struct {
	size int64
	used time.Time
	refs int
}

const cacheSuffix = ".tar.zst"

// OpenCache opens (creating it) a cache in dir holding at most maxBytes; what
// an earlier process left there is kept, and half-written files are removed.
func OpenCache(dir string, maxBytes int64) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	c := &Cache{dir: dir, max: maxBytes, entries: map[Digest]*cacheEntry{}}
	list, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range list {
		p := filepath.Join(dir, e.Name())
		d, err := ParseDigest("sha256:" + strings.TrimSuffix(e.Name(), cacheSuffix))
		info, ierr := e.Info()
		if err != nil || ierr != nil || !strings.HasSuffix(e.Name(), cacheSuffix) || !info.Mode().IsRegular() {
			_ = os.RemoveAll(p)
			continue
		}
		c.entries[d] = &cacheEntry{size: info.Size(), used: info.ModTime()}
		c.total += info.Size()
	}
	c.mu.Lock()
	c.evict()
	c.mu.Unlock()
	return c, nil
}

// Handle is an artifact in the cache, held (not evicted) until Release.
type Handle struct {
	Digest Digest
	Size   int64
	Path   string
	c      *Cache
	once   sync.Once
}

// Release lets the cache evict the artifact again.
func (h *Handle) Release() {
	h.once.Do(func() {
		h.c.mu.Lock()
		defer h.c.mu.Unlock()
		if e := h.c.entries[h.Digest]; e != nil {
			e.refs--
		}
		h.c.evict()
	})
}

func (c *Cache) path(d Digest) string { return filepath.Join(c.dir, d.Hex()+cacheSuffix) }

// Get holds the artifact d if the cache has it.
func (c *Cache) Get(d Digest) (*Handle, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[d]
	if e == nil {
		return nil, false
	}
	e.refs++
	e.used = time.Now()
	_ = os.Chtimes(c.path(d), e.used, e.used)
	return &Handle{Digest: d, Size: e.size, Path: c.path(d), c: c}, true
}

// Digests lists what the cache holds.
func (c *Cache) Digests() []Digest {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Digest, 0, len(c.entries))
	for d := range c.entries {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// TakeEvicted returns the digests evicted since it was last called.
func (c *Cache) TakeEvicted() []Digest {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.evicted
	c.evicted = nil
	return out
}

// Pack packs dir into the cache and holds the artifact.
func (c *Cache) Pack(ctx context.Context, dir string) (*Handle, error) {
	return c.write(func(f *os.File) (Digest, int64, error) { return Pack(ctx, dir, f) })
}

// Source opens an artifact's stream at an offset, so a broken download can
// resume where it stopped.
type Source func(ctx context.Context, offset int64) (io.ReadCloser, error)

// fetchAttempts is how many times Fetch opens a source before it gives up.
const fetchAttempts = 5

// Fetch makes the cache hold the artifact d of size bytes, downloading it
// from src unless it is there already, and verifies its digest before anyone
// may use it. A broken download resumes at the byte it reached. name is what
// errors call the artifact.
func (c *Cache) Fetch(ctx context.Context, name string, d Digest, size int64, src Source) (*Handle, error) {
	if h, ok := c.Get(d); ok {
		return h, nil
	}
	h, err := c.write(func(f *os.File) (Digest, int64, error) {
		hc := NewDigester()
		// Count what arrives at once (a resume starts there); hash and write
		// it beside the download.
		var got int64
		aw := newAsyncWriter(io.MultiWriter(f, hc), 16)
		w := writerFunc(func(p []byte) (int, error) { got += int64(len(p)); return aw.Write(p) })
		var lastErr error
		for attempt := 0; attempt < fetchAttempts && got < size; attempt++ {
			if attempt > 0 && !sleep(ctx, time.Duration(attempt)*200*time.Millisecond) {
				break
			}
			rc, err := src(ctx, got)
			if err != nil {
				lastErr = err
				continue
			}
			_, err = io.Copy(w, io.LimitReader(rc, size-got))
			rc.Close()
			if err == nil && got < size { // the object ended early: it is not what was stored
				aw.Close()
				return "", 0, fmt.Errorf("artifact %s is corrupt: expected %d bytes with digest %s, the store has %d", name, size, d, got)
			}
			lastErr = err
		}
		if err := aw.Close(); err != nil {
			return "", 0, err
		}
		if err := ctx.Err(); err != nil {
			return "", 0, err
		}
		if got < size {
			return "", 0, fmt.Errorf("download artifact %s: got %d of %d bytes after %d attempts: %w", name, got, size, fetchAttempts, lastErr)
		}
		if got := hc.Digest(); got != d {
			return "", 0, &DigestError{Artifact: name, Want: d, Got: got}
		}
		return d, hc.Size(), nil
	})
	return h, err
}

// write fills a new file in the cache with fill, which returns the digest and
// size of what it wrote, and adds it under that digest.
func (c *Cache) write(fill func(*os.File) (Digest, int64, error)) (*Handle, error) {
	f, err := os.CreateTemp(c.dir, "incoming-*")
	if err != nil {
		return nil, err
	}
	d, n, err := fill(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[d]; e != nil { // the same bytes arrived another way meanwhile
		os.Remove(f.Name())
		e.refs++
		e.used = time.Now()
		return &Handle{Digest: d, Size: e.size, Path: c.path(d), c: c}, nil
	}
	if err := os.Rename(f.Name(), c.path(d)); err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	c.entries[d] = &cacheEntry{size: n, used: time.Now(), refs: 1}
	c.total += n
	c.evict()
	return &Handle{Digest: d, Size: n, Path: c.path(d), c: c}, nil
}

// evict removes the least recently used artifacts no one holds until the
// cache fits its bound. c.mu is held.
func (c *Cache) evict() {
	if c.total <= c.max {
		return
	}
	var free []Digest
	for d, e := range c.entries {
		if e.refs == 0 {
			free = append(free, d)
		}
	}
	sort.Slice(free, func(i, j int) bool { return c.entries[free[i]].used.Before(c.entries[free[j]].used) })
	for _, d := range free {
		if c.total <= c.max {
			return
		}
		if err := os.Remove(c.path(d)); err != nil && !errors.Is(err, os.ErrNotExist) {
			continue
		}
		c.total -= c.entries[d].size
		delete(c.entries, d)
		c.evicted = append(c.evicted, d)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
