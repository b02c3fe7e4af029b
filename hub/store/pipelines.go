package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// SavePipelineParams is one config save. FromVersion is the config version the
// caller last read (0 for a new pipeline), as in X-Concourse-Config-Version.
type SavePipelineParams struct {
	TeamID       int64
	Name         string
	InstanceVars string // canonical JSON, or "" for a plain pipeline
	Config       json.RawMessage
	FromVersion  int64
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
			return tx.QueryRow(ctx, `
				INSERT INTO pipelines (team_id, name, instance_vars, config, config_version)
				VALUES ($1, $2, $3, $4, nextval('config_version_seq'))
				RETURNING id, config_version`,
				p.TeamID, p.Name, p.InstanceVars, string(p.Config)).Scan(&out.ID, &out.Version)
		case err != nil:
			return err
		}
		if archived {
			current = 0
		}
		if current != p.FromVersion {
			return ErrConfigConflict
		}
		return tx.QueryRow(ctx, `
			UPDATE pipelines
			SET config = $2, config_version = nextval('config_version_seq'), archived = false, last_updated = now()
			WHERE id = $1
			RETURNING config_version`, out.ID, string(p.Config)).Scan(&out.Version)
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
	err := s.pool.QueryRow(ctx, `
		SELECT config, config_version FROM pipelines
		WHERE team_id = $1 AND name = $2 AND instance_vars = $3 AND NOT archived`,
		teamID, name, instanceVars).Scan(&cfg, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, fmt.Errorf("pipeline %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get pipeline config %s: %w", name, err)
	}
	return cfg, version, nil
}
