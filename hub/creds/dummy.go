package creds

import "context"

// Dummy holds values in memory, as Concourse's dummy manager: a name is
// looked up as TEAM/PIPELINE/NAME, then TEAM/NAME, then NAME.
type Dummy map[string]any

var _ Source = Dummy(nil)

func (d Dummy) Get(_ context.Context, s Scope, name string) (any, bool, error) {
	if err := noSlash("dummy", name); err != nil {
		return nil, false, err
	}
	for _, p := range paths(s, name, "/") {
		if v, ok := d[p]; ok {
			return v, true, nil
		}
	}
	return nil, false, nil
}

// paths are Concourse's lookup paths: pipeline-scoped (when there is a
// pipeline), team-scoped, then the bare name.
func paths(s Scope, name, sep string) []string {
	var out []string
	if s.Pipeline != "" {
		out = append(out, s.Team+sep+s.Pipeline+sep+name)
	}
	return append(out, s.Team+sep+name, name)
}
