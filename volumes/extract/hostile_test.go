package extract

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// sparseArchive is a tar stream of a few hundred bytes with one PAX sparse
// entry (format 1.0) of realsize bytes, a 1-byte run at its end: what a
// hostile build uploads to make a spoke write terabytes. Go's writer drops
// GNU.sparse records, so the extended header is written by hand.
func sparseArchive(t testing.TB, realsize string) []byte {
	t.Helper()
	record := func(k, v string) string {
		line := " " + k + "=" + v + "\n"
		n := len(line)
		for len(fmt.Sprint(n)+line) != n {
			n = len(fmt.Sprint(n) + line)
		}
		return fmt.Sprint(n) + line
	}
	records := record("GNU.sparse.major", "1") + record("GNU.sparse.minor", "0") + record("GNU.sparse.name", "s") + record("GNU.sparse.realsize", realsize)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	entry := func(name string, data []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data)), Format: tar.FormatUSTAR}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	entry("PaxHeaders.0/s", []byte(records))
	sparseMap := make([]byte, 512)
	copy(sparseMap, "1\n"+realsizeMinusOne(realsize)+"\n1\n")
	entry("GNUSparseFile.0/s", append(sparseMap, 'x'))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	out := buf.Bytes()
	// The first header becomes an extended header: typeflag 'x', and its
	// checksum again.
	out[156] = tar.TypeXHeader
	copy(out[148:156], "        ")
	sum := 0
	for _, b := range out[:512] {
		sum += int(b)
	}
	copy(out[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return out
}

func realsizeMinusOne(s string) string {
	switch s {
	case "1099511627776":
		return "1099511627775"
	case "21474836480":
		return "21474836479"
	}
	panic(s)
}

// A sparse entry is refused at once, whatever it claims.
func TestExtractRefusesSparseEntries(t *testing.T) {
	dir := t.TempDir()
	err := ExtractTar(context.Background(), bytes.NewReader(sparseArchive(t, "1099511627776")), filepath.Join(dir, "root"), Bounds{})
	var unsafe *UnsafeEntryError
	if !errors.As(err, &unsafe) || !strings.Contains(err.Error(), "sparse") {
		t.Fatalf("got %v, want a refused sparse entry", err)
	}
	if err := CheckTar(bytes.NewReader(sparseArchive(t, "21474836480")), Bounds{}); !errors.As(err, &unsafe) {
		t.Fatalf("CheckTar: got %v, want a refused sparse entry", err)
	}
}

// zeroTar is a tar stream whose one file claims size bytes of zeros, made as
// it is read.
func zeroTar(t testing.TB, size int64) io.Reader {
	t.Helper()
	var head bytes.Buffer
	tw := tar.NewWriter(&head)
	if err := tw.WriteHeader(&tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
		t.Fatal(err)
	}
	return io.MultiReader(&head, io.LimitReader(zeroReader{}, size))
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// What an archive expands to is bounded: a file larger than what is left is
// refused before a byte of it is written, and a small zstd stream of zeros
// (a bomb) too.
func TestExtractBounds(t *testing.T) {
	dir := t.TempDir()
	err := ExtractTar(context.Background(), zeroTar(t, 1<<30), filepath.Join(dir, "a"), Bounds{MaxBytes: 1 << 20})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	var bomb bytes.Buffer
	zw, _ := zstd.NewWriter(&bomb, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	if _, err := io.Copy(zw, zeroTar(t, 256<<20)); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	if bomb.Len() > 1<<20 {
		t.Fatalf("the bomb is %d bytes", bomb.Len())
	}
	err = Unpack(context.Background(), bytes.NewReader(bomb.Bytes()), filepath.Join(dir, "b"), Bounds{MaxBytes: 64 << 20})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("zstd bomb: got %v, want ErrTooLarge", err)
	}
	if err := CheckPacked(bytes.NewReader(bomb.Bytes()), Bounds{MaxBytes: 64 << 20}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("CheckPacked: got %v, want ErrTooLarge", err)
	}
	many := packed(t, func() []*tar.Header {
		var hs []*tar.Header
		for i := range 20 {
			hs = append(hs, &tar.Header{Name: "d" + strings.Repeat("x", i), Typeflag: tar.TypeDir, Mode: 0o755})
		}
		return hs
	}()...)
	if err := Unpack(context.Background(), bytes.NewReader(many), filepath.Join(dir, "c"), Bounds{MaxEntries: 10}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("entries: got %v, want ErrTooLarge", err)
	}
}

// cancelAfter cancels a context once n bytes were read through it.
type cancelAfter struct {
	r      io.Reader
	n      int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n -= int64(n); c.n <= 0 {
		c.cancel()
	}
	return n, err
}

// An extraction stops when its context ends, in the middle of a file too
// (an aborted build's 1 TB entry kept a core busy for 105 s).
func TestExtractStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const size = 1 << 40
	src := &cancelAfter{r: zeroTar(t, size), n: 8 << 20, cancel: cancel}
	err := ExtractTar(ctx, src, filepath.Join(t.TempDir(), "root"), Bounds{MaxBytes: size})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if src.n < -(64 << 20) {
		t.Fatalf("read %d bytes past the cancellation", -src.n)
	}
}

// packed is a zstd-compressed tar stream of entries, as volumes writes them.
func packed(t testing.TB, entries ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(rawArchive(t, entries...)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// CheckTar passes what Pack writes and refuses what ExtractTar refuses by
// name.
func TestCheckTar(t *testing.T) {
	good := packed(t, &tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755}, &tar.Header{Name: "d/f", Typeflag: tar.TypeReg, Mode: 0o644, Size: 5},
		&tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "d/f"})
	if err := CheckPacked(bytes.NewReader(good), Bounds{}); err != nil {
		t.Fatalf("a packed tree was refused: %v", err)
	}
	if err := CheckPacked(bytes.NewReader(packed(t, &tar.Header{Name: "../x", Typeflag: tar.TypeReg, Size: 1})), Bounds{}); err == nil {
		t.Fatal("an entry out of the root passed")
	}
	if err := CheckPacked(strings.NewReader("not a stream"), Bounds{}); err == nil {
		t.Fatal("garbage passed")
	}
}
