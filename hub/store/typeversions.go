package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// TypeVersion is the newest version of a custom resource type with a source,
// and when the type was last checked.
type TypeVersion struct {
	Version map[string]string
	Checked time.Time
}

// sourceDigest keys a type's history by its source as the plan holds it
// (before its ((vars)) are filled).
func sourceDigest(source map[string]any) string {
	data, _ := json.Marshal(source) // map keys are sorted
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func (s *Store) resourceTypeID(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, pipelineID int64, name string) (int64, error) {
	var id int64
	err := q.QueryRow(ctx, `SELECT id FROM resource_types WHERE pipeline_id = $1 AND name = $2 AND active`, pipelineID, name).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("resource type %s: %w", name, ErrNotFound)
	}
	return id, err
}

// SaveTypeVersions saves the versions a check of a pipeline's custom type
// found (oldest first) and marks the type checked now. A known version keeps
// its place unless it is the newest of the check, as SaveVersions does.
func (s *Store) SaveTypeVersions(ctx context.Context, pipelineID int64, typeName string, source map[string]any, versions []map[string]string) error {
	scope := sourceDigest(source)
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		id, err := s.resourceTypeID(ctx, tx, pipelineID, typeName)
		if err != nil {
			return err
		}
		var top int64
		if err := tx.QueryRow(ctx, `SELECT COALESCE(max(check_order), 0) FROM resource_type_versions
			WHERE resource_type_id = $1 AND source_digest = $2`, id, scope).Scan(&top); err != nil {
			return err
		}
		newest := top
		for i, v := range versions {
			vj, err := json.Marshal(v)
			if err != nil {
				return err
			}
			top++
			if _, err := tx.Exec(ctx, `
				INSERT INTO resource_type_versions (resource_type_id, source_digest, version, digest, check_order)
				VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (resource_type_id, source_digest, digest) DO UPDATE SET
					check_order = CASE WHEN $6 AND resource_type_versions.check_order < $7 THEN excluded.check_order
						ELSE resource_type_versions.check_order END`,
				id, scope, string(vj), digest(v), top, i == len(versions)-1, newest); err != nil {
				return err
			}
		}
		// The newest row carries when the type was last checked.
		_, err = tx.Exec(ctx, `UPDATE resource_type_versions SET checked_at = now() WHERE id = (
			SELECT id FROM resource_type_versions WHERE resource_type_id = $1 AND source_digest = $2
			ORDER BY check_order DESC LIMIT 1)`, id, scope)
		return err
	})
	if err != nil {
		return fmt.Errorf("save versions of resource type %s: %w", typeName, err)
	}
	return nil
}

// NewestTypeVersion is the newest known version of a pipeline's custom type
// with that source; ok is false when it has none.
func (s *Store) NewestTypeVersion(ctx context.Context, pipelineID int64, typeName string, source map[string]any) (TypeVersion, bool, error) {
	var tv TypeVersion
	var raw []byte
	err := s.row(ctx, `SELECT v.version, v.checked_at FROM resource_type_versions v
		JOIN resource_types t ON t.id = v.resource_type_id
		WHERE t.pipeline_id = $1 AND t.name = $2 AND t.active AND v.source_digest = $3
		ORDER BY v.check_order DESC LIMIT 1`, pipelineID, typeName, sourceDigest(source)).Scan(&raw, &tv.Checked)
	if errors.Is(err, pgx.ErrNoRows) {
		return TypeVersion{}, false, nil
	}
	if err == nil {
		err = json.Unmarshal(raw, &tv.Version)
	}
	if err != nil {
		return TypeVersion{}, false, fmt.Errorf("newest version of resource type %s: %w", typeName, err)
	}
	return tv, true, nil
}

// CreateTypeCheckBuild creates the check build of a pipeline's custom type
// (fly check-resource-type), replacing the type's finished ones.
func (s *Store) CreateTypeCheckBuild(ctx context.Context, pipelineID int64, typeName, createdBy string, plan json.RawMessage) (Build, error) {
	var id int64
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		typeID, err := s.resourceTypeID(ctx, tx, pipelineID, typeName)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM builds WHERE resource_type_id = $1 AND status NOT IN ('pending', 'started')`, typeID); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `
			INSERT INTO builds (name, team_id, pipeline_id, resource_type_id, created_by, manually_triggered, plan, scheduled)
			SELECT 'check', p.team_id, p.id, $2, $3, true, $4, true FROM pipelines p WHERE p.id = $1
			RETURNING id`, pipelineID, typeID, createdBy, s.keys.sealText(plan)).Scan(&id)
	})
	if err != nil {
		return Build{}, fmt.Errorf("create check build of resource type %s: %w", typeName, err)
	}
	return s.Build(ctx, id)
}

// ClearTypeVersions deletes every version of a pipeline's custom type and
// says how many went.
func (s *Store) ClearTypeVersions(ctx context.Context, pipelineID int64, typeName string) (int64, error) {
	var n int64
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM resource_type_versions WHERE resource_type_id IN (
			SELECT id FROM resource_types WHERE pipeline_id = $1 AND name = $2)`, pipelineID, typeName)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("clear versions of resource type %s: %w", typeName, err)
	}
	return n, nil
}
