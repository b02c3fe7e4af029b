package policy

import (
	"bytes"
	"context"
	"fmt"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/compile"
)

// CompileRego compiles a Rego policy to a WebAssembly module for OPA's WASM
// ABI, with the entrypoint data.switchyard: what `opa build -t wasm -e
// switchyard` makes, without the opa binary.
func CompileRego(ctx context.Context, name string, src []byte) ([]byte, error) {
	fsys := fstest.MapFS{name: {Data: src}}
	c := compile.New().WithTarget(compile.TargetWasm).WithEntrypoints(opaEntrypoint).WithFS(fsys).WithPaths(".").WithOutput(&bytes.Buffer{})
	if err := c.Build(ctx); err != nil {
		return nil, regoError(err)
	}
	b := c.Bundle()
	if b == nil || len(b.WasmModules) == 0 {
		return nil, fmt.Errorf("%s: OPA made no WASM module", name)
	}
	return b.WasmModules[0].Raw, nil
}
