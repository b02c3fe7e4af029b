package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/switchyard-ci/switchyard/api"
)

// SavePipelineParams is one config save. FromVersion is the config version the
// caller last read (0 for a new pipeline), as in X-Concourse-Config-Version.
type SavePipelineParams struct {
	TeamID        int64
	Name          string
	InstanceVars  string // canonical JSON, or "" for a plain pipeline
	Config        json.RawMessage
	FromVersion   int64
	Resources     []Part // the pipeline's resources, jobs and resource types: upserted,
	ResourceTypes []Part // and those no longer in the config made inactive
	Jobs          []Part
	// The job and build whose set_pipeline step saves it; 0 for fly.
	ParentJobID, ParentBuildID int64
}

// ErrSetByNewerBuild is returned when a set_pipeline step would overwrite
// what a newer build of its job set.
var ErrSetByNewerBuild = errors.New("the pipeline was set by a newer build of the job")

// Part is a named piece of a pipeline config, stored as JSON.
type Part struct {
	Name   string
	Type   string // resources and resource types
	Public bool   // jobs
	Config json.RawMessage
	Job    *JobSchedule // jobs: what the scheduler needs
}

// JobSchedule is what the scheduler reads of a job: its compiled plan, its
// limit on running builds, its serial groups and its inputs.
type JobSchedule struct {
	Plan         json.RawMessage
	MaxInFlight  int
	SerialGroups []string
	Inputs       []JobInput
	Retention    Retention
}

// Retention is a job's build_log_retention (0: unset).
type Retention struct {
	Builds, Days, MinSucceeded int
}

// JobInput is one get of a job.
type JobInput struct {
	Name     string
	Resource string
	Passed   []string
	Trigger  bool
	Every    bool
	Version  map[string]string // pinned in the get step
}

// SavedPipeline says what a save did.
type SavedPipeline struct {
	ID      int64
	Version int64
	Created bool
}

// SavePipeline inserts a new pipeline (paused, as Concourse creates them) or
// updates the config of an existing one if its version is still FromVersion.
// A stale FromVersion returns ErrConfigConflict and writes nothing. An archived
// pipeline has version 0 and is unarchived by the save.
func (s *Store) SavePipeline(ctx context.Context, p SavePipelineParams) (SavedPipeline, error) {
	var out SavedPipeline
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		out = SavedPipeline{}
		var current int64
		var archived bool
		err := tx.QueryRow(ctx, `
			SELECT id, config_version, archived FROM pipelines
			WHERE team_id = $1 AND name = $2 AND instance_vars = $3`,
			p.TeamID, p.Name, p.InstanceVars).Scan(&out.ID, &current, &archived)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if p.FromVersion != 0 {
				return ErrConfigConflict
			}
			out.Created = true
			if err := tx.QueryRow(ctx, `
				INSERT INTO pipelines (team_id, name, instance_vars, config, config_version, parent_job_id, parent_build_id)
				VALUES ($1, $2, $3, $4, nextval('config_version_seq'), NULLIF($5, 0), NULLIF($6, 0))
				RETURNING id, config_version`,
				p.TeamID, p.Name, p.InstanceVars, s.keys.sealText(p.Config), p.ParentJobID, p.ParentBuildID).Scan(&out.ID, &out.Version); err != nil {
				return err
			}
			// A new group is placed by its id; a new instance joins its group.
			if _, err := tx.Exec(ctx, `UPDATE pipelines SET ordering = COALESCE((SELECT min(q.ordering) FROM pipelines q
				WHERE q.team_id = $2 AND q.name = $3 AND q.id <> $1), $1),
				secondary_ordering = (SELECT COALESCE(max(q.secondary_ordering), 0) + 1 FROM pipelines q
				WHERE q.team_id = $2 AND q.name = $3 AND q.id <> $1) WHERE id = $1`, out.ID, p.TeamID, p.Name); err != nil {
				return err
			}
			return s.saveParts(ctx, tx, out.ID, p)
		case err != nil:
			return err
		}
		if archived {
			current = 0
		}
		if current != p.FromVersion {
			return ErrConfigConflict
		}
		if p.ParentBuildID != 0 {
			var newer bool
			if err := tx.QueryRow(ctx, `SELECT COALESCE(parent_job_id = $2 AND parent_build_id > $3, false) FROM pipelines WHERE id = $1`,
				out.ID, p.ParentJobID, p.ParentBuildID).Scan(&newer); err != nil {
				return err
			}
			if newer {
				return ErrSetByNewerBuild
			}
		}
		if err := tx.QueryRow(ctx, `
			UPDATE pipelines
			SET config = $2, config_version = nextval('config_version_seq'), archived = false, archived_at = NULL, last_updated = now(),
				parent_job_id = NULLIF($3, 0), parent_build_id = NULLIF($4, 0)
			WHERE id = $1
			RETURNING config_version`, out.ID, s.keys.sealText(p.Config), p.ParentJobID, p.ParentBuildID).Scan(&out.Version); err != nil {
			return err
		}
		return s.saveParts(ctx, tx, out.ID, p)
	})
	if err != nil {
		return SavedPipeline{}, fmt.Errorf("save pipeline %s: %w", p.Name, err)
	}
	return out, nil
}

