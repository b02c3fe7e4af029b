package pipeline

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// decoder turns YAML nodes into config structs strictly: an unknown key, a value
// of the wrong kind or a duplicate key is an error naming the line and field.
//
// Structs name their keys with `yaml:"key"` tags. A field `Line int` gets the line
// of the struct's mapping and a field `Lines map[string]int` the line of each key.
// Types with their own shape implement nodeDecoder.
type decoder struct {
	report
	// varLimit bounds the bytes ((vars)) may add to the config as they are
	// interpolated (0: no bound); varUsed is what they added.
	varLimit, varUsed int64
}

type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node, where string)
}

var nodeDecoderType = reflect.TypeFor[nodeDecoder]()

func (d *decoder) decode(n *yaml.Node, v reflect.Value, where string) {
	n = resolve(n)
	if v.CanAddr() && v.Addr().Type().Implements(nodeDecoderType) {
		v.Addr().Interface().(nodeDecoder).decodeNode(d, n, where)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			return
		}
		p := reflect.New(v.Type().Elem())
		d.decode(n, p.Elem(), where)
		v.Set(p)
	case reflect.Interface:
		if x := d.toAny(n, where); x != nil {
			v.Set(reflect.ValueOf(x))
		}
	case reflect.Struct:
		d.decodeStruct(n, v, where)
	case reflect.Map:
		if isNull(n) {
			return
		}
		if !d.expect(n, yaml.MappingNode, where, "a mapping") {
			return
		}
		m := reflect.MakeMap(v.Type())
		for _, p := range d.pairs(n, where) {
			e := reflect.New(v.Type().Elem()).Elem()
			d.decode(p.val, e, where+"."+p.key)
			m.SetMapIndex(reflect.ValueOf(p.key), e)
		}
		v.Set(m)
	case reflect.Slice:
		if isNull(n) {
			return
		}
		if !d.expect(n, yaml.SequenceNode, where, "a list") {
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", where, i))
		}
		v.Set(s)
	case reflect.String:
		// Concourse reads YAML 1.1, where an unquoted y, n, yes, no, on or
		// off is a boolean: refused here as the hub refuses it once the
		// config is JSON, not taken as text.
		if b, ok := yaml11Bool(n); ok && n.ShortTag() == "!!str" {
			d.errorf(n.Line, where, "expected a string, got bool %v (YAML 1.1 reads an unquoted %s as a boolean, as Concourse does): quote it", b, n.Value)
			return
		}
		if s, ok := d.scalar(n, where, "a string", "!!str"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		if b, ok := yaml11Bool(n); ok {
			v.SetBool(b)
			return
		}
		d.errorf(n.Line, where, "expected true or false, got %s", describe(n))
	case reflect.Int, reflect.Int64:
		if s, ok := d.scalar(n, where, "a whole number", "!!int"); ok {
			var i int64
			if err := n.Decode(&i); err != nil {
				d.errorf(n.Line, where, "%q is not a whole number", s)
				return
			}
			v.SetInt(i)
		}
	case reflect.Uint, reflect.Uint64:
		if s, ok := d.scalar(n, where, "a whole number", "!!int"); ok {
			var u uint64
			if err := n.Decode(&u); err != nil {
				d.errorf(n.Line, where, "%q is not a whole number of zero or more", s)
				return
			}
			v.SetUint(u)
		}
	default:
		panic(fmt.Sprintf("pipeline: no decoder for %s", v.Type()))
	}
}

// expect reports an error unless n is of the kind; a null never is.
func (d *decoder) expect(n *yaml.Node, kind yaml.Kind, where, what string) bool {
	if n.Kind == kind {
		return true
	}
	d.errorf(n.Line, where, "expected %s, got %s", what, describe(n))
	return false
}

// scalar returns n's text if n is a scalar with one of the tags.
func (d *decoder) scalar(n *yaml.Node, where, what string, tags ...string) (string, bool) {
	if n.Kind == yaml.ScalarNode {
		for _, t := range tags {
			if n.ShortTag() == t {
				return n.Value, true
			}
		}
	}
	d.errorf(n.Line, where, "expected %s, got %s", what, describe(n))
	return "", false
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "nothing (null)"
		case "!!str":
			return fmt.Sprintf("the string %q", clip(n.Value))
		}
		return fmt.Sprintf("%s %s", strings.TrimPrefix(n.ShortTag(), "!!"), clip(n.Value))
	}
	return "an unexpected node"
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// fieldSet describes a struct's keys.
type fieldSet struct {
	byKey map[string][]int // key -> field index path
	keys  []string
	line  []int // index path of `Line int`, if any
	lines []int // index path of `Lines map[string]int`, if any
}

var fieldSets sync.Map // reflect.Type -> *fieldSet

func fieldsOf(t reflect.Type) *fieldSet {
	if fs, ok := fieldSets.Load(t); ok {
		return fs.(*fieldSet)
	}
	fs := &fieldSet{byKey: map[string][]int{}}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		switch {
		case f.Name == "Line" && tag == "":
			fs.line = []int{i}
		case f.Name == "Lines" && tag == "":
			fs.lines = []int{i}
		case tag == "" || tag == "-":
		case strings.HasSuffix(tag, ",inline"):
			inner := fieldsOf(f.Type)
			for _, key := range inner.keys {
				fs.byKey[key] = append([]int{i}, inner.byKey[key]...)
				fs.keys = append(fs.keys, key)
			}
		default:
			key, _, _ := strings.Cut(tag, ",")
			fs.byKey[key] = []int{i}
			fs.keys = append(fs.keys, key)
		}
	}
	sort.Strings(fs.keys)
	fieldSets.Store(t, fs)
	return fs
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, where string) {
	if !d.expect(n, yaml.MappingNode, where, "a mapping") {
		return
	}
	d.decodePairs(n.Line, d.pairs(n, where), v, where)
}

// decodePairs fills struct v from already listed keys.
func (d *decoder) decodePairs(line int, ps []pair, v reflect.Value, where string) {
	fs := fieldsOf(v.Type())
	if fs.line != nil {
		v.FieldByIndex(fs.line).SetInt(int64(line))
	}
	var lines map[string]int
	if fs.lines != nil {
		lines = make(map[string]int, len(ps))
		v.FieldByIndex(fs.lines).Set(reflect.ValueOf(lines))
	}
	for _, p := range ps {
		idx, ok := fs.byKey[p.key]
		if !ok {
			d.errorf(p.line, where, "unknown field %q%s", p.key, suggest(p.key, fs.keys))
			continue
		}
		if lines != nil {
			lines[p.key] = p.line
		}
		d.decode(p.val, v.FieldByIndex(idx), join(where, p.key))
	}
}

func join(where, key string) string {
	if where == "" {
		return key
	}
	return where + "." + key
}

// suggest proposes the closest known key for a misspelt one.
func suggest(key string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(key, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best == "" {
		return fmt.Sprintf(" (known fields: %s)", strings.Join(known, ", "))
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
