package redact

import (
	"strings"
	"sync"
)

// Lines receives a step's output, a line (or a piece of a long line) at a
// time.
type Lines interface {
	Line(source, text string)
}

// Writer redacts the output it passes on. A piece of a long line is passed
// on up to where no secret can be cut in two; the rest waits for the next
// piece, or for Flush.
type Writer struct {
	out Lines
	r   *Redactor

	mu      sync.Mutex
	pending map[string]string // by source
}

// NewWriter redacts what it passes to out.
func NewWriter(out Lines, r *Redactor) *Writer {
	return &Writer{out: out, r: r, pending: map[string]string{}}
}

func (w *Writer) Line(source, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	buf := w.pending[source] + text
	if strings.HasSuffix(buf, "\n") {
		delete(w.pending, source)
		w.out.Line(source, w.r.Redact(buf))
		return
	}
	cut := w.r.safeCut(buf)
	w.pending[source] = buf[cut:]
	if cut > 0 {
		w.out.Line(source, w.r.Redact(buf[:cut]))
	}
}

// Flush passes on what waits.
func (w *Writer) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for source, buf := range w.pending {
		if buf != "" {
			w.out.Line(source, w.r.Redact(buf))
		}
		delete(w.pending, source)
	}
}
