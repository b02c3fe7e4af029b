// Package wasmbin encodes the pieces of the WebAssembly binary format that
// the policy host writes itself: numbers, names and sections. It is not a
// module encoder (package preempt rewrites modules, policy builds OPA's glue
// module).
package wasmbin

// ULEB is v in unsigned LEB128.
func ULEB(v uint32) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

// SLEB is v in signed LEB128.
func SLEB(v int32) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && b&0x40 == 0) || (v == -1 && b&0x40 != 0) {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

// Name is s as the format writes names: its length, then its bytes.
func Name(s string) []byte { return append(ULEB(uint32(len(s))), s...) }

// Section is a section of id holding a vector of items.
func Section(id byte, items [][]byte) []byte {
	body := ULEB(uint32(len(items)))
	for _, it := range items {
		body = append(body, it...)
	}
	return append(append([]byte{id}, ULEB(uint32(len(body)))...), body...)
}
