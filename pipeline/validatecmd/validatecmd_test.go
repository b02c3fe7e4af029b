package validatecmd

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestGolden runs validate-pipeline over every pipeline in ../testdata: those in
// valid/ must pass, those in invalid/ must fail, and the output of each must match
// its .golden file. A file NAME.vars.yml beside NAME.yml is passed with -l.
func TestGolden(t *testing.T) {
	for _, dir := range []string{"valid", "invalid"} {
		files, err := filepath.Glob(filepath.Join("..", "testdata", dir, "*.yml"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Fatalf("no pipelines in testdata/%s", dir)
		}
		for _, file := range files {
			if strings.HasSuffix(file, ".vars.yml") {
				continue
			}
			t.Run(dir+"/"+filepath.Base(file), func(t *testing.T) {
				args := []string{"-c", file}
				if vars := strings.TrimSuffix(file, ".yml") + ".vars.yml"; exists(vars) {
					args = append(args, "-l", vars)
				}
				var out bytes.Buffer
				code := Run("fly", args, &out, &out)
				got := fmt.Sprintf("exit %d\n%s", code, out.String())
				wantCode := map[string]int{"valid": 0, "invalid": 1}[dir]
				if code != wantCode {
					t.Errorf("exit code %d, want %d; output:\n%s", code, wantCode, out.String())
				}
				golden := strings.TrimSuffix(file, ".yml") + ".golden"
				if *update {
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./pipeline/validatecmd -update to create it)", err)
				}
				if diff := cmp.Diff(string(want), got); diff != "" {
					t.Errorf("output differs from %s (-want +got):\n%s", golden, diff)
				}
			})
		}
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"no config", nil, 2, "the required flag `-c, --config' was not specified"},
		{"missing file", []string{"-c", "nope.yml"}, 1, "nope.yml: no such file or directory"},
		{"bad var", []string{"-c", "../testdata/valid/hello.yml", "-v", "novalue"}, 2, `expected name=value`},
		{"long flags", []string{"--config", "../testdata/valid/hello.yml", "--strict"}, 0, "looks good"},
		{"strict fails on warnings", []string{"-c", "../testdata/valid/yaml11-and-legacy.yml", "-s"}, 1, "configuration invalid"},
		{"output prints interpolated config", []string{"-c", "../testdata/valid/self-updating.yml", "-o", "-y", "unused=[1, 2]"}, 0, "set_pipeline: self"},
		{"vars override vars files", []string{"-c", "../testdata/valid/go-service.yml", "-l", "../testdata/valid/go-service.vars.yml", "-v", "org=override", "-o"}, 0, "github.com/override/go-service.git"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			code := Run("fly", tt.args, &out, &out)
			if code != tt.wantCode || !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("exit %d, output:\n%s\nwant exit %d and output containing %q", code, out.String(), tt.wantCode, tt.wantOut)
			}
		})
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
