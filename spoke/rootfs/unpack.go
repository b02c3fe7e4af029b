package rootfs

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/switchyard-ci/switchyard/volumes/extract"
)

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// Stats says what unpacking wrote and what it left out.
type Stats struct {
	Layers  int
	Entries int
	Bytes   int64
	Skipped int // devices and pipes, which a directory tree cannot hold safely
}

// Unpack writes img's filesystem into dir, which it creates. b bounds the
// bytes and entries of all layers together (zero fields take extract's
// defaults: the disk's free space, about a million entries).
func Unpack(ctx context.Context, img v1.Image, dir string, b extract.Bounds) (Stats, error) {
	var st Stats
	layers, err := img.Layers()
	if err != nil {
		return st, fmt.Errorf("read the image's layers: %w", err)
	}
	if b.MaxEntries <= 0 {
		b.MaxEntries = extract.DefaultMaxEntries
	}
	if b.MaxBytes <= 0 {
		b.MaxBytes = extract.FreeBytes(dir)
	}
	for i, l := range layers {
		if size, err := l.Size(); err == nil && size > b.MaxBytes {
			return st, fmt.Errorf("%w: layer %d is %d bytes compressed, over %d", extract.ErrTooLarge, i+1, size, b.MaxBytes)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return st, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return st, err
	}
	defer root.Close()
	u := &unpacker{root: root, b: b, st: &st, dirs: map[string]dirAttrs{}, chown: os.Geteuid() == 0}
	for i, l := range layers {
		if err := u.layer(ctx, l); err != nil {
			return st, fmt.Errorf("layer %d of %d: %w", i+1, len(layers), err)
		}
		st.Layers++
	}
	return st, u.finishDirs()
}

type dirAttrs struct {
	mode  fs.FileMode
	mtime time.Time
}

type unpacker struct {
	root  *os.Root
	b     extract.Bounds
	st    *Stats
	dirs  map[string]dirAttrs // modes and times set last, when nothing more is written
	chown bool                // only root can give files their owners
	buf   []byte
}

func (u *unpacker) layer(ctx context.Context, l v1.Layer) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	mine := map[string]bool{} // what this layer wrote: an opaque marker keeps it
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if u.st.Entries++; u.st.Entries > u.b.MaxEntries {
			return fmt.Errorf("%w: more than %d entries", extract.ErrTooLarge, u.b.MaxEntries)
		}
		name, err := entryName(hdr.Name)
		if err != nil || name == "." {
			if err != nil {
				return err
			}
			continue
		}
		base, parent := path.Base(name), path.Dir(name)
		switch {
		case base == opaqueMarker:
			if err := u.opaque(parent, mine); err != nil {
				return err
			}
			continue
		case strings.HasPrefix(base, whiteoutPrefix):
			gone := base[len(whiteoutPrefix):]
			if gone == "" || gone == "." || gone == ".." {
				return &extract.UnsafeEntryError{Entry: hdr.Name, Reason: "a whiteout must name an entry of its own directory"}
			}
			if err := u.root.RemoveAll(path.Join(parent, gone)); err != nil {
				return fmt.Errorf("whiteout %s: %w", hdr.Name, err)
			}
			continue
		}
		mine[name] = true
		if err := u.entry(ctx, tr, hdr, name); err != nil {
			return err
		}
	}
}

// entryName cleans a layer entry's name, refusing one that leaves the root.
func entryName(raw string) (string, error) {
	name := path.Clean(strings.TrimPrefix(raw, "./"))
	if path.IsAbs(raw) || name == ".." || strings.HasPrefix(name, "../") {
		return "", &extract.UnsafeEntryError{Entry: raw, Reason: "it points outside the image's root"}
	}
	return name, nil
}

// opaque empties dir of what lower layers put there.
func (u *unpacker) opaque(dir string, mine map[string]bool) error {
	f, err := u.root.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opaque directory %s: %w", dir, err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("opaque directory %s: %w", dir, err)
	}
	for _, n := range names {
		if p := path.Join(dir, n); !mine[p] {
			if err := u.root.RemoveAll(p); err != nil {
				return fmt.Errorf("opaque directory %s: %w", dir, err)
			}
		}
	}
	return nil
}

