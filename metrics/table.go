package metrics

import (
	"fmt"
	"strings"
)

// Table is the README's table of the metrics: name, where it is exported,
// its labels and what it means, rendered from All so that it cannot drift.
func Table() string {
	var b strings.Builder
	b.WriteString("| metric | from | labels | meaning |\n|---|---|---|---|\n")
	for _, m := range All() {
		from := "hub"
		switch {
		case m.Hub && m.Spoke:
			from = "hub, spoke"
		case m.Spoke:
			from = "spoke"
		}
		labels := "—"
		if len(m.Labels) > 0 {
			labels = "`" + strings.Join(m.Labels, "`, `") + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", m.Name, from, labels, m.Help)
	}
	return b.String()
}
