package placement

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Explain writes each spoke's verdict, a line each, indented: why it was
// filtered out, or its score and what it is made of; then the policies'
// errors.
func (d Decision) Explain(w io.Writer) {
	for _, c := range d.Candidates {
		if c.Filtered {
			fmt.Fprintf(w, "  %-20s filtered: %s\n", c.Spoke, strings.Join(c.Reasons, "; "))
			continue
		}
		fmt.Fprintf(w, "  %-20s score %g (%s)\n", c.Spoke, c.Score, c.scores())
	}
	for _, e := range d.Errors {
		fmt.Fprintf(w, "  error: policy %s\n", e.Error())
	}
}

// ErrorText lists the policies' errors on one line.
func (d Decision) ErrorText() string {
	parts := make([]string, len(d.Errors))
	for i, e := range d.Errors {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Summary says in one line where the step went and why: the chosen spoke's
// score by plugin and policy, and how the others fared.
func (d Decision) Summary() string {
	if d.Spoke == "" {
		return "no spoke: " + d.Reason
	}
	var chosen Candidate
	scored, filtered := 0, 0
	for _, c := range d.Candidates {
		switch {
		case c.Spoke == d.Spoke:
			chosen = c
		case c.Filtered:
			filtered++
		default:
			scored++
		}
	}
	return fmt.Sprintf("%s, score %g (%s); %d other spokes scored no higher, %d filtered out", d.Spoke, chosen.Score, chosen.scores(), scored, filtered)
}

// scores lists a candidate's scores by plugin and policy, by name.
func (c Candidate) scores() string {
	names := make([]string, 0, len(c.Scores))
	for n := range c.Scores {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %g", n, c.Scores[n])
	}
	return strings.Join(parts, ", ")
}