func (u *unpacker) entry(ctx context.Context, tr *tar.Reader, hdr *tar.Header, name string) error {
	if err := u.root.MkdirAll(path.Dir(name), 0o755); err != nil {
		return fmt.Errorf("%s: %w", hdr.Name, err)
	}
	info := hdr.FileInfo()
	mode := info.Mode().Perm() | info.Mode()&fs.ModeSticky // setuid and setgid dropped
	switch hdr.Typeflag {
	case tar.TypeDir:
		if fi, err := u.root.Lstat(name); err == nil && !fi.IsDir() {
			_ = u.root.Remove(name)
		}
		if err := u.root.MkdirAll(name, 0o755); err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
		u.dirs[name] = dirAttrs{mode, hdr.ModTime}
	case tar.TypeReg:
		if hdr.Size < 0 || hdr.Size > u.b.MaxBytes-u.st.Bytes {
			return fmt.Errorf("%w: entry %q of %d bytes after %d written, over %d", extract.ErrTooLarge, hdr.Name, hdr.Size, u.st.Bytes, u.b.MaxBytes)
		}
		u.st.Bytes += hdr.Size
		if err := u.replace(name); err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
		if err := u.writeFile(ctx, name, tr, mode); err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
	case tar.TypeSymlink:
		if err := u.replace(name); err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
		// Any target is kept: the root never follows one out of itself.
		if err := u.root.Symlink(hdr.Linkname, name); err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
	case tar.TypeLink:
		target, err := entryName(strings.TrimPrefix(hdr.Linkname, "/"))
		if err != nil {
			return &extract.UnsafeEntryError{Entry: hdr.Name, Reason: fmt.Sprintf("it links outside the image's root (to %s)", hdr.Linkname)}
		}
		if err := u.replace(name); err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
		if err := u.root.Link(target, name); err != nil {
			return fmt.Errorf("%s: hard link to %s: %w", hdr.Name, hdr.Linkname, err)
		}
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		u.st.Skipped++
		return nil
	case tar.TypeXGlobalHeader:
		return nil
	default:
		return &extract.UnsafeEntryError{Entry: hdr.Name, Reason: fmt.Sprintf("entries of type %q are not supported", hdr.Typeflag)}
	}
	if u.chown {
		_ = u.root.Lchown(name, hdr.Uid, hdr.Gid)
	}
	return nil
}

// replace removes what a lower layer left at name, so that nothing is
// written through it.
func (u *unpacker) replace(name string) error {
	fi, err := u.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		delete(u.dirs, name)
		return u.root.RemoveAll(name)
	}
	return u.root.Remove(name)
}

func (u *unpacker) writeFile(ctx context.Context, name string, r io.Reader, mode fs.FileMode) error {
	f, err := u.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if u.buf == nil {
		u.buf = make([]byte, 256<<10)
	}
	for {
		if err := ctx.Err(); err != nil {
			f.Close()
			return err
		}
		n, rerr := r.Read(u.buf)
		if n > 0 {
			if _, err := f.Write(u.buf[:n]); err != nil {
				f.Close()
				return err
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			f.Close()
			return rerr
		}
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// finishDirs gives directories their modes and times, deepest first, so
// that a read-only directory was writable while it filled.
func (u *unpacker) finishDirs() error {
	names := make([]string, 0, len(u.dirs))
	for n := range u.dirs {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	for _, n := range names {
		d := u.dirs[n]
		if fi, err := u.root.Lstat(n); err != nil || !fi.IsDir() {
			continue // a later layer removed or replaced it
		}
		if err := u.root.Chmod(n, d.mode); err != nil {
			return err
		}
		_ = u.root.Chtimes(n, d.mtime, d.mtime)
	}
	return nil
}
