package docs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
	"testing"

	"github.com/switchyard-ci/switchyard/placement"
)

const schemaFile = "docs/placement-input.schema.json"

// goDocs reads a Go file's doc comments: of each type ("Type") and of each
// struct field ("Type.Field"), as one line each.
func goDocs(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	text := func(g *ast.CommentGroup) string {
		return strings.Join(strings.Fields(g.Text()), " ")
	}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.TYPE {
			continue
		}
		for _, s := range g.Specs {
			ts := s.(*ast.TypeSpec)
			if g.Doc != nil {
				docs[ts.Name.Name] = text(g.Doc)
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, fld := range st.Fields.List {
				for _, n := range fld.Names {
					if fld.Doc != nil {
						docs[ts.Name.Name+"."+n.Name] = text(fld.Doc)
					}
				}
			}
		}
	}
	return docs
}

// jsonSchema is the JSON Schema (2020-12) of a Go type as encoding/json
// writes it, with the Go doc comments as descriptions. An exported field
// without a doc comment is an error: the schema is a policy author's
// reference.
func jsonSchema(t *testing.T, typ reflect.Type, docs map[string]string) map[string]any {
	t.Helper()
	if name, ok := scalarTypes[typ.Kind()]; ok {
		return map[string]any{"type": name}
	}
	switch typ.Kind() {
	case reflect.Slice:
		return map[string]any{"type": "array", "items": jsonSchema(t, typ.Elem(), docs)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": jsonSchema(t, typ.Elem(), docs)}
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			s := jsonSchema(t, f.Type, docs)
			d, ok := docs[typ.Name()+"."+f.Name]
			if !ok {
				t.Errorf("placement.%s.%s has no doc comment: the policy input's schema describes every field with it", typ.Name(), f.Name)
			}
			s["description"] = d
			props[name] = s
			if !strings.Contains(opts, "omitempty") {
				required = append(required, name)
			}
		}
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	}
	t.Fatalf("jsonSchema: no schema for %s", typ)
	return nil
}

// scalarTypes are JSON Schema's names of the Go kinds encoding/json writes
// as scalars.
var scalarTypes = map[reflect.Kind]string{reflect.String: "string", reflect.Bool: "boolean",
	reflect.Int: "integer", reflect.Int32: "integer", reflect.Int64: "integer", reflect.Float32: "number", reflect.Float64: "number"}

// inputSchema is the JSON Schema of a placement policy's input document,
// described by the doc comments of placement/input.go.
func inputSchema(t *testing.T, docs map[string]string) []byte {
	t.Helper()
	s := jsonSchema(t, reflect.TypeFor[placement.Input](), docs)
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = "https://switchyard.dev/schemas/placement-input.json"
	s["title"] = "Switchyard placement policy input"
	s["description"] = docs["Input"]
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// inputTable is the policy guide's table of the input's fields, in the Go
// types' order, with the same descriptions as the schema.
func inputTable(docs map[string]string) string {
	var b strings.Builder
	b.WriteString("| field | type | meaning |\n|---|---|---|\n")
	var walk func(path string, typ reflect.Type)
	walk = func(path string, typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			ft, kind, suffix := f.Type, "", ""
			switch ft.Kind() {
			case reflect.Slice:
				ft, kind, suffix = ft.Elem(), "array of ", "[]"
			case reflect.Map:
				ft, kind = ft.Elem(), "object of "
			}
			typeName := scalarTypes[ft.Kind()]
			if ft.Kind() == reflect.Struct {
				typeName = "object"
			}
			fmt.Fprintf(&b, "| `%s%s` | %s%s | %s |\n", path, name, kind, typeName, cell(docs[typ.Name()+"."+f.Name]))
			if ft.Kind() == reflect.Struct {
				walk(path+name+suffix+".", ft)
			}
		}
	}
	walk("input.", reflect.TypeFor[placement.Input]())
	return b.String()
}

// The policy guide's schema of the input document and its table are the
// Go types' own: a field added to placement.Input shows in both, and one
// without a doc comment fails.
func TestGeneratedPolicyInputSchema(t *testing.T) {
	docs := goDocs(t, "../placement/input.go")
	current(t, schemaFile, string(inputSchema(t, docs)))
	generated(t, "docs/policies.md", "policy-input", inputTable(docs))
}
