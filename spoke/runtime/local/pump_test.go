package local

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// Output is passed on a line at a time; a line longer than maxLine (a step
// that writes without newlines) comes in pieces of at most maxLine, so no
// more than that is held, and nothing is lost or reordered.
func TestOutputComesInBoundedLines(t *testing.T) {
	huge := strings.Repeat("x", 5*maxLine+123)
	in := "one\ntwo\n" + huge + "\nlast without newline"
	check := func(t *testing.T, got lines) {
		t.Helper()
		for _, l := range got {
			if len(l) > maxLine {
				t.Fatalf("a line of %d bytes was passed on whole (max %d)", len(l), maxLine)
			}
		}
		if strings.Join(got, "") != in {
			t.Fatalf("output changed on its way: %d bytes in, %d out", len(in), len(strings.Join(got, "")))
		}
		if got[0] != "one\n" || got[1] != "two\n" || got[len(got)-1] != "last without newline" {
			t.Fatalf("lines: first %q, %q, last %q", got[0], got[1], got[len(got)-1])
		}
	}
	t.Run("a task's stream", func(t *testing.T) {
		var got lines
		if err := Pump(strings.NewReader(in), "stdout", &got); err != nil {
			t.Fatal(err)
		}
		check(t, got)
	})
	t.Run("a resource's writes", func(t *testing.T) {
		var got lines
		w := &lineWriter{logs: &got, source: "stderr"}
		// The huge line in one write, the rest in small ones.
		for _, p := range []string{"one\ntw", "o\n", huge + "\nlast ", "without newline"} {
			if n, err := w.Write([]byte(p)); err != nil || n != len(p) {
				t.Fatalf("Write: %d, %v", n, err)
			}
			if len(w.buf) >= maxLine {
				t.Fatalf("the writer holds %d bytes (max %d)", len(w.buf), maxLine)
			}
		}
		w.Flush()
		check(t, got)
	})
}

// A stream that fails says so; its end is not an error.
func TestPumpReturnsReadErrors(t *testing.T) {
	var got lines
	broken := errors.New("connection reset")
	r := io.MultiReader(bytes.NewReader([]byte("partial\n")), iotest.ErrReader(broken))
	if err := Pump(r, "stdout", &got); !errors.Is(err, broken) {
		t.Fatalf("Pump of a broken stream: %v", err)
	}
	if len(got) != 1 || got[0] != "partial\n" {
		t.Fatalf("lines before the error: %q", got)
	}
}
