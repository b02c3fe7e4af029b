package api

import "encoding/json"

// Policy is a placement policy as the hub lists it (fly policies).
type Policy struct {
	Name      string `json:"name"`
	Team      string `json:"team"` // "" for a global policy
	Version   int    `json:"version"`
	Engine    string `json:"engine"` // rego, opa-wasm or wasm
	OnError   string `json:"on_error"`
	WarnOnly  bool   `json:"warn_only,omitempty"` // its admission denials only warn
	CreatedBy string `json:"created_by,omitempty"`
}

// Placement is where a build's step was placed and why (fly placement).
type Placement struct {
	PlanID   string          `json:"plan_id"`
	StepName string          `json:"step_name"`
	Spoke    string          `json:"spoke"`
	Decision json.RawMessage `json:"decision"`
}
