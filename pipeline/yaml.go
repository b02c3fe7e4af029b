package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"go.yaml.in/yaml/v3"
)

// Limits bound what a config may cost to read. The defaults fit the largest real
// pipelines we know (a few MiB, thousands of jobs) with room to spare.
type Limits struct {
	MaxBytes int   // size of the YAML text
	MaxDepth int   // nesting of mappings and sequences, counted through aliases
	MaxNodes int64 // nodes after expanding every alias (alias bombs)
	// MaxExpandedBytes bounds the text of every scalar after expanding
	// aliases and ((vars)): a short config whose large anchored string is
	// referenced many times is refused before anything expands it.
	MaxExpandedBytes int64
}

// DefaultLimits are used when a caller passes a zero Limits.
var DefaultLimits = Limits{MaxBytes: 8 << 20, MaxDepth: 64, MaxNodes: 2_000_000, MaxExpandedBytes: 16 << 20}

func (l Limits) orDefault() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxNodes <= 0 {
		l.MaxNodes = DefaultLimits.MaxNodes
	}
	if l.MaxExpandedBytes <= 0 {
		l.MaxExpandedBytes = DefaultLimits.MaxExpandedBytes
	}
	return l
}

// parseYAML parses the first YAML document of data into a node tree and refuses
// input beyond the limits before anything walks the tree.
func parseYAML(file string, data []byte, lim Limits) (*yaml.Node, error) {
	lim = lim.orDefault()
	if len(data) > lim.MaxBytes {
		return nil, &Error{File: file, Msg: fmt.Sprintf("config is %d bytes, over the limit of %d: split the pipeline or raise the limit", len(data), lim.MaxBytes)}
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: file, Msg: "config is empty"}
		}
		return nil, yamlError(file, err)
	}
	if len(doc.Content) == 0 {
		return nil, &Error{File: file, Msg: "config is empty"}
	}
	root := doc.Content[0]
	if err := checkExpansion(file, root, lim); err != nil {
		return nil, err
	}
	return root, nil
}

// checkExpansion measures a node tree with its aliases expanded, without
// expanding them, and refuses it beyond the limits.
func checkExpansion(file string, root *yaml.Node, lim Limits) error {
	m := measurer{lim: lim, memo: map[*yaml.Node]size{}, open: map[*yaml.Node]bool{}}
	s, err := m.measure(root)
	if err != nil {
		return &Error{File: file, Line: err.line, Msg: err.msg}
	}
	if s.depth > lim.MaxDepth {
		return &Error{File: file, Msg: fmt.Sprintf("config nests %d levels deep, over the limit of %d", s.depth, lim.MaxDepth)}
	}
	return nil
}

// yamlError turns a parser error ("yaml: line 3: ...") into a located Error.
func yamlError(file string, err error) *Error {
	msg := err.Error()
	var line int
	var rest string
	if _, scanErr := fmt.Sscanf(msg, "yaml: line %d:", &line); scanErr == nil {
		if i := bytes.IndexByte([]byte(msg), ':'); i >= 0 {
			if j := bytes.IndexByte([]byte(msg[i+1:]), ':'); j >= 0 {
				rest = msg[i+1+j+2:]
			}
		}
		return &Error{File: file, Line: line, Msg: "malformed YAML: " + rest}
	}
	return &Error{File: file, Msg: "malformed YAML: " + msg}
}

type size struct {
	nodes int64
	bytes int64 // of scalars' text
	depth int
}

type measureError struct {
	line int
	msg  string
}

// measurer computes each node's size and depth with aliases expanded, once per
// node (memoised), so that an alias bomb costs time linear in its text.
type measurer struct {
	lim  Limits
	memo map[*yaml.Node]size
	open map[*yaml.Node]bool
}

