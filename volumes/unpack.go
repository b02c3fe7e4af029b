package volumes

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

// Unpack extracts a stream that Pack wrote into dir, which it creates. Every
// operation goes through an os.Root at dir, so nothing, links included, can
// reach outside it; entries that would (absolute names, "..", links out) and
// devices or pipes are refused with an UnsafeEntryError. Files keep their
// permission bits and times, and runs of zeros in files become holes.
func Unpack(ctx context.Context, r io.Reader, dir string) error {
	zr, err := zstd.NewReader(r, zstd.WithDecoderMaxWindow(maxWindow), zstd.WithDecoderConcurrency(2))
	if err != nil {
		return err
	}
	defer zr.Close()
	return ExtractTar(ctx, zr, dir)
}

// ExtractTar extracts an uncompressed tar stream into dir, which it creates,
// with Unpack's confinement and refusals.
func ExtractTar(ctx context.Context, r io.Reader, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
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
	for {
		if err := ctx.Err(); err != nil {
			return err
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
			if err := writeFile(root, name, tr, mode, hdr, buf); err != nil {
				return fmt.Errorf("extract %s: %w", hdr.Name, err)
			}
		case tar.TypeSymlink:
			if linkEscapes(name, hdr.Linkname) {
				return &UnsafeEntryError{hdr.Name, fmt.Sprintf("it links outside the artifact's root (to %s)", hdr.Linkname)}
			}
			made[name] = false
			_ = root.Remove(name)
			if err := root.Symlink(hdr.Linkname, name); err != nil {
				return fmt.Errorf("extract %s: %w", hdr.Name, err)
			}
		case tar.TypeLink:
			target := path.Clean(strings.TrimPrefix(hdr.Linkname, "./"))
			if path.IsAbs(hdr.Linkname) || target == ".." || strings.HasPrefix(target, "../") {
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
func writeFile(root *os.Root, name string, r io.Reader, mode fs.FileMode, hdr *tar.Header, buf []byte) error {
	f, err := root.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil { // a directory or a read-only file of an earlier entry: replace it
		_ = root.RemoveAll(name)
		if f, err = root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err != nil {
			return err
		}
	}
	n, err := copySparse(f, r, buf)
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

func copySparse(f *os.File, r io.Reader, buf []byte) (int64, error) {
	var total int64
	for {
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
