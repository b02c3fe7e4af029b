package extract

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/zstd"
)

// UnsafeEntryError says an archive holds an entry that would leave its root
// or that artifacts may not hold.
type UnsafeEntryError struct {
	Entry  string
	Reason string
}

func (e *UnsafeEntryError) Error() string {
	return fmt.Sprintf("archive entry %q refused: %s", e.Entry, e.Reason)
}

// maxWindow bounds the memory a zstd stream may ask the decoder for.
const maxWindow = 64 << 20

// Bounds limit what extracting one archive may write. A zero field takes its
// default: MaxBytes the free space of the disk extracted to (so a stream of a
// few kilobytes cannot fill it), MaxEntries about a million.
type Bounds struct {
	MaxBytes   int64 // the sum of the files' sizes
	MaxEntries int
}

// DefaultMaxEntries bounds the entries of an archive when Bounds does not.
const DefaultMaxEntries = 1 << 20

// ErrTooLarge says an archive expands past its bounds.
var ErrTooLarge = errors.New("archive expands past its bound")

func (b Bounds) orDefault(dir string) Bounds {
	if b.MaxEntries <= 0 {
		b.MaxEntries = DefaultMaxEntries
	}
	if b.MaxBytes <= 0 {
		b.MaxBytes = FreeBytes(dir)
	}
	return b
}

// FreeBytes is the space left to unprivileged users on dir's disk (or on
// the nearest existing parent's); 1 TiB when it cannot be told.
func FreeBytes(dir string) int64 {
	for d := dir; ; d = path.Dir(d) {
		var st syscall.Statfs_t
		if err := syscall.Statfs(d, &st); err == nil {
			return int64(st.Bavail) * int64(st.Bsize)
		}
		if d == "/" || d == "." || d == "" {
			return 1 << 40
		}
	}
}

// Unpack extracts a stream that Pack wrote into dir, which it creates. Every
// operation goes through an os.Root at dir, so nothing, links included, can
// reach outside it; entries that would (absolute names, "..", links out,
// links through links out) and devices, pipes or sparse entries are refused
// with an UnsafeEntryError. Files keep their permission bits and times, and
// runs of zeros in files become holes. What it writes stays within b, and it
// stops when ctx ends, between entries and while it copies.
func Unpack(ctx context.Context, r io.Reader, dir string, b Bounds) error {
	zr, err := zstd.NewReader(r, zstd.WithDecoderMaxWindow(maxWindow), zstd.WithDecoderConcurrency(2))
	if err != nil {
		return err
	}
	defer zr.Close()
	return ExtractTar(ctx, zr, dir, b)
}

// ExtractTar extracts an uncompressed tar stream into dir, which it creates,
// with Unpack's confinement, refusals and bounds.
func ExtractTar(ctx context.Context, r io.Reader, dir string, b Bounds) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b = b.orDefault(dir)
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	type dirAttrs struct {
		name  string
		mode  fs.FileMode
		mtime time.Time
	}
	var dirs []dirAttrs
	made := map[string]bool{".": true} // directories known to exist
	mkdirAll := func(name string) error {
		if made[name] {
			return nil
		}
		if err := root.MkdirAll(name, 0o755); err != nil {
			return err
		}
		for d := name; d != "." && !made[d]; d = path.Dir(d) {
			made[d] = true
		}
		return nil
	}
	buf := make([]byte, sparseBlock)
	links := map[string]string{} // symlinks extracted so far: name -> target
	var written int64
	for entries := 0; ; entries++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if entries >= b.MaxEntries {
			return fmt.Errorf("%w: more than %d entries", ErrTooLarge, b.MaxEntries)
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			_, _ = io.Copy(io.Discard, r) // the writer's padding after the end
			break
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		if name == "." {
			continue
		}
		if path.IsAbs(hdr.Name) || name == ".." || strings.HasPrefix(name, "../") {
			return &UnsafeEntryError{hdr.Name, "it points outside the artifact's root"}
		}
		if through := viaLink(links, name); through != "" {
			return &UnsafeEntryError{hdr.Name, fmt.Sprintf("it lies under %s, a link extracted before", through)}
		}
		if isSparse(hdr) {
			return &UnsafeEntryError{hdr.Name, "artifacts may not hold sparse entries (Switchyard writes holes as zeros, which compress)"}
		}
		if err := mkdirAll(path.Dir(name)); err != nil {
			return fmt.Errorf("extract %s: %w", hdr.Name, err)
		}
		mode := fs.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := mkdirAll(name); err != nil {
				return fmt.Errorf("extract %s: %w", hdr.Name, err)
			}
			dirs = append(dirs, dirAttrs{name, mode, hdr.ModTime})
		case tar.TypeReg:
			if hdr.Size < 0 || hdr.Size > b.MaxBytes-written {
				return fmt.Errorf("%w: entry %q of %d bytes after %d written, over %d", ErrTooLarge, hdr.Name, hdr.Size, written, b.MaxBytes)
			}
			written += hdr.Size
			if err := writeFile(ctx, root, name, tr, mode, hdr, buf); err != nil {
				return fmt.Errorf("extract %s: %w", hdr.Name, err)
			}
		case tar.TypeSymlink:
			if LinkEscapes(name, hdr.Linkname) || resolvedEscapes(links, name, hdr.Linkname) {
				return &UnsafeEntryError{hdr.Name, fmt.Sprintf("it links outside the artifact's root (to %s)", hdr.Linkname)}
			}
			links[name] = hdr.Linkname
			made[name] = false
			_ = root.Remove(name)
			if err := root.Symlink(hdr.Linkname, name); err != nil {
				return fmt.Errorf("extract %s: %w", hdr.Name, err)
			}
		case tar.TypeLink:
			target := path.Clean(strings.TrimPrefix(hdr.Linkname, "./"))
			if path.IsAbs(hdr.Linkname) || target == ".." || strings.HasPrefix(target, "../") || viaLink(links, target) != "" {
				return &UnsafeEntryError{hdr.Name, fmt.Sprintf("it links outside the artifact's root (to %s)", hdr.Linkname)}
			}
			_ = root.Remove(name)
			if err := root.Link(target, name); err != nil {
				return fmt.Errorf("extract %s: %w", hdr.Name, err)
			}
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			return &UnsafeEntryError{hdr.Name, "artifacts may not hold devices or pipes"}
		default:
			return &UnsafeEntryError{hdr.Name, fmt.Sprintf("entries of type %q are not supported", hdr.Typeflag)}
		}
	}
	// Directories get their modes and times last, deepest first, so that a
	// read-only directory was still writable while it filled.
	for i := len(dirs) - 1; i >= 0; i-- {
		d := dirs[i]
		if err := root.Chmod(d.name, d.mode); err != nil {
			return err
		}
		if err := root.Chtimes(d.name, d.mtime, d.mtime); err != nil {
			return err
		}
	}
	return nil
}

