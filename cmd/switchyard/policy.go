package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchyard-ci/switchyard/placement"
	"github.com/switchyard-ci/switchyard/policy"
)

const policyUsage = `usage:
  switchyard policy test -p POLICY [-p POLICY ...] [--on-error deny|skip] [--policy-timeout D] [--json] INPUT.json ...
      place each input's step with the policies (.rego, or .wasm: OPA-compiled or
      Switchyard's JSON ABI) and print every spoke's verdict. An input file holds a
      placement input, or {"input": {...}, "expect": {"spoke": "NAME"}}; the command
      fails when an expectation is not met or a policy errs. --policy-timeout
      bounds one evaluation as the hub's flag of that name does (default 100ms).
  switchyard policy build -f POLICY.rego -o POLICY.wasm
      compile a Rego policy for OPA's WASM ABI (entrypoint switchyard), as
      opa build -t wasm -e switchyard does
`

func runPolicy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, policyUsage)
		return 2
	}
	switch args[0] {
	case "test":
		return policyTest(ctx, args[1:], stdout, stderr)
	case "build":
		return policyBuild(ctx, args[1:], stderr)
	}
	fmt.Fprintf(stderr, "switchyard policy: unknown command %q\n\n%s", args[0], policyUsage)
	return 2
}

// policyFile is an input file: a placement input, with what to expect.
type policyFile struct {
	Input  *placement.Input `json:"input"`
	Expect *struct {
		Spoke string `json:"spoke"`
	} `json:"expect"`
}

func policyTest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("switchyard policy test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files listFlag
	fs.Var(&files, "p", "policy file (.rego or .wasm; repeatable)")
	onError := fs.String("on-error", "deny", "what a failing policy does: deny (the step waits) or skip")
	asJSON := fs.Bool("json", false, "print the decisions as JSON")
	timeout := fs.Duration("policy-timeout", 100*time.Millisecond, "how long one evaluation of a policy may run, as the hub's --policy-timeout")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *timeout <= 0 {
		fmt.Fprintf(stderr, "error: --policy-timeout %s: write a positive duration such as 100ms or 2s\n", *timeout)
		return 2
	}
	if len(files) == 0 || fs.NArg() == 0 {
		fmt.Fprint(stderr, policyUsage)
		return 2
	}
	if *onError != "deny" && *onError != "skip" {
		fmt.Fprintf(stderr, "error: --on-error %s: use deny or skip\n", *onError)
		return 2
	}
	var policies []placement.Policy
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "error: %v\n", err)
			return 1
		}
		p, err := policy.Load(ctx, f, src, policy.Limits{Timeout: *timeout})
		if err != nil {
			fmt.Fprintf(stderr, "error: %v\n", err)
			return 1
		}
		defer p.Close(ctx)
		name := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
		policies = append(policies, placement.Policy{Name: name, Policy: p, OnError: *onError})
	}
	failed := false
	for _, file := range fs.Args() {
		pf, err := readPolicyInput(file)
		if err != nil {
			fmt.Fprintf(stderr, "error: %v\n", err)
			return 1
		}
		d := placement.Decide(ctx, *pf.Input, policies)
		ok := len(d.Errors) == 0 && (pf.Expect == nil || pf.Expect.Spoke == d.Spoke)
		failed = failed || !ok
		if *asJSON {
			out, _ := json.Marshal(map[string]any{"file": file, "decision": d, "ok": ok})
			fmt.Fprintln(stdout, string(out))
			continue
		}
		printDecision(stdout, file, pf, d)
	}
	if failed {
		return 1
	}
	return 0
}

// readPolicyInput reads an input file strictly, naming the file and the
// field or position of what is wrong.
func readPolicyInput(file string) (policyFile, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return policyFile{}, err
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return policyFile{}, fmt.Errorf("%s: %w", file, err)
	}
	var pf policyFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if _, wrapped := probe["input"]; wrapped {
		err = dec.Decode(&pf)
	} else {
		pf.Input = &placement.Input{}
		err = dec.Decode(pf.Input)
	}
	if err != nil {
		return pf, fmt.Errorf("%s: %w (an input file holds a placement input, or {\"input\": ..., \"expect\": {\"spoke\": ...}})", file, err)
	}
	if pf.Input == nil {
		pf.Input = &placement.Input{}
	}
	return pf, nil
}

func printDecision(w io.Writer, file string, pf policyFile, d placement.Decision) {
	step := pf.Input.Step.Name
	if step == "" {
		step = pf.Input.Step.ID
	}
	switch {
	case d.Spoke != "":
		fmt.Fprintf(w, "%s: step %s → %s", file, step, d.Spoke)
	default:
		fmt.Fprintf(w, "%s: step %s → no spoke: %s", file, step, d.Reason)
	}
	if pf.Expect != nil {
		if pf.Expect.Spoke == d.Spoke {
			fmt.Fprint(w, " (as expected)")
		} else {
			fmt.Fprintf(w, " (EXPECTED %s)", orNone(pf.Expect.Spoke))
		}
	}
	fmt.Fprintln(w)
	d.Explain(w)
}

func orNone(s string) string {
	if s == "" {
		return "no spoke"
	}
	return s
}

func policyBuild(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("switchyard policy build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("f", "", "Rego policy")
	out := fs.String("o", "", "WASM module to write")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *in == "" || *out == "" {
		fmt.Fprint(stderr, policyUsage)
		return 2
	}
	src, err := os.ReadFile(*in)
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	mod, err := policy.CompileRego(ctx, filepath.Base(*in), src)
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	if err := os.WriteFile(*out, mod, 0o644); err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	return 0
}
