package placement

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// answer is what placement reads of a policy's answer:
// {"placement": {"deny": {SPOKE: reasons}, "score": {SPOKE: number}}}.
type answer struct {
	deny  map[string][]string
	score map[string]float64
}

var errShape = errors.New("its answer's placement is not {deny: {spoke: [reasons]}, score: {spoke: number}}")

// readAnswer reads an answer decoded as encoding/json decodes into any
// (numbers as float64 or json.Number, as Rego gives them).
func readAnswer(v any) (answer, error) {
	var a answer
	root, ok := v.(map[string]any)
	if !ok {
		return a, errShape
	}
	pl, ok := root["placement"].(map[string]any)
	if !ok {
		if root["placement"] != nil {
			return a, errShape
		}
		return a, nil
	}
	if d := pl["deny"]; d != nil {
		dm, ok := d.(map[string]any)
		if !ok {
			return a, fmt.Errorf("%w: deny is not an object", errShape)
		}
		a.deny = make(map[string][]string, len(dm))
		for spoke, r := range dm {
			a.deny[spoke] = reasonList(r)
		}
	}
	if s := pl["score"]; s != nil {
		sm, ok := s.(map[string]any)
		if !ok {
			return a, fmt.Errorf("%w: score is not an object", errShape)
		}
		a.score = make(map[string]float64, len(sm))
		for spoke, n := range sm {
			f, ok := number(n)
			if !ok {
				return a, fmt.Errorf("%w: the score of %s is not a number", errShape, spoke)
			}
			if !math.IsNaN(f) && !math.IsInf(f, 0) {
				a.score[spoke] = f
			}
		}
	}
	return a, nil
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// reasonList reads a denial's reasons: a list of strings, one string, or
// anything else as its JSON.
func reasonList(v any) []string {
	switch r := v.(type) {
	case string:
		if r != "" {
			return []string{r}
		}
	case []any:
		list := make([]string, 0, len(r))
		for _, item := range r {
			s, ok := item.(string)
			if !ok {
				list = nil
				break
			}
			list = append(list, s)
		}
		if len(list) > 0 {
			return list
		}
	}
	raw, _ := json.Marshal(v)
	return []string{"denied (" + string(raw) + ")"}
}
