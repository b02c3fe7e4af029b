package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"
)

// Resource is a row of resources.
type Resource struct {
	ID         int64
	PipelineID int64
	Name       string
	Type       string
	Config     json.RawMessage
}

// ResourceByName returns an active resource of a pipeline or ErrNotFound.
func (s *Store) ResourceByName(ctx context.Context, pipelineID int64, name string) (Resource, error) {
	r := Resource{PipelineID: pipelineID, Name: name}
	err := s.row(ctx, `SELECT id, type, config FROM resources WHERE pipeline_id = $1 AND name = $2 AND active`,
		pipelineID, name).Scan(&r.ID, &r.Type, &r.Config)
	if errors.Is(err, pgx.ErrNoRows) {
		return Resource{}, fmt.Errorf("resource %s: %w", name, ErrNotFound)
	}
	if err == nil {
		err = s.keys.openRaw(&r.Config)
	}
	if err != nil {
		return Resource{}, fmt.Errorf("get resource %s: %w", name, err)
	}
	return r, nil
}

// Resources lists the active resources of a pipeline.
func (s *Store) Resources(ctx context.Context, pipelineID int64) ([]Resource, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT id, pipeline_id, name, type, config FROM resources WHERE pipeline_id = $1 AND active ORDER BY id`, pipelineID)
	}, func(r pgx.CollectableRow) (Resource, error) {
		var x Resource
		err := r.Scan(&x.ID, &x.PipelineID, &x.Name, &x.Type, &x.Config)
		if err == nil {
			err = s.keys.openRaw(&x.Config)
		}
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("list resources: %w", err)
	}
	return out, nil
}

// Version is a row of resource_versions.
type Version struct {
	ID         int64
	Version    map[string]string
	Metadata   json.RawMessage
	CheckOrder int64
	Disabled   bool
}

// digest identifies a version within its resource: SHA-256 of its canonical JSON.
func digest(v map[string]string) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		b, _ := json.Marshal([2]string{k, v[k]})
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// SaveVersions records versions a check found, in the order found: new ones get
// increasing check_order; ones already known are left as they are, except that
// a check returning a known version last moves it to the top (Concourse's rule).
// When that changed anything, the jobs that get the resource are asked to be
// scheduled.
func (s *Store) SaveVersions(ctx context.Context, resourceID int64, versions []map[string]string, metadata []json.RawMessage) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		changed := false
		var top int64
		if err := tx.QueryRow(ctx, `SELECT COALESCE(max(check_order), 0) FROM resource_versions WHERE resource_id = $1`, resourceID).Scan(&top); err != nil {
			return err
		}
		newest := top // a known version that is the newest already stays where it is
		for i, v := range versions {
			md := json.RawMessage(`[]`)
			if i < len(metadata) && len(metadata[i]) > 0 && len(metadata[i]) <= maxMetadata {
				md = metadata[i] // more is not kept: the version is, without it
			}
			vj, err := json.Marshal(v)
			if err != nil {
				return err
			}
			top++
			var order int64
			if err := tx.QueryRow(ctx, `
				INSERT INTO resource_versions (resource_id, version, digest, metadata, check_order)
				VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (resource_id, digest) DO UPDATE SET
					check_order = CASE WHEN $6 AND resource_versions.check_order < $7 THEN excluded.check_order
						ELSE resource_versions.check_order END,
					metadata = CASE WHEN excluded.metadata = '[]'::JSONB THEN resource_versions.metadata ELSE excluded.metadata END
				RETURNING check_order`,
				resourceID, string(vj), digest(v), string(md), top, i == len(versions)-1, newest).Scan(&order); err != nil {
				return err
			}
			changed = changed || order == top
		}
		if _, err := tx.Exec(ctx, `UPDATE resources SET last_checked = now(), check_error = '' WHERE id = $1`, resourceID); err != nil {
			return err
		}
		if !changed {
			return nil
		}
		return requestSchedule(ctx, tx, `SELECT job_id FROM job_inputs WHERE resource_id = $1`, resourceID)
	})
	if err != nil {
		return fmt.Errorf("save versions of resource %d: %w", resourceID, err)
	}
	return nil
}

// Versions lists a resource's versions newest first, at most limit.
func (s *Store) Versions(ctx context.Context, resourceID int64, limit int) ([]Version, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT id, version, metadata, check_order, disabled FROM resource_versions
		WHERE resource_id = $1 ORDER BY check_order DESC LIMIT $2`, resourceID, limit)
	}, func(r pgx.CollectableRow) (Version, error) {
		var v Version
		err := r.Scan(&v.ID, &v.Version, &v.Metadata, &v.CheckOrder, &v.Disabled)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("list versions: %w", err)
	}
	return out, nil
}

// ResourceTypeConfigs returns the configs of a pipeline's active resource
// types, as saved.
func (s *Store) ResourceTypeConfigs(ctx context.Context, pipelineID int64) ([]json.RawMessage, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT config FROM resource_types WHERE pipeline_id = $1 AND active ORDER BY name`, pipelineID)
	}, func(r pgx.CollectableRow) (json.RawMessage, error) {
		var config json.RawMessage
		err := r.Scan(&config)
		if err == nil {
			err = s.keys.openRaw(&config)
		}
		return config, err
	})
	if err != nil {
		return nil, fmt.Errorf("resource types of pipeline %d: %w", pipelineID, err)
	}
	return out, nil
}

// SaveVersionMetadata keeps what a get's resource said of the version it
// fetched with that version of the pipeline's resource; a version or
// resource the store does not know is left alone.
func (s *Store) SaveVersionMetadata(ctx context.Context, pipelineID int64, resource string, version map[string]string, metadata json.RawMessage) error {
	if len(metadata) > maxMetadata {
		return fmt.Errorf("metadata of a version of %s: %d bytes, at most %d are kept", resource, len(metadata), maxMetadata)
	}
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE resource_versions v SET metadata = $4 FROM resources r
			WHERE r.pipeline_id = $1 AND r.name = $2 AND v.resource_id = r.id AND v.digest = $3`, pipelineID, resource, digest(version), string(metadata))
		return err
	})
	if err != nil {
		return fmt.Errorf("save metadata of a version of %s: %w", resource, err)
	}
	return nil
}

// maxMetadata bounds the metadata kept of one version.
const maxMetadata = 64 << 10

// VersionBuilds lists the builds that took a resource's version as an
// input, or with outputs those that put it: Concourse's input_to and
// output_of, newest first, at most maxVersionBuilds.
func (s *Store) VersionBuilds(ctx context.Context, resourceID, versionID int64, outputs bool) ([]Build, error) {
	table := "build_inputs"
	if outputs {
		table = "build_outputs"
	}
	q := `SELECT ` + listColumns + buildFrom + ` WHERE b.id IN (SELECT x.build_id FROM ` + table + ` x
		JOIN resource_versions v ON v.resource_id = x.resource_id AND v.digest = x.version_digest
		WHERE v.id = $1 AND v.resource_id = $2) ORDER BY b.id DESC LIMIT $3`
	out, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, q, versionID, resourceID, maxVersionBuilds)
	}, func(r pgx.CollectableRow) (Build, error) { return s.scanBuild(r) })
	if err != nil {
		return nil, fmt.Errorf("builds of version %d: %w", versionID, err)
	}
	return out, nil
}

// maxVersionBuilds bounds the builds listed for a version.
const maxVersionBuilds = 100
