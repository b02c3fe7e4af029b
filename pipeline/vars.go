package pipeline

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/switchyard-ci/switchyard/vars"
)

// Vars are static values for ((var)) placeholders, as given to fly with -v, -y
// and -l. A placeholder without a value is left as it is, for the hub's var
// sources to fill at run time; so is every ((source:var)).
type Vars map[string]any

// VarRef is one ((var)) found in a config.
type VarRef struct {
	Source string   // "" for the default source
	Path   []string // name, then fields
	Line   int
}

// parseVarRef parses the text between a ((var))'s parentheses; ok is false
// for a reference that cannot be parsed, which run time reports.
func parseVarRef(name string) (VarRef, bool) {
	ref, err := vars.Parse(name)
	if err != nil {
		return VarRef{}, false
	}
	return VarRef{Source: ref.Source, Path: append([]string{ref.Path}, ref.Fields...)}, true
}

// splitPath splits a dotted path, keeping quoted segments whole.
func splitPath(s string) []string {
	var out []string
	for len(s) > 0 {
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				out = append(out, s[1:])
				break
			}
			out = append(out, s[1:end+1])
			s = strings.TrimPrefix(s[end+2:], ".")
			continue
		}
		seg, rest, _ := strings.Cut(s, ".")
		out = append(out, seg)
		s = rest
	}
	return out
}

func (v Vars) lookup(ref VarRef) (any, bool) {
	if ref.Source != "" || len(ref.Path) == 0 {
		return nil, false
	}
	cur, ok := v[ref.Path[0]]
	for _, field := range ref.Path[1:] {
		if !ok {
			return nil, false
		}
		m, isMap := cur.(map[string]any)
		if !isMap {
			return nil, false
		}
		cur, ok = m[field]
	}
	return cur, ok
}

// set stores value at a dotted path, creating nested maps (fly's -v a.b=c).
func (v Vars) set(path string, value any) error {
	segs := splitPath(path)
	if len(segs) == 0 || segs[0] == "" {
		return fmt.Errorf("var %q has no name", path)
	}
	m := map[string]any(v)
	for _, seg := range segs[:len(segs)-1] {
		next, ok := m[seg].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[seg] = next
		}
		m = next
	}
	m[segs[len(segs)-1]] = value
	return nil
}

// SetString takes fly's `-v name=value`: the value is a string.
func (v Vars) SetString(kv string) error {
	k, val, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("var %q: expected name=value", kv)
	}
	return v.set(k, val)
}

// SetYAML takes fly's `-y name=value`: the value is YAML.
func (v Vars) SetYAML(kv string) error {
	k, val, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("var %q: expected name=value", kv)
	}
	var x any
	if strings.TrimSpace(val) != "" {
		n, err := parseYAML("-y "+k, []byte(val), Limits{})
		if err != nil {
			return fmt.Errorf("var %q: value is not YAML within limits: %w", k, err)
		}
		d := decoder{}
		x = d.toAny(n, k)
		if len(d.errs) > 0 {
			return fmt.Errorf("var %q: %w", k, d.errs)
		}
	}
	return v.set(k, x)
}

// LoadFile takes fly's `-l file`: a YAML mapping of names to values, read within
// the same limits as a pipeline.
func (v Vars) LoadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("load vars: %w", err)
	}
	return v.LoadData(path, data)
}

// LoadData takes a vars file's contents (a set_pipeline step's var_files).
func (v Vars) LoadData(path string, data []byte) error {
	root, err := parseYAML(path, data, Limits{})
	if err != nil {
		return err
	}
	d := decoder{report: report{file: path}}
	x := d.toAny(root, "")
	if len(d.errs) > 0 {
		return d.errs
	}
	m, ok := x.(map[string]any)
	if !ok {
		return &Error{File: path, Line: root.Line, Msg: "vars file must be a mapping of names to values"}
	}
	for k, val := range m {
		v[k] = val
	}
	return nil
}

