package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Policy is one version of a policy.
type Policy struct {
	ID        int64
	TeamID    int64 // 0: global
	TeamName  string
	Name      string
	Version   int
	Engine    string
	Source    []byte
	OnError   string
	WarnOnly  bool // its admission answers warn and never block
	CreatedBy string
}

const policyColumns = `p.id, COALESCE(p.team_id, 0), COALESCE(t.name, ''), p.name, p.version, p.engine, p.source, p.on_error,
	p.admission_mode = 'warn', p.created_by`

func scanPolicy(row pgx.Row) (Policy, error) {
	var p Policy
	err := row.Scan(&p.ID, &p.TeamID, &p.TeamName, &p.Name, &p.Version, &p.Engine, &p.Source, &p.OnError, &p.WarnOnly, &p.CreatedBy)
	return p, err
}

// SetPolicy adds a new version of a team's policy (teamID 0: global) and
// bumps the policy generation; it returns the version.
func (s *Store) SetPolicy(ctx context.Context, p Policy) (Policy, error) {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		var team *int64
		if p.TeamID != 0 {
			team = &p.TeamID
		}
		if err := tx.QueryRow(ctx, `SELECT COALESCE(max(version), 0) + 1 FROM policies WHERE COALESCE(team_id, 0) = $1 AND name = $2`,
			p.TeamID, p.Name).Scan(&p.Version); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE policies SET active = false WHERE COALESCE(team_id, 0) = $1 AND name = $2`, p.TeamID, p.Name); err != nil {
			return err
		}
		mode := "enforce"
		if p.WarnOnly {
			mode = "warn"
		}
		if err := tx.QueryRow(ctx, `INSERT INTO policies (team_id, name, version, engine, source, on_error, admission_mode, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, team, p.Name, p.Version, p.Engine, p.Source, p.OnError, mode, p.CreatedBy).Scan(&p.ID); err != nil {
			return err
		}
		return bumpPolicies(ctx, tx)
	})
	if err != nil {
		return p, fmt.Errorf("set policy %s: %w", p.Name, err)
	}
	return p, nil
}

func bumpPolicies(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `UPDATE policy_generation SET generation = generation + 1 WHERE id = 1`)
	return err
}

// DestroyPolicy retires every version of a policy; ErrNotFound if it has
// none in force.
func (s *Store) DestroyPolicy(ctx context.Context, teamID int64, name string) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE policies SET active = false WHERE COALESCE(team_id, 0) = $1 AND name = $2 AND active`, teamID, name)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("policy %s: %w", name, ErrNotFound)
		}
		return bumpPolicies(ctx, tx)
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("destroy policy %s: %w", name, err)
	}
	return err
}

// ActivePolicies lists the policies in force: every team's and the global
// ones, by team then name.
func (s *Store) ActivePolicies(ctx context.Context) ([]Policy, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT `+policyColumns+` FROM policies p LEFT JOIN teams t ON t.id = p.team_id
			WHERE p.active ORDER BY COALESCE(p.team_id, 0), p.name`)
	}, func(r pgx.CollectableRow) (Policy, error) { return scanPolicy(r) })
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	return out, nil
}

// PolicyGeneration is bumped by every change to policies.
func (s *Store) PolicyGeneration(ctx context.Context) (int64, error) {
	var g int64
	if err := s.row(ctx, `SELECT generation FROM policy_generation WHERE id = 1`).Scan(&g); err != nil {
		return 0, fmt.Errorf("policy generation: %w", err)
	}
	return g, nil
}

// PlacementDecision is where a build's step was placed and why.
type PlacementDecision struct {
	PlanID   string
	StepName string
	Spoke    string
	Decision json.RawMessage
}

// SavePlacement records a step's decision. A decision that chose no spoke
// (the step waits) is replaced by the next; one that chose a spoke stays.
func (s *Store) SavePlacement(ctx context.Context, buildID int64, d PlacementDecision) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error { return savePlacement(ctx, tx, buildID, d) })
	if err != nil {
		return fmt.Errorf("save placement of build %d: %w", buildID, err)
	}
	return nil
}

func savePlacement(ctx context.Context, tx pgx.Tx, buildID int64, d PlacementDecision) error {
	_, err := tx.Exec(ctx, `INSERT INTO placement_decisions (build_id, plan_id, step_name, spoke, decision)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (build_id, plan_id) DO UPDATE
		SET spoke = excluded.spoke, decision = excluded.decision, created_at = now() WHERE placement_decisions.spoke = ''`, buildID, d.PlanID, d.StepName, d.Spoke, string(d.Decision))
	return err
}

// Placements lists a build's decisions in the order they were made.
func (s *Store) Placements(ctx context.Context, buildID int64) ([]PlacementDecision, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT plan_id, step_name, spoke, decision FROM placement_decisions WHERE build_id = $1 ORDER BY created_at, plan_id`, buildID)
	}, pgx.RowToStructByPos[PlacementDecision])
	if err != nil {
		return nil, fmt.Errorf("placements of build %d: %w", buildID, err)
	}
	return out, nil
}
