package wasmbin_test

import (
	"bytes"
	"testing"

	"github.com/switchyard-ci/switchyard/policy/wasmbin"
)

func TestLEB128(t *testing.T) {
	for _, tt := range []struct {
		got, want []byte
	}{
		{wasmbin.ULEB(0), []byte{0}},
		{wasmbin.ULEB(127), []byte{0x7f}},
		{wasmbin.ULEB(128), []byte{0x80, 0x01}},
		{wasmbin.ULEB(624485), []byte{0xe5, 0x8e, 0x26}},
		{wasmbin.SLEB(0), []byte{0}},
		{wasmbin.SLEB(-1), []byte{0x7f}},
		{wasmbin.SLEB(63), []byte{0x3f}},
		{wasmbin.SLEB(64), []byte{0xc0, 0x00}},
		{wasmbin.SLEB(-123456), []byte{0xc0, 0xbb, 0x78}},
		{wasmbin.Name("ab"), []byte{2, 'a', 'b'}},
		{wasmbin.Section(7, [][]byte{{1}, {2, 3}}), []byte{7, 4, 2, 1, 2, 3}},
	} {
		if !bytes.Equal(tt.got, tt.want) {
			t.Errorf("got % x, want % x", tt.got, tt.want)
		}
	}
}
