package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// TeamQuota bounds what a team's builds hold across the fleet at once: open
// (pending or running) steps, and the CPU and memory they ask for. Zero is
// no bound. Weight is the team's share of a full fleet against other teams'
// (zero counts as 1; the engine's fair share reads it).
type TeamQuota struct {
	Steps  int     `json:"max_steps,omitempty"`
	CPU    float64 `json:"max_cpu,omitempty"`
	Memory int64   `json:"max_memory,omitempty"`
	Weight float64 `json:"weight,omitempty"`
}

// None says the quota bounds nothing (whatever its weight).
func (q TeamQuota) None() bool { return q.Steps == 0 && q.CPU == 0 && q.Memory == 0 }

// SetTeamQuota stores a team's fleet quota (the zero quota removes it). It
// moves the policies' generation, so that every hub's placer reads the
// quotas again at its next placement, as it does the policies.
func (s *Store) SetTeamQuota(ctx context.Context, teamID int64, q TeamQuota) error {
	raw, _ := json.Marshal(q)
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE teams SET fleet_quota = $2 WHERE id = $1`, teamID, raw)
		if err == nil && tag.RowsAffected() == 0 {
			err = ErrNotFound
		}
		if err != nil {
			return err
		}
		return bumpPolicies(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("set the fleet quota of team %d: %w", teamID, err)
	}
	return nil
}

// TeamQuotaOf is a team's fleet quota.
func (s *Store) TeamQuotaOf(ctx context.Context, teamID int64) (TeamQuota, error) {
	var raw []byte
	if err := s.row(ctx, `SELECT fleet_quota FROM teams WHERE id = $1`, teamID).Scan(&raw); err != nil {
		return TeamQuota{}, fmt.Errorf("the fleet quota of team %d: %w", teamID, err)
	}
	var q TeamQuota
	err := json.Unmarshal(raw, &q)
	return q, err
}

// TeamQuotas are the fleet quotas of the teams that have one.
func (s *Store) TeamQuotas(ctx context.Context) (map[int64]TeamQuota, error) {
	type quota struct {
		id  int64
		raw []byte
	}
	quotas, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT id, fleet_quota FROM teams WHERE fleet_quota <> '{}'::JSONB LIMIT 10000`)
	}, func(r pgx.CollectableRow) (quota, error) {
		var q quota
		err := r.Scan(&q.id, &q.raw)
		return q, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the teams' fleet quotas: %w", err)
	}
	out := make(map[int64]TeamQuota, len(quotas))
	for _, q := range quotas {
		var tq TeamQuota
		if err := json.Unmarshal(q.raw, &tq); err != nil {
			return nil, fmt.Errorf("the fleet quota of team %d: %w", q.id, err)
		}
		out[q.id] = tq
	}
	return out, nil
}

// TeamOpenLoad is what a team's open (pending or running) steps on spokes
// hold now.
func (s *Store) TeamOpenLoad(ctx context.Context, teamID int64) (Load, error) {
	loads, err := s.TeamOpenLoads(ctx, []int64{teamID})
	return loads[teamID], err
}

// TeamOpenLoads is what the open (pending or running) steps on spokes of
// each of the teams hold now; a team with none is missing.
func (s *Store) TeamOpenLoads(ctx context.Context, teamIDs []int64) (map[int64]Load, error) {
	type teamLoad struct {
		team int64
		Load
	}
	loads, err := collect(ctx, func() (pgx.Rows, error) {
		return s.reads.Query(ctx, `SELECT b.team_id, count(*), COALESCE(sum(st.cpu), 0), COALESCE(sum(st.memory), 0)::BIGINT
			FROM build_steps st JOIN builds b ON b.id = st.build_id
			WHERE st.spoke_id IS NOT NULL AND st.state IN ('pending', 'running') AND b.team_id = ANY($1)
			GROUP BY b.team_id`, teamIDs)
	}, func(r pgx.CollectableRow) (teamLoad, error) {
		var l teamLoad
		err := r.Scan(&l.team, &l.Steps, &l.CPU, &l.Memory)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("the open steps of teams %v: %w", teamIDs, err)
	}
	out := make(map[int64]Load, len(loads))
	for _, l := range loads {
		out[l.team] = l.Load
	}
	return out, nil
}