func (m *measurer) measure(n *yaml.Node) (size, *measureError) {
	// Only an anchored node can be reached twice, so only those are memoised.
	if n.Anchor != "" {
		if s, ok := m.memo[n]; ok {
			return s, nil
		}
		if m.open[n] {
			return size{}, &measureError{n.Line, "an alias refers to a node that contains it"}
		}
		m.open[n] = true
		defer delete(m.open, n)
	}
	s := size{nodes: 1, depth: 1, bytes: int64(len(n.Value))}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return size{}, &measureError{n.Line, "unknown alias"}
		}
		inner, err := m.measure(n.Alias)
		if err != nil {
			return size{}, err
		}
		s = inner
	}
	for _, c := range n.Content {
		cs, err := m.measure(c)
		if err != nil {
			return size{}, err
		}
		s.nodes += cs.nodes
		s.bytes += cs.bytes
		if s.bytes > m.lim.MaxExpandedBytes {
			return size{}, &measureError{n.Line, fmt.Sprintf("config expands to more than %d bytes through aliases; refusing it (a large anchored value referenced many times?)", m.lim.MaxExpandedBytes)}
		}
		if n.Kind != yaml.DocumentNode && cs.depth+1 > s.depth {
			s.depth = cs.depth + 1
		}
		if s.nodes > m.lim.MaxNodes {
			return size{}, &measureError{n.Line, fmt.Sprintf("config expands to more than %d nodes through aliases; refusing it (alias bomb?)", m.lim.MaxNodes)}
		}
		if s.depth > m.lim.MaxDepth {
			return size{}, &measureError{c.Line, fmt.Sprintf("config nests more than %d levels deep; refusing it", m.lim.MaxDepth)}
		}
	}
	if n.Anchor != "" {
		m.memo[n] = s
	}
	return s, nil
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// pair is one key of a mapping, with merge keys (<<) already applied.
type pair struct {
	key  string
	line int
	val  *yaml.Node
}

// pairs lists a mapping's keys in order. Keys given explicitly win over merged
// ones (<<: *anchor), as YAML's merge key type says. A key given twice is an error.
func (d *decoder) pairs(n *yaml.Node, where string) []pair {
	var out []pair
	seen := map[string]bool{}
	var merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k.Line, where, "mapping keys must be strings")
			continue
		}
		if k.ShortTag() == "!!merge" {
			merged = append(merged, d.mergeSources(v, where)...)
			continue
		}
		if seen[k.Value] {
			d.errorf(k.Line, where, "key %q appears twice in one mapping", k.Value)
			continue
		}
		seen[k.Value] = true
		out = append(out, pair{key: k.Value, line: k.Line, val: v})
	}
	for _, p := range merged {
		if !seen[p.key] {
			seen[p.key] = true
			out = append(out, p)
		}
	}
	return out
}

func (d *decoder) mergeSources(v *yaml.Node, where string) []pair {
	v = resolve(v)
	switch v.Kind {
	case yaml.MappingNode:
		return d.pairs(v, where)
	case yaml.SequenceNode:
		var out []pair
		for _, c := range v.Content {
			c = resolve(c)
			if c.Kind != yaml.MappingNode {
				d.errorf(c.Line, where, "a merge key (<<) takes a mapping or a list of mappings")
				continue
			}
			out = append(out, d.pairs(c, where)...)
		}
		return out
	}
	d.errorf(v.Line, where, "a merge key (<<) takes a mapping or a list of mappings")
	return nil
}

// toAny converts a node to plain Go values (map[string]any, []any, string,
// int64, float64, bool, nil) that encode to JSON.
func (d *decoder) toAny(n *yaml.Node, where string) any {
	n = resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for _, p := range d.pairs(n, where) {
			m[p.key] = d.toAny(p.val, where+"."+p.key)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			s[i] = d.toAny(c, fmt.Sprintf("%s[%d]", where, i))
		}
		return s
	case yaml.ScalarNode:
		return scalarValue(n)
	}
	return nil
}

func scalarValue(n *yaml.Node) any {
	if b, ok := yaml11Bool(n); ok {
		return b
	}
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err != nil {
			return n.Value
		}
		switch x := v.(type) {
		case int:
			return int64(x)
		case uint64:
			return x
		case float64:
			if math.IsInf(x, 0) || math.IsNaN(x) {
				return n.Value // JSON has no Inf or NaN
			}
		case time.Time:
			return n.Value
		}
		return v
	}
	return n.Value
}

// yaml11Bool reads a boolean the way Concourse does. Concourse parses YAML 1.1,
// where an unquoted yes, no, on, off, y or n is a boolean; YAML 1.2 (our parser)
// reads them as strings. Quoted strings stay strings.
func yaml11Bool(n *yaml.Node) (bool, bool) {
	if n.Kind != yaml.ScalarNode {
		return false, false
	}
	if n.ShortTag() == "!!bool" {
		var b bool
		err := n.Decode(&b)
		return b, err == nil
	}
	if n.ShortTag() != "!!str" || n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return false, false
	}
	switch n.Value {
	case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON":
		return true, true
	case "n", "N", "no", "No", "NO", "off", "Off", "OFF":
		return false, true
	}
	return false, false
}
