package engine

import (
	"fmt"
	"strconv"

	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/placement"
)

// Team fleet quotas (fly set-team-quota): a step of a team whose open steps
// hold its quota across the fleet waits, saying so, as it would for room.

// teamKey is the inflight key of a team's decided, not yet stored steps (a
// spoke's name never holds '/').
func teamKey(teamID int64) string { return "team/" + strconv.FormatInt(teamID, 10) }

// overQuota says why a step asking for asks may not be placed now, or "",
// for a team whose open steps hold held. Steps decided and not stored yet
// count with the stored ones.
func (f *inflight) overQuota(team string, teamID int64, q store.TeamQuota, held store.Load, asks placement.Resources) string {
	if q.None() {
		return ""
	}
	f.mu.Lock()
	pending := f.load[teamKey(teamID)]
	f.mu.Unlock()
	steps := held.Steps + pending.Steps
	cpu := held.CPU + pending.CPU
	memory := held.Memory + pending.Memory
	switch {
	case q.Steps > 0 && steps+1 > q.Steps:
		return fmt.Sprintf("team %s is at its fleet quota: %d of %d open steps", team, steps, q.Steps)
	case q.CPU > 0 && cpu+asks.CPU > q.CPU:
		return fmt.Sprintf("team %s is at its fleet quota: %g of %g CPUs held, the step asks %g", team, cpu, q.CPU, asks.CPU)
	case q.Memory > 0 && memory+asks.Memory > q.Memory:
		return fmt.Sprintf("team %s is at its fleet quota: %d of %d bytes of memory held, the step asks %d", team, memory, q.Memory, asks.Memory)
	}
	return ""
}
