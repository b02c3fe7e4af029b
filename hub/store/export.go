package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// exportPage is how many rows each export query reads: the export streams a
// pipeline's history of any size in bounded memory.
const exportPage = 1000

// ExportVersion is a version as the versions-db export writes it.
type ExportVersion struct {
	ID         int64
	Version    map[string]string
	CheckOrder int64
	Disabled   bool
}

// ExportVersions calls fn for every version of a resource in id order, a
// page at a time.
func (s *Store) ExportVersions(ctx context.Context, resourceID int64, fn func([]ExportVersion) error) error {
	after := int64(0)
	for {
		page, err := collect(ctx, func() (pgx.Rows, error) {
			return s.reads.Query(ctx, `SELECT id, version, check_order, disabled FROM resource_versions
				WHERE resource_id = $1 AND id > $2 ORDER BY id LIMIT $3`, resourceID, after, exportPage)
		}, func(r pgx.CollectableRow) (ExportVersion, error) {
			var v ExportVersion
			err := r.Scan(&v.ID, &v.Version, &v.CheckOrder, &v.Disabled)
			return v, err
		})
		if err != nil {
			return fmt.Errorf("export versions of resource %d: %w", resourceID, err)
		}
		if len(page) == 0 {
			return nil
		}
		if err := fn(page); err != nil {
			return err
		}
		after = page[len(page)-1].ID
	}
}

// ExportBuild is a job build with what it got and put, by resource name.
type ExportBuild struct {
	ID      int64
	Job     string
	Status  string
	RerunOf *int64
	Inputs  []ExportIO // Name set
	Outputs []ExportIO
	FedBy   []int64 // build pipes into this build
}

type ExportIO struct {
	Name     string
	Resource string
	Version  map[string]string
}

// ExportBuilds calls fn for every finished job build of a pipeline in id
// order, a page at a time, with inputs, outputs and build pipes.
func (s *Store) ExportBuilds(ctx context.Context, pipelineID int64, fn func([]ExportBuild) error) error {
	after := int64(0)
	for {
		page, err := collect(ctx, func() (pgx.Rows, error) {
			return s.reads.Query(ctx, `SELECT b.id, j.name, b.status, b.rerun_of FROM builds b JOIN jobs j ON j.id = b.job_id
				WHERE b.pipeline_id = $1 AND b.id > $2 AND b.status NOT IN ('pending', 'started') ORDER BY b.id LIMIT $3`,
				pipelineID, after, exportPage)
		}, func(r pgx.CollectableRow) (ExportBuild, error) {
			var b ExportBuild
			err := r.Scan(&b.ID, &b.Job, &b.Status, &b.RerunOf)
			return b, err
		})
		if err != nil {
			return fmt.Errorf("export builds: %w", err)
		}
		if len(page) == 0 {
			return nil
		}
		if err := s.exportDetails(ctx, page); err != nil {
			return err
		}
		if err := fn(page); err != nil {
			return err
		}
		after = page[len(page)-1].ID
	}
}

// exportDetails fills in a page of builds' inputs, outputs and pipes.
func (s *Store) exportDetails(ctx context.Context, page []ExportBuild) error {
	index := make(map[int64]*ExportBuild, len(page))
	ids := make([]int64, len(page))
	for i := range page {
		index[page[i].ID] = &page[i]
		ids[i] = page[i].ID
	}
	type row struct {
		kind  string
		build int64
		ExportIO
		from int64
	}
	rows, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `
			SELECT 'in', i.build_id, i.name, r.name, v.version, 0 FROM build_inputs i JOIN resources r ON r.id = i.resource_id
				LEFT JOIN resource_versions v ON v.resource_id = i.resource_id AND v.digest = i.version_digest
				WHERE i.build_id = ANY($1)
			UNION ALL
			SELECT 'out', o.build_id, '', r.name, v.version, o.position FROM build_outputs o JOIN resources r ON r.id = o.resource_id
				LEFT JOIN resource_versions v ON v.resource_id = o.resource_id AND v.digest = o.version_digest
				WHERE o.build_id = ANY($1)
			UNION ALL
			SELECT 'pipe', p.to_build_id, '', '', NULL, p.from_build_id FROM build_pipes p WHERE p.to_build_id = ANY($1)
			ORDER BY 1, 2, 6, 3`, ids)
	}, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.kind, &x.build, &x.Name, &x.Resource, &x.Version, &x.from)
		return x, err
	})
	if err != nil {
		return fmt.Errorf("export build details: %w", err)
	}
	for _, x := range rows {
		b := index[x.build]
		switch {
		case x.kind == "pipe":
			b.FedBy = append(b.FedBy, x.from)
		case x.Version == nil:
			// a version the resource no longer has: the algorithm cannot see it either
		case x.kind == "in":
			b.Inputs = append(b.Inputs, x.ExportIO)
		default:
			b.Outputs = append(b.Outputs, x.ExportIO)
		}
	}
	return nil
}
