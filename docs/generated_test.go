package docs

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard-ci/switchyard/metrics"
)

var update = flag.Bool("update", false, "rewrite the documents' generated sections (make docs)")

// generated checks that the section NAME of a document, between
// <!-- NAME:begin (generated: make docs) --> and <!-- NAME:end -->, is want;
// with -update it writes want there instead.
func generated(t *testing.T, file, name, want string) {
	t.Helper()
	path := filepath.Join("..", file)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	begin, end := "<!-- "+name+":begin (generated: make docs) -->\n", "<!-- "+name+":end -->"
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no section between %q and %q", file, begin, end)
	}
	if text[i+len(begin):j] != want {
		if !*update {
			t.Logf("%s: the section %s the code makes:\n%s", file, name, want)
		}
		current(t, file, text[:i+len(begin)]+want+text[j:])
	}
}

// current checks that a file of the repository holds want; with -update it
// writes want there instead.
func current(t *testing.T, file, want string) {
	t.Helper()
	path := filepath.Join("..", file)
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if string(old) == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s rewritten", file)
		return
	}
	t.Errorf("%s is not what the code says: run make docs and read the diff", file)
}

// The observability guide's table of metrics is the metrics' own: a metric
// added, renamed or relabelled without it fails here.
func TestGeneratedMetrics(t *testing.T) {
	generated(t, "docs/observability.md", "metrics", metrics.Table())
}

// cell makes text safe in a Markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}
