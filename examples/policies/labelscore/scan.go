//go:build wasip1

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Each open object or array has a role, known from its parent's role and
// the key it is under; values are kept by their container's role.
const (
	other     = iota
	root      // the input
	step      // input.step
	stepTags  // input.step.tags
	spokeList // input.spokes
	aSpoke    // input.spokes[i]
	labels    // input.spokes[i].labels
)

// read takes the step's tags and each spoke's name and labels from a
// document whose outermost value has role top: the input (root), or one
// spoke (aSpoke). It reads in one pass of one function over the bytes: Go
// compiled to WebAssembly pays dearly for calls, and encoding/json took
// 5 ms for a hundred spokes. It reads valid JSON (what the hub sends) and
// stops at what is not.
func read(raw []byte, top int) (tags []string, spokes []spoke, err error) {
	type frame struct {
		role  int
		key   []byte // the member being read, in an object
		inKey bool   // the next string is a key, in an object
	}
	stack := make([]frame, 0, 8)
	i := 0
	for i < len(raw) {
		c := raw[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':':
			i++
		case c == ',':
			if n := len(stack); n > 0 && stack[n-1].key != nil {
				stack[n-1].inKey = true
			}
			i++
		case c == '{' || c == '[':
			role := other
			if len(stack) == 0 {
				if role = top; role == aSpoke {
					spokes = append(spokes, spoke{})
				}
			} else {
				switch top := &stack[len(stack)-1]; {
				case top.role == root && string(top.key) == "step":
					role = step
				case top.role == root && string(top.key) == "spokes":
					role = spokeList
				case top.role == step && string(top.key) == "tags":
					role = stepTags
				case top.role == spokeList && c == '{':
					role = aSpoke
					spokes = append(spokes, spoke{})
				case top.role == aSpoke && string(top.key) == "labels":
					role = labels
				}
			}
			f := frame{role: role}
			if c == '{' {
				f.key, f.inKey = []byte{}, true
			}
			if stack = append(stack, f); len(stack) > 64 {
				return nil, nil, errors.New("input nested more than 64 deep")
			}
			i++
		case c == '}' || c == ']':
			if len(stack) == 0 || (stack[len(stack)-1].key != nil) != (c == '}') {
				return nil, nil, fmt.Errorf("input byte %d: unexpected %q", i, c)
			}
			stack = stack[:len(stack)-1]
			i++
		case c == '"':
			s, n, err := str(raw[i:])
			if err != nil {
				return nil, nil, fmt.Errorf("input byte %d: %w", i, err)
			}
			i += n
			if len(stack) == 0 {
				continue
			}
			top := &stack[len(stack)-1]
			switch {
			case top.inKey:
				top.key, top.inKey = s, false
			case top.role == stepTags:
				tags = append(tags, string(s))
			case top.role == aSpoke && string(top.key) == "name":
				spokes[len(spokes)-1].name = string(s)
			case top.role == labels:
				sp := &spokes[len(spokes)-1]
				sp.labels = append(sp.labels, [2]string{string(top.key), string(s)})
			}
		case c == 't' || c == 'f' || c == 'n' || c == '-' || (c >= '0' && c <= '9'):
			for i < len(raw) && raw[i] != ',' && raw[i] != '}' && raw[i] != ']' {
				i++
			}
		default:
			return nil, nil, fmt.Errorf("input byte %d: unexpected %q", i, c)
		}
	}
	if len(stack) > 0 {
		return nil, nil, errors.New("input ends inside a value")
	}
	return tags, spokes, nil
}

// str reads the string that raw starts with (a slice of raw unless it has
// escapes: strings are made only of what is kept), and how many bytes it
// took. It looks for quotes with bytes.IndexByte, which Go implements in
// WebAssembly itself.
func str(raw []byte) ([]byte, int, error) {
	end := 1
	for {
		n := bytes.IndexByte(raw[end:], '"')
		if n < 0 {
			return nil, 0, errors.New("unterminated string")
		}
		end += n + 1
		// The quote ends the string unless an odd number of backslashes
		// comes before it.
		k := end - 2
		for k > 0 && raw[k] == '\\' {
			k--
		}
		if (end-2-k)%2 == 0 {
			break
		}
	}
	if bytes.IndexByte(raw[1:end-1], '\\') < 0 {
		return raw[1 : end-1], end, nil
	}
	var s string
	err := json.Unmarshal(raw[:end], &s)
	return []byte(s), end, err
}

// quote is s as a JSON string.
func quote(s string) []byte {
	out := []byte{'"'}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			out = append(out, '\\', c)
		case c < ' ':
			out = append(out, `\u00`...)
			out = append(out, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		default:
			out = append(out, c)
		}
	}
	return append(out, '"')
}

func appendInt(b []byte, n int) []byte { return strconv.AppendInt(b, int64(n), 10) }
