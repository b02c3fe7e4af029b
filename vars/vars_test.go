package vars

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Ref
		err  string
	}{
		{in: "foo", want: Ref{Path: "foo"}},
		{in: "foo.bar.baz", want: Ref{Path: "foo", Fields: []string{"bar", "baz"}}},
		{in: "src:foo.bar", want: Ref{Source: "src", Path: "foo", Fields: []string{"bar"}}},
		{in: ".:local", want: Ref{Source: ".", Path: "local"}},
		{in: `src:"my.secret"."a:b"`, want: Ref{Source: "src", Path: "my.secret", Fields: []string{"a:b"}}},
		{in: `"src:foo.bar"`, want: Ref{Path: "src:foo.bar"}},
		{in: "/foo/bar", want: Ref{Path: "/foo/bar"}},
		{in: `"../../etc/passwd"`, want: Ref{Path: "etc/passwd"}},
		{in: `"a/../../b"`, want: Ref{Path: "b"}},
		{in: "../../etc/passwd", err: "empty field"},
		{in: `foo"`, err: "invalid var 'foo\"': contains unclosed quotes"},
		{in: "vault:", err: "invalid var 'vault:': empty field"},
		{in: "vault:.f", err: "empty field"},
		{in: "..", err: "empty field"},
	} {
		got, err := Parse(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Parse(%q) = %v, want error %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", c.in, diff)
		}
	}
}

type mapLookup map[string]any

func (m mapLookup) Get(_ context.Context, ref Ref) (any, bool, error) {
	key := ref.Path
	if ref.Source != "" {
		key = ref.Source + ":" + key
	}
	v, ok := m[key]
	return v, ok, nil
}

func TestInterpolate(t *testing.T) {
	l := mapLookup{
		"s": "text", "n": json.Number("42"), "b": true, "f": 1.5,
		"m":   map[string]any{"user": "u", "pass": "p"},
		"l":   []any{"x"},
		"k":   "key",
		"v:x": "from-v",
		"bad": string([]byte{0xff, 0xfe}),
		"big": strings.Repeat("x", MaxValue+1),
	}
	for _, c := range []struct {
		name string
		in   any
		want any
		err  string
	}{
		{name: "whole keeps type", in: map[string]any{"a": "((m))", "b": "((b))", "n": "((n))"},
			want: map[string]any{"a": map[string]any{"user": "u", "pass": "p"}, "b": true, "n": json.Number("42")}},
		{name: "inside text", in: "user=((m.user)) n=((n)) s=((s))", want: "user=u n=42 s=text"},
		{name: "source", in: "((v:x))", want: "from-v"},
		{name: "keys", in: map[string]any{"((k))": "v"}, want: map[string]any{"key": "v"}},
		{name: "lists", in: []any{"((s))", 1.0}, want: []any{"text", 1.0}},
		{name: "spaces are text", in: "(( s ))", want: "(( s ))"},
		{name: "undefined sorted and once", in: []any{"((zz))", "((aa))", "a ((zz))", "((foo/bar))"},
			err: `undefined vars: "foo/bar", aa, zz`},
		{name: "bool in text", in: "x((b))", err: "cannot interpolate non-primitive value (bool) from var: b"},
		{name: "float in text", in: "x((f))", err: "cannot interpolate non-primitive value (float64) from var: f"},
		{name: "map in text", in: "x((m))", err: "non-primitive value (map[string]interface {}) from var: m"},
		{name: "missing field", in: "((m.nope))", err: "missing field 'nope' in var: m.nope"},
		{name: "field of non-map", in: "((s.x))", err: "cannot access field 'x' of non-map value ('string') from var: s.x"},
		{name: "not utf-8", in: "((bad))", err: "var bad: its value is not UTF-8 text"},
		{name: "huge", in: "((big))", err: "over the limit of 1048576"},
		{name: "unclosed quote", in: `((a"b))`, err: "contains unclosed quotes"},
	} {
		got, err := Interpolate(context.Background(), c.in, l)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: got %v, %v; want error %q", c.name, got, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
}

func TestInterpolateTotalBound(t *testing.T) {
	l := mapLookup{"v": strings.Repeat("x", MaxValue/2)}
	var in []any
	for range 2 * MaxTotal / MaxValue * 2 {
		in = append(in, "((v))")
	}
	if _, err := Interpolate(context.Background(), in, l); err == nil || !strings.Contains(err.Error(), "refusing them") {
		t.Fatalf("got %v, want the total bound", err)
	}
}

func TestInterpolateJSON(t *testing.T) {
	got, err := InterpolateJSON(context.Background(), json.RawMessage(`{"n":12345678901234567890,"s":"((s))"}`), mapLookup{"s": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"n":12345678901234567890,"s":"x"}`; string(got) != want {
		t.Fatalf("got %s, want %s (numbers kept exactly)", got, want)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"a", `s:"x.y".z`, "../..", "a:b:c", `"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := Parse(s)
		if err != nil {
			return
		}
		if ref.Path == "" || strings.HasPrefix(ref.Path, "../") || ref.Path == ".." {
			t.Fatalf("Parse(%q) = %+v: empty or climbing path", s, ref)
		}
	})
}
