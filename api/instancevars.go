package api

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// FlattenInstanceVars renders a pipeline's instance vars (canonical JSON) as
// Concourse's CLI form, k:v,k2.sub:v2 with keys sorted: strings as they are,
// other values as JSON.
func FlattenInstanceVars(iv string) string {
	var m map[string]any
	if json.Unmarshal([]byte(iv), &m) != nil {
		return iv
	}
	var pairs []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				walk(prefix+k+".", val)
			}
		case string:
			pairs = append(pairs, strings.TrimSuffix(prefix, ".")+":"+x)
		default:
			raw, _ := json.Marshal(x)
			pairs = append(pairs, strings.TrimSuffix(prefix, ".")+":"+string(raw))
		}
	}
	walk("", m)
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}

// ParseInstanceVars reads Concourse's CLI form of instance vars,
// k:v,k2.sub:v2: a dotted key makes nested objects; a value that is JSON (a
// number, true, false, a quoted string, a list or an object) is that value,
// any other text a string.
func ParseInstanceVars(s string) (map[string]any, error) {
	out := map[string]any{}
	for _, pair := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(pair, ":")
		if !ok || k == "" {
			return nil, fmt.Errorf("instance var %q: write key:value", pair)
		}
		var val any
		if json.Unmarshal([]byte(v), &val) != nil {
			val = v
		}
		SetPath(out, strings.Split(k, "."), val)
	}
	return out, nil
}

// SetPath puts val at path in m, making the objects on the way.
func SetPath(m map[string]any, path []string, val any) {
	for _, seg := range path[:len(path)-1] {
		next, ok := m[seg].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[seg] = next
		}
		m = next
	}
	m[path[len(path)-1]] = val
}
