package extract

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// CheckTar reads a whole tar stream and says why a spoke would refuse to
// extract it: it is not a tar stream, holds an entry that leaves its root
// (by name; links are resolved at extraction), a sparse entry, a device or
// a pipe, or expands past b (zero fields: no bound on bytes, the default
// number of entries). The hub checks uploads with it before it stores them.
func CheckTar(r io.Reader, b Bounds) error {
	if b.MaxEntries <= 0 {
		b.MaxEntries = DefaultMaxEntries
	}
	tr := tar.NewReader(r)
	var total int64
	for entries := 0; ; entries++ {
		if entries >= b.MaxEntries {
			return fmt.Errorf("%w: more than %d entries", ErrTooLarge, b.MaxEntries)
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			_, _ = io.Copy(io.Discard, r)
			return nil
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		if path.IsAbs(hdr.Name) || name == ".." || strings.HasPrefix(name, "../") {
			return &UnsafeEntryError{hdr.Name, "it points outside the artifact's root"}
		}
		if isSparse(hdr) {
			return &UnsafeEntryError{hdr.Name, "artifacts may not hold sparse entries"}
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			total += hdr.Size
			if hdr.Size < 0 || b.MaxBytes > 0 && total > b.MaxBytes {
				return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, b.MaxBytes)
			}
			if n, err := io.Copy(io.Discard, tr); err != nil || n != hdr.Size {
				return fmt.Errorf("read archive: entry %q is truncated", hdr.Name)
			}
		case tar.TypeDir, tar.TypeSymlink:
			if hdr.Typeflag == tar.TypeSymlink && LinkEscapes(name, hdr.Linkname) {
				return &UnsafeEntryError{hdr.Name, fmt.Sprintf("it links outside the artifact's root (to %s)", hdr.Linkname)}
			}
		case tar.TypeLink:
			target := path.Clean(strings.TrimPrefix(hdr.Linkname, "./"))
			if path.IsAbs(hdr.Linkname) || target == ".." || strings.HasPrefix(target, "../") {
				return &UnsafeEntryError{hdr.Name, fmt.Sprintf("it links outside the artifact's root (to %s)", hdr.Linkname)}
			}
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			return &UnsafeEntryError{hdr.Name, "artifacts may not hold devices or pipes"}
		default:
			return &UnsafeEntryError{hdr.Name, fmt.Sprintf("entries of type %q are not supported", hdr.Typeflag)}
		}
	}
}

// CheckPacked is CheckTar for a zstd-compressed stream, as Pack writes it.
func CheckPacked(r io.Reader, b Bounds) error {
	zr, err := zstd.NewReader(r, zstd.WithDecoderMaxWindow(maxWindow), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return err
	}
	defer zr.Close()
	if err := CheckTar(zr, b); err != nil {
		return err
	}
	return nil
}
