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
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/switchyard-ci/switchyard/volumes/extract"
)

// Pack writes the directory dir to w as a tar stream compressed with zstd,
// hashing it as it goes, and returns its digest and size. Entries come in
// lexical order, without owner names and with times in whole seconds, so that
// the same tree packs to the same digest. Regular files, directories and
// symbolic links that stay inside dir are packed; anything else (a device, a
// socket, a link out of the tree) is an error naming it.
func Pack(ctx context.Context, dir string, w io.Writer) (Digest, int64, error) {
	return PackSome(ctx, dir, nil, w)
}

// Keep tells which entries of a tree to pack, by their slash-separated path
// relative to the tree's root; a directory it refuses is skipped whole.
type Keep func(rel string, d fs.DirEntry) bool

// PackSome is Pack of the entries keep keeps (all of them when keep is nil).
func PackSome(ctx context.Context, dir string, keep Keep, w io.Writer) (Digest, int64, error) {
	hc := NewDigester()
	out := newAsyncWriter(io.MultiWriter(w, hc), 16) // hashing and writing beside compression
	zw, err := zstd.NewWriter(out, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		out.Close()
		return "", 0, err
	}
	tw := tar.NewWriter(zw)
	err = writeTree(ctx, tw, dir, "", keep)
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
	return hc.Digest(), hc.Size(), nil
}

// WriteTree writes the tree at dir to tw, its entries named under prefix
// ("" for none), with Pack's rules. Small files are read ahead by a few
// goroutines, so that the disk's and the kernel's waits overlap with
// compression; they are written in the walk's (lexical) order.
func WriteTree(ctx context.Context, tw *tar.Writer, dir, prefix string) error {
	return writeTree(ctx, tw, dir, prefix, nil)
}

func writeTree(ctx context.Context, tw *tar.Writer, dir, prefix string, keep Keep) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan *entry, readAhead)
	reads := make(chan *entry, readAhead)
	var walkErr error
	go func() {
		defer close(queue)
		defer close(reads)
		walkErr = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(dir, p)
			if err != nil || rel == "." {
				return err
			}
			if keep != nil && !keep(filepath.ToSlash(rel), d) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			e, err := newEntry(p, filepath.ToSlash(rel), d)
			if err != nil {
				return err
			}
			if e.ready != nil {
				select {
				case reads <- e:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			select {
			case queue <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	for range readers {
		go func() {
			for e := range reads {
				e.data, e.err = os.ReadFile(e.path)
				close(e.ready)
			}
		}()
	}
	for e := range queue {
		if err := e.write(tw, prefix); err != nil {
			cancel()
			for range queue { // let the walk end
			}
			return err
		}
	}
	return walkErr
}

// How WriteTree reads ahead: files up to smallFile bytes, at most readAhead
// entries (so at most readAhead*smallFile bytes) ahead, by readers goroutines.
const (
	smallFile = 256 << 10
	readAhead = 256
	readers   = 8
)

// entry is one file, directory or link of a tree being written.
type entry struct {
	path, rel string
	info      fs.FileInfo
	link      string
	ready     chan struct{} // closed once data (small files) is read
	data      []byte
	err       error
}

func newEntry(p, rel string, d fs.DirEntry) (*entry, error) {
	info, err := d.Info()
	if err != nil {
		return nil, err
	}
	e := &entry{path: p, rel: rel, info: info}
	switch mode := info.Mode(); {
	case mode.IsRegular():
		if info.Size() <= smallFile {
			e.ready = make(chan struct{})
		}
	case mode.IsDir():
	case mode&fs.ModeSymlink != 0:
		if e.link, err = os.Readlink(p); err != nil {
			return nil, err
		}
		if extract.LinkEscapes(rel, e.link) {
			return nil, fmt.Errorf("%s links outside the artifact (to %s); artifacts may only hold links inside themselves", rel, e.link)
		}
	default:
		return nil, fmt.Errorf("%s is a %s; artifacts hold only files, directories and links", rel, kindOf(mode))
	}
	return e, nil
}

func (e *entry) write(tw *tar.Writer, prefix string) error {
	hdr, err := tar.FileInfoHeader(e.info, e.link)
	if err != nil {
		return err
	}
	hdr.Name, hdr.Uname, hdr.Gname = path.Join(prefix, e.rel), "", ""
	hdr.ModTime = hdr.ModTime.Truncate(time.Second)
	if e.info.IsDir() {
		hdr.Name += "/"
	}
	if e.ready != nil {
		<-e.ready
		if e.err != nil {
			return e.err
		}
		if int64(len(e.data)) != hdr.Size {
			return fmt.Errorf("%s changed size while it was packed", e.rel)
		}
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !e.info.Mode().IsRegular() {
		return nil
	}
	if e.ready != nil {
		_, err := tw.Write(e.data)
		return err
	}
	f, err := os.Open(e.path)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(tw, f)
	if err == nil && n != hdr.Size {
		err = fmt.Errorf("%s changed size while it was packed", e.rel)
	}
	return err
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
