package policy_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/policy"
)

// startModule is a JSON ABI module whose start section runs spin, a loop
// without end (every export is spin too: loading never calls them).
func startModule() []byte {
	section := func(id byte, body ...byte) []byte { return append([]byte{id, byte(len(body))}, body...) }
	exports := []byte{3}
	for _, name := range []string{"switchyard_eval", "switchyard_malloc", "switchyard_free"} {
		exports = append(append(append(exports, byte(len(name))), name...), 0, 0)
	}
	spin := []byte{0, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b}
	out := []byte("\x00asm\x01\x00\x00\x00")
	out = append(out, section(1, 1, 0x60, 0, 0)...)
	out = append(out, section(3, 1, 0)...)
	out = append(out, section(5, 1, 0, 1)...)
	out = append(out, section(7, exports...)...)
	out = append(out, section(8, 0)...)
	out = append(out, section(10, append([]byte{1, byte(len(spin))}, spin...)...)...)
	return out
}

// A module whose start function loops is stopped at its deadline and
// refused at upload with why; it no longer hangs the upload and pins a core.
func TestLoopingStartFunctionIsRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, err := policy.Load(ctx, "start.wasm", startModule(), policy.Limits{Timeout: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "the start function") || !errors.Is(err, policy.ErrTimeout) {
		t.Fatalf("got %v, want the start function stopped at its deadline", err)
	}
}
