package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard-ci/switchyard/wire"
)

// Container is a running step as fly intercept sees it.
type Container struct {
	StepID       int64
	Failed       bool // it failed within wire.KeepFailed; else it runs
	Kind         wire.StepKind
	StepName     string
	Attempt      int
	TeamID       int64
	SpokeID      int64
	SpokeName    string
	BuildID      int64
	BuildName    string
	PipelineID   int64
	PipelineName string
	JobID        int64
	JobName      string
	ResourceID   int64
	ResourceName string
}

const containerQuery = `SELECT s.id, s.state = 'failed', s.kind, s.request, s.attempt, b.team_id,
	COALESCE(s.spoke_id, 0), COALESCE(sp.name, ''), b.id, b.name, COALESCE(b.pipeline_id, 0), COALESCE(p.name, ''),
	COALESCE(b.job_id, 0), COALESCE(j.name, ''), COALESCE(b.resource_id, 0), COALESCE(r.name, '')
	FROM build_steps s JOIN builds b ON b.id = s.build_id
	LEFT JOIN spokes sp ON sp.id = s.spoke_id LEFT JOIN pipelines p ON p.id = b.pipeline_id
	LEFT JOIN jobs j ON j.id = b.job_id LEFT JOIN resources r ON r.id = b.resource_id`

func (s *Store) scanContainer(row pgx.Row) (Container, error) {
	var c Container
	var request []byte
	err := row.Scan(&c.StepID, &c.Failed, &c.Kind, &request, &c.Attempt, &c.TeamID, &c.SpokeID, &c.SpokeName, &c.BuildID, &c.BuildName,
		&c.PipelineID, &c.PipelineName, &c.JobID, &c.JobName, &c.ResourceID, &c.ResourceName)
	if err == nil {
		request, err = s.keys.open(request)
	}
	var named struct {
		Name string `json:"name"`
	}
	if err == nil {
		err = json.Unmarshal(request, &named)
	}
	c.StepName = named.Name
	return c, err
}

// interceptable are the steps fly may intercept: running, or failed within
// keep ago.
const interceptable = ` AND (s.state = 'running' OR (s.state = 'failed' AND s.finished_at > now() - ($2 * INTERVAL '1 second')))`

// Containers lists a team's steps fly may intercept, newest first (at most
// 1000): running ones, and those that failed within keep.
func (s *Store) Containers(ctx context.Context, teamID int64, keep time.Duration) ([]Container, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, containerQuery+` WHERE b.team_id = $1`+interceptable+` ORDER BY s.id DESC LIMIT 1000`, teamID, keep.Seconds())
	}, func(r pgx.CollectableRow) (Container, error) { return s.scanContainer(r) })
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	return out, nil
}

// Container returns a step fly may intercept (see Containers), or ErrNotFound.
func (s *Store) Container(ctx context.Context, stepID int64, keep time.Duration) (Container, error) {
	c, err := s.scanContainer(s.row(ctx, containerQuery+` WHERE s.id = $1`+interceptable, stepID, keep.Seconds()))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, fmt.Errorf("container %d: %w", stepID, ErrNotFound)
	}
	return c, err
}

// Intercept is an intercept session waiting for its spoke.
type Intercept struct {
	ID     int64
	StepID int64
}

// CreateIntercept records an intercept session of a step for its spoke to
// dial back, and forgets sessions no spoke claimed within ten minutes.
func (s *Store) CreateIntercept(ctx context.Context, stepID, spokeID int64) (int64, error) {
	var id int64
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM intercepts WHERE created_at < now() - interval '10 minutes'`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO intercepts (step_id, spoke_id) VALUES ($1, $2) RETURNING id`, stepID, spokeID).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("create intercept of step %d: %w", stepID, err)
	}
	return id, nil
}

// WaitingIntercepts lists the sessions of the last minute a spoke has not
// claimed yet.
func (s *Store) WaitingIntercepts(ctx context.Context, spokeID int64) ([]Intercept, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT id, step_id FROM intercepts
			WHERE spoke_id = $1 AND NOT claimed AND created_at > now() - interval '1 minute' ORDER BY id`, spokeID)
	}, pgx.RowToStructByPos[Intercept])
	if err != nil {
		return nil, fmt.Errorf("list intercepts of spoke %d: %w", spokeID, err)
	}
	return out, nil
}

// ClaimIntercept takes a waiting session for the spoke it waits for, once;
// ErrNotFound if it is not waiting for that spoke.
func (s *Store) ClaimIntercept(ctx context.Context, id, spokeID int64) (Intercept, error) {
	in := Intercept{ID: id}
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `UPDATE intercepts SET claimed = true WHERE id = $1 AND spoke_id = $2 AND NOT claimed RETURNING step_id`,
			id, spokeID).Scan(&in.StepID)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return in, fmt.Errorf("intercept %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return in, fmt.Errorf("claim intercept %d: %w", id, err)
	}
	return in, nil
}
