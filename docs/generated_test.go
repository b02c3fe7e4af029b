package docs

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	if text[i+len(begin):j] == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(text[:i+len(begin)]+want+text[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: section %s rewritten", file, name)
		return
	}
	t.Errorf("%s: the section %s is not what the code says: run make docs and read the diff\n--- want:\n%s", file, name, want)
}

// cell makes text safe in a Markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}