// interpolate replaces the ((vars)) it has values for, in place. A placeholder
// that is a whole value takes the var's value, whatever its type; one inside a
// longer string takes its text. It returns every placeholder it saw.
func (d *decoder) interpolate(n *yaml.Node, static Vars) []VarRef {
	var refs []VarRef
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.AliasNode:
			return // its anchor is walked where it stands
		case yaml.MappingNode:
			for i := 1; i < len(n.Content); i += 2 {
				walk(n.Content[i])
			}
			return
		case yaml.SequenceNode, yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c)
			}
			return
		}
		if n.ShortTag() != "!!str" || !strings.Contains(n.Value, "((") {
			return
		}
		matches := vars.Pattern.FindAllStringSubmatchIndex(n.Value, -1)
		for _, m := range matches {
			if ref, ok := parseVarRef(n.Value[m[2]:m[3]]); ok {
				ref.Line = n.Line
				refs = append(refs, ref)
			}
		}
		if len(static) == 0 {
			return
		}
		if len(matches) == 1 && matches[0][0] == 0 && matches[0][1] == len(n.Value) {
			ref, ok := parseVarRef(n.Value[matches[0][2]:matches[0][3]])
			if !ok {
				return
			}
			if val, ok := static.lookup(ref); ok && d.spend(n.Line, approxSize(val)) {
				d.replaceNode(n, val)
			}
			return
		}
		n.Value = vars.Pattern.ReplaceAllStringFunc(n.Value, func(s string) string {
			ref, ok := parseVarRef(s[2 : len(s)-2])
			if !ok {
				return s
			}
			val, ok := static.lookup(ref)
			if !ok {
				return s
			}
			text, err := varText(val)
			if err != nil {
				d.errorf(n.Line, "", "((%s)) %v", strings.Join(ref.Path, "."), err)
				return s
			}
			if !d.spend(n.Line, int64(len(text))) {
				return s
			}
			return text
		})
	}
	walk(n)
	return refs
}

// spend takes n bytes from what vars may add to the config, and says
// whether there were enough; the first time there are not is an error.
func (d *decoder) spend(line int, n int64) bool {
	if d.varLimit == 0 {
		return true // the caller bounds its input otherwise
	}
	if d.varUsed > d.varLimit {
		return false // said already
	}
	d.varUsed += n
	if d.varUsed > d.varLimit {
		d.errorf(line, "", "((vars)) expand the config past the limit of %d bytes; refusing it", d.varLimit)
		return false
	}
	return true
}

// approxSize is about how many bytes of text a var's value holds.
func approxSize(v any) int64 {
	switch x := v.(type) {
	case string:
		return int64(len(x))
	case map[string]any:
		n := int64(2)
		for k, val := range x {
			n += int64(len(k)) + approxSize(val) + 2
		}
		return n
	case []any:
		n := int64(2)
		for _, val := range x {
			n += approxSize(val) + 1
		}
		return n
	}
	return 8
}

func varText(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case nil:
		return "", nil
	case bool:
		return strconv.FormatBool(x), nil
	case int, int64, uint64, float64:
		return fmt.Sprint(x), nil
	}
	kind := "a list"
	if _, ok := v.(map[string]any); ok {
		kind = "a mapping"
	}
	return "", fmt.Errorf("holds %s, which can only stand alone as a whole value, not inside a string", kind)
}

// replaceNode gives n the value val, keeping n's place (line, anchor) so that
// aliases of n and error lines stay right.
func (d *decoder) replaceNode(n *yaml.Node, val any) {
	var repl yaml.Node
	if err := repl.Encode(val); err != nil {
		d.errorf(n.Line, "", "cannot use var value: %v", err)
		return
	}
	setLine(&repl, n.Line, n.Column)
	repl.Anchor = n.Anchor
	*n = repl
}

func setLine(n *yaml.Node, line, col int) {
	n.Line, n.Column = line, col
	for _, c := range n.Content {
		setLine(c, line, col)
	}
}
