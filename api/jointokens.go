package api

import "time"

// JoinToken is a join token managed at run time (Switchyard's API, beyond
// Concourse's): the token itself only in the answer that makes or rotates
// it.
type JoinToken struct {
	Name      string     `json:"name"`
	Team      string     `json:"team"` // "" for the shared pool
	Token     string     `json:"token,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Expired   bool       `json:"expired,omitempty"`
	CreatedBy string     `json:"created_by,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

// NewJoinToken asks for a join token: its name, and how long it lasts (a Go
// duration such as 24h; empty: until revoked).
type NewJoinToken struct {
	Name      string `json:"name"`
	ExpiresIn string `json:"expires_in,omitempty"`
}

// TeamQuota is a team's fleet quota: the most open steps, CPUs and memory
// (a Kubernetes quantity such as 16Gi) its builds hold across every spoke at
// once; zero or empty bounds nothing. Weight is the team's share of a full
// fleet against other teams' (zero or empty: 1).
type TeamQuota struct {
	MaxSteps  int     `json:"max_steps,omitempty"`
	MaxCPU    float64 `json:"max_cpu,omitempty"`
	MaxMemory string  `json:"max_memory,omitempty"`
	Weight    float64 `json:"weight,omitempty"`
}
