package api

import (
	"encoding/json"
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
