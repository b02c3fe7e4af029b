package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/switchyard-ci/switchyard/algorithm/scenario"
	"github.com/switchyard-ci/switchyard/hub/store"
)

// versionsDB exports what the input algorithm reads of a pipeline (jobs,
// resource versions, finished builds with their inputs, outputs and build
// pipes) as one scenario of shared/algorithm's format, streamed a page at a
// time. With ?job=J it names J as the current job with its inputs and, once
// the scheduler resolved them, its answer as the expected one, so that
// `switchyard algorithm check` replays the resolution elsewhere.
func (s *Server) versionsDB(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := s.pipelineFromPath(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	jobs, err := s.store.Jobs(ctx, p.ID)
	if err != nil {
		return err
	}
	resources, err := s.store.Resources(ctx, p.ID)
	if err != nil {
		return err
	}
	states, err := s.store.ResourceStates(ctx, p.ID)
	if err != nil {
		return err
	}
	head := scenario.Scenario{ID: "export/" + p.Name, Name: "versions of pipeline " + p.Name, Tags: []string{"export"}, Iterations: 1}
	for _, j := range jobs {
		head.Jobs = append(head.Jobs, scenario.Job{Name: j.Name, ID: j.ID})
	}
	if name := r.URL.Query().Get("job"); name != "" {
		j, err := s.store.JobByName(ctx, p.ID, name)
		if err != nil {
			return notFound("job " + name)
		}
		sj, err := s.store.JobForScheduling(ctx, j.ID)
		if err != nil {
			return err
		}
		head.CurrentJob = name
		for _, in := range sj.Inputs {
			x := scenario.Input{Name: in.Name, Resource: in.Resource, Passed: in.PassedJobs, Version: "latest"}
			switch {
			case in.Pinned != nil:
				x.Version = "pinned"
				v := scenario.VersionString(in.Pinned)
				x.PinnedVersion = &v
			case in.Every:
				x.Version = "every"
			}
			head.JobInputs = append(head.JobInputs, x)
		}
		next, err := s.store.JobNextInputs(ctx, j.ID)
		if err != nil {
			return err
		}
		if next.Resolved {
			head.Expected = &scenario.Expected{OK: next.Determined, Versions: map[string]string{}, Errors: map[string]string{}}
			for _, in := range next.Inputs {
				head.Expected.Versions[in.Name] = scenario.VersionString(in.Version)
			}
			for name, e := range next.Errors {
				head.Expected.Errors[name] = e.Reason
			}
		}
	}

	w.Header().Set("Content-Type", "application/json")
	out := bufio.NewWriterSize(w, 64<<10)
	defer out.Flush()
	enc := json.NewEncoder(out)
	write := func(s string) { _, _ = out.WriteString(s) }
	field := func(name string, v any) {
		write(`,"` + name + `":`)
		_ = enc.Encode(v)
	}
	write(`{"schema":"concourse-input-algorithm-scenarios/v1","scenarios":[{"id":`)
	_ = enc.Encode(head.ID)
	field("name", head.Name)
	field("tags", head.Tags)
	field("iterations", head.Iterations)
	field("current_job", head.CurrentJob)
	field("jobs", head.Jobs)
	field("job_inputs", head.JobInputs)
	field("expected", head.Expected)

	write(`,"resources":[`)
	for i, res := range resources {
		if i > 0 {
			write(",")
		}
		name, _ := json.Marshal(res.Name)
		pin := []byte("null")
		if st := states[res.ID]; st.PinnedVersion != nil && !st.PinnedInConfig {
			pin, _ = json.Marshal(scenario.VersionString(st.PinnedVersion))
		}
		write(fmt.Sprintf(`{"name":%s,"id":%d,"has_scope":true,"pinned_version":%s,"versions":[`, name, res.ID, pin))
		first := true
		err := s.store.ExportVersions(ctx, res.ID, func(page []store.ExportVersion) error {
			for _, v := range page {
				if !first {
					write(",")
				}
				first = false
				_ = enc.Encode(scenario.Version{Version: scenario.VersionString(v.Version), ID: v.ID, CheckOrder: v.CheckOrder, Disabled: v.Disabled})
			}
			return nil
		})
		if err != nil {
			return err
		}
		write("]}")
	}
	write(`],"builds":[`)
	first := true
	err = s.store.ExportBuilds(ctx, p.ID, func(page []store.ExportBuild) error {
		for _, b := range page {
			if !first {
				write(",")
			}
			first = false
			sb := scenario.Build{ID: b.ID, Job: b.Job, Status: b.Status, RerunOf: b.RerunOf,
				Inputs: []scenario.BuildInput{}, Outputs: []scenario.BuildOutput{}}
			for _, in := range b.Inputs {
				sb.Inputs = append(sb.Inputs, scenario.BuildInput{Name: in.Name, Resource: in.Resource, Version: scenario.VersionString(in.Version)})
			}
			for _, o := range b.Outputs {
				sb.Outputs = append(sb.Outputs, scenario.BuildOutput{Resource: o.Resource, Version: scenario.VersionString(o.Version)})
			}
			_ = enc.Encode(sb)
		}
		return nil
	})
	if err != nil {
		return err
	}
	write(`],"build_pipes":[`)
	first = true
	err = s.store.ExportBuilds(ctx, p.ID, func(page []store.ExportBuild) error {
		for _, b := range page {
			for _, from := range b.FedBy {
				if !first {
					write(",")
				}
				first = false
				_ = enc.Encode(scenario.Pipe{From: from, To: b.ID})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	write("]}]}\n")
	return nil
}
