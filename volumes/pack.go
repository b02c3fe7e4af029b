package volumes

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Pack writes the directory dir to w as a tar stream compressed with zstd,
// hashing it as it goes, and returns its digest and size. Entries come in
// lexical order, without owner names and with times in whole seconds, so that
// the same tree packs to the same digest. Regular files, directories and
// symbolic links that stay inside dir are packed; anything else (a device, a
// socket, a link out of the tree) is an error naming it.
func Pack(ctx context.Context, dir string, w io.Writer) (Digest, int64, error) {
	hc := newHashCounter()
	out := newAsyncWriter(io.MultiWriter(w, hc), 16) // hashing and writing beside compression
	zw, err := zstd.NewWriter(out, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		out.Close()
		return "", 0, err
	}
	tw := tar.NewWriter(zw)
	err = WriteTree(ctx, tw, dir, "")
	if err == nil {
		err = tw.Close()
	}
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, fmt.Errorf("pack %s: %w", dir, err)
	}
	return hc.digest(), hc.n, nil
}

// WriteTree writes the tree at dir to tw, its entries named under prefix
// ("" for none), with Pack's rules.
func WriteTree(ctx context.Context, tw *tar.Writer, dir, prefix string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		return packEntry(tw, p, filepath.ToSlash(rel), prefix, d)
	})
}

func packEntry(tw *tar.Writer, p, rel, prefix string, d fs.DirEntry) error {
	info, err := d.Info()
	if err != nil {
		return err
	}
	link := ""
	switch mode := info.Mode(); {
	case mode.IsRegular(), mode.IsDir():
	case mode&fs.ModeSymlink != 0:
		if link, err = os.Readlink(p); err != nil {
			return err
		}
		if linkEscapes(rel, link) {
			return fmt.Errorf("%s links outside the artifact (to %s); artifacts may only hold links inside themselves", rel, link)
		}
	default:
		return fmt.Errorf("%s is a %s; artifacts hold only files, directories and links", rel, kindOf(mode))
	}
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return err
	}
	hdr.Name, hdr.Uname, hdr.Gname = path.Join(prefix, rel), "", ""
	hdr.ModTime = hdr.ModTime.Truncate(time.Second)
	if info.IsDir() {
		hdr.Name += "/"
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(tw, f)
	if err == nil && n != hdr.Size {
		err = fmt.Errorf("%s changed size while it was packed", rel)
	}
	return err
}

// linkEscapes tells whether a link at rel (slash-separated, relative to the
// root) with the given target points outside the root.
func linkEscapes(rel, target string) bool {
	if path.IsAbs(target) {
		return true
	}
	t := path.Clean(path.Join(path.Dir(rel), target))
	return t == ".." || strings.HasPrefix(t, "../")
}

func kindOf(mode fs.FileMode) string {
	switch {
	case mode&fs.ModeDevice != 0:
		return "device"
	case mode&fs.ModeNamedPipe != 0:
		return "named pipe"
	case mode&fs.ModeSocket != 0:
		return "socket"
	}
	return "special file"
}
