package resource

import (
	"encoding/json"
	"fmt"
)

// A custom resource type is a program at /opt/resource/check, in and out in
// its image, run by Concourse's protocol: the request as JSON on stdin, the
// response as JSON on stdout, logs on stderr; in gets its destination and
// out its sources' directory as the one argument. Spokes run it in the
// image (local runtime) or in a pod of it (kube runtime).

// MaxScriptResponse bounds what a resource script may print on stdout.
const MaxScriptResponse = 10 << 20

// ScriptRequest is what a custom type's script for a step of kind reads on
// stdin, and the script's path.
func ScriptRequest(kind string, source, params json.RawMessage, version map[string]string) (script string, request []byte, err error) {
	r := map[string]any{"source": source}
	switch kind {
	case "check":
		script = "/opt/resource/check"
		r["version"] = version
	case "get":
		script = "/opt/resource/in"
		r["version"], r["params"] = version, params
	case "put":
		script = "/opt/resource/out"
		r["params"] = params
	default:
		return "", nil, fmt.Errorf("resource steps are check, get or put, not %s", kind)
	}
	if len(source) == 0 {
		r["source"] = map[string]any{}
	}
	if kind != "check" && len(params) == 0 {
		r["params"] = map[string]any{}
	}
	request, err = json.Marshal(r)
	return script, request, err
}

// CheckResponse reads what a check script printed: a list of versions.
func CheckResponse(script string, raw []byte) ([]map[string]string, error) {
	var versions []map[string]string
	if err := json.Unmarshal(raw, &versions); err != nil {
		return nil, fmt.Errorf("resource script %s: its stdout is not a list of versions: %w: %.200q", script, err, raw)
	}
	return versions, nil
}

// ScriptResponse reads what an in or out script printed.
func ScriptResponse(script string, raw []byte) (Response, error) {
	var resp Response
	if err := json.Unmarshal(raw, &resp); err != nil || resp.Version == nil {
		return Response{}, fmt.Errorf("resource script %s: its stdout is not {\"version\": {...}}: %v: %.200q", script, err, raw)
	}
	return resp, nil
}
