package vars

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Lookup answers one reference: its value (before fields are walked), or
// found false when nothing defines it. An error aborts the interpolation.
type Lookup interface {
	Get(ctx context.Context, ref Ref) (value any, found bool, err error)
}

// MaxValue bounds the text of one var's value, and MaxTotal what the vars of
// one interpolation may add: a value past them is an error, not a huge step.
const (
	MaxValue = 1 << 20
	MaxTotal = 4 << 20
)

// UndefinedError lists the references nothing defines, as Concourse does.
type UndefinedError struct {
	Names []string // rendered, deduplicated, sorted
}

func (e *UndefinedError) Error() string {
	return "undefined vars: " + strings.Join(e.Names, ", ")
}

// Interpolate returns value with every ((var)) in its strings and map keys
// replaced. value is what encoding/json decodes into any (maps, slices,
// strings, numbers, bools, nil); it is not changed.
func Interpolate(ctx context.Context, value any, l Lookup) (any, error) {
	t := &template{ctx: ctx, lookup: l, undefined: map[string]bool{}}
	out, err := t.walk(value)
	if err != nil {
		return nil, err
	}
	if len(t.undefined) > 0 {
		names := make([]string, 0, len(t.undefined))
		for n := range t.undefined {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, &UndefinedError{Names: names}
	}
	return out, nil
}

// InterpolateJSON interpolates a JSON document (nil or "null" stay as they are).
func InterpolateJSON(ctx context.Context, doc json.RawMessage, l Lookup) (json.RawMessage, error) {
	if len(doc) == 0 || !strings.Contains(string(doc), "((") {
		return doc, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	out, err := Interpolate(ctx, v, l)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

type template struct {
	ctx       context.Context
	lookup    Lookup
	undefined map[string]bool
	added     int
}

func (t *template) walk(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			key, err := t.text(k)
			if err != nil {
				return nil, err
			}
			if out[key], err = t.walk(val); err != nil {
				return nil, err
			}
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			var err error
			if out[i], err = t.walk(val); err != nil {
				return nil, err
			}
		}
		return out, nil
	case string:
		if !strings.Contains(x, "((") {
			return x, nil
		}
		if m := whole.FindStringSubmatch(x); m != nil {
			val, ok, err := t.resolve(m[1])
			if err != nil || !ok {
				return x, err
			}
			return val, nil
		}
		return t.text(x)
	}
	return v, nil
}

// text replaces the vars inside a longer string with their text.
func (t *template) text(s string) (string, error) {
	if !strings.Contains(s, "((") {
		return s, nil
	}
	var firstErr error
	out := Pattern.ReplaceAllStringFunc(s, func(m string) string {
		if firstErr != nil {
			return m
		}
		name := m[2 : len(m)-2]
		val, ok, err := t.resolve(name)
		if err != nil || !ok {
			firstErr = err
			return m
		}
		switch x := val.(type) {
		case string:
			return x
		case json.Number:
			return x.String()
		case int:
			return strconv.Itoa(x)
		case int64:
			return strconv.FormatInt(x, 10)
		}
		firstErr = fmt.Errorf("cannot interpolate non-primitive value (%T) from var: %s", val, name)
		return m
	})
	return out, firstErr
}

// resolve looks a reference up and walks its fields.
func (t *template) resolve(name string) (any, bool, error) {
	ref, err := Parse(name)
	if err != nil {
		return nil, false, err
	}
	val, ok, err := t.lookup.Get(t.ctx, ref)
	if err != nil {
		return nil, false, err
	}
	if !ok {
		t.undefined[ref.String()] = true
		return nil, false, nil
	}
	for _, f := range ref.Fields {
		m, isMap := val.(map[string]any)
		if !isMap {
			return nil, false, fmt.Errorf("cannot access field '%s' of non-map value ('%T') from var: %s", f, val, name)
		}
		if val, ok = m[f]; !ok {
			return nil, false, fmt.Errorf("missing field '%s' in var: %s", f, name)
		}
	}
	if err := t.bound(name, val); err != nil {
		return nil, false, err
	}
	return val, true, nil
}

// bound refuses values that are not text or are too big.
func (t *template) bound(name string, v any) error {
	size := 0
	var check func(v any) error
	check = func(v any) error {
		switch x := v.(type) {
		case string:
			if !utf8.ValidString(x) {
				return fmt.Errorf("var %s: its value is not UTF-8 text; store text (base64-encode binary data)", name)
			}
			size += len(x)
		case map[string]any:
			for k, val := range x {
				size += len(k)
				if err := check(val); err != nil {
					return err
				}
			}
		case []any:
			for _, val := range x {
				if err := check(val); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := check(v); err != nil {
		return err
	}
	if size > MaxValue {
		return fmt.Errorf("var %s: its value holds %d bytes, over the limit of %d", name, size, MaxValue)
	}
	t.added += size
	if t.added > MaxTotal {
		return fmt.Errorf("var %s: the vars of this step add over %d bytes; refusing them", name, MaxTotal)
	}
	return nil
}

// IsUndefined tells whether err says some vars are undefined.
func IsUndefined(err error) bool {
	var u *UndefinedError
	return errors.As(err, &u)
}