// writeFile writes a file of the entry's size from r, seeking over blocks
// of zeros so that sparse files stay sparse, and gives it the entry's mode
// and time through its descriptor.
func writeFile(ctx context.Context, root *os.Root, name string, r io.Reader, mode fs.FileMode, hdr *tar.Header, buf []byte) error {
	f, err := root.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil { // a directory or a read-only file of an earlier entry: replace it
		_ = root.RemoveAll(name)
		if f, err = root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err != nil {
			return err
		}
	}
	n, err := copySparse(ctx, f, io.LimitReader(r, hdr.Size), buf)
	if err == nil && n != hdr.Size {
		err = fmt.Errorf("archive is truncated: %d of %d bytes", n, hdr.Size)
	}
	if err == nil && n%sparseBlock == 0 && n > 0 { // ended on a hole: give the file its length
		err = f.Truncate(hdr.Size)
	}
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		tv := syscall.NsecToTimeval(hdr.ModTime.UnixNano())
		err = syscall.Futimes(int(f.Fd()), []syscall.Timeval{tv, tv})
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

const sparseBlock = 64 << 10

var zeros = make([]byte, sparseBlock)

func copySparse(ctx context.Context, f *os.File, r io.Reader, buf []byte) (int64, error) {
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := io.ReadFull(r, buf)
		total += int64(n)
		if n > 0 {
			if n == sparseBlock && bytes.Equal(buf, zeros) {
				if _, serr := f.Seek(sparseBlock, io.SeekCurrent); serr != nil {
					return total, serr
				}
			} else if _, werr := f.Write(buf[:n]); werr != nil {
				return total, werr
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return total, nil // the caller compares total with the entry's size
		}
		if err != nil {
			return total, err
		}
	}
}

// LinkEscapes tells whether a link at rel (slash-separated, relative to the
// root) with the given target points outside the root.
func LinkEscapes(rel, target string) bool {
	if path.IsAbs(target) {
		return true
	}
	t := path.Clean(path.Join(path.Dir(rel), target))
	return t == ".." || strings.HasPrefix(t, "../")
}

// isSparse tells a sparse entry (GNU or PAX), whose few bytes of map may
// describe terabytes of holes.
func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// viaLink returns the first proper prefix of name that is a link extracted
// before ("" if none): an entry written through a link would land where the
// link points, which a stream Pack wrote never asks for.
func viaLink(links map[string]string, name string) string {
	if len(links) == 0 {
		return ""
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' {
			if _, ok := links[name[:i]]; ok {
				return name[:i]
			}
		}
	}
	return ""
}

// maxLinkHops bounds how many links resolving one path may follow, as the
// kernel's ELOOP does.
const maxLinkHops = 40

// resolvedEscapes tells whether a link at name to target, resolved through
// the links extracted before (a/up -> .. then a/up/up2 -> ..; or y -> . then
// x -> y/../z), leaves the root. name's parents hold no links (viaLink).
func resolvedEscapes(links map[string]string, name, target string) bool {
	hops := 0
	_, ok := resolve(links, path.Dir(name), target, &hops)
	return !ok
}

// resolve follows rel from dir (a directory of the root, links already
// resolved) component by component, as the kernel does, following the links
// extracted so far, and returns where it lands; false when it leaves the
// root or follows more than maxLinkHops links in all.
func resolve(links map[string]string, dir, rel string, hops *int) (string, bool) {
	if path.IsAbs(rel) {
		return "", false
	}
	cur := dir
	for _, part := range strings.Split(rel, "/") {
		switch part {
		case "", ".":
			continue
		case "..":
			if cur == "." {
				return "", false
			}
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, part)
		target, isLink := links[next]
		if !isLink {
			cur = next
			continue
		}
		if *hops++; *hops > maxLinkHops {
			return "", false
		}
		r, ok := resolve(links, cur, target, hops)
		if !ok {
			return "", false
		}
		cur = r
	}
	return cur, true
}