// PipelineConfig returns a pipeline's stored config and its version.
func (s *Store) PipelineConfig(ctx context.Context, teamID int64, name, instanceVars string) (json.RawMessage, int64, error) {
	var cfg json.RawMessage
	var version int64
	err := s.row(ctx, `
		SELECT config, config_version FROM pipelines
		WHERE team_id = $1 AND name = $2 AND instance_vars = $3 AND NOT archived`,
		teamID, name, instanceVars).Scan(&cfg, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, fmt.Errorf("pipeline %s: %w", name, ErrNotFound)
	}
	if err == nil {
		err = s.keys.openRaw(&cfg)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get pipeline config %s: %w", name, err)
	}
	return cfg, version, nil
}

// saveParts upserts a pipeline's resources, resource types and jobs and makes
// inactive those the config no longer has (their history stays).
func (s *Store) saveParts(ctx context.Context, tx pgx.Tx, pipelineID int64, p SavePipelineParams) error {
	for _, t := range []struct {
		table string
		parts []Part
	}{{"resources", p.Resources}, {"resource_types", p.ResourceTypes}} {
		names := make([]string, 0, len(t.parts))
		conflict := "(pipeline_id, name)"
		if t.table == "resources" {
			conflict = "(pipeline_id, name) WHERE NOT retired"
		}
		for _, r := range t.parts {
			names = append(names, r.Name)
			if t.table == "resources" {
				if err := s.retireOnNewSource(ctx, tx, pipelineID, r); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO `+t.table+` (pipeline_id, name, type, config) VALUES ($1, $2, $3, $4)
				ON CONFLICT `+conflict+` DO UPDATE SET type = excluded.type, config = excluded.config, active = true`,
				pipelineID, r.Name, r.Type, s.keys.sealText(r.Config)); err != nil {
				return err
			}
			if t.table != "resources" {
				continue
			}
			// A pin in the config, and the check interval, as columns the
			// checker and the scheduler read (the config may be sealed).
			var cols struct {
				Version    json.RawMessage `json:"version"`
				CheckEvery string          `json:"check_every"`
			}
			if err := json.Unmarshal(r.Config, &cols); err != nil {
				return fmt.Errorf("resource %s: %w", r.Name, err)
			}
			var pin *string
			if len(cols.Version) > 0 && string(cols.Version) != "null" {
				text := string(cols.Version)
				pin = &text
			}
			if _, err := tx.Exec(ctx, `UPDATE resources SET pinned_in_config = $3, check_every = $4 WHERE pipeline_id = $1 AND name = $2 AND NOT retired`,
				pipelineID, r.Name, pin, cols.CheckEvery); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE `+t.table+` SET active = false WHERE pipeline_id = $1 AND active AND NOT (name = ANY($2))`, pipelineID, names); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(p.Jobs))
	for _, j := range p.Jobs {
		names = append(names, j.Name)
		var r Retention
		if j.Job != nil {
			r = j.Job.Retention
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO jobs (pipeline_id, name, config, public, retain_builds, retain_days, retain_min_succeeded) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (pipeline_id, name) DO UPDATE SET config = excluded.config, public = excluded.public, active = true,
				retain_builds = excluded.retain_builds, retain_days = excluded.retain_days, retain_min_succeeded = excluded.retain_min_succeeded`,
			pipelineID, j.Name, s.keys.sealText(j.Config), j.Public, r.Builds, r.Days, r.MinSucceeded); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE jobs SET active = false WHERE pipeline_id = $1 AND NOT (name = ANY($2))`, pipelineID, names); err != nil {
		return err
	}
	return s.saveSchedules(ctx, tx, pipelineID, p.Jobs)
}

// retireOnNewSource retires a resource whose type or source the new config
// changes: its history is of another thing. The row and its versions stay
// for the builds that used them. A retired row of the name with the new type
// and source takes the name back, with its history, as Concourse finds a
// config's versions again; otherwise the caller's upsert makes a new row,
// whose history starts again.
func (s *Store) retireOnNewSource(ctx context.Context, tx pgx.Tx, pipelineID int64, r Part) error {
	type row struct {
		id      int64
		retired bool
		same    bool
	}
	rows, err := tx.Query(ctx, `SELECT id, retired, type, config FROM resources WHERE pipeline_id = $1 AND name = $2 ORDER BY retired, id DESC FOR UPDATE`,
		pipelineID, r.Name)
	if err != nil {
		return err
	}
	found, err := pgx.CollectRows(rows, func(cr pgx.CollectableRow) (row, error) {
		var x row
		var typ string
		var config json.RawMessage
		if err := cr.Scan(&x.id, &x.retired, &typ, &config); err != nil {
			return x, err
		}
		if err := s.keys.openRaw(&config); err != nil {
			return x, err
		}
		x.same = typ == r.Type && sameSource(config, r.Config)
		return x, nil
	})
	if err != nil {
		return fmt.Errorf("resource %s: %w", r.Name, err)
	}
	if len(found) == 0 || (!found[0].retired && found[0].same) {
		return nil // new, or the same thing
	}
	if !found[0].retired {
		if _, err := tx.Exec(ctx, `UPDATE resources SET retired = true, active = false, pinned_version_id = NULL, pin_comment = '' WHERE id = $1`, found[0].id); err != nil {
			return err
		}
	}
	for _, x := range found {
		if x.retired && x.same {
			_, err := tx.Exec(ctx, `UPDATE resources SET retired = false WHERE id = $1`, x.id)
			return err
		}
	}
	return nil
}

// sameSource tells whether two resource configs have the same source.
func sameSource(a, b json.RawMessage) bool {
	var x, y struct {
		Source any `json:"source"`
	}
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x.Source, y.Source)
}

// saveSchedules replaces the scheduling rows of the pipeline's jobs and asks
// for every job to be scheduled again.
func (s *Store) saveSchedules(ctx context.Context, tx pgx.Tx, pipelineID int64, jobs []Part) error {
	jobIDs, err := idsByName(ctx, tx, `SELECT name, id FROM jobs WHERE pipeline_id = $1`, pipelineID)
	if err != nil {
		return err
	}
	resourceIDs, err := idsByName(ctx, tx, `SELECT name, id FROM resources WHERE pipeline_id = $1 AND active`, pipelineID)
	if err != nil {
		return err
	}
	var b pgx.Batch
	for _, j := range jobs {
		if j.Job == nil {
			continue
		}
		id := jobIDs[j.Name]
		var plan *string
		if j.Job.Plan != nil {
			text := s.keys.sealText(j.Job.Plan)
			plan = &text
		}
		b.Queue(`UPDATE jobs SET plan = $2, max_in_flight = $3, schedule_seq = schedule_seq + 1 WHERE id = $1`, id, plan, j.Job.MaxInFlight)
		b.Queue(`DELETE FROM job_inputs WHERE job_id = $1`, id)
		b.Queue(`DELETE FROM job_input_passed WHERE job_id = $1`, id)
		b.Queue(`DELETE FROM job_serial_groups WHERE job_id = $1`, id)
		for _, g := range j.Job.SerialGroups {
			b.Queue(`INSERT INTO job_serial_groups (job_id, serial_group) VALUES ($1, $2) ON CONFLICT DO NOTHING`, id, g)
		}
		for pos, in := range j.Job.Inputs {
			resID, ok := resourceIDs[in.Resource]
			if !ok {
				return fmt.Errorf("job %s: input %s names resource %q, which the pipeline does not have", j.Name, in.Name, in.Resource)
			}
			var version *string
			if in.Version != nil {
				v, _ := json.Marshal(in.Version)
				text := string(v)
				version = &text
			}
			b.Queue(`INSERT INTO job_inputs (job_id, name, resource_id, trigger, every, version, position)
				VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`, id, in.Name, resID, in.Trigger, in.Every, version, pos)
			for _, passed := range in.Passed {
				pid, ok := jobIDs[passed]
				if !ok {
					return fmt.Errorf("job %s: input %s passes job %q, which the pipeline does not have", j.Name, in.Name, passed)
				}
				b.Queue(`INSERT INTO job_input_passed (job_id, name, passed_job_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, id, in.Name, pid)
			}
		}
	}
	return tx.SendBatch(ctx, &b).Close()
}

// idsByName runs a query of (name, id) rows into a map.
func idsByName(ctx context.Context, tx pgx.Tx, sql string, args ...any) (map[string]int64, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	var name string
	var id int64
	_, err = pgx.ForEachRow(rows, []any{&name, &id}, func() error {
		out[name] = id
		return nil
	})
	return out, err
}

// Pipeline is a row of pipelines, without its config.
type Pipeline struct {
	ID           int64
	TeamID       int64
	TeamName     string
	Name         string
	InstanceVars string
	Paused       bool
	PausedBy     string
	PausedAt     *time.Time
	Public       bool
	Archived     bool
	LastUpdated  time.Time
	// The job and build whose set_pipeline step set it last; 0 for fly.
	ParentJobID, ParentBuildID int64
}

const pipelineColumns = `p.id, p.team_id, t.name, p.name, p.instance_vars, p.paused, p.paused_by, p.paused_at, p.public, p.archived, p.last_updated,
	COALESCE(p.parent_job_id, 0), COALESCE(p.parent_build_id, 0)`

func scanPipeline(row pgx.Row) (Pipeline, error) {
	var p Pipeline
	err := row.Scan(&p.ID, &p.TeamID, &p.TeamName, &p.Name, &p.InstanceVars, &p.Paused, &p.PausedBy, &p.PausedAt, &p.Public, &p.Archived, &p.LastUpdated,
		&p.ParentJobID, &p.ParentBuildID)
	return p, err
}

// Pipelines lists a team's pipelines (teamID 0: every team's), in display order.
func (s *Store) Pipelines(ctx context.Context, teamID int64) ([]Pipeline, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT `+pipelineColumns+` FROM pipelines p JOIN teams t ON t.id = p.team_id
		WHERE $1 = 0 OR p.team_id = $1 ORDER BY t.name, p.ordering, p.secondary_ordering, p.id`, teamID)
	}, func(r pgx.CollectableRow) (Pipeline, error) { return scanPipeline(r) })
	if err != nil {
		return nil, fmt.Errorf("list pipelines: %w", err)
	}
	return out, nil
}

// PipelineByTeamName returns a pipeline of the team named team, or
// ErrNotFound (whether the team or the pipeline is missing).
func (s *Store) PipelineByTeamName(ctx context.Context, team, name, instanceVars string) (Pipeline, error) {
	p, err := scanPipeline(s.row(ctx, `SELECT `+pipelineColumns+` FROM pipelines p JOIN teams t ON t.id = p.team_id
		WHERE t.name = $1 AND p.name = $2 AND p.instance_vars = $3`, team, name, instanceVars))
	if errors.Is(err, pgx.ErrNoRows) {
		return Pipeline{}, fmt.Errorf("pipeline %s/%s: %w", team, name, ErrNotFound)
	}
	if err != nil {
		return Pipeline{}, fmt.Errorf("get pipeline %s/%s: %w", team, name, err)
	}
	return p, nil
}

// PipelineByID returns a pipeline or ErrNotFound.
func (s *Store) PipelineByID(ctx context.Context, id int64) (Pipeline, error) {
	p, err := scanPipeline(s.row(ctx, `SELECT `+pipelineColumns+` FROM pipelines p JOIN teams t ON t.id = p.team_id
		WHERE p.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Pipeline{}, fmt.Errorf("pipeline %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Pipeline{}, fmt.Errorf("get pipeline %d: %w", id, err)
	}
	return p, nil
}

// UpdatePipeline applies one change to a pipeline row: pause, unpause, expose,
// hide, archive or rename.
type PipelineChange struct {
	Paused   *bool
	PausedBy string
	Public   *bool
	Trusted  *bool
	Archive  bool
	Rename   string
}

func (s *Store) UpdatePipeline(ctx context.Context, id int64, c PipelineChange) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		var err error
		switch {
		case c.Paused != nil && *c.Paused:
			_, err = tx.Exec(ctx, `UPDATE pipelines SET paused = true, paused_by = $2, paused_at = now() WHERE id = $1`, id, c.PausedBy)
		case c.Paused != nil:
			if _, err = tx.Exec(ctx, `UPDATE pipelines SET paused = false, paused_by = '', paused_at = NULL WHERE id = $1`, id); err == nil {
				err = requestSchedule(ctx, tx, `SELECT id FROM jobs WHERE pipeline_id = $1`, id)
			}
		case c.Public != nil:
			_, err = tx.Exec(ctx, `UPDATE pipelines SET public = $2 WHERE id = $1`, id, *c.Public)
		case c.Trusted != nil:
			_, err = tx.Exec(ctx, `UPDATE pipelines SET untrusted = $2 WHERE id = $1`, id, !*c.Trusted)
		case c.Archive:
			_, err = tx.Exec(ctx, `UPDATE pipelines SET archived = true, archived_at = now(), paused = true, config = '{}', config_version = 0 WHERE id = $1`, id)
		case c.Rename != "":
			_, err = tx.Exec(ctx, `UPDATE pipelines SET name = $2 WHERE id = $1`, id, c.Rename)
		}
		return err
	})
	if isDuplicate(err) {
		return fmt.Errorf("update pipeline: a pipeline named %q exists already", c.Rename)
	}
	if err != nil {
		return fmt.Errorf("update pipeline: %w", err)
	}
	return nil
}

// DestroyPipeline deletes a pipeline and everything of it.
func (s *Store) DestroyPipeline(ctx context.Context, id int64) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM pipelines WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("destroy pipeline: %w", err)
	}
	return nil
}

// BuildVarContext is what resolving the vars of a build of a job (jobID 0: a
// one-off build of the pipeline) needs: whether it is trusted, and its
// pipeline's var_sources as stored (JSON null when it declares none).
func (s *Store) BuildVarContext(ctx context.Context, pipelineID, jobID int64) (trusted bool, varSources json.RawMessage, err error) {
	var untrusted bool
	var config json.RawMessage
	if err := s.row(ctx, `SELECT p.untrusted OR COALESCE((SELECT j.untrusted FROM jobs j WHERE j.id = $2), false),
		p.config FROM pipelines p WHERE p.id = $1`, pipelineID, jobID).Scan(&untrusted, &config); err != nil {
		return false, nil, fmt.Errorf("pipeline %d: %w", pipelineID, err)
	}
	if err := s.keys.openRaw(&config); err != nil {
		return false, nil, fmt.Errorf("pipeline %d: %w", pipelineID, err)
	}
	var c struct {
		VarSources json.RawMessage `json:"var_sources"`
	}
	if err := json.Unmarshal(config, &c); err != nil {
		return false, nil, fmt.Errorf("pipeline %d: %w", pipelineID, err)
	}
	if c.VarSources == nil {
		c.VarSources = json.RawMessage("null")
	}
	return !untrusted, c.VarSources, nil
}

// OrderPipelines places the named pipeline groups of a team first, in the
// given order (fly order-pipelines); the others keep their places after
// them. A name the team has no pipeline of is ErrNotFound, and nothing
// changes.
func (s *Store) OrderPipelines(ctx context.Context, teamID int64, names []string) error {
	return s.Tx(ctx, func(tx pgx.Tx) error {
		for i, name := range names {
			tag, err := tx.Exec(ctx, `UPDATE pipelines SET ordering = $3 WHERE team_id = $1 AND name = $2`, teamID, name, i)
			if err != nil {
				return fmt.Errorf("order pipelines: %w", err)
			}
			if tag.RowsAffected() == 0 {
				return fmt.Errorf("pipeline '%s' %w", name, ErrNotFound) // reads "pipeline 'x' not found"
			}
		}
		return nil
	})
}

// OrderInstancedPipelines orders a group's instances (canonical instance
// vars, "" for the plain pipeline of the name): entry i is placed i+1th;
// the others keep their place. An unknown entry changes nothing.
func (s *Store) OrderInstancedPipelines(ctx context.Context, teamID int64, group string, instances []string) error {
	return s.Tx(ctx, func(tx pgx.Tx) error {
		for i, iv := range instances {
			tag, err := tx.Exec(ctx, `UPDATE pipelines SET secondary_ordering = $4 WHERE team_id = $1 AND name = $2 AND instance_vars = $3`,
				teamID, group, iv, i+1)
			if err != nil {
				return fmt.Errorf("order instanced pipelines: %w", err)
			}
			if tag.RowsAffected() == 0 {
				ref := group
				if iv != "" {
					ref += "/" + api.FlattenInstanceVars(iv)
				}
				return fmt.Errorf("pipeline '%s' %w", ref, ErrNotFound)
			}
		}
		return nil
	})
}
