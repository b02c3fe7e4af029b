package store

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// unportable lists SQL that PostgreSQL accepts and CockroachDB does not (or that
// DESIGN.md rules out), with what to do instead.
var unportable = []struct {
	re   *regexp.Regexp
	hint string
}{
	{regexp.MustCompile(`(?i)\bpg_(try_)?advisory`), "advisory locks: use a lease row"},
	{regexp.MustCompile(`(?i)\b(UN)?LISTEN\b|\bNOTIFY\b|\bpg_notify\b`), "LISTEN/NOTIFY: poll an append-only table"},
	{regexp.MustCompile(`(?i)\bLOCK\s+TABLE\b`), "LOCK TABLE: rely on SERIALIZABLE and retries"},
	{regexp.MustCompile(`(?i)\bCREATE\s+(OR\s+REPLACE\s+)?(TRIGGER|RULE|FUNCTION|PROCEDURE)\b`), "server-side code: keep logic in Go"},
	{regexp.MustCompile(`(?i)\bLANGUAGE\s+plpgsql\b|\bDO\s+\$\$`), "PL/pgSQL: keep logic in Go"},
	{regexp.MustCompile(`(?i)\bCREATE\s+EXTENSION\b`), "extensions do not exist on CockroachDB"},
	{regexp.MustCompile(`(?i)\bINHERITS\b`), "table inheritance"},
	{regexp.MustCompile(`(?i)\bEXCLUDE\s+USING\b`), "exclusion constraints"},
	{regexp.MustCompile(`(?i)\bDEFERRABLE\b`), "deferrable constraints"},
	{regexp.MustCompile(`(?i)\b(ctid|xmin|xmax|txid_current|pg_backend_pid|pg_current_xact_id)\b`), "PostgreSQL system columns and functions"},
	{regexp.MustCompile(`(?i)\bTABLESAMPLE\b|\bVACUUM\b|\bCLUSTER\s+\w+\s+USING\b`), "PostgreSQL maintenance and sampling"},
	{regexp.MustCompile(`(?i)\bUNLOGGED\b`), "unlogged tables"},
	{regexp.MustCompile(`(?i)\bSET\s+(SESSION\s+)?CHARACTERISTICS\b`), "session characteristics: set isolation per transaction"},
}

func lintSQL(sql string) []string {
	var found []string
	for _, u := range unportable {
		if m := u.re.FindString(sql); m != "" {
			found = append(found, m+" ("+u.hint+")")
		}
	}
	return found
}

func TestLintCatchesUnportableSQL(t *testing.T) {
	bad := []string{
		`SELECT pg_advisory_xact_lock(1)`,
		`SELECT pg_try_advisory_lock($1)`,
		`LISTEN build_events`,
		`NOTIFY build_events, 'x'`,
		`SELECT pg_notify('c', 'x')`,
		`LOCK TABLE builds IN EXCLUSIVE MODE`,
		`CREATE TRIGGER t AFTER INSERT ON builds FOR EACH ROW EXECUTE FUNCTION f()`,
		`CREATE OR REPLACE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE plpgsql`,
		`CREATE EXTENSION pgcrypto`,
		`SELECT ctid FROM builds`,
		`CREATE UNLOGGED TABLE x (a int)`,
	}
	for _, sql := range bad {
		if len(lintSQL(sql)) == 0 {
			t.Errorf("lint passed unportable SQL: %s", sql)
		}
	}
	good := []string{
		`SELECT id FROM builds WHERE status = 'started' FOR UPDATE`,
		`INSERT INTO leases (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET holder = excluded.holder`,
		`SELECT nextval('config_version_seq')`,
		`UPDATE jobs SET listener = 1`, // a column that merely contains a keyword
	}
	for _, sql := range good {
		if f := lintSQL(sql); len(f) != 0 {
			t.Errorf("lint refused portable SQL %q: %v", sql, f)
		}
	}
}

// TestSQLIsPortable lints the migrations and every string literal in the hub's
// non-test Go code, so that nothing PostgreSQL-only slips into the store.
func TestSQLIsPortable(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no embedded migrations")
	}
	for _, m := range ms {
		for _, f := range lintSQL(m.sql) {
			t.Errorf("migrations/%s: %s", m.name, f)
		}
	}

	hubDir := ".."
	literals := 0
	err = filepath.WalkDir(hubDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") ||
			strings.Contains(path, string(filepath.Separator)+"storetest"+string(filepath.Separator)) {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		file, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if _, isImport := n.(*ast.ImportSpec); isImport {
				return false // import paths are not SQL
			}
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			literals++
			for _, f := range lintSQL(s) {
				t.Errorf("%s: %s", fset.Position(lit.Pos()), f)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if literals == 0 {
		t.Fatal("found no string literals to lint: is the walk rooted at hub/?")
	}
}
